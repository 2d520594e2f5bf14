import { FaceproofError } from '../errors.ts';
import type { TrustAnchorRecord, TrustAnchorRepository } from '../ports.ts';
import { AnchorIndex, anchorId, parseTrustFile, type MasterListFacts, type TrustAnchorLookup, type TrustedCertificate, type TrustedCrl, type TrustFileKind } from './trust-anchors.ts';
import { parseCertificate, parseCrl, type ParsedCertificate, type ParsedCrl } from './x509.ts';

/** An anchor as the API and the CLI show it. */
export interface TrustAnchorView {
  id: string;
  kind: 'certificate' | 'crl';
  subject: string;
  issuer: string;
  serial: string;
  country: string | null;
  not_before: string;
  not_after: string;
  subject_key_identifier: string | null;
  authority_key_identifier: string | null;
  sha256: string;
  source: string;
  added_at: string;
}

export interface TrustImportResult {
  /** What the file was recognised as. */
  kind: TrustFileKind;
  /** Anchors new to the store. */
  added: number;
  /** Anchors of the file the store already held (importing twice adds nothing). */
  already_present: number;
  /** Entries of the file that could not be read and were skipped. */
  skipped: number;
  /** Every anchor of the file, new or not. */
  anchors: TrustAnchorView[];
  master_list?: MasterListFacts;
}

export const describeAnchor = (r: TrustAnchorRecord): TrustAnchorView => ({
  id: r.id, kind: r.kind, subject: r.subject, issuer: r.issuer, serial: r.serial, country: r.country, not_before: r.notBefore, not_after: r.notAfter,
  subject_key_identifier: r.subjectKeyId, authority_key_identifier: r.authorityKeyId, sha256: r.sha256, source: r.source, added_at: r.addedAt,
});

const certificateRecord = (c: ParsedCertificate, source: string, addedAt: string): TrustAnchorRecord => {
  const s = c.summary();
  return {
    id: anchorId(c.sha256), kind: 'certificate', subject: s.subject, issuer: s.issuer, serial: s.serial, country: s.country, notBefore: s.not_before, notAfter: s.not_after,
    subjectKeyId: c.subjectKeyId ?? null, authorityKeyId: c.authorityKeyId ?? null, nameKey: c.subjectKey, sha256: c.sha256, source, addedAt, der: c.der,
  };
};

const crlRecord = (c: ParsedCrl, source: string, addedAt: string): TrustAnchorRecord => {
  const s = c.summary();
  return {
    id: anchorId(c.sha256), kind: 'crl', subject: s.subject, issuer: s.issuer, serial: s.serial, country: s.country, notBefore: s.not_before, notAfter: s.not_after,
    subjectKeyId: null, authorityKeyId: c.authorityKeyId ?? null, nameKey: c.issuerKey, sha256: c.sha256, source, addedAt, der: c.der,
  };
};

/**
 * The operator's trust anchors for chip verification: imported from files, listed, removed, and
 * looked up by the verifier. The lookup index holds the stored names and key identifiers only; a
 * certificate is parsed when a chain first needs it, so a store of thousands of CSCAs costs a few
 * milliseconds to index. The index follows the repository's revision, so anchors the CLI imports
 * into a running server's database are used from its next verification.
 */
export class TrustStore implements TrustAnchorLookup {
  private index?: { revision: string; lookup: AnchorIndex };
  private readonly parsed = new Map<string, ParsedCertificate | ParsedCrl>();

  constructor(private readonly repository: TrustAnchorRepository, private readonly clock: () => Date = () => new Date()) {}

  /** Adds the anchors of an operator's file (certificate, PEM bundle, master list, CRL); FaceproofError invalid_certificate when it is none. */
  async import(bytes: Uint8Array, sourceName: string): Promise<TrustImportResult> {
    const file = parseTrustFile(bytes);
    const addedAt = this.clock().toISOString();
    const source = `${sourceName.slice(0, 200) || 'upload'} (${file.kind})`;
    const records = new Map<string, TrustAnchorRecord>();
    for (const c of file.certificates) records.set(c.sha256, certificateRecord(c, source, addedAt));
    for (const c of file.crls) records.set(c.sha256, crlRecord(c, source, addedAt));
    const added = await this.repository.insert([...records.values()]);
    // Shown as stored: an anchor imported before keeps its first source and time.
    const stored = new Map((await this.repository.list()).map((r) => [r.sha256, r]));
    const anchors = [...records.keys()].map((sha) => describeAnchor(stored.get(sha) ?? records.get(sha)!));
    return {
      kind: file.kind,
      added: added.size,
      already_present: records.size - added.size,
      skipped: file.skipped,
      anchors,
      ...(file.master_list ? { master_list: file.master_list } : {}),
    };
  }

  async list(): Promise<TrustAnchorView[]> {
    return (await this.repository.list()).map(describeAnchor);
  }

  /** Removes one anchor; FaceproofError not_found when there is none with that id. */
  async remove(id: string): Promise<TrustAnchorView> {
    const record = await this.repository.get(id);
    if (!record || !(await this.repository.remove(id))) throw new FaceproofError('not_found', `no trust anchor ${id}`, 'id');
    return describeAnchor(record);
  }

  async issuersOf(certificate: ParsedCertificate): Promise<readonly TrustedCertificate[]> {
    return (await this.current()).issuersOf(certificate);
  }

  async revocationListsOf(issuer: ParsedCertificate): Promise<readonly TrustedCrl[]> {
    return (await this.current()).revocationListsOf(issuer);
  }

  private async current(): Promise<AnchorIndex> {
    const revision = await this.repository.revision();
    if (this.index?.revision === revision) return this.index.lookup;
    const records = await this.repository.list();
    const live = new Set(records.map((r) => r.sha256));
    for (const sha of this.parsed.keys()) if (!live.has(sha)) this.parsed.delete(sha);
    const certificates: TrustedCertificate[] = [];
    const crls: TrustedCrl[] = [];
    for (const r of records) {
      if (r.kind === 'certificate') certificates.push(this.lazyCertificate(r));
      else crls.push(this.lazyCrl(r));
    }
    const lookup = new AnchorIndex(certificates, crls);
    this.index = { revision, lookup };
    return lookup;
  }

  /** An anchor filed under its stored keys, its certificate parsed on first use. */
  private lazyCertificate(r: TrustAnchorRecord): TrustedCertificate {
    const parsedOnce = this.parsedOnce;
    return {
      keys: { nameKey: r.nameKey, keyId: r.subjectKeyId ?? undefined },
      id: r.id,
      get certificate(): ParsedCertificate { return parsedOnce(r, parseCertificate); },
    };
  }

  private lazyCrl(r: TrustAnchorRecord): TrustedCrl {
    const parsedOnce = this.parsedOnce;
    return {
      id: r.id,
      get crl(): ParsedCrl { return parsedOnce(r, parseCrl); },
      keys: { nameKey: r.nameKey },
    };
  }

  /** The anchor's DER parsed once per process (kept by fingerprint until the anchor is removed). */
  private readonly parsedOnce = <T extends ParsedCertificate | ParsedCrl>(r: TrustAnchorRecord, parse: (der: Uint8Array, what: string) => T): T => {
    let c = this.parsed.get(r.sha256) as T | undefined;
    if (!c) {
      c = parse(r.der, `trust anchor ${r.id}`);
      this.parsed.set(r.sha256, c);
    }
    return c;
  };
}
