import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.ts';
import { FaceproofError } from './errors.ts';
import type { BlobStore } from './ports.ts';

/** What is kept of one request: never raw images, only their digests and ids. */
export interface AuditFacts {
  tenantId: string;
  requestId: string;
  clientRequestId: string | null;
  clientId: string;
  /** The client's transaction the request belonged to; absent (not null) otherwise, so older records hash as before. */
  transactionId?: string;
  method: string;
  route: string;
  service: string;
  status: number;
  latencyMs: number;
  inputs: Record<string, unknown>;
  result: Record<string, unknown>;
  at: string;
}

export interface AuditRecord extends AuditFacts {
  seq: number;
  prevHash: string;
  hash: string;
}

export interface AuditQuery {
  clientRequestId?: string;
  transactionId?: string;
  clientId?: string;
  service?: string;
  status?: number;
  /**
   * The record's decision word: its result's `decision`, else its `status` when that is text
   * (liveness challenges' SUCCESS/FAILED), else its `verdict` (quality). Derived by the store from
   * the stored result, so it is not a fact of the chain and hashes nothing.
   */
  decision?: string;
  from?: string;
  to?: string;
  /** Records after this sequence number (pagination, oldest first). */
  afterSeq?: number;
  /** Records before this sequence number (pagination, newest first). */
  beforeSeq?: number;
  /** Newest first (by sequence) instead of oldest first. */
  newestFirst?: boolean;
  limit: number;
}

/**
 * Storage of the trail; `append` runs `chain` and the insert in one transaction, so records never
 * interleave (across processes too). `chain` is given the hash the chain continues from: the last
 * record's, or after a retention prune removed every record, the anchor's; none for a new trail.
 */
export interface AuditRepository {
  append(facts: AuditFacts, chain: (lastHash: string | undefined) => { prevHash: string; hash: string }): Promise<AuditRecord>;
  get(tenantId: string, requestId: string): Promise<AuditRecord | undefined>;
  list(tenantId: string, query: AuditQuery): Promise<AuditRecord[]>;
  /** Every record of every tenant in sequence order, for verification. */
  all(): AsyncIterable<AuditRecord>;
  /** Where the chain starts after a retention prune: the last pruned record's hash. */
  anchor(): Promise<{ upToSeq: number; lastHash: string } | undefined>;
  prune(before: string): Promise<number>;
}

/** The chain's first link. */
export const GENESIS = '0'.repeat(64);

/** SHA-256 of the previous hash and the record's facts, canonicalised (RFC 8785). */
export function chainHash(prevHash: string, facts: AuditFacts): string {
  return createHash('sha256').update(prevHash).update(canonicalJson(facts)).digest('hex');
}

export interface AuditVerification {
  valid: boolean;
  records: number;
  /** The first record that breaks the chain, and why. */
  brokenAt?: number;
  reason?: string;
  /** With verify(tenantId): how many of the records checked are that tenant's. */
  tenantRecords?: number;
}

/**
 * The tamper-evident request log: each record carries the hash of the previous one, so changing,
 * removing or reordering any record breaks every link after it, which `verify` finds.
 */
export class AuditTrail {
  constructor(private readonly repository: AuditRepository) {}

  async record(facts: AuditFacts): Promise<AuditRecord> {
    return this.repository.append(facts, (lastHash) => {
      const prevHash = lastHash ?? GENESIS;
      return { prevHash, hash: chainHash(prevHash, facts) };
    });
  }

  async get(tenantId: string, requestId: string): Promise<AuditRecord> {
    const record = await this.repository.get(tenantId, requestId);
    if (!record) throw new FaceproofError('not_found', `no audit record for request ${requestId}`, 'request_id');
    return record;
  }

  async list(tenantId: string, query: AuditQuery): Promise<AuditRecord[]> {
    return this.repository.list(tenantId, query);
  }

  /** Walks the whole chain (every tenant: one sequence); with `tenantId`, also counts that tenant's records. */
  async verify(tenantId?: string): Promise<AuditVerification> {
    let prev = (await this.repository.anchor())?.lastHash ?? GENESIS;
    let records = 0;
    let own = 0;
    const counted = (v: AuditVerification): AuditVerification => (tenantId === undefined ? v : { ...v, tenantRecords: own });
    for await (const r of this.repository.all()) {
      records++;
      if (r.tenantId === tenantId) own++;
      const { seq, prevHash, hash, ...facts } = r;
      if (prevHash !== prev) return counted({ valid: false, records, brokenAt: seq, reason: 'a record before this one was removed, added or reordered' });
      if (chainHash(prevHash, facts) !== hash) return counted({ valid: false, records, brokenAt: seq, reason: 'this record was modified' });
      prev = hash;
    }
    return counted({ valid: true, records });
  }

  /** Retention: removes records older than `before`, keeping the last removed hash as the chain's anchor. */
  async prune(before: string): Promise<number> {
    return this.repository.prune(before);
  }
}

/**
 * The raw images and videos of audited requests, kept only when the operator asks for it
 * (FACEPROOF_AUDIT_KEEP_INPUTS): stored once per tenant by SHA-256, the digest the record carries,
 * so a record can be matched to exactly the bytes that were judged.
 */
export class AuditInputArchive {
  constructor(private readonly blobs: BlobStore) {}

  async keep(tenantId: string, sha256: string, bytes: Uint8Array): Promise<void> {
    const key = this.keyOf(tenantId, sha256);
    if (!(await this.blobs.get(key))) await this.blobs.put(key, bytes);
  }

  async get(tenantId: string, sha256: string): Promise<Buffer> {
    const bytes = /^[0-9a-f]{64}$/.test(sha256) ? await this.blobs.get(this.keyOf(tenantId, sha256)) : undefined;
    if (!bytes) throw new FaceproofError('not_found', `no kept input with SHA-256 ${sha256}`, 'sha256');
    return bytes;
  }

  private keyOf(tenantId: string, sha256: string): string {
    return `audit-inputs/${tenantId}/${sha256}`;
  }
}
