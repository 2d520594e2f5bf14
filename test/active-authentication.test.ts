import { describe, expect, it } from 'vitest';
import { constants, createHash, generateKeyPairSync, privateDecrypt, randomBytes, sign, type KeyObject } from 'node:crypto';
import { verifyActiveAuthentication } from '../src/core/documents/active-authentication.ts';
import { parseDg15 } from '../src/core/documents/data-groups.ts';
import { FaceproofError } from '../src/core/errors.ts';

/** A DER/BER element: tag bytes, definite length, value. */
function tlv(tag: number[], value: Uint8Array): Buffer {
  const n = value.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from(tag), Buffer.from(length), value]);
}

const dg15Of = (publicKey: KeyObject) => tlv([0x6f], publicKey.export({ format: 'der', type: 'spki' }));

/** DER of a dotted OID. */
function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const body: number[] = [arcs[0] * 40 + arcs[1]];
  for (const arc of arcs.slice(2)) {
    const bytes = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) bytes.unshift((v & 0x7f) | 0x80);
    body.push(...bytes);
  }
  return tlv([0x06], Buffer.from(body));
}

/** DG14 holding one ActiveAuthenticationInfo { id-AA, version 1, signatureAlgorithm }. */
function dg14Naming(signatureAlgorithm: string): Buffer {
  const info = tlv([0x30], Buffer.concat([oid('2.23.136.1.1.5'), tlv([0x02], Buffer.from([1])), oid(signatureAlgorithm)]));
  return tlv([0x6e], tlv([0x31], info));
}

/**
 * What a chip computes for INTERNAL AUTHENTICATE with an RSA key: ISO/IEC 9796-2 scheme 1 with
 * partial message recovery, F = 0x6A ‖ M1 ‖ H(M1 ‖ challenge) ‖ trailer, then raw RSA with the
 * private key (privateDecrypt without padding is the private-key operation).
 */
function rsaChipSignature(privateKey: KeyObject, modulusBytes: number, challenge: Uint8Array, hash: 'sha1' | 'sha256' | 'sha512' = 'sha1'): Buffer {
  const trailer = hash === 'sha1' ? Buffer.from([0xbc]) : Buffer.from([{ sha256: 0x34, sha512: 0x35 }[hash], 0xcc]);
  const hLen = createHash(hash).digest().length;
  const m1 = randomBytes(modulusBytes - 1 - hLen - trailer.length);
  const digest = createHash(hash).update(Buffer.concat([m1, challenge])).digest();
  const f = Buffer.concat([Buffer.from([0x6a]), m1, digest, trailer]);
  return privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, f);
}

describe('active authentication', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const challenge = randomBytes(8);

  it('accepts an RSA chip\'s ISO 9796-2 signature (SHA-1, trailer 0xBC) over the issued challenge', () => {
    const signature = rsaChipSignature(rsa.privateKey, 256, challenge);
    expect(verifyActiveAuthentication({ dg15: dg15Of(rsa.publicKey), challenge, signature })).toEqual({ valid: true, algorithm: 'rsa-iso9796-2-sha1' });
  });

  it('accepts the two-byte trailers that name SHA-256 and SHA-512', () => {
    for (const hash of ['sha256', 'sha512'] as const) {
      const signature = rsaChipSignature(rsa.privateKey, 256, challenge, hash);
      expect(verifyActiveAuthentication({ dg15: dg15Of(rsa.publicKey), challenge, signature })).toEqual({ valid: true, algorithm: `rsa-iso9796-2-${hash}` });
    }
  });

  it('accepts a signature published as n − s (ISO 9796-2 lets the signer send the smaller one)', () => {
    const s = BigInt(`0x${rsaChipSignature(rsa.privateKey, 256, challenge).toString('hex')}`);
    const n = BigInt(`0x${Buffer.from(rsa.publicKey.export({ format: 'jwk' }).n!, 'base64url').toString('hex')}`);
    const other = Buffer.from((n - s).toString(16).padStart(512, '0'), 'hex');
    expect(verifyActiveAuthentication({ dg15: dg15Of(rsa.publicKey), challenge, signature: other }).valid).toBe(true);
  });

  it('refuses an RSA signature over another challenge, with one byte flipped, or from another key', () => {
    const signature = rsaChipSignature(rsa.privateKey, 256, challenge);
    const wrongChallenge = Buffer.from(challenge);
    wrongChallenge[3] ^= 0x01;
    expect(verifyActiveAuthentication({ dg15: dg15Of(rsa.publicKey), challenge: wrongChallenge, signature })).toMatchObject({ valid: false, failure: 'signature_mismatch' });

    for (const at of [0, 100, 255]) {
      const flipped = Buffer.from(signature);
      flipped[at] ^= 0x01;
      const result = verifyActiveAuthentication({ dg15: dg15Of(rsa.publicKey), challenge, signature: flipped });
      expect(result.valid).toBe(false);
      expect(['signature_format', 'signature_mismatch', 'unsupported_hash']).toContain(result.failure);
    }

    const clone = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const cloneSignature = rsaChipSignature(clone.privateKey, 256, challenge);
    expect(verifyActiveAuthentication({ dg15: dg15Of(rsa.publicKey), challenge, signature: cloneSignature }).valid).toBe(false);
  });

  it('refuses RSA signatures of the wrong length or not below the modulus', () => {
    const dg15 = dg15Of(rsa.publicKey);
    expect(verifyActiveAuthentication({ dg15, challenge, signature: randomBytes(257) })).toMatchObject({ valid: false, failure: 'signature_length' });
    expect(verifyActiveAuthentication({ dg15, challenge, signature: Buffer.alloc(0) })).toMatchObject({ valid: false, failure: 'signature_length' });
    expect(verifyActiveAuthentication({ dg15, challenge, signature: Buffer.alloc(256, 0xff) })).toMatchObject({ valid: false, failure: 'signature_format' });
  });

  for (const curve of ['prime256v1', 'brainpoolP256r1', 'brainpoolP384r1'] as const) {
    it(`accepts a plain ECDSA signature on ${curve} and refuses a wrong challenge or a flipped byte`, () => {
      const ec = generateKeyPairSync('ec', { namedCurve: curve });
      const hash = curve === 'brainpoolP384r1' ? 'sha384' : 'sha256';
      const signature = sign(hash, challenge, { key: ec.privateKey, dsaEncoding: 'ieee-p1363' });
      const dg15 = dg15Of(ec.publicKey);
      expect(parseDg15(dg15)).toMatchObject({ algorithm: 'ec', curve });
      expect(verifyActiveAuthentication({ dg15, challenge, signature })).toEqual({ valid: true, algorithm: `ecdsa-plain-${hash}` });

      const other = Buffer.from(challenge);
      other[0] ^= 0x80;
      expect(verifyActiveAuthentication({ dg15, challenge: other, signature })).toMatchObject({ valid: false, failure: 'signature_mismatch' });
      const flipped = Buffer.from(signature);
      flipped[5] ^= 0x01;
      expect(verifyActiveAuthentication({ dg15, challenge, signature: flipped })).toMatchObject({ valid: false, failure: 'signature_mismatch' });
      expect(verifyActiveAuthentication({ dg15, challenge, signature: signature.subarray(1) })).toMatchObject({ valid: false, failure: 'signature_length' });
    });
  }

  it('takes the ECDSA hash from DG14\'s ActiveAuthenticationInfo when DG14 is given', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const signature = sign('sha384', challenge, { key: ec.privateKey, dsaEncoding: 'ieee-p1363' });
    const dg15 = dg15Of(ec.publicKey);
    // ecdsa-plain-SHA384 (BSI TR-03111): a P-256 chip hashing with SHA-384, which the curve size would not guess.
    expect(verifyActiveAuthentication({ dg15, challenge, signature, dg14: dg14Naming('0.4.0.127.0.7.1.1.4.1.4') })).toEqual({ valid: true, algorithm: 'ecdsa-plain-sha384' });
    expect(verifyActiveAuthentication({ dg15, challenge, signature }).valid).toBe(false);
    expect(verifyActiveAuthentication({ dg15, challenge, signature, dg14: dg14Naming('1.2.840.10045.4.3.3') }).valid).toBe(true);
  });

  it('refuses a malformed DG15 or DG14 as invalid_chip_data, and a challenge that is not 8 bytes', () => {
    const signature = rsaChipSignature(rsa.privateKey, 256, challenge);
    const spki = rsa.publicKey.export({ format: 'der', type: 'spki' });
    const bad: Array<[Uint8Array, string]> = [
      [Buffer.alloc(0), 'empty'],
      [tlv([0x6f], spki).subarray(0, 100), 'truncated'],
      [tlv([0x6e], spki), 'wrong tag'],
      [tlv([0x6f], Buffer.from('not a key at all')), 'not a key'],
      [Buffer.from([0x6f, 0x84, 0xff, 0xff, 0xff, 0xff, 0x30]), 'a 4 GB length'],
    ];
    for (const [dg15, what] of bad) {
      let error: unknown;
      try {
        verifyActiveAuthentication({ dg15, challenge, signature });
      } catch (err) {
        error = err;
      }
      expect(error, what).toBeInstanceOf(FaceproofError);
      expect((error as FaceproofError).code, what).toBe('invalid_chip_data');
      expect((error as FaceproofError).field, what).toBe('data_groups.15');
    }
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    expect(() => verifyActiveAuthentication({ dg15: dg15Of(ec.publicKey), challenge, signature, dg14: Buffer.from([0x6e, 0x05, 0x31]) }))
      .toThrow(expect.objectContaining({ code: 'invalid_chip_data', field: 'data_groups.14' }));
    expect(() => verifyActiveAuthentication({ dg15: dg15Of(rsa.publicKey), challenge: randomBytes(16), signature }))
      .toThrow(expect.objectContaining({ code: 'invalid_parameter' }));
  });
});
