import type { Outcome, UsageRepository, UsageRow } from '../../core/usage.ts';
import type { Queryable } from './database.ts';
import { run } from './statements.ts';

const SQL = {
  // One statement that adds to the row in place: PostgreSQL locks the row for the update, so
  // increments from any number of nodes at once are each counted (no read-modify-write to lose).
  add: `INSERT INTO usage_counters (tenant_id, client_id, day, service, outcome, billable, count) VALUES ($1, $2, $3, $4, $5, $6, $7)
    ON CONFLICT (tenant_id, client_id, day, service, outcome, billable) DO UPDATE SET count = usage_counters.count + excluded.count`,
  query: `SELECT day, client_id, service, outcome, billable, count FROM usage_counters
    WHERE tenant_id = $1 AND day >= $2 AND day <= $3 AND ($4::text IS NULL OR client_id = $4) ORDER BY day, client_id, service, outcome, billable`,
};

/** Usage counters in PostgreSQL, shared by every node. */
export class PgUsageRepository implements UsageRepository {
  constructor(private readonly db: Queryable) {}

  async add(tenantId: string, r: UsageRow): Promise<void> {
    await run(this.db, 'fp-usage-add', SQL.add, [tenantId, r.clientId, r.day, r.service, r.outcome, r.billable, r.count]);
  }

  async query(tenantId: string, q: { from: string; to: string; clientId?: string }): Promise<UsageRow[]> {
    const { rows } = await run<{ day: string; client_id: string; service: string; outcome: Outcome; billable: boolean; count: number }>(
      this.db, 'fp-usage-query', SQL.query, [tenantId, q.from, q.to, q.clientId ?? null]);
    return rows.map((r) => ({ day: r.day, clientId: r.client_id, service: r.service, outcome: r.outcome, billable: r.billable, count: r.count }));
  }
}
