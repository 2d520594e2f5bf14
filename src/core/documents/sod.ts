import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { FaceproofError } from '../errors.ts';
import { hashOfOid, type HashName } from './signature-verify.ts';
import { Asn1Error, fromSchema, hex, nameKey, parseAsn1, ParsedCertificate, serialHex } from './x509.ts';

/**
 * EF.SOD (ICAO 9303 part 10 §4.6.2, part 12 §6): the application tag 0x77 around a CMS SignedData
 * whose content is the LDSSecurityObject, the list of the data groups' hashes.
 */

export const LDS_SECURITY_OBJECT = '2.23.136.1.1.1';
const SIGNED_DATA = '1.2.840.113549.1.7.2';
const ID_DATA = '1.2.840.113549.1.7.1';
const ATTR_CONTENT_TYPE = '1.2.840.113549.1.9.3';
const ATTR_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';

/** Real SODs are 1–5 kB (a few with long certificate chains reach 20 kB): far more is not one. */
export const MAX_SOD_BYTES = 1024 * 1024;

export interface LdsSecurityObject {
  version: number;
  hashAlgorithmOid: string;
  hashAlgorithm: HashName;
  /** Data group number → its hash, as the SOD lists them. */
  hashes: Map<number, Uint8Array>;
  /** LDS and Unicode versions (LDSSecurityObject v1 only), e.g. "0108" and "040000". */
  ldsVersion: string | null;
  unicodeVersion: string | null;
}

export interface ParsedSod {
  signedData: pkijs.SignedData;
  signerInfo: pkijs.SignerInfo;
  /** The LDSSecurityObject's bytes, as signed. */
  eContent: Uint8Array;
  lds: LdsSecurityObject;
  /** The SignerInfo's digest algorithm (may differ from the LDS one). */
  signerDigest: HashName;
  /** The signed attributes re-tagged as the SET OF they are signed as; undefined when the SOD has none. */
  signedAttributes?: { der: Uint8Array; messageDigest?: Uint8Array; contentType?: string };
  signature: Uint8Array;
  certificates: ParsedCertificate[];
  /** The certificate the signer identifier names; undefined when the SOD does not carry it. */
  signer?: ParsedCertificate;
}

const bad = (message: string) => new FaceproofError('invalid_chip_data', message, 'sod');

/** Parses an EF.SOD; anything that is not one is FaceproofError invalid_chip_data (field `sod`). */
export function parseSod(bytes: Uint8Array): ParsedSod {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) throw bad('the SOD is empty');
  if (bytes.length > MAX_SOD_BYTES) throw bad(`the SOD is ${bytes.length} bytes; an EF.SOD is at most ${MAX_SOD_BYTES}`);
  try {
    return parseSodStructure(bytes);
  } catch (err) {
    if (err instanceof FaceproofError) throw err;
    if (err instanceof Asn1Error) throw bad(`the SOD cannot be read: ${err.message}`);
    // asn1js and pkijs throw TypeErrors and RangeErrors on some hostile structures.
    throw bad(`the SOD cannot be read (${(err as Error).message})`);
  }
}

function parseSodStructure(bytes: Uint8Array): ParsedSod {
  const outer = parseAsn1(bytes, 'the SOD', { allowTrailing: true });
  const trailing = bytes.subarray(outer.valueBeforeDecodeView.length);
  // Some readers return the file with its padding; anything else after the element is not part of it.
  if (trailing.some((b) => b !== 0x00 && b !== 0xff)) throw bad('the SOD has bytes after its structure');
  let contentInfoSchema: asn1js.AsnType = outer;
  if (outer.idBlock.tagClass === 2 && outer.idBlock.tagNumber === 23) {
    const inner = (outer as asn1js.Constructed).valueBlock.value;
    if (!Array.isArray(inner) || inner.length !== 1) throw bad('the SOD\'s application tag 0x77 must hold exactly one ContentInfo');
    contentInfoSchema = inner[0];
  }
  const contentInfo = fromSchema(() => new pkijs.ContentInfo({ schema: contentInfoSchema }), 'the SOD\'s ContentInfo');
  if (contentInfo.contentType !== SIGNED_DATA) throw bad(`the SOD's content is ${contentInfo.contentType}, not CMS SignedData`);
  const signedData = fromSchema(() => new pkijs.SignedData({ schema: contentInfo.content }), 'the SOD\'s SignedData');
  const encap = signedData.encapContentInfo;
  // Some countries (China among them) label the LDSSecurityObject as plain id-data.
  if (encap.eContentType !== LDS_SECURITY_OBJECT && encap.eContentType !== ID_DATA) throw bad(`the SOD signs ${encap.eContentType}, not an LDSSecurityObject (${LDS_SECURITY_OBJECT})`);
  if (!encap.eContent) throw bad('the SOD has no LDSSecurityObject (detached content)');
  const eContent = new Uint8Array(encap.eContent.getValue());
  const lds = parseLdsSecurityObject(eContent);
  if (signedData.signerInfos.length !== 1) throw bad(`the SOD has ${signedData.signerInfos.length} signers; an EF.SOD has one`);
  const signerInfo = signedData.signerInfos[0];
  const signerDigest = hashOfOid(signerInfo.digestAlgorithm.algorithmId);
  if (!signerDigest) throw bad(`the SOD's digest algorithm ${signerInfo.digestAlgorithm.algorithmId} is not supported`);

  let signedAttributes: ParsedSod['signedAttributes'];
  if (signerInfo.signedAttrs) {
    const der = new Uint8Array(signerInfo.signedAttrs.encodedValue.slice(0));
    // Signed as a SET OF (tag 0x31), stored under [0] IMPLICIT (RFC 5652 §5.4).
    der[0] = 0x31;
    const attrs = signerInfo.signedAttrs.attributes;
    const single = (type: string) => {
      const found = attrs.filter((a) => a.type === type);
      return found.length === 1 && found[0].values.length === 1 ? found[0].values[0] : undefined;
    };
    const md = single(ATTR_MESSAGE_DIGEST);
    const ct = single(ATTR_CONTENT_TYPE);
    signedAttributes = {
      der,
      messageDigest: md instanceof asn1js.OctetString ? new Uint8Array(md.valueBlock.valueHexView) : undefined,
      contentType: ct instanceof asn1js.ObjectIdentifier ? ct.valueBlock.toString() : undefined,
    };
  }

  const certificates = (signedData.certificates ?? [])
    .filter((c): c is pkijs.Certificate => c instanceof pkijs.Certificate)
    // Read once: pkijs has already parsed them with the SignedData.
    .map((c, i) => fromSchema(() => new ParsedCertificate(new Uint8Array(c.toSchema().toBER()), c), `the SOD's certificate ${i + 1}`));
  return {
    signedData,
    signerInfo,
    eContent,
    lds,
    signerDigest,
    signedAttributes,
    signature: new Uint8Array(signerInfo.signature.valueBlock.valueHexView),
    certificates,
    signer: signerOf(signerInfo, certificates),
  };
}

/**
 * The certificate the signer identifier names: by issuer name (compared by meaning: one real SOD
 * orders the RDNs differently from its certificate) and serial number, or by subject key identifier.
 */
function signerOf(signerInfo: pkijs.SignerInfo, certificates: ParsedCertificate[]): ParsedCertificate | undefined {
  const sid = signerInfo.sid as pkijs.IssuerAndSerialNumber | asn1js.AsnType;
  if (sid instanceof pkijs.IssuerAndSerialNumber) {
    const serial = serialHex(sid.serialNumber);
    const issuer = nameKey(sid.issuer);
    return certificates.find((c) => c.serial === serial && c.issuerKey === issuer);
  }
  // [0] SubjectKeyIdentifier: pkijs keeps the tagged element; its content is the key identifier.
  const block = (sid as asn1js.Constructed).valueBlock as { value?: unknown; valueHexView?: Uint8Array };
  let keyId: Uint8Array | undefined;
  if (Array.isArray(block.value) && block.value[0] instanceof asn1js.OctetString) keyId = block.value[0].valueBlock.valueHexView;
  else if (block.valueHexView) keyId = block.valueHexView;
  if (!keyId) return undefined;
  const wanted = hex(keyId);
  return certificates.find((c) => c.subjectKeyId === wanted);
}

/**
 * LDSSecurityObject ::= SEQUENCE { version INTEGER {v0(0), v1(1)}, hashAlgorithm AlgorithmIdentifier,
 *   dataGroupHashValues SEQUENCE SIZE (2..16) OF DataGroupHash, ldsVersionInfo LDSVersionInfo OPTIONAL }
 * DataGroupHash ::= SEQUENCE { dataGroupNumber INTEGER (1..16), dataGroupHashValue OCTET STRING }
 */
function parseLdsSecurityObject(bytes: Uint8Array): LdsSecurityObject {
  const root = parseAsn1(bytes, 'the LDSSecurityObject');
  const items = root instanceof asn1js.Sequence ? root.valueBlock.value : undefined;
  if (!items || items.length < 3 || items.length > 4) throw bad('the LDSSecurityObject is not a SEQUENCE of 3 or 4 elements');
  const [versionEl, algEl, hashesEl, versionInfoEl] = items;
  if (!(versionEl instanceof asn1js.Integer)) throw bad('the LDSSecurityObject\'s version is not an INTEGER');
  const version = versionEl.valueBlock.valueDec;
  if (version !== 0 && version !== 1) throw bad(`the LDSSecurityObject's version is ${version}; 0 or 1 expected`);
  const algorithm = fromSchema(() => new pkijs.AlgorithmIdentifier({ schema: algEl }), 'the LDSSecurityObject\'s hash algorithm');
  const hashAlgorithm = hashOfOid(algorithm.algorithmId);
  if (!hashAlgorithm) throw bad(`the LDS hash algorithm ${algorithm.algorithmId} is not supported`);
  if (!(hashesEl instanceof asn1js.Sequence)) throw bad('the LDSSecurityObject\'s data group hashes are not a SEQUENCE');
  const hashes = new Map<number, Uint8Array>();
  for (const entry of hashesEl.valueBlock.value) {
    const pair = entry instanceof asn1js.Sequence ? entry.valueBlock.value : [];
    const [numberEl, valueEl] = pair;
    if (pair.length !== 2 || !(numberEl instanceof asn1js.Integer) || !(valueEl instanceof asn1js.OctetString)) throw bad('a DataGroupHash is not { INTEGER, OCTET STRING }');
    const n = numberEl.valueBlock.valueDec;
    if (!Number.isInteger(n) || n < 1 || n > 16) throw bad(`the SOD lists data group ${n}; data groups are numbered 1 to 16`);
    if (hashes.has(n)) throw bad(`the SOD lists data group ${n} twice`);
    hashes.set(n, new Uint8Array(valueEl.valueBlock.valueHexView));
  }
  if (hashes.size === 0) throw bad('the SOD lists no data group');
  let ldsVersion: string | null = null;
  let unicodeVersion: string | null = null;
  if (versionInfoEl) {
    const parts = versionInfoEl instanceof asn1js.Sequence ? versionInfoEl.valueBlock.value : [];
    const text = (el: asn1js.AsnType | undefined) => {
      const v = (el as { valueBlock?: { value?: unknown } } | undefined)?.valueBlock?.value;
      return typeof v === 'string' ? v : null;
    };
    ldsVersion = text(parts[0]);
    unicodeVersion = text(parts[1]);
  }
  return { version, hashAlgorithmOid: algorithm.algorithmId, hashAlgorithm, hashes, ldsVersion, unicodeVersion };
}
