import { FaceproofError } from '../errors.ts';
import { parseSod, type ParsedSod } from './sod.ts';
import { digest, schemeName, schemeOf, UnsupportedAlgorithm, verifySignature, type SignatureScheme } from './signature-verify.ts';
import type { TrustAnchorLookup, TrustedCertificate, TrustedCrl } from './trust-anchors.ts';
import type { CertificateSummary, ParsedCertificate } from './x509.ts';

/**
 * Passive authentication (ICAO 9303 part 11 §5.1, part 12): the data groups a reader took from the
 * chip hash to the values the SOD lists; the SOD is signed by its document signer; the document
 * signer's certificate is issued by a CSCA the operator trusts, valid now and not revoked. A
 * certificate the SOD carries is never trusted for being there: only a trust-store anchor ends a chain.
 */

export type HashVerdict = 'valid' | 'invalid' | 'absent';
export type ChainVerdict = 'valid' | 'untrusted' | 'expired' | 'not_yet_valid' | 'revoked' | 'invalid';

/** Why a verification fails, most telling first (the order `failure` is chosen in). */
export const PASSIVE_AUTHENTICATION_FAILURES = [
  'signer_certificate_missing',
  'unsupported_algorithm',
  'signed_attributes_content_type_mismatch',
  'signed_attributes_digest_mismatch',
  'signature_invalid',
  'data_group_hash_mismatch',
  'data_group_not_in_sod',
  'signer_certificate_revoked',
  'signer_certificate_signature_invalid',
  'signer_not_trusted',
  'signer_certificate_expired',
  'signer_certificate_not_yet_valid',
  'csca_expired',
  'csca_not_yet_valid',
  'no_data_groups',
] as const;
export type PassiveAuthenticationFailure = (typeof PASSIVE_AUTHENTICATION_FAILURES)[number];

export interface PassiveAuthenticationReport {
  /** Every supplied data group hashes right, the signature holds and the chain ends at a trusted, valid, unrevoked CSCA. */
  valid: boolean;
  /** Per data group number: listed and supplied (valid/invalid), listed but not supplied (absent), supplied but not listed (invalid). */
  hashes: Record<string, HashVerdict>;
  signature: 'valid' | 'invalid';
  chain: ChainVerdict;
  /** The most telling reason it is not valid (see PASSIVE_AUTHENTICATION_FAILURES); absent when valid. */
  failure?: PassiveAuthenticationFailure;
  /** Every reason, most telling first. */
  failures: PassiveAuthenticationFailure[];
  /** The LDS hash algorithm (data groups), e.g. sha256. */
  hash_algorithm: string;
  /** The SignerInfo's digest algorithm (signed attributes). */
  digest_algorithm: string;
  signature_algorithm: string;
  /** LDSSecurityObject version: 0, or 1 with LDS and Unicode versions. */
  lds_security_object_version: number;
  lds_version: string | null;
  unicode_version: string | null;
  signer: CertificateSummary | null;
  csca?: CertificateSummary & { anchor_id: string };
  /** Revoked by a CRL of the trust store, checked against one (not_revoked), or no CRL of that CSCA is held (unknown). */
  revocation: 'not_revoked' | 'revoked' | 'unknown';
  /** Human-readable detail of the failures. */
  details: string[];
}

export interface PassiveAuthenticationInput {
  /** EF.SOD as read from the chip (tag 0x77 and all). */
  sod: Uint8Array;
  /** Data group number (1–16) → the file's bytes as read (tag and all). */
  dataGroups: Record<number, Uint8Array>;
  anchors: TrustAnchorLookup;
  /** When validity periods are checked; default now. */
  now?: Date;
}

/**
 * Verifies a chip's SOD and data groups against the trust store. Malformed input (a SOD that is
 * not one, a data group number outside 1–16, bytes that are not bytes) is FaceproofError
 * invalid_chip_data naming `sod` or `data_groups.N`; everything that can be checked gives a report.
 */
export async function verifyPassiveAuthentication(input: PassiveAuthenticationInput): Promise<PassiveAuthenticationReport> {
  const now = input.now ?? new Date();
  const groups = checkDataGroups(input.dataGroups);
  const sod = parseSod(input.sod);
  const failures = new Set<PassiveAuthenticationFailure>();
  const details: string[] = [];
  const fail = (f: PassiveAuthenticationFailure, detail: string) => { failures.add(f); details.push(detail); };

  // Data groups.
  const hashes: Record<string, HashVerdict> = {};
  for (const [n, expected] of [...sod.lds.hashes].sort((a, b) => a[0] - b[0])) {
    const bytes = groups.get(n);
    if (!bytes) { hashes[n] = 'absent'; continue; }
    const actual = digest(sod.lds.hashAlgorithm, bytes);
    hashes[n] = Buffer.compare(actual, Buffer.from(expected)) === 0 ? 'valid' : 'invalid';
    if (hashes[n] === 'invalid') fail('data_group_hash_mismatch', `data group ${n} does not hash to the SOD's value`);
  }
  for (const n of [...groups.keys()].sort((a, b) => a - b)) {
    if (sod.lds.hashes.has(n)) continue;
    hashes[n] = 'invalid';
    fail('data_group_not_in_sod', `data group ${n} was supplied but the SOD does not list it`);
  }
  if (groups.size === 0) fail('no_data_groups', 'no data group was supplied: the SOD alone proves nothing about the chip\'s data');

  // The signature.
  const { signatureOk, algorithmName } = checkSignature(sod, fail);

  // The chain.
  const chain = sod.signer ? await checkChain(sod.signer, input.anchors, now, fail) : { verdict: 'invalid' as ChainVerdict, revocation: 'unknown' as const };

  const ordered = PASSIVE_AUTHENTICATION_FAILURES.filter((f) => failures.has(f));
  return {
    valid: ordered.length === 0,
    hashes,
    signature: signatureOk ? 'valid' : 'invalid',
    chain: chain.verdict,
    ...(ordered.length ? { failure: ordered[0] } : {}),
    failures: ordered,
    hash_algorithm: sod.lds.hashAlgorithm,
    digest_algorithm: sod.signerDigest,
    signature_algorithm: algorithmName,
    lds_security_object_version: sod.lds.version,
    lds_version: sod.lds.ldsVersion,
    unicode_version: sod.lds.unicodeVersion,
    signer: sod.signer?.summary() ?? null,
    ...(chain.csca ? { csca: { ...chain.csca.certificate.summary(), anchor_id: chain.csca.id } } : {}),
    revocation: chain.revocation,
    details,
  };
}

/** The supplied data groups by number; anything else is invalid_chip_data. */
function checkDataGroups(dataGroups: Record<number, Uint8Array>): Map<number, Uint8Array> {
  if (dataGroups === null || typeof dataGroups !== 'object') throw new FaceproofError('invalid_chip_data', 'data_groups must map data group numbers to bytes', 'data_groups');
  const groups = new Map<number, Uint8Array>();
  for (const [key, bytes] of Object.entries(dataGroups)) {
    const n = Number(key);
    if (!/^\d{1,2}$/.test(key) || n < 1 || n > 16) throw new FaceproofError('invalid_chip_data', `data group "${key.slice(0, 20)}" is not a data group number (1 to 16)`, `data_groups.${key.slice(0, 20)}`);
    if (!(bytes instanceof Uint8Array)) throw new FaceproofError('invalid_chip_data', `data group ${n} is not bytes`, `data_groups.${n}`);
    groups.set(n, bytes);
  }
  return groups;
}

function checkSignature(sod: ParsedSod, fail: (f: PassiveAuthenticationFailure, detail: string) => void): { signatureOk: boolean; algorithmName: string } {
  let scheme: SignatureScheme | undefined;
  let algorithmName = sod.signerInfo.signatureAlgorithm.algorithmId;
  try {
    scheme = schemeOf(sod.signerInfo.signatureAlgorithm, sod.signerDigest);
    algorithmName = schemeName(sod.signerInfo.signatureAlgorithm, scheme);
  } catch (err) {
    fail('unsupported_algorithm', (err as Error).message);
  }
  const attrs = sod.signedAttributes;
  let attributesBind = true;
  if (attrs) {
    if (attrs.contentType !== sod.signedData.encapContentInfo.eContentType) {
      fail('signed_attributes_content_type_mismatch', 'the signed attributes\' content type is not the SOD\'s content type');
    }
    attributesBind = !!attrs.messageDigest && Buffer.compare(digest(sod.signerDigest, sod.eContent), Buffer.from(attrs.messageDigest)) === 0;
    if (!attributesBind) fail('signed_attributes_digest_mismatch', 'the signed attributes\' message digest is not the digest of the LDSSecurityObject');
  }
  if (!sod.signer) {
    fail('signer_certificate_missing', 'the SOD does not carry the document signer certificate its signer identifier names');
    return { signatureOk: false, algorithmName };
  }
  if (!scheme) return { signatureOk: false, algorithmName };
  let ok = false;
  try {
    ok = verifySignature(sod.signer.cert.subjectPublicKeyInfo, scheme, attrs ? attrs.der : sod.eContent, sod.signature);
  } catch (err) {
    if (!(err instanceof UnsupportedAlgorithm)) throw err;
    fail('unsupported_algorithm', `the document signer's key: ${err.message}`);
    return { signatureOk: false, algorithmName };
  }
  if (!ok) fail('signature_invalid', 'the document signer\'s signature over the SOD does not verify');
  // Attributes whose digest is not this LDS object's sign something else: the SOD is not signed.
  return { signatureOk: ok && attributesBind, algorithmName };
}

/**
 * Certificate signature checks by issuer and subject fingerprints: a document signer signs thousands
 * of passports, and its certificate's signature need not be checked again for each.
 */
const issuedCache = new Map<string, boolean>();

/** Whether `issuer`'s key signed `subject` (certificate); false also when the algorithm cannot be checked. */
function issued(issuer: ParsedCertificate, subject: ParsedCertificate): boolean {
  const key = `${issuer.sha256}:${subject.sha256}`;
  let ok = issuedCache.get(key);
  if (ok === undefined) {
    ok = checkIssued(issuer, subject);
    if (issuedCache.size > 10_000) issuedCache.clear();
    issuedCache.set(key, ok);
  }
  return ok;
}

function checkIssued(issuer: ParsedCertificate, subject: ParsedCertificate): boolean {
  try {
    const scheme = schemeOf(subject.cert.signatureAlgorithm);
    return verifySignature(issuer.cert.subjectPublicKeyInfo, scheme, subject.cert.tbsView, subject.cert.signatureValue.valueBlock.valueHexView);
  } catch {
    return false;
  }
}

/** CRL signature checks, by CRL and issuer fingerprints: each pair is verified once per process. */
const crlSignatureCache = new Map<string, boolean>();

function crlSignedBy(crl: TrustedCrl, issuer: TrustedCertificate): boolean {
  const key = `${crl.crl.sha256}:${issuer.certificate.sha256}`;
  let ok = crlSignatureCache.get(key);
  if (ok === undefined) {
    try {
      const scheme = schemeOf(crl.crl.crl.signatureAlgorithm);
      ok = verifySignature(issuer.certificate.cert.subjectPublicKeyInfo, scheme, crl.crl.crl.tbsView, crl.crl.crl.signatureValue.valueBlock.valueHexView);
    } catch {
      ok = false;
    }
    if (crlSignatureCache.size > 10_000) crlSignatureCache.clear();
    crlSignatureCache.set(key, ok);
  }
  return ok;
}

const validAt = (c: ParsedCertificate, now: Date) => c.notBefore.getTime() <= now.getTime() && now.getTime() <= c.notAfter.getTime();

async function checkChain(
  dsc: ParsedCertificate, anchors: TrustAnchorLookup, now: Date, fail: (f: PassiveAuthenticationFailure, detail: string) => void,
): Promise<{ verdict: ChainVerdict; csca?: TrustedCertificate; revocation: 'not_revoked' | 'revoked' | 'unknown' }> {
  // A CA certificate only: an anchor that says it is no CA (or may not sign certificates) issues nothing.
  const candidates = (await anchors.issuersOf(dsc)).filter((a) => {
    try {
      return a.certificate.isCa !== false && a.certificate.mayCertify !== false;
    } catch {
      return false; // a stored anchor that no longer parses issues nothing
    }
  });
  const issuers = candidates.filter((a) => issued(a.certificate, dsc));
  if (issuers.length === 0) {
    // A CSCA with the named key that does not verify the certificate: forged or damaged, not merely unknown.
    const sameKey = candidates.some((a) => a.certificate.subjectKey === dsc.issuerKey && (!dsc.authorityKeyId || !a.certificate.subjectKeyId || a.certificate.subjectKeyId === dsc.authorityKeyId));
    if (sameKey) {
      fail('signer_certificate_signature_invalid', 'the document signer certificate\'s signature does not verify with the trusted CSCA that issued it');
      return { verdict: 'invalid', revocation: 'unknown' };
    }
    fail('signer_not_trusted', 'no CSCA in the trust store issued the document signer certificate');
    return { verdict: 'untrusted', revocation: 'unknown' };
  }
  // Among a CSCA's self-signed certificate and its link certificates, one valid now is the one to use.
  const csca = issuers.find((a) => validAt(a.certificate, now)) ?? issuers[0];

  let revocation: 'not_revoked' | 'revoked' | 'unknown' = 'unknown';
  for (const crl of await anchors.revocationListsOf(csca.certificate)) {
    if (!crlSignedBy(crl, csca)) continue;
    if (crl.crl.revoked.has(dsc.serial)) { revocation = 'revoked'; break; }
    revocation = 'not_revoked';
  }
  let verdict: ChainVerdict = 'valid';
  const mark = (v: ChainVerdict, f: PassiveAuthenticationFailure, detail: string) => {
    fail(f, detail);
    if (verdict === 'valid') verdict = v;
  };
  if (revocation === 'revoked') mark('revoked', 'signer_certificate_revoked', 'the document signer certificate is on its CSCA\'s revocation list');
  if (now < dsc.notBefore) mark('not_yet_valid', 'signer_certificate_not_yet_valid', `the document signer certificate is valid from ${dsc.notBefore.toISOString()}`);
  if (now > dsc.notAfter) mark('expired', 'signer_certificate_expired', `the document signer certificate expired on ${dsc.notAfter.toISOString()}`);
  if (now < csca.certificate.notBefore) mark('not_yet_valid', 'csca_not_yet_valid', `the CSCA certificate is valid from ${csca.certificate.notBefore.toISOString()}`);
  if (now > csca.certificate.notAfter) mark('expired', 'csca_expired', `the CSCA certificate expired on ${csca.certificate.notAfter.toISOString()}`);
  return { verdict, csca, revocation };
}
