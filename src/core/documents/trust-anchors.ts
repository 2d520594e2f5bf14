import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { FaceproofError } from '../errors.ts';
import { digest, hashOfOid, schemeOf, verifySignature } from './signature-verify.ts';
import { Asn1Error, fromSchema, parseAsn1, parseCertificate, parseCrl, nameKey, serialHex, type CertificateSummary, type ParsedCertificate, type ParsedCrl } from './x509.ts';

/**
 * Trust anchors: the CSCA certificates (and their CRLs) an operator chooses to trust, read from the
 * files countries and ICAO publish — a single certificate (DER or PEM), a PEM bundle, a CSCA master
 * list (ICAO 9303 part 12 §9: CMS SignedData over a CscaMasterList), a CRL (DER or PEM).
 */

/**
 * An anchor. `keys`, when given, are what the index files it under (the stored name key and key
 * identifier), so that a store of thousands is indexed without parsing each certificate.
 */
/** The store itself lives in trust-store.ts (it needs the repository port); named here too for its users. */
export type { TrustStore } from './trust-store.ts';

export interface TrustedCertificate { id: string; certificate: ParsedCertificate; keys?: { nameKey: string; keyId?: string } }
export interface TrustedCrl { id: string; crl: ParsedCrl; keys?: { nameKey: string } }

/** What passive authentication asks of the trust store. */
export interface TrustAnchorLookup {
  /** Anchors that may have issued `certificate`: same subject as its issuer name, or its authority key identifier. */
  issuersOf(certificate: ParsedCertificate): readonly TrustedCertificate[] | Promise<readonly TrustedCertificate[]>;
  /** CRLs issued under `issuer`'s name (their signatures are checked by the caller). */
  revocationListsOf(issuer: ParsedCertificate): readonly TrustedCrl[] | Promise<readonly TrustedCrl[]>;
}

/** An in-memory index of anchors by subject name and key identifier. */
export class AnchorIndex implements TrustAnchorLookup {
  private readonly bySubject = new Map<string, TrustedCertificate[]>();
  private readonly byKeyId = new Map<string, TrustedCertificate[]>();
  private readonly crlsByIssuer = new Map<string, TrustedCrl[]>();

  constructor(certificates: Iterable<TrustedCertificate>, crls: Iterable<TrustedCrl> = []) {
    const push = <T>(map: Map<string, T[]>, key: string, value: T) => {
      const list = map.get(key);
      if (list) list.push(value);
      else map.set(key, [value]);
    };
    for (const c of certificates) {
      const keys = c.keys ?? { nameKey: c.certificate.subjectKey, keyId: c.certificate.subjectKeyId };
      push(this.bySubject, keys.nameKey, c);
      if (keys.keyId) push(this.byKeyId, keys.keyId, c);
    }
    for (const c of crls) push(this.crlsByIssuer, c.keys?.nameKey ?? c.crl.issuerKey, c);
  }

  /** Anchors from parsed certificates, their ids being their fingerprints (tests, benchmarks, tools). */
  static of(certificates: ParsedCertificate[], crls: ParsedCrl[] = []): AnchorIndex {
    return new AnchorIndex(certificates.map((c) => ({ id: anchorId(c.sha256), certificate: c })), crls.map((c) => ({ id: anchorId(c.sha256), crl: c })));
  }

  issuersOf(certificate: ParsedCertificate): TrustedCertificate[] {
    const found = new Map<string, TrustedCertificate>();
    const byKey = certificate.authorityKeyId ? this.byKeyId.get(certificate.authorityKeyId) ?? [] : [];
    // Candidates with the key identifier the certificate names first: usually the only one to try.
    for (const c of byKey) found.set(c.id, c);
    for (const c of this.bySubject.get(certificate.issuerKey) ?? []) found.set(c.id, c);
    return [...found.values()];
  }

  revocationListsOf(issuer: ParsedCertificate): TrustedCrl[] {
    return this.crlsByIssuer.get(issuer.subjectKey) ?? [];
  }
}

/** An anchor's id: the start of its SHA-256 fingerprint, so that the same file gives the same ids on every server. */
export const anchorId = (sha256: string) => sha256.slice(0, 20);

export type TrustFileKind = 'certificate' | 'pem_bundle' | 'master_list' | 'certificate_bundle' | 'crl';

export interface MasterListFacts {
  /** The master list signer's certificate, when the list carries it. */
  signer: CertificateSummary | null;
  /** Its signature over the list, checked with that signer's key (integrity of the file, not trust in the signer). */
  signature: 'valid';
  certificates: number;
}

export interface ParsedTrustFile {
  kind: TrustFileKind;
  certificates: ParsedCertificate[];
  crls: ParsedCrl[];
  /** Entries that could not be read as a certificate (a bundle's or list's), skipped. */
  skipped: number;
  master_list?: MasterListFacts;
}

const CSCA_MASTER_LIST = '2.23.136.1.1.2';
const SIGNED_DATA = '1.2.840.113549.1.7.2';
/** Far above the ~1–3 MB of the published master lists. */
export const MAX_TRUST_FILE_BYTES = 16 * 1024 * 1024;
const MAX_ENTRIES = 20_000;

const invalid = (message: string) => new FaceproofError('invalid_certificate', message, 'body');

/**
 * Reads an operator's trust file, recognising its kind from the bytes. Anything that is not one of
 * the kinds, or a master list whose signature does not hold, is FaceproofError invalid_certificate.
 */
export function parseTrustFile(bytes: Uint8Array): ParsedTrustFile {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) throw invalid('the file is empty');
  if (bytes.length > MAX_TRUST_FILE_BYTES) throw invalid(`the file is ${bytes.length} bytes; at most ${MAX_TRUST_FILE_BYTES} are read`);
  try {
    const head = Buffer.from(bytes.subarray(0, Math.min(bytes.length, 4096))).toString('latin1');
    if (head.includes('-----BEGIN ')) return parsePem(Buffer.from(bytes).toString('latin1'));
    return parseDerFile(bytes);
  } catch (err) {
    if (err instanceof FaceproofError) throw err;
    throw invalid(`the file is not a certificate, PEM bundle, CSCA master list or CRL: ${(err as Error).message}`);
  }
}

function parsePem(text: string): ParsedTrustFile {
  const certificates: ParsedCertificate[] = [];
  const crls: ParsedCrl[] = [];
  let skipped = 0;
  let blocks = 0;
  const seen = new Set<string>();
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (++blocks > MAX_ENTRIES) throw invalid(`the PEM file holds more than ${MAX_ENTRIES} blocks`);
    const label = m[1];
    const base64 = m[2].replace(/[^A-Za-z0-9+/=]/g, '');
    // A bundle that repeats a certificate: parsed once (parsing is what an import spends its time on).
    if (seen.has(base64)) continue;
    seen.add(base64);
    const der = new Uint8Array(Buffer.from(base64, 'base64'));
    try {
      if (label === 'CERTIFICATE' || label === 'X509 CERTIFICATE' || label === 'TRUSTED CERTIFICATE') certificates.push(parseCertificate(der));
      else if (label === 'X509 CRL') crls.push(parseCrl(der));
      else if (label === 'CMS' || label === 'PKCS7') {
        const inner = parseDerFile(der);
        certificates.push(...inner.certificates);
        crls.push(...inner.crls);
        skipped += inner.skipped;
      } else skipped++;
    } catch (err) {
      if (!(err instanceof Asn1Error)) throw err;
      skipped++;
    }
  }
  if (blocks === 0) throw invalid('the PEM file holds no BEGIN/END block');
  if (certificates.length === 0 && crls.length === 0) throw invalid('the PEM file holds no certificate or CRL that can be read');
  const kind: TrustFileKind = crls.length && !certificates.length ? 'crl' : blocks === 1 && certificates.length === 1 ? 'certificate' : 'pem_bundle';
  return { kind, certificates, crls, skipped };
}

function parseDerFile(bytes: Uint8Array): ParsedTrustFile {
  // A master list of a few thousand certificates is a few hundred thousand nodes.
  const root = parseAsn1(bytes, 'the file', { maxNodes: 2_000_000 });
  const first = root instanceof asn1js.Sequence ? root.valueBlock.value[0] : undefined;
  if (!first) throw invalid('the file is not an ASN.1 SEQUENCE');
  if (first instanceof asn1js.ObjectIdentifier) return parseCms(root);
  try {
    return { kind: 'certificate', certificates: [parseCertificate(bytes)], crls: [], skipped: 0 };
  } catch (certErr) {
    try {
      return { kind: 'crl', certificates: [], crls: [parseCrl(bytes)], skipped: 0 };
    } catch {
      throw invalid(`the file is neither a certificate nor a CRL (${(certErr as Error).message})`);
    }
  }
}

/** A CMS ContentInfo: a CSCA master list (signed, checked), or a certificates-only bundle (.p7b). */
function parseCms(root: asn1js.AsnType): ParsedTrustFile {
  const contentInfo = fromSchema(() => new pkijs.ContentInfo({ schema: root }), 'the CMS file');
  if (contentInfo.contentType !== SIGNED_DATA) throw invalid(`the CMS file holds ${contentInfo.contentType}, not SignedData`);
  const signedData = fromSchema(() => new pkijs.SignedData({ schema: contentInfo.content }), 'the CMS SignedData');
  const carried = (signedData.certificates ?? []).filter((c): c is pkijs.Certificate => c instanceof pkijs.Certificate);
  if (signedData.encapContentInfo.eContentType !== CSCA_MASTER_LIST) {
    // A certificates-only bundle: its certificates are what the operator means to trust.
    const certificates = carried.map((c, i) => parseCertificate(c.toSchema(), `certificate ${i + 1}`));
    const crls = (signedData.crls ?? []).filter((c): c is pkijs.CertificateRevocationList => c instanceof pkijs.CertificateRevocationList)
      .map((c) => parseCrl(new Uint8Array(c.toSchema().toBER())));
    if (!certificates.length && !crls.length) throw invalid('the CMS file is neither a CSCA master list nor holds certificates');
    return { kind: 'certificate_bundle', certificates, crls, skipped: 0 };
  }
  const eContent = signedData.encapContentInfo.eContent;
  if (!eContent) throw invalid('the master list has no content');
  const content = new Uint8Array(eContent.getValue());
  const master = checkMasterListSignature(signedData, content, carried.map((c, i) => parseCertificate(c.toSchema(), `master list signer certificate ${i + 1}`)));
  // CscaMasterList ::= SEQUENCE { version INTEGER, certList SET OF Certificate }
  const list = parseAsn1(content, 'the CscaMasterList', { maxNodes: 2_000_000 });
  const parts = list instanceof asn1js.Sequence ? list.valueBlock.value : [];
  const set = parts[1];
  if (parts.length !== 2 || !(parts[0] instanceof asn1js.Integer) || !(set instanceof asn1js.Set)) throw invalid('the master list\'s content is not a CscaMasterList { version, certList }');
  if (set.valueBlock.value.length > MAX_ENTRIES) throw invalid(`the master list holds more than ${MAX_ENTRIES} certificates`);
  const certificates: ParsedCertificate[] = [];
  let skipped = 0;
  for (const [i, el] of set.valueBlock.value.entries()) {
    try {
      certificates.push(parseCertificate(new Uint8Array(el.valueBeforeDecodeView), `master list certificate ${i + 1}`));
    } catch (err) {
      if (!(err instanceof Asn1Error)) throw err;
      skipped++;
    }
  }
  if (certificates.length === 0) throw invalid('the master list holds no certificate that can be read');
  return { kind: 'master_list', certificates, crls: [], skipped, master_list: { ...master, certificates: certificates.length } };
}

/**
 * The master list's own signature, with the signer certificate it carries: proof that the file is
 * the one its issuer signed (a damaged or edited list is refused). Whether to trust that issuer is
 * the operator's call in importing it.
 */
function checkMasterListSignature(signedData: pkijs.SignedData, content: Uint8Array, carried: ParsedCertificate[]): Omit<MasterListFacts, 'certificates'> {
  const signerInfo = signedData.signerInfos[0];
  if (!signerInfo || signedData.signerInfos.length !== 1) throw invalid('the master list must have exactly one signer');
  const sid = signerInfo.sid as pkijs.IssuerAndSerialNumber | asn1js.Constructed;
  let signer: ParsedCertificate | undefined;
  if (sid instanceof pkijs.IssuerAndSerialNumber) {
    const serial = serialHex(sid.serialNumber);
    const issuer = nameKey(sid.issuer);
    signer = carried.find((c) => c.serial === serial && c.issuerKey === issuer);
  } else {
    const block = sid.valueBlock as { value?: unknown; valueHexView?: Uint8Array };
    const keyId = Array.isArray(block.value) && block.value[0] instanceof asn1js.OctetString ? block.value[0].valueBlock.valueHexView : block.valueHexView;
    const wanted = keyId ? Buffer.from(keyId).toString('hex') : '';
    signer = carried.find((c) => c.subjectKeyId === wanted);
  }
  if (!signer) throw invalid('the master list does not carry its signer\'s certificate, so its signature cannot be checked');
  const hash = hashOfOid(signerInfo.digestAlgorithm.algorithmId);
  if (!hash) throw invalid(`the master list's digest algorithm ${signerInfo.digestAlgorithm.algorithmId} is not supported`);
  let data = content;
  if (signerInfo.signedAttrs) {
    const md = signerInfo.signedAttrs.attributes.find((a) => a.type === '1.2.840.113549.1.9.4')?.values[0];
    if (!(md instanceof asn1js.OctetString) || Buffer.compare(digest(hash, content), Buffer.from(md.valueBlock.valueHexView)) !== 0) {
      throw invalid('the master list\'s content does not match its signed digest: the file is damaged or was altered');
    }
    data = new Uint8Array(signerInfo.signedAttrs.encodedValue.slice(0));
    data[0] = 0x31;
  }
  let ok: boolean;
  try {
    ok = verifySignature(signer.cert.subjectPublicKeyInfo, schemeOf(signerInfo.signatureAlgorithm, hash), data, signerInfo.signature.valueBlock.valueHexView);
  } catch (err) {
    throw invalid(`the master list's signature cannot be checked: ${(err as Error).message}`);
  }
  if (!ok) throw invalid('the master list\'s signature does not verify: the file is damaged or was altered');
  return { signer: signer.summary(), signature: 'valid' };
}
