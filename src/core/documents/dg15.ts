import { createPublicKey, type KeyObject } from 'node:crypto';
import { FaceproofError } from '../errors.ts';
import { readFile } from './tlv.ts';

export interface Dg15 {
  /** The chip's active authentication public key. */
  publicKey: KeyObject;
  algorithm: 'rsa' | 'ec';
  /**
   * The EC key's named curve. Keys given with explicit domain parameters (p, a, b, G, n, h) are
   * matched to the named curve with the same parameters by OpenSSL when it loads them; absent when
   * the parameters match no curve OpenSSL knows (the key still verifies).
   */
  curve?: string;
  /** RSA modulus length, bits. */
  modulusBits?: number;
}

const FIELD = 'data_groups.15';

/** DG15: tag 0x6F holding the active authentication key as an X.509 SubjectPublicKeyInfo. */
export function parseDg15(bytes: Uint8Array): Dg15 {
  const file = readFile(bytes, 0x6f, FIELD, 'DG15');
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: Buffer.from(file.value), format: 'der', type: 'spki' });
  } catch (err) {
    throw new FaceproofError('invalid_chip_data', `DG15's public key is not a SubjectPublicKeyInfo OpenSSL can load (${(err as Error).message})`, FIELD);
  }
  const type = publicKey.asymmetricKeyType;
  if (type === 'rsa') return { publicKey, algorithm: 'rsa', modulusBits: publicKey.asymmetricKeyDetails?.modulusLength };
  if (type === 'ec') {
    const curve = publicKey.asymmetricKeyDetails?.namedCurve;
    return curve ? { publicKey, algorithm: 'ec', curve } : { publicKey, algorithm: 'ec' };
  }
  throw new FaceproofError('invalid_chip_data', `DG15 holds a ${type ?? 'unknown'} key; active authentication uses RSA or EC`, FIELD);
}
