import { constants, createHash, createPublicKey, publicDecrypt, verify, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { bytesToBigInt, decodePoint, encodeUncompressed, namedCurveByOid, namedCurveOf, verifyEcdsaBigInt, type CurveParameters } from './ec-curves.ts';
import { parseAsn1 } from './x509.ts';

/**
 * Signature checks over raw bytes with a key from a SubjectPublicKeyInfo, for the algorithms ICAO
 * 9303 part 12 allows: RSA PKCS#1 v1.5, RSASSA-PSS (parameters from the AlgorithmIdentifier),
 * ECDSA (X9.62 DER and BSI TR-03111 plain signatures) on named curves and on explicit domain
 * parameters; SHA-1 to SHA-512. node:crypto does the work; explicit curves are mapped to their
 * named curve first, and ECDSA runs in BigInt on a curve that matches none.
 */

export type HashName = 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';

const HASH_OIDS: Record<string, HashName> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

export const hashOfOid = (oid: string): HashName | undefined => HASH_OIDS[oid];
export const digest = (hash: HashName, data: Uint8Array): Buffer => createHash(hash).update(data).digest();

const RSA_KEY = '1.2.840.113549.1.1.1';
const RSA_PSS = '1.2.840.113549.1.1.10';
const EC_KEY = '1.2.840.10045.2.1';
const MGF1 = '1.2.840.113549.1.1.8';

const RSA_PKCS1: Record<string, HashName> = {
  '1.2.840.113549.1.1.5': 'sha1', '1.2.840.113549.1.1.14': 'sha224', '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384', '1.2.840.113549.1.1.13': 'sha512',
};
const ECDSA_DER: Record<string, HashName> = {
  '1.2.840.10045.4.1': 'sha1', '1.2.840.10045.4.3.1': 'sha224', '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384', '1.2.840.10045.4.3.4': 'sha512',
};
/** BSI TR-03111 ecdsa-plain-SHA*: r‖s, not DER. */
const ECDSA_PLAIN: Record<string, HashName> = {
  '0.4.0.127.0.7.1.1.4.1.1': 'sha1', '0.4.0.127.0.7.1.1.4.1.2': 'sha224', '0.4.0.127.0.7.1.1.4.1.3': 'sha256',
  '0.4.0.127.0.7.1.1.4.1.4': 'sha384', '0.4.0.127.0.7.1.1.4.1.5': 'sha512',
};

const ALGORITHM_NAMES: Record<string, string> = {
  [RSA_KEY]: 'rsaEncryption', [RSA_PSS]: 'rsassa-pss', [EC_KEY]: 'ecPublicKey',
  ...Object.fromEntries(Object.entries(RSA_PKCS1).map(([oid, h]) => [oid, `${h}WithRSAEncryption`])),
  ...Object.fromEntries(Object.entries(ECDSA_DER).map(([oid, h]) => [oid, `ecdsa-with-${h.toUpperCase()}`])),
  ...Object.fromEntries(Object.entries(ECDSA_PLAIN).map(([oid, h]) => [oid, `ecdsa-plain-${h.toUpperCase()}`])),
};

export class UnsupportedAlgorithm extends Error {}

interface PssParameters { hash: HashName; mgfHash: HashName; saltLength: number }

/** What an AlgorithmIdentifier asks for; `digestHint` is the SignerInfo's digest algorithm where the OID names only the key type. */
export type SignatureScheme =
  | { kind: 'rsa-pkcs1'; hash: HashName }
  | { kind: 'rsa-pss'; pss: PssParameters }
  | { kind: 'ecdsa'; hash: HashName; plain: boolean };

export function schemeOf(algorithm: pkijs.AlgorithmIdentifier, digestHint?: HashName): SignatureScheme {
  const oid = algorithm.algorithmId;
  if (RSA_PKCS1[oid]) return { kind: 'rsa-pkcs1', hash: RSA_PKCS1[oid] };
  if (ECDSA_DER[oid]) return { kind: 'ecdsa', hash: ECDSA_DER[oid], plain: false };
  if (ECDSA_PLAIN[oid]) return { kind: 'ecdsa', hash: ECDSA_PLAIN[oid], plain: true };
  if (oid === RSA_PSS) return { kind: 'rsa-pss', pss: pssParameters(algorithm) };
  // Some SODs name only the key type and leave the hash to the digest algorithm.
  if (oid === RSA_KEY && digestHint) return { kind: 'rsa-pkcs1', hash: digestHint };
  if (oid === EC_KEY && digestHint) return { kind: 'ecdsa', hash: digestHint, plain: false };
  throw new UnsupportedAlgorithm(`signature algorithm ${oid} is not supported`);
}

export function schemeName(algorithm: pkijs.AlgorithmIdentifier, scheme: SignatureScheme): string {
  if (scheme.kind === 'rsa-pss') return `rsassa-pss(${scheme.pss.hash}, mgf1-${scheme.pss.mgfHash}, salt ${scheme.pss.saltLength})`;
  const name = ALGORITHM_NAMES[algorithm.algorithmId] ?? algorithm.algorithmId;
  return algorithm.algorithmId === RSA_KEY || algorithm.algorithmId === EC_KEY ? `${name}+${scheme.hash}` : name;
}

function pssParameters(algorithm: pkijs.AlgorithmIdentifier): PssParameters {
  // Absent parameters mean the RFC 4055 defaults: SHA-1, MGF1-SHA-1, 20 bytes of salt.
  const raw = algorithm.algorithmParams as asn1js.AsnType | undefined;
  if (!raw || raw instanceof asn1js.Null) return { hash: 'sha1', mgfHash: 'sha1', saltLength: 20 };
  let params: pkijs.RSASSAPSSParams;
  try {
    params = new pkijs.RSASSAPSSParams({ schema: raw });
  } catch (err) {
    throw new UnsupportedAlgorithm(`RSASSA-PSS parameters cannot be read (${(err as Error).message})`);
  }
  const hash = hashOfOid(params.hashAlgorithm.algorithmId);
  if (!hash) throw new UnsupportedAlgorithm(`RSASSA-PSS hash ${params.hashAlgorithm.algorithmId} is not supported`);
  if (params.maskGenAlgorithm.algorithmId !== MGF1) throw new UnsupportedAlgorithm(`RSASSA-PSS mask generation ${params.maskGenAlgorithm.algorithmId} is not supported`);
  let mgfHash: HashName | undefined = 'sha1';
  const mgfParams = params.maskGenAlgorithm.algorithmParams as asn1js.AsnType | undefined;
  if (mgfParams && !(mgfParams instanceof asn1js.Null)) {
    try {
      mgfHash = hashOfOid(new pkijs.AlgorithmIdentifier({ schema: mgfParams }).algorithmId);
    } catch {
      mgfHash = undefined;
    }
  }
  if (!mgfHash) throw new UnsupportedAlgorithm('RSASSA-PSS MGF1 hash is not supported');
  if (params.trailerField !== 1) throw new UnsupportedAlgorithm(`RSASSA-PSS trailer field ${params.trailerField} is not supported`);
  return { hash, mgfHash, saltLength: params.saltLength };
}

/** A verifying key: node's key object, plus the curve when ECDSA must run in BigInt. */
type VerifyingKey =
  | { kind: 'rsa'; key: KeyObject; modulusBytes: number }
  | { kind: 'ec'; key: KeyObject; orderBytes: number }
  | { kind: 'ec-bigint'; curve: CurveParameters; point: Uint8Array; orderBytes: number };

const keyCache = new WeakMap<pkijs.PublicKeyInfo, VerifyingKey>();

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
const stripZeros = (bytes: Uint8Array) => {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return bytes.subarray(i);
};
const byteLength = (n: bigint) => (n.toString(16).length + 1) >> 1;

/** Explicit EC domain parameters (X9.62 ECParameters) as numbers. */
function explicitCurve(params: asn1js.Sequence): CurveParameters {
  const [, fieldId, curve, base, order, cofactor] = params.valueBlock.value as asn1js.AsnType[];
  const field = (fieldId as asn1js.Sequence)?.valueBlock?.value as asn1js.AsnType[] | undefined;
  if (!field || (field[0] as asn1js.ObjectIdentifier).valueBlock?.toString() !== '1.2.840.10045.1.1') throw new UnsupportedAlgorithm('only prime-field explicit curves are supported');
  const ab = (curve as asn1js.Sequence).valueBlock.value as asn1js.OctetString[];
  const p = bytesToBigInt((field[1] as asn1js.Integer).valueBlock.valueHexView);
  const shell: CurveParameters = {
    p,
    a: bytesToBigInt(ab[0].valueBlock.valueHexView),
    b: bytesToBigInt(ab[1].valueBlock.valueHexView),
    gx: 0n, gy: 0n,
    n: bytesToBigInt((order as asn1js.Integer).valueBlock.valueHexView),
    h: cofactor instanceof asn1js.Integer ? bytesToBigInt(cofactor.valueBlock.valueHexView) : 1n,
  };
  const g = decodePoint(shell, (base as asn1js.OctetString).valueBlock.valueHexView);
  if (!g) throw new UnsupportedAlgorithm('the explicit curve\'s base point is not on the curve');
  return { ...shell, gx: g.x, gy: g.y };
}

function verifyingKey(spki: pkijs.PublicKeyInfo): VerifyingKey {
  const cached = keyCache.get(spki);
  if (cached) return cached;
  let made: VerifyingKey;
  try {
    made = makeVerifyingKey(spki);
  } catch (err) {
    // node:crypto refusing a key (an unknown curve, a malformed point) means it cannot be used here.
    throw err instanceof UnsupportedAlgorithm ? err : new UnsupportedAlgorithm(`the public key cannot be used (${(err as Error).message})`);
  }
  keyCache.set(spki, made);
  return made;
}

function makeVerifyingKey(spki: pkijs.PublicKeyInfo): VerifyingKey {
  const oid = spki.algorithm.algorithmId;
  const keyBytes = spki.subjectPublicKey.valueBlock.valueHexView;
  if (oid === RSA_KEY || oid === RSA_PSS) {
    // From modulus and exponent, so that an id-RSASSA-PSS key (restricted by its own parameters in
    // OpenSSL) verifies under the parameters the signature names.
    const rsa = parseAsn1(keyBytes, 'RSA public key') as asn1js.Sequence;
    const [n, e] = rsa.valueBlock.value as asn1js.Integer[];
    if (!(n instanceof asn1js.Integer) || !(e instanceof asn1js.Integer)) throw new UnsupportedAlgorithm('the RSA public key cannot be read');
    const modulus = stripZeros(n.valueBlock.valueHexView);
    const key = createPublicKey({ key: { kty: 'RSA', n: b64url(modulus), e: b64url(stripZeros(e.valueBlock.valueHexView)) }, format: 'jwk' });
    return { kind: 'rsa', key, modulusBytes: modulus.length };
  }
  if (oid === EC_KEY) {
    const params = spki.algorithm.algorithmParams as asn1js.AsnType | undefined;
    if (params instanceof asn1js.ObjectIdentifier) {
      const named = namedCurveByOid(params.valueBlock.toString());
      const key = createPublicKey({ key: Buffer.from(spki.toSchema().toBER()), format: 'der', type: 'spki' });
      return { kind: 'ec', key, orderBytes: named ? byteLength(named.n) : orderBytesOf(key) };
    }
    if (params instanceof asn1js.Sequence) {
      const curve = explicitCurve(params);
      const named = namedCurveOf(curve);
      if (named?.oid) {
        const point = decodePoint(named, keyBytes);
        if (!point) throw new UnsupportedAlgorithm('the EC public key is not a point of its curve');
        const spkiNamed = new asn1js.Sequence({
          value: [
            new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: EC_KEY }), new asn1js.ObjectIdentifier({ value: named.oid })] }),
            new asn1js.BitString({ valueHex: encodeUncompressed(named, point) }),
          ],
        });
        const key = createPublicKey({ key: Buffer.from(spkiNamed.toBER()), format: 'der', type: 'spki' });
        return { kind: 'ec', key, orderBytes: byteLength(named.n) };
      }
      return { kind: 'ec-bigint', curve, point: keyBytes, orderBytes: byteLength(curve.n) };
    }
    throw new UnsupportedAlgorithm('EC keys with implicit (inherited) parameters are not supported');
  }
  throw new UnsupportedAlgorithm(`public key algorithm ${oid} is not supported`);
}

/** The byte size of a named-curve key's group order, for curves outside the table (node knows them, the table does not). */
function orderBytesOf(key: KeyObject): number {
  const curve = key.asymmetricKeyDetails?.namedCurve ?? '';
  const bits = Number(/(\d{3})/.exec(curve)?.[1] ?? 0);
  if (!bits) throw new UnsupportedAlgorithm(`EC curve ${curve || 'unknown'} is not supported`);
  return Math.ceil(bits / 8);
}

/** r and s from an ECDSA signature: DER SEQUENCE { r, s } (read leniently: some signers pad), or plain r‖s. */
function ecdsaRs(signature: Uint8Array, plain: boolean): { r: bigint; s: bigint } | undefined {
  if (plain) {
    if (signature.length === 0 || signature.length % 2) return undefined;
    const half = signature.length / 2;
    return { r: bytesToBigInt(signature.subarray(0, half)), s: bytesToBigInt(signature.subarray(half)) };
  }
  try {
    const seq = parseAsn1(signature, 'ECDSA signature');
    const parts = (seq as asn1js.Sequence).valueBlock?.value;
    if (!(seq instanceof asn1js.Sequence) || parts.length !== 2 || !(parts[0] instanceof asn1js.Integer) || !(parts[1] instanceof asn1js.Integer)) return undefined;
    return { r: bytesToBigInt(parts[0].valueBlock.valueHexView), s: bytesToBigInt(parts[1].valueBlock.valueHexView) };
  } catch {
    return undefined;
  }
}

const fixed = (v: bigint, size: number): Buffer | undefined => {
  const h = v.toString(16);
  return h.length > size * 2 ? undefined : Buffer.from(h.padStart(size * 2, '0'), 'hex');
};

/** MGF1 (RFC 8017 B.2.1). */
function mgf1(hash: HashName, seed: Uint8Array, length: number): Buffer {
  const chunks: Buffer[] = [];
  let total = 0;
  for (let counter = 0; total < length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    const block = createHash(hash).update(seed).update(c).digest();
    chunks.push(block);
    total += block.length;
  }
  return Buffer.concat(chunks).subarray(0, length);
}

/** EMSA-PSS-VERIFY (RFC 8017 §9.1.2) by hand, for a mask hash other than the message hash (which node:crypto cannot take). */
function verifyPssByHand(key: { key: KeyObject; modulusBytes: number }, pss: PssParameters, data: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== key.modulusBytes) return false;
  let em: Buffer;
  try {
    em = publicDecrypt({ key: key.key, padding: constants.RSA_NO_PADDING }, signature);
  } catch {
    return false;
  }
  const modBits = key.key.asymmetricKeyDetails?.modulusLength ?? key.modulusBytes * 8;
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  em = em.subarray(em.length - emLen);
  const mHash = createHash(pss.hash).update(data).digest();
  const hLen = mHash.length;
  if (emLen < hLen + pss.saltLength + 2 || em[emLen - 1] !== 0xbc) return false;
  const maskedDb = em.subarray(0, emLen - hLen - 1);
  const h = em.subarray(emLen - hLen - 1, emLen - 1);
  const unusedBits = 8 * emLen - emBits;
  if (unusedBits && (maskedDb[0] >> (8 - unusedBits)) !== 0) return false;
  const db = Buffer.from(maskedDb);
  const mask = mgf1(pss.mgfHash, h, db.length);
  for (let i = 0; i < db.length; i++) db[i] ^= mask[i];
  if (unusedBits) db[0] &= 0xff >> unusedBits;
  const psLen = emLen - hLen - pss.saltLength - 2;
  for (let i = 0; i < psLen; i++) if (db[i] !== 0) return false;
  if (db[psLen] !== 1) return false;
  const salt = db.subarray(db.length - pss.saltLength);
  const hPrime = createHash(pss.hash).update(Buffer.alloc(8)).update(mHash).update(salt).digest();
  return hPrime.equals(h);
}

/**
 * Whether `signature` over `data` verifies with the key. False for a signature that does not
 * verify or cannot be one (wrong size, not DER); UnsupportedAlgorithm for what cannot be checked
 * at all (an unknown algorithm or key type).
 */
export function verifySignature(spki: pkijs.PublicKeyInfo, scheme: SignatureScheme, data: Uint8Array, signature: Uint8Array): boolean {
  const key = verifyingKey(spki);
  try {
    if (scheme.kind === 'rsa-pkcs1' || scheme.kind === 'rsa-pss') {
      if (key.kind !== 'rsa') return false;
      if (scheme.kind === 'rsa-pkcs1') return verify(scheme.hash, data, { key: key.key, padding: constants.RSA_PKCS1_PADDING }, signature);
      const { pss } = scheme;
      if (pss.mgfHash !== pss.hash) return verifyPssByHand(key, pss, data, signature);
      return verify(pss.hash, data, { key: key.key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: pss.saltLength }, signature);
    }
    if (key.kind === 'rsa') return false;
    const rs = ecdsaRs(signature, scheme.plain);
    if (!rs) return false;
    if (key.kind === 'ec-bigint') return verifyEcdsaBigInt(key.curve, key.point, digest(scheme.hash, data), rs.r, rs.s);
    const r = fixed(rs.r, key.orderBytes);
    const s = fixed(rs.s, key.orderBytes);
    if (!r || !s) return false;
    return verify(scheme.hash, data, { key: key.key, dsaEncoding: 'ieee-p1363' }, Buffer.concat([r, s]));
  } catch {
    // OpenSSL throws on some malformed signatures (an RSA value not below the modulus) instead of answering false.
    return false;
  }
}

/** Whether a key can be used at all (for checks at import time); the reason when not. */
export function keyProblem(spki: pkijs.PublicKeyInfo): string | undefined {
  try {
    verifyingKey(spki);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
