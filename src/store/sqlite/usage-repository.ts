import type { Db } from './database.ts';
import type { Outcome, UsageRepository, UsageRow } from '../../core/usage.ts';

export class SqliteUsageRepository implements UsageRepository {
  private readonly s;

  constructor(db: Db) {
    this.s = {
      add: db.prepare(`INSERT INTO usage_counters (tenant_id, client_id, day, service, outcome, billable, count) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (tenant_id, client_id, day, service, outcome, billable) DO UPDATE SET count = count + excluded.count`),
      query: db.prepare(`SELECT day, client_id, service, outcome, billable, count FROM usage_counters
        WHERE tenant_id = ? AND day >= ? AND day <= ? AND (? IS NULL OR client_id = ?) ORDER BY day, client_id, service, outcome`),
    };
  }

  async add(tenantId: string, r: UsageRow): Promise<void> {
    this.s.add.run(tenantId, r.clientId, r.day, r.service, r.outcome, r.billable ? 1 : 0, r.count);
  }

  async query(tenantId: string, q: { from: string; to: string; clientId?: string }): Promise<UsageRow[]> {
    const client = q.clientId ?? null;
    return (this.s.query.all(tenantId, q.from, q.to, client, client) as Array<{ day: string; client_id: string; service: string; outcome: Outcome; billable: number; count: number }>)
      .map((r) => ({ day: r.day, clientId: r.client_id, service: r.service, outcome: r.outcome, billable: r.billable === 1, count: r.count }));
  }
}
