import type { AuditFacts, AuditQuery, AuditRecord, AuditRepository } from '../../core/audit.ts';
import type { PostgresDatabase, Queryable } from './database.ts';
import { run } from './statements.ts';

interface Row {
  seq: number; tenant_id: string; request_id: string; client_request_id: string | null; client_id: string; method: string; route: string;
  service: string; status: number; latency_ms: number; inputs: string; result: string; at: string; prev_hash: string; hash: string; transaction_id: string | null;
}

// inputs and result are TEXT holding the JSON exactly as written (the chain hashes their content),
// parsed here as SQLite's adapter parses them; never JSONB, which would reorder keys and refuse \u0000.
const toRecord = (r: Row): AuditRecord => ({
  seq: r.seq, tenantId: r.tenant_id, requestId: r.request_id, clientRequestId: r.client_request_id, clientId: r.client_id, method: r.method,
  route: r.route, service: r.service, status: r.status, latencyMs: r.latency_ms, inputs: JSON.parse(r.inputs) as Record<string, unknown>,
  result: JSON.parse(r.result) as Record<string, unknown>, at: r.at, prevHash: r.prev_hash, hash: r.hash,
  ...(r.transaction_id !== null ? { transactionId: r.transaction_id } : {}),
});

/** The columns a record is read with (not `decision`, which is derived and no part of a record). */
const COLUMNS = 'seq, tenant_id, request_id, client_request_id, client_id, method, route, service, status, latency_ms, inputs, result, at, prev_hash, hash, transaction_id';

/**
 * The advisory lock every node's appends and prunes take, so that the one chain over every tenant
 * stays linear with several writers: "fp_audit" in ASCII, apart from the migrations' lock.
 */
export const AUDIT_CHAIN_LOCK_KEY = 0x66705f6175646974n;

const ALL_PAGE = 1000;

const SQL = {
  lock: 'SELECT pg_advisory_xact_lock($1)',
  last: 'SELECT hash FROM audit_records ORDER BY seq DESC LIMIT 1',
  anchor: 'SELECT up_to_seq AS "upToSeq", last_hash AS "lastHash" FROM audit_prunes ORDER BY up_to_seq DESC LIMIT 1',
  insert: `INSERT INTO audit_records (tenant_id, request_id, client_request_id, client_id, method, route, service, status, latency_ms, inputs, result, at, prev_hash, hash, transaction_id)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING seq`,
  get: `SELECT ${COLUMNS} FROM audit_records WHERE tenant_id = $1 AND request_id = $2`,
  page: `SELECT ${COLUMNS} FROM audit_records WHERE seq > $1 ORDER BY seq LIMIT $2`,
  lastBefore: 'SELECT seq, hash FROM audit_records WHERE at < $1 ORDER BY seq DESC LIMIT 1',
  deleteUpTo: 'DELETE FROM audit_records WHERE seq <= $1',
  insertAnchor: `INSERT INTO audit_prunes (up_to_seq, last_hash, at)
    VALUES ($1, $2, to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))`,
};

/**
 * The audit trail in PostgreSQL: one hash chain over every tenant, as in SQLite. Appends from any
 * number of nodes are serialised by a transaction-level advisory lock: under it a node reads the
 * hash the chain ends with, computes the next link and inserts it; the lock is released at commit,
 * after the row became visible, so the next holder continues from it. Sequence numbers are drawn
 * under the lock too, so seq order is chain order.
 */
export class PgAuditRepository implements AuditRepository {
  constructor(private readonly db: PostgresDatabase) {}

  private async lockChain(tx: Queryable): Promise<void> {
    await run(tx, 'fp-audit-lock', SQL.lock, [AUDIT_CHAIN_LOCK_KEY.toString()]);
  }

  private async lastHash(tx: Queryable): Promise<string | undefined> {
    const last = (await run<{ hash: string }>(tx, 'fp-audit-last', SQL.last)).rows[0]?.hash;
    return last ?? (await run<{ lastHash: string }>(tx, 'fp-audit-anchor', SQL.anchor)).rows[0]?.lastHash;
  }

  async append(facts: AuditFacts, chain: (lastHash: string | undefined) => { prevHash: string; hash: string }): Promise<AuditRecord> {
    // Serialised in JavaScript before the transaction: may run again, so the hash is computed inside.
    const inputs = JSON.stringify(facts.inputs);
    const result = JSON.stringify(facts.result);
    return this.db.transaction(async (tx) => {
      await this.lockChain(tx);
      const { prevHash, hash } = chain(await this.lastHash(tx));
      const { rows } = await run<{ seq: number }>(tx, 'fp-audit-insert', SQL.insert, [facts.tenantId, facts.requestId, facts.clientRequestId, facts.clientId,
        facts.method, facts.route, facts.service, facts.status, facts.latencyMs, inputs, result, facts.at, prevHash, hash, facts.transactionId ?? null]);
      return { ...facts, seq: rows[0]!.seq, prevHash, hash };
    });
  }

  async get(tenantId: string, requestId: string): Promise<AuditRecord | undefined> {
    const row = (await run<Row>(this.db, 'fp-audit-get', SQL.get, [tenantId, requestId])).rows[0];
    return row && toRecord(row);
  }

  async list(tenantId: string, q: AuditQuery): Promise<AuditRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const when = (condition: string, value: unknown) => { args.push(value); where.push(condition.replace('?', `$${args.length}`)); };
    when('tenant_id = ?', tenantId);
    if (q.clientRequestId !== undefined) when('client_request_id = ?', q.clientRequestId);
    if (q.transactionId !== undefined) when('transaction_id = ?', q.transactionId);
    if (q.clientId !== undefined) when('client_id = ?', q.clientId);
    if (q.service !== undefined) when('service = ?', q.service);
    if (q.status !== undefined) when('status = ?', q.status);
    if (q.decision !== undefined) when('decision = ?', q.decision);
    if (q.from !== undefined) when('at >= ?', q.from);
    if (q.to !== undefined) when('at < ?', q.to);
    if (q.afterSeq !== undefined) when('seq > ?', q.afterSeq);
    if (q.beforeSeq !== undefined) when('seq < ?', q.beforeSeq);
    args.push(q.limit);
    const { rows } = await run<Row>(this.db, undefined,
      `SELECT ${COLUMNS} FROM audit_records WHERE ${where.join(' AND ')} ORDER BY seq${q.newestFirst ? ' DESC' : ''} LIMIT $${args.length}`, args);
    return rows.map(toRecord);
  }

  async *all(): AsyncIterable<AuditRecord> {
    // In pages by seq rather than one open cursor: no connection is held while the consumer awaits.
    // Appends commit in seq order (under the chain's lock), so each page continues the one before.
    for (let after = 0; ;) {
      const { rows } = await run<Row>(this.db, 'fp-audit-page', SQL.page, [after, ALL_PAGE]);
      for (const row of rows) yield toRecord(row);
      if (rows.length < ALL_PAGE) return;
      after = rows[rows.length - 1]!.seq;
    }
  }

  async anchor(): Promise<{ upToSeq: number; lastHash: string } | undefined> {
    return (await run<{ upToSeq: number; lastHash: string }>(this.db, 'fp-audit-anchor', SQL.anchor)).rows[0];
  }

  async prune(before: string): Promise<number> {
    // Under the chain's lock: an append meanwhile continues from the last record or from the anchor, never from neither.
    return this.db.transaction(async (tx) => {
      await this.lockChain(tx);
      const last = (await run<{ seq: number; hash: string }>(tx, 'fp-audit-last-before', SQL.lastBefore, [before])).rows[0];
      if (!last) return 0;
      const removed = (await run(tx, 'fp-audit-delete-up-to', SQL.deleteUpTo, [last.seq])).rowCount ?? 0;
      await run(tx, 'fp-audit-insert-anchor', SQL.insertAnchor, [last.seq, last.hash]);
      return removed;
    });
  }
}
