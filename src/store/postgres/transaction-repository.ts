import type { Transaction, TransactionRepository } from '../../core/transactions.ts';
import type { Queryable } from './database.ts';
import { jsonb, run } from './statements.ts';

interface Row {
  tenant_id: string; id: string; client_id: string; reference_id: string | null; channel: string | null; metadata: Record<string, unknown>;
  status: Transaction['status']; outcome: string | null; created_at: string; finished_at: string | null;
}

const toTransaction = (r: Row): Transaction => ({
  id: r.id, tenantId: r.tenant_id, clientId: r.client_id, referenceId: r.reference_id, channel: r.channel, metadata: r.metadata,
  status: r.status, outcome: r.outcome, createdAt: r.created_at, finishedAt: r.finished_at,
});

const SQL = {
  insert: `INSERT INTO transactions (tenant_id, id, client_id, reference_id, channel, metadata, status, outcome, created_at, finished_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
  get: 'SELECT * FROM transactions WHERE tenant_id = $1 AND id = $2',
  // Only an open transaction finishes: of two nodes finishing it at once, the first outcome stays.
  finish: "UPDATE transactions SET status = 'finished', outcome = $1, finished_at = $2 WHERE tenant_id = $3 AND id = $4 AND status = 'open'",
};

/** Clients' transactions in PostgreSQL, as SqliteTransactionRepository keeps them. */
export class PgTransactionRepository implements TransactionRepository {
  constructor(private readonly db: Queryable) {}

  async insert(t: Transaction): Promise<void> {
    await run(this.db, 'fp-transactions-insert', SQL.insert, [t.tenantId, t.id, t.clientId, t.referenceId, t.channel, jsonb(t.metadata), t.status, t.outcome, t.createdAt, t.finishedAt]);
  }

  async get(tenantId: string, id: string): Promise<Transaction | undefined> {
    const row = (await run<Row>(this.db, 'fp-transactions-get', SQL.get, [tenantId, id])).rows[0];
    return row && toTransaction(row);
  }

  async finish(tenantId: string, id: string, outcome: string | null, at: string): Promise<Transaction | undefined> {
    await run(this.db, 'fp-transactions-finish', SQL.finish, [outcome, at, tenantId, id]);
    return this.get(tenantId, id);
  }
}
