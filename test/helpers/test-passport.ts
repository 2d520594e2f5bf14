import { createHash, webcrypto } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

/**
 * A test passport chip of our own: a CSCA (self-signed, ECDSA P-256), a document signer it
 * certifies, DG1 holding the given MRZ, and an EF.SOD (0x77-wrapped CMS SignedData over the LDS
 * security object with DG1's SHA-256, signed attributes, ECDSA-SHA-256), as a phone reads it.
 */
export interface TestPassport {
  csca: Buffer;
  documentSigner: Buffer;
  dg1: Buffer;
  sod: Buffer;
}

const engine = new pkijs.CryptoEngine({ name: 'node', crypto: webcrypto as unknown as Crypto });

/** A BER-TLV with a definite length. */
function tlv(tag: number[], value: Buffer): Buffer {
  const n = value.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from(tag), Buffer.from(length), value]);
}

const name = (country: string, cn: string) => new pkijs.RelativeDistinguishedNames({
  typesAndValues: [
    new pkijs.AttributeTypeAndValue({ type: '2.5.4.6', value: new asn1js.PrintableString({ value: country }) }),
    new pkijs.AttributeTypeAndValue({ type: '2.5.4.3', value: new asn1js.Utf8String({ value: cn }) }),
  ],
});

async function certificate(options: { serial: number; subject: pkijs.RelativeDistinguishedNames; issuer: pkijs.RelativeDistinguishedNames; publicKey: CryptoKey; signingKey: CryptoKey; ca: boolean }): Promise<pkijs.Certificate> {
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = new asn1js.Integer({ value: options.serial });
  cert.subject = options.subject;
  cert.issuer = options.issuer;
  const now = Date.now();
  cert.notBefore.value = new Date(now - 24 * 3600_000);
  cert.notAfter.value = new Date(now + 365 * 24 * 3600_000);
  const usage = new asn1js.BitString({ valueHex: new Uint8Array([options.ca ? 0x06 : 0x80]).buffer, unusedBits: options.ca ? 1 : 7 });
  cert.extensions = [
    new pkijs.Extension({ extnID: '2.5.29.19', critical: true, extnValue: new pkijs.BasicConstraints({ cA: options.ca }).toSchema().toBER(false), parsedValue: new pkijs.BasicConstraints({ cA: options.ca }) }),
    new pkijs.Extension({ extnID: '2.5.29.15', critical: true, extnValue: usage.toBER(false) }),
  ];
  await cert.subjectPublicKeyInfo.importKey(options.publicKey, engine);
  await cert.sign(options.signingKey, 'SHA-256', engine);
  return cert;
}

export async function buildTestPassport(options: { mrz: string[]; country?: string }): Promise<TestPassport> {
  const country = options.country ?? 'UT';
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256' };
  const cscaKeys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']) as CryptoKeyPair;
  const dsKeys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']) as CryptoKeyPair;
  const cscaName = name(country, 'Test CSCA');
  const csca = await certificate({ serial: 1, subject: cscaName, issuer: cscaName, publicKey: cscaKeys.publicKey, signingKey: cscaKeys.privateKey, ca: true });
  const ds = await certificate({ serial: 2, subject: name(country, 'Test Document Signer'), issuer: cscaName, publicKey: dsKeys.publicKey, signingKey: cscaKeys.privateKey, ca: false });

  const dg1 = tlv([0x61], tlv([0x5f, 0x1f], Buffer.from(options.mrz.join(''), 'ascii')));
  const sha256 = (b: Buffer) => createHash('sha256').update(b).digest();
  const lds = new asn1js.Sequence({
    value: [
      new asn1js.Integer({ value: 0 }),
      new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: '2.16.840.1.101.3.4.2.1' })] }),
      new asn1js.Sequence({ value: [new asn1js.Sequence({ value: [new asn1js.Integer({ value: 1 }), new asn1js.OctetString({ valueHex: new Uint8Array(sha256(dg1)).buffer })] })] }),
    ],
  });
  const ldsDer = Buffer.from(lds.toBER(false));
  const signedData = new pkijs.SignedData({
    version: 3,
    encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: '2.23.136.1.1.1', eContent: new asn1js.OctetString({ valueHex: new Uint8Array(ldsDer).buffer }) }),
    signerInfos: [new pkijs.SignerInfo({
      version: 1,
      sid: new pkijs.IssuerAndSerialNumber({ issuer: ds.issuer, serialNumber: ds.serialNumber }),
      signedAttrs: new pkijs.SignedAndUnsignedAttributes({
        type: 0,
        attributes: [
          new pkijs.Attribute({ type: '1.2.840.113549.1.9.3', values: [new asn1js.ObjectIdentifier({ value: '2.23.136.1.1.1' })] }),
          new pkijs.Attribute({ type: '1.2.840.113549.1.9.4', values: [new asn1js.OctetString({ valueHex: new Uint8Array(sha256(ldsDer)).buffer })] }),
        ],
      }),
    })],
    certificates: [ds],
  });
  await signedData.sign(dsKeys.privateKey, 0, 'SHA-256', undefined, engine);
  const contentInfo = new pkijs.ContentInfo({ contentType: '1.2.840.113549.1.7.2', content: signedData.toSchema(true) });
  const cms = Buffer.from(contentInfo.toSchema().toBER(false));
  return {
    csca: Buffer.from(csca.toSchema(true).toBER(false)),
    documentSigner: Buffer.from(ds.toSchema(true).toBER(false)),
    dg1,
    sod: tlv([0x77], cms),
  };
}
