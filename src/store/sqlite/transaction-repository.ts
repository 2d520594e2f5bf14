import type { Db } from './database.ts';
import type { Transaction, TransactionRepository } from '../../core/transactions.ts';

interface Row {
  tenant_id: string; id: string; client_id: string; reference_id: string | null; channel: string | null; metadata: string;
  status: Transaction['status']; outcome: string | null; created_at: string; finished_at: string | null;
}

const toTransaction = (r: Row): Transaction => ({
  id: r.id, tenantId: r.tenant_id, clientId: r.client_id, referenceId: r.reference_id, channel: r.channel, metadata: JSON.parse(r.metadata),
  status: r.status, outcome: r.outcome, createdAt: r.created_at, finishedAt: r.finished_at,
});

export class SqliteTransactionRepository implements TransactionRepository {
  private readonly s;

  constructor(db: Db) {
    this.s = {
      insert: db.prepare(`INSERT INTO transactions (tenant_id, id, client_id, reference_id, channel, metadata, status, outcome, created_at, finished_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      get: db.prepare('SELECT * FROM transactions WHERE tenant_id = ? AND id = ?'),
      finish: db.prepare("UPDATE transactions SET status = 'finished', outcome = ?, finished_at = ? WHERE tenant_id = ? AND id = ? AND status = 'open'"),
    };
  }

  async insert(t: Transaction): Promise<void> {
    this.s.insert.run(t.tenantId, t.id, t.clientId, t.referenceId, t.channel, JSON.stringify(t.metadata), t.status, t.outcome, t.createdAt, t.finishedAt);
  }

  async get(tenantId: string, id: string): Promise<Transaction | undefined> {
    const row = this.s.get.get(tenantId, id) as Row | undefined;
    return row && toTransaction(row);
  }

  async finish(tenantId: string, id: string, outcome: string | null, at: string): Promise<Transaction | undefined> {
    this.s.finish.run(outcome, at, tenantId, id);
    return this.get(tenantId, id);
  }
}
