import type { Db } from './database.ts';
import type { AuditFacts, AuditQuery, AuditRecord, AuditRepository } from '../../core/audit.ts';

interface Row {
  seq: number; tenant_id: string; request_id: string; client_request_id: string | null; client_id: string; method: string; route: string;
  service: string; status: number; latency_ms: number; inputs: string; result: string; at: string; prev_hash: string; hash: string; transaction_id: string | null;
}

const toRecord = (r: Row): AuditRecord => ({
  seq: r.seq, tenantId: r.tenant_id, requestId: r.request_id, clientRequestId: r.client_request_id, clientId: r.client_id, method: r.method,
  route: r.route, service: r.service, status: r.status, latencyMs: r.latency_ms, inputs: JSON.parse(r.inputs), result: JSON.parse(r.result),
  at: r.at, prevHash: r.prev_hash, hash: r.hash, ...(r.transaction_id !== null ? { transactionId: r.transaction_id } : {}),
});

const ALL_PAGE = 1000;

export class SqliteAuditRepository implements AuditRepository {
  // Prepared once: append runs on every request, and statements left to the garbage collector hold
  // native memory V8 does not see.
  private readonly s;

  constructor(private readonly db: Db) {
    this.s = {
      last: db.prepare('SELECT hash FROM audit_records ORDER BY seq DESC LIMIT 1'),
      insert: db.prepare(`INSERT INTO audit_records (tenant_id, request_id, client_request_id, client_id, method, route, service, status, latency_ms, inputs, result, at, prev_hash, hash, transaction_id)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      get: db.prepare('SELECT * FROM audit_records WHERE tenant_id = ? AND request_id = ?'),
      page: db.prepare('SELECT * FROM audit_records WHERE seq > ? ORDER BY seq LIMIT ?'),
      anchor: db.prepare('SELECT up_to_seq AS upToSeq, last_hash AS lastHash FROM audit_prunes ORDER BY up_to_seq DESC LIMIT 1'),
    };
  }

  async append(facts: AuditFacts, chain: (lastHash: string | undefined) => { prevHash: string; hash: string }): Promise<AuditRecord> {
    return this.db.transaction(() => {
      const last = (this.s.last.get() as { hash: string } | undefined)?.hash ?? (this.s.anchor.get() as { lastHash: string } | undefined)?.lastHash;
      const { prevHash, hash } = chain(last);
      const info = this.s.insert.run(facts.tenantId, facts.requestId, facts.clientRequestId, facts.clientId, facts.method, facts.route,
        facts.service, facts.status, facts.latencyMs, JSON.stringify(facts.inputs), JSON.stringify(facts.result), facts.at, prevHash, hash, facts.transactionId ?? null);
      return { ...facts, seq: Number(info.lastInsertRowid), prevHash, hash };
    }).immediate();
  }

  async get(tenantId: string, requestId: string): Promise<AuditRecord | undefined> {
    const row = this.s.get.get(tenantId, requestId) as Row | undefined;
    return row && toRecord(row);
  }

  async list(tenantId: string, q: AuditQuery): Promise<AuditRecord[]> {
    const where = ['tenant_id = ?'];
    const args: unknown[] = [tenantId];
    if (q.clientRequestId !== undefined) { where.push('client_request_id = ?'); args.push(q.clientRequestId); }
    if (q.transactionId !== undefined) { where.push('transaction_id = ?'); args.push(q.transactionId); }
    if (q.clientId !== undefined) { where.push('client_id = ?'); args.push(q.clientId); }
    if (q.service !== undefined) { where.push('service = ?'); args.push(q.service); }
    if (q.status !== undefined) { where.push('status = ?'); args.push(q.status); }
    if (q.decision !== undefined) { where.push('decision = ?'); args.push(q.decision); }
    if (q.from !== undefined) { where.push('at >= ?'); args.push(q.from); }
    if (q.to !== undefined) { where.push('at < ?'); args.push(q.to); }
    if (q.afterSeq !== undefined) { where.push('seq > ?'); args.push(q.afterSeq); }
    if (q.beforeSeq !== undefined) { where.push('seq < ?'); args.push(q.beforeSeq); }
    const rows = this.db.prepare(`SELECT * FROM audit_records WHERE ${where.join(' AND ')} ORDER BY seq${q.newestFirst ? ' DESC' : ''} LIMIT ?`).all(...args, q.limit) as Row[];
    return rows.map(toRecord);
  }

  async *all(): AsyncIterable<AuditRecord> {
    // In pages rather than one open cursor: the consumer awaits between records, and other
    // statements on this connection must be able to run meanwhile.
    for (let after = 0; ;) {
      const rows = this.s.page.all(after, ALL_PAGE) as Row[];
      for (const row of rows) yield toRecord(row);
      if (rows.length < ALL_PAGE) return;
      after = rows[rows.length - 1].seq;
    }
  }

  async anchor(): Promise<{ upToSeq: number; lastHash: string } | undefined> {
    const row = this.s.anchor.get() as { upToSeq: number; lastHash: string } | undefined;
    return row;
  }

  async prune(before: string): Promise<number> {
    return this.db.transaction(() => {
      const last = this.db.prepare('SELECT seq, hash FROM audit_records WHERE at < ? ORDER BY seq DESC LIMIT 1').get(before) as { seq: number; hash: string } | undefined;
      if (!last) return 0;
      const removed = this.db.prepare('DELETE FROM audit_records WHERE seq <= ?').run(last.seq).changes;
      this.db.prepare("INSERT INTO audit_prunes (up_to_seq, last_hash, at) VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))").run(last.seq, last.hash);
      return removed;
    }).immediate();
  }
}
