import { constants, createHash, generateKeyPairSync, privateEncrypt, randomBytes, sign, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

/**
 * Test passports made at test time: a CSCA, a document signer and an EF.SOD over given data group
 * bytes, signed with real keys (node:crypto) in every algorithm the verifier supports, including
 * document-signer keys given with explicit EC domain parameters.
 */

export type Hash = 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';
const HASH_OID: Record<Hash, string> = {
  sha1: '1.3.14.3.2.26', sha224: '2.16.840.1.101.3.4.2.4', sha256: '2.16.840.1.101.3.4.2.1', sha384: '2.16.840.1.101.3.4.2.2', sha512: '2.16.840.1.101.3.4.2.3',
};
const RSA_PKCS1_OID: Record<Hash, string> = {
  sha1: '1.2.840.113549.1.1.5', sha224: '1.2.840.113549.1.1.14', sha256: '1.2.840.113549.1.1.11', sha384: '1.2.840.113549.1.1.12', sha512: '1.2.840.113549.1.1.13',
};
const ECDSA_OID: Record<Hash, string> = {
  sha1: '1.2.840.10045.4.1', sha224: '1.2.840.10045.4.3.1', sha256: '1.2.840.10045.4.3.2', sha384: '1.2.840.10045.4.3.3', sha512: '1.2.840.10045.4.3.4',
};
const ECDSA_PLAIN_OID: Record<Hash, string> = {
  sha1: '0.4.0.127.0.7.1.1.4.1.1', sha224: '0.4.0.127.0.7.1.1.4.1.2', sha256: '0.4.0.127.0.7.1.1.4.1.3', sha384: '0.4.0.127.0.7.1.1.4.1.4', sha512: '0.4.0.127.0.7.1.1.4.1.5',
};

export type KeySpec = { kind: 'rsa'; bits: number } | { kind: 'ec'; curve: string; explicit?: boolean };
export type SignatureSpec =
  | { scheme: 'pkcs1'; hash: Hash }
  | { scheme: 'pss'; hash: Hash; saltLength: number; mgfHash?: Hash }
  | { scheme: 'ecdsa'; hash: Hash; plain?: boolean };

export interface TestKey { spec: KeySpec; privateKey: KeyObject; spki: Uint8Array }

/** Explicit domain parameters written into a key: from the curve's published values (SEC 2, RFC 5639). */
const EXPLICIT: Record<string, Record<'p' | 'a' | 'b' | 'gx' | 'gy' | 'n', string>> = {
  brainpoolP256r1: {
    p: 'a9fb57dba1eea9bc3e660a909d838d726e3bf623d52620282013481d1f6e5377', a: '7d5a0975fc2c3057eef67530417affe7fb8055c126dc5c6ce94a4b44f330b5d9',
    b: '26dc5c6ce94a4b44f330b5d9bbd77cbf958416295cf7e1ce6bccdc18ff8c07b6', gx: '8bd2aeb9cb7e57cb2c4b482ffc81b7afb9de27e1e3bd23c23a4453bd9ace3262',
    gy: '547ef835c3dac4fd97f8461a14611dc9c27745132ded8e545c1d54c72f046997', n: 'a9fb57dba1eea9bc3e660a909d838d718c397aa3b561a6f7901e0e82974856a7',
  },
  // Not in the verifier's table of passport curves: its ECDSA runs in BigInt.
  secp256k1: {
    p: 'fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f', a: '00', b: '07',
    gx: '79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798', gy: '483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8',
    n: 'fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141',
  },
};

const int = (hex: string) => {
  let h = hex.length % 2 ? `0${hex}` : hex;
  if (parseInt(h.slice(0, 2), 16) & 0x80) h = `00${h}`;
  return new asn1js.Integer({ valueHex: Buffer.from(h, 'hex') });
};

export function makeKey(spec: KeySpec): TestKey {
  if (spec.kind === 'rsa') {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: spec.bits });
    return { spec, privateKey, spki: new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })) };
  }
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: spec.curve });
  const named = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
  if (!spec.explicit) return { spec, privateKey, spki: named };
  const c = EXPLICIT[spec.curve];
  if (!c) throw new Error(`no explicit parameters for ${spec.curve} in the test helper`);
  const point = (asn1js.fromBER(named).result as asn1js.Sequence).valueBlock.value[1] as asn1js.BitString;
  const field = (c.p.length / 2);
  const pad = (h: string) => Buffer.from(h.padStart(field * 2, '0'), 'hex');
  const params = new asn1js.Sequence({
    value: [
      new asn1js.Integer({ value: 1 }),
      new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: '1.2.840.10045.1.1' }), int(c.p)] }),
      new asn1js.Sequence({ value: [new asn1js.OctetString({ valueHex: pad(c.a) }), new asn1js.OctetString({ valueHex: pad(c.b) })] }),
      new asn1js.OctetString({ valueHex: Buffer.concat([Buffer.from([4]), pad(c.gx), pad(c.gy)]) }),
      int(c.n),
      new asn1js.Integer({ value: 1 }),
    ],
  });
  const spki = new asn1js.Sequence({
    value: [new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: '1.2.840.10045.2.1' }), params] }), new asn1js.BitString({ valueHex: point.valueBlock.valueHexView })],
  });
  return { spec, privateKey, spki: new Uint8Array(spki.toBER()) };
}

function algorithmId(oid: string, params?: asn1js.AsnType): pkijs.AlgorithmIdentifier {
  return new pkijs.AlgorithmIdentifier({ algorithmId: oid, ...(params ? { algorithmParams: params } : {}) });
}

export function signatureAlgorithm(spec: SignatureSpec): pkijs.AlgorithmIdentifier {
  if (spec.scheme === 'pkcs1') return algorithmId(RSA_PKCS1_OID[spec.hash], new asn1js.Null());
  if (spec.scheme === 'ecdsa') return algorithmId((spec.plain ? ECDSA_PLAIN_OID : ECDSA_OID)[spec.hash]);
  const params = new pkijs.RSASSAPSSParams({
    hashAlgorithm: algorithmId(HASH_OID[spec.hash], new asn1js.Null()),
    maskGenAlgorithm: algorithmId('1.2.840.113549.1.1.8', algorithmId(HASH_OID[spec.mgfHash ?? spec.hash], new asn1js.Null()).toSchema()),
    saltLength: spec.saltLength,
  });
  return algorithmId('1.2.840.113549.1.1.10', params.toSchema());
}

function mgf1(hash: Hash, seed: Buffer, length: number): Buffer {
  const out: Buffer[] = [];
  for (let i = 0; Buffer.concat(out).length < length; i++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(i);
    out.push(createHash(hash).update(seed).update(c).digest());
  }
  return Buffer.concat(out).subarray(0, length);
}

/** RSASSA-PSS with a mask hash other than the message hash (node:crypto signs only with both the same): EMSA-PSS-ENCODE, then raw RSA. */
function signPssByHand(key: KeyObject, hash: Hash, mgfHash: Hash, saltLength: number, data: Uint8Array): Buffer {
  const modBits = key.asymmetricKeyDetails!.modulusLength!;
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  const mHash = createHash(hash).update(data).digest();
  const salt = randomBytes(saltLength);
  const h = createHash(hash).update(Buffer.alloc(8)).update(mHash).update(salt).digest();
  const db = Buffer.concat([Buffer.alloc(emLen - saltLength - h.length - 2), Buffer.from([1]), salt]);
  const mask = mgf1(mgfHash, h, db.length);
  for (let i = 0; i < db.length; i++) db[i] ^= mask[i];
  db[0] &= 0xff >> (8 * emLen - emBits);
  const em = Buffer.concat([db, h, Buffer.from([0xbc])]);
  const padded = Buffer.concat([Buffer.alloc(modBits / 8 - em.length), em]);
  return privateEncrypt({ key, padding: constants.RSA_NO_PADDING }, padded);
}

export function signWith(key: TestKey, spec: SignatureSpec, data: Uint8Array): Buffer {
  if (spec.scheme === 'pkcs1') return sign(spec.hash, data, { key: key.privateKey, padding: constants.RSA_PKCS1_PADDING });
  if (spec.scheme === 'pss') {
    if (spec.mgfHash && spec.mgfHash !== spec.hash) return signPssByHand(key.privateKey, spec.hash, spec.mgfHash, spec.saltLength, data);
    return sign(spec.hash, data, { key: key.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: spec.saltLength });
  }
  return sign(spec.hash, data, { key: key.privateKey, dsaEncoding: spec.plain ? 'ieee-p1363' : 'der' });
}

export type NameSpec = Array<[string, string]>;
const NAME_OIDS: Record<string, string> = { C: '2.5.4.6', O: '2.5.4.10', OU: '2.5.4.11', CN: '2.5.4.3', serialNumber: '2.5.4.5' };

export function makeName(spec: NameSpec, options: { utf8?: boolean } = {}): pkijs.RelativeDistinguishedNames {
  return new pkijs.RelativeDistinguishedNames({
    typesAndValues: spec.map(([k, v]) => new pkijs.AttributeTypeAndValue({
      type: NAME_OIDS[k],
      value: k === 'C' || !options.utf8 ? new asn1js.PrintableString({ value: v }) : new asn1js.Utf8String({ value: v }),
    })),
  });
}

const keyId = (spki: Uint8Array) => createHash('sha1').update(spki).digest();

export interface TestCertificate { der: Uint8Array; cert: pkijs.Certificate; key: TestKey; keyId: Buffer }

export function makeCertificate(options: {
  subject: NameSpec; key: TestKey; issuer?: TestCertificate; issuerName?: NameSpec; issuerKey?: TestKey; signature: SignatureSpec;
  serial: number; notBefore: Date; notAfter: Date; ca: boolean; utf8Names?: boolean; authorityKeyId?: Buffer;
}): TestCertificate {
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = new asn1js.Integer({ value: options.serial });
  cert.subject = makeName(options.subject, { utf8: options.utf8Names });
  cert.issuer = options.issuer ? options.issuer.cert.subject : makeName(options.issuerName ?? options.subject, { utf8: options.utf8Names });
  cert.notBefore.value = options.notBefore;
  cert.notAfter.value = options.notAfter;
  cert.subjectPublicKeyInfo = new pkijs.PublicKeyInfo({ schema: asn1js.fromBER(options.key.spki).result });
  const signer = options.issuer?.key ?? options.issuerKey ?? options.key;
  const ski = keyId(options.key.spki);
  const aki = options.authorityKeyId ?? (options.issuer ? options.issuer.keyId : keyId(signer.spki));
  const extension = (extnID: string, critical: boolean, value: ArrayBuffer) => new pkijs.Extension({ extnID, critical, extnValue: value });
  cert.extensions = [
    extension('2.5.29.14', false, new asn1js.OctetString({ valueHex: ski }).toBER()),
    extension('2.5.29.35', false, new pkijs.AuthorityKeyIdentifier({ keyIdentifier: new asn1js.OctetString({ valueHex: aki }) }).toSchema().toBER()),
    extension('2.5.29.15', true, new asn1js.BitString({ valueHex: Buffer.from([options.ca ? 0x06 : 0x80]), unusedBits: options.ca ? 1 : 7 }).toBER()),
    ...(options.ca ? [extension('2.5.29.19', true, new pkijs.BasicConstraints({ cA: true, pathLenConstraint: 0 }).toSchema().toBER())] : []),
  ];
  cert.signature = signatureAlgorithm(options.signature);
  cert.signatureAlgorithm = signatureAlgorithm(options.signature);
  const tbs = new Uint8Array(cert.encodeTBS().toBER());
  cert.signatureValue = new asn1js.BitString({ valueHex: signWith(signer, options.signature, tbs) });
  const der = new Uint8Array(cert.toSchema(true).toBER());
  return { der, cert: pkijs.Certificate.fromBER(der), key: options.key, keyId: ski };
}

export function makeCrl(options: { issuer: TestCertificate; signature: SignatureSpec; revoked: number[]; thisUpdate: Date; nextUpdate: Date; signer?: TestKey }): Uint8Array {
  const crl = new pkijs.CertificateRevocationList();
  crl.version = 1;
  crl.issuer = options.issuer.cert.subject;
  crl.thisUpdate = new pkijs.Time({ type: 0, value: options.thisUpdate });
  crl.nextUpdate = new pkijs.Time({ type: 0, value: options.nextUpdate });
  if (options.revoked.length) {
    crl.revokedCertificates = options.revoked.map((serial) => new pkijs.RevokedCertificate({
      userCertificate: new asn1js.Integer({ value: serial }), revocationDate: new pkijs.Time({ type: 0, value: options.thisUpdate }),
    }));
  }
  crl.crlExtensions = new pkijs.Extensions({
    extensions: [
      new pkijs.Extension({ extnID: '2.5.29.35', extnValue: new pkijs.AuthorityKeyIdentifier({ keyIdentifier: new asn1js.OctetString({ valueHex: options.issuer.keyId }) }).toSchema().toBER() }),
      new pkijs.Extension({ extnID: '2.5.29.20', extnValue: new asn1js.Integer({ value: 7 }).toBER() }),
    ],
  });
  crl.signature = signatureAlgorithm(options.signature);
  crl.signatureAlgorithm = signatureAlgorithm(options.signature);
  // encodeTBS is protected on CRLs (public on certificates) in pkijs's types; it is what toSchema(true) encodes.
  const tbs = new Uint8Array((crl as unknown as { encodeTBS(): { toBER(): ArrayBuffer } }).encodeTBS().toBER());
  crl.signatureValue = new asn1js.BitString({ valueHex: signWith(options.signer ?? options.issuer.key, options.signature, tbs) });
  return new Uint8Array(crl.toSchema(true).toBER());
}

export interface TestSod {
  sod: Uint8Array;
  /** Byte ranges [start, end) in `sod`. */
  ranges: { signedAttributes: [number, number]; messageDigest: [number, number]; signingTime: [number, number]; signature: [number, number]; ldsHashes: [number, number] };
}

/** An EF.SOD (tag 0x77) over `dataGroups`, signed by `dsc` and carrying it. */
export function makeSod(options: {
  dataGroups: Record<number, Uint8Array>; ldsHash: Hash; digest?: Hash; dsc: TestCertificate; signature: SignatureSpec; ldsV1?: boolean; sidByKeyId?: boolean;
}): TestSod {
  const digestHash = options.digest ?? options.ldsHash;
  const entries = Object.entries(options.dataGroups).map(([n, bytes]) => new asn1js.Sequence({
    value: [new asn1js.Integer({ value: Number(n) }), new asn1js.OctetString({ valueHex: createHash(options.ldsHash).update(bytes).digest() })],
  }));
  const lds = new asn1js.Sequence({
    value: [
      new asn1js.Integer({ value: options.ldsV1 ? 1 : 0 }),
      algorithmId(HASH_OID[options.ldsHash]).toSchema(),
      new asn1js.Sequence({ value: entries }),
      ...(options.ldsV1 ? [new asn1js.Sequence({ value: [new asn1js.PrintableString({ value: '0108' }), new asn1js.PrintableString({ value: '040000' })] })] : []),
    ],
  });
  const eContent = new Uint8Array(lds.toBER());
  const messageDigest = createHash(digestHash).update(eContent).digest();
  const attributes = [
    new pkijs.Attribute({ type: '1.2.840.113549.1.9.3', values: [new asn1js.ObjectIdentifier({ value: '2.23.136.1.1.1' })] }),
    new pkijs.Attribute({ type: '1.2.840.113549.1.9.5', values: [new asn1js.UTCTime({ valueDate: new Date(Date.UTC(2024, 0, 2, 3, 4, 5)) })] }),
    new pkijs.Attribute({ type: '1.2.840.113549.1.9.4', values: [new asn1js.OctetString({ valueHex: messageDigest })] }),
  ];
  const signedSet = new Uint8Array(new asn1js.Set({ value: attributes.map((a) => a.toSchema()) }).toBER());
  const signature = signWith(options.dsc.key, options.signature, signedSet);
  const sid = options.sidByKeyId
    ? new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 0 }, valueHex: options.dsc.keyId })
    : new pkijs.IssuerAndSerialNumber({ issuer: options.dsc.cert.issuer, serialNumber: options.dsc.cert.serialNumber });
  const signerInfo = new pkijs.SignerInfo({
    version: options.sidByKeyId ? 3 : 1,
    sid,
    digestAlgorithm: algorithmId(HASH_OID[digestHash]),
    signedAttrs: new pkijs.SignedAndUnsignedAttributes({ type: 0, attributes }),
    signatureAlgorithm: signatureAlgorithm(options.signature),
    signature: new asn1js.OctetString({ valueHex: signature }),
  });
  const signedData = new pkijs.SignedData({
    version: 3,
    encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: '2.23.136.1.1.1', eContent: new asn1js.OctetString({ valueHex: eContent }) }),
    digestAlgorithms: [algorithmId(HASH_OID[digestHash])],
    certificates: [options.dsc.cert],
    signerInfos: [signerInfo],
  });
  const contentInfo = new pkijs.ContentInfo({ contentType: '1.2.840.113549.1.7.2', content: signedData.toSchema(true) });
  const sod = new Uint8Array(new asn1js.Constructed({ idBlock: { tagClass: 2, tagNumber: 23 }, value: [contentInfo.toSchema()] }).toBER());

  const find = (needle: Uint8Array, what: string) => {
    const at = Buffer.from(sod).indexOf(Buffer.from(needle));
    if (at < 0 || Buffer.from(sod).indexOf(Buffer.from(needle), at + 1) >= 0) throw new Error(`${what} is not found exactly once in the SOD`);
    return at;
  };
  const attrsBody = signedSet.subarray(2 + (signedSet[1] & 0x80 ? signedSet[1] & 0x7f : 0));
  const attrsAt = find(attrsBody, 'the signed attributes');
  const mdAt = find(messageDigest, 'the message digest');
  const time = Buffer.from('240102030405Z');
  const timeAt = find(time, 'the signing time');
  const sigAt = find(signature, 'the signature');
  const hashesDer = new Uint8Array((lds.valueBlock.value[2] as asn1js.Sequence).toBER());
  const hashesAt = find(hashesDer, 'the LDS hashes');
  return {
    sod,
    ranges: {
      signedAttributes: [attrsAt, attrsAt + attrsBody.length],
      messageDigest: [mdAt, mdAt + messageDigest.length],
      signingTime: [timeAt, timeAt + time.length],
      signature: [sigAt, sigAt + signature.length],
      ldsHashes: [hashesAt, hashesAt + hashesDer.length],
    },
  };
}

/** A copy of `bytes` with the byte at `at` changed. */
export function flip(bytes: Uint8Array, at: number, mask = 0x01): Uint8Array {
  const copy = new Uint8Array(bytes);
  copy[at] ^= mask;
  return copy;
}

/** Up to `count` positions spread over [start, end). */
export function positions(start: number, end: number, count: number): number[] {
  const n = end - start;
  if (n <= count) return Array.from({ length: n }, (_, i) => start + i);
  return Array.from({ length: count }, (_, i) => start + Math.floor((i * (n - 1)) / (count - 1)));
}

/** Plausible DG1 and DG2 bytes (the TLV shapes ICAO 9303 part 10 gives them). */
export function sampleDataGroups(): Record<number, Uint8Array> {
  const mrz = Buffer.from('P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<L898902C36UTO7408122F1204159ZE184226B<<<<<10', 'ascii');
  const dg1 = Buffer.concat([Buffer.from([0x61, mrz.length + 3, 0x5f, 0x1f, mrz.length]), mrz]);
  const face = randomBytes(3000);
  const dg2 = Buffer.concat([Buffer.from([0x75, 0x82, (face.length + 4) >> 8, (face.length + 4) & 0xff, 0x7f, 0x61, 0x82]), Buffer.from([face.length >> 8, face.length & 0xff]), face]);
  return { 1: new Uint8Array(dg1), 2: new Uint8Array(dg2) };
}
