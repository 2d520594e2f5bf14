import { constants, createHash, publicEncrypt, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import { FaceproofError } from '../errors.ts';
import { parseDg15 } from './dg15.ts';
import { decodeOid, readChildren, readFile } from './tlv.ts';

/**
 * Active authentication (ICAO 9303-11 §6.1): the server issues an 8-byte challenge, the chip signs
 * it with the private key only it holds, and the server checks the signature with DG15's public
 * key. A chip copied byte for byte still answers with the wrong key or none: clone detection.
 * (Whether DG15 itself is genuine is passive authentication's business: its hash in the SOD.)
 */
export interface ActiveAuthenticationInput {
  dg15: Uint8Array;
  /** The challenge the server issued (RND.IFD, 8 bytes). */
  challenge: Uint8Array;
  /** The chip's answer to INTERNAL AUTHENTICATE. */
  signature: Uint8Array;
  /** DG14, whose ActiveAuthenticationInfo names the ECDSA hash; RSA chips do not need it. */
  dg14?: Uint8Array;
}

export type ActiveAuthenticationFailure =
  /** The signature is not the length the key produces. */
  | 'signature_length'
  /** RSA: the recovered block is not an ISO/IEC 9796-2 signature (header, padding or trailer). */
  | 'signature_format'
  /** RSA: the trailer names a hash function this verifier does not know. */
  | 'unsupported_hash'
  /** The signature does not sign this challenge with this key: a clone, a replay or a wrong challenge. */
  | 'signature_mismatch';

export interface ActiveAuthenticationResult {
  valid: boolean;
  /** e.g. 'rsa-iso9796-2-sha1', 'ecdsa-plain-sha256'. */
  algorithm: string;
  failure?: ActiveAuthenticationFailure;
}

const CHALLENGE_LENGTH = 8;

export function verifyActiveAuthentication(input: ActiveAuthenticationInput): ActiveAuthenticationResult {
  if (input.challenge.length !== CHALLENGE_LENGTH) {
    throw new FaceproofError('invalid_parameter', `the active authentication challenge must be ${CHALLENGE_LENGTH} bytes`, 'challenge');
  }
  const key = parseDg15(input.dg15);
  if (key.algorithm === 'rsa') return verifyRsa(key.publicKey, input.challenge, input.signature);
  const hash = input.dg14 ? activeAuthenticationHash(input.dg14) : undefined;
  return verifyEcdsa(key.publicKey, input.challenge, input.signature, hash);
}

// ---------------------------------------------------------------- RSA: ISO/IEC 9796-2 scheme 1

/** Hash identifiers of ISO/IEC 10118-3 as the two-byte trailer 0x??CC carries them. */
const TRAILER_HASH: Record<number, string> = { 0x33: 'sha1', 0x34: 'sha256', 0x35: 'sha512', 0x36: 'sha384', 0x38: 'sha224' };
const HASH_LENGTH: Record<string, number> = { sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 };

function verifyRsa(key: KeyObject, challenge: Uint8Array, signature: Uint8Array): ActiveAuthenticationResult {
  const jwk = key.export({ format: 'jwk' });
  const n = bytesToBigInt(Buffer.from(jwk.n!, 'base64url'));
  const k = Math.ceil(n.toString(16).length / 2);
  const result = (failure?: ActiveAuthenticationFailure, hash?: string): ActiveAuthenticationResult =>
    failure ? { valid: false, algorithm: `rsa-iso9796-2${hash ? `-${hash}` : ''}`, failure } : { valid: true, algorithm: `rsa-iso9796-2-${hash}` };

  if (signature.length === 0 || signature.length > k) return result('signature_length');
  const s = bytesToBigInt(signature);
  if (s >= n) return result('signature_format');
  // Raw RSA (s^e mod n): publicEncrypt without padding is exactly the public-key operation.
  let f: Buffer = Buffer.from(publicEncrypt({ key, padding: constants.RSA_NO_PADDING }, bigIntToBytes(s, k)));
  // ISO/IEC 9796-2 lets the signer publish min(s, n − s); the block then comes back as n − F.
  if ((f[k - 1] & 0x0f) !== 0x0c) f = bigIntToBytes(n - bytesToBigInt(f), k);
  if ((f[0] & 0xc0) !== 0x40 || (f[k - 1] & 0x0f) !== 0x0c) return result('signature_format');

  let hash: string;
  let trailer: number;
  if (f[k - 1] === 0xbc) {
    hash = 'sha1';
    trailer = 1;
  } else if (f[k - 1] === 0xcc) {
    const named = TRAILER_HASH[f[k - 2]];
    if (!named) return result('unsupported_hash');
    hash = named;
    trailer = 2;
  } else {
    return result('signature_format');
  }
  // The padding runs up to the first byte whose low nibble is 0xA: 0x6A alone (partial recovery,
  // what ICAO prescribes), or 0x4B 0xBB … 0xBA (full recovery).
  let boundary = 0;
  while (boundary < k && (f[boundary] & 0x0f) !== 0x0a) {
    if (boundary === 0 ? (f[0] & 0x0f) !== 0x0b : f[boundary] !== 0xbb) return result('signature_format', hash);
    boundary++;
  }
  const mStart = boundary + 1;
  const hLen = HASH_LENGTH[hash];
  const hStart = k - trailer - hLen;
  if (hStart - mStart <= 0) return result('signature_format', hash);
  const m1 = f.subarray(mStart, hStart);
  const digest = f.subarray(hStart, hStart + hLen);
  const partial = (f[0] & 0x20) !== 0;
  // Partial recovery: M = M1 ‖ M2 with M2 the challenge. Full recovery: the whole message is M1, which must then be the challenge.
  if (!partial && !Buffer.from(m1).equals(Buffer.from(challenge))) return result('signature_mismatch', hash);
  const message = partial ? Buffer.concat([m1, challenge]) : Buffer.from(m1);
  const expected = createHash(hash).update(message).digest();
  return timingSafeEqual(expected, digest) ? result(undefined, hash) : result('signature_mismatch', hash);
}

// ---------------------------------------------------------------- ECDSA: plain r ‖ s (BSI TR-03111)

/** Signature algorithm OIDs an ActiveAuthenticationInfo may name: BSI TR-03111 ecdsa-plain-* and ANSI X9.62 ecdsa-with-*. */
const ECDSA_OID_HASH: Record<string, string> = {
  '0.4.0.127.0.7.1.1.4.1.1': 'sha1',
  '0.4.0.127.0.7.1.1.4.1.2': 'sha224',
  '0.4.0.127.0.7.1.1.4.1.3': 'sha256',
  '0.4.0.127.0.7.1.1.4.1.4': 'sha384',
  '0.4.0.127.0.7.1.1.4.1.5': 'sha512',
  '0.4.0.127.0.7.1.1.4.1.6': 'ripemd160',
  '1.2.840.10045.4.1': 'sha1',
  '1.2.840.10045.4.3.1': 'sha224',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
};
const AA_PROTOCOL_OID = '2.23.136.1.1.5';

/**
 * The hash DG14's ActiveAuthenticationInfo names ({ protocol 2.23.136.1.1.5, version, signatureAlgorithm }),
 * or undefined when DG14 carries none (then the curve size decides).
 */
export function activeAuthenticationHash(dg14: Uint8Array): string | undefined {
  const field = 'data_groups.14';
  const file = readFile(dg14, 0x6e, field, 'DG14');
  const [set] = readChildren(file.value, field);
  if (!set || set.tag !== 0x31) throw new FaceproofError('invalid_chip_data', 'DG14 must hold a SET of SecurityInfos', field);
  for (const info of readChildren(set.value, field)) {
    if (info.tag !== 0x30) continue;
    const parts = readChildren(info.value, field);
    if (parts[0]?.tag !== 0x06 || decodeOid(parts[0].value, field) !== AA_PROTOCOL_OID) continue;
    const algorithm = parts.find((p, i) => i > 0 && p.tag === 0x06);
    if (!algorithm) throw new FaceproofError('invalid_chip_data', 'DG14\'s ActiveAuthenticationInfo names no signature algorithm', field);
    const oid = decodeOid(algorithm.value, field);
    const hash = ECDSA_OID_HASH[oid];
    if (!hash) throw new FaceproofError('invalid_chip_data', `DG14's ActiveAuthenticationInfo names an unknown signature algorithm ${oid}`, field);
    return hash;
  }
  return undefined;
}

function verifyEcdsa(key: KeyObject, challenge: Uint8Array, signature: Uint8Array, namedHash: string | undefined): ActiveAuthenticationResult {
  const fieldBytes = ecFieldBytes(key);
  const hash = namedHash ?? hashForCurve(fieldBytes * 8);
  const algorithm = `ecdsa-plain-${hash}`;
  // Plain format: r and s, each as long as the order (the field's length on every curve ICAO uses).
  if (signature.length !== 2 * fieldBytes) return { valid: false, algorithm, failure: 'signature_length' };
  let ok: boolean;
  try {
    ok = verify(hash, challenge, { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    ok = false;
  }
  return ok ? { valid: true, algorithm } : { valid: false, algorithm, failure: 'signature_mismatch' };
}

/** The TR-03111 default when DG14 is silent: the SHA-2 whose output matches the key size. */
function hashForCurve(bits: number): string {
  if (bits <= 160) return 'sha1';
  if (bits <= 224) return 'sha224';
  if (bits <= 256) return 'sha256';
  if (bits <= 384) return 'sha384';
  return 'sha512';
}

/** The curve's field length in bytes, from the public point (04 ‖ X ‖ Y) in the key's SubjectPublicKeyInfo. */
function ecFieldBytes(key: KeyObject): number {
  const field = 'data_groups.15';
  const spki = key.export({ format: 'der', type: 'spki' });
  const [outer] = readChildren(spki, field);
  const bitString = readChildren(outer.value, field).find((t) => t.tag === 0x03);
  const point = bitString?.value.subarray(1);
  if (!point || point.length < 3 || point[0] !== 0x04 || point.length % 2 !== 1) {
    throw new FaceproofError('invalid_chip_data', 'DG15\'s EC key is not an uncompressed point', field);
  }
  return (point.length - 1) / 2;
}

function bytesToBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
}

function bigIntToBytes(value: bigint, length: number): Buffer {
  return Buffer.from(value.toString(16).padStart(length * 2, '0'), 'hex');
}
