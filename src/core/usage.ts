/**
 * How a request ended, for billing. ADVANCE charges for a processed comparison ("PAY") and not for
 * a rejected request ("FREE"); a request whose image was processed but held no usable face is
 * processed work too (ADVANCE bills its "low quality face" answers).
 */
export type Outcome = 'processed' | 'no_result' | 'rejected' | 'failed';

export function outcomeOf(status: number): Outcome {
  if (status < 400) return 'processed';
  if (status === 422) return 'no_result';
  return status < 500 ? 'rejected' : 'failed';
}

/** Billable: work of the face engine that ran to an answer. */
export function isBillable(outcome: Outcome, usesEngine: boolean): boolean {
  return usesEngine && (outcome === 'processed' || outcome === 'no_result');
}

export interface UsageRow {
  day: string;
  clientId: string;
  service: string;
  outcome: Outcome;
  billable: boolean;
  count: number;
}

export interface UsageRepository {
  add(tenantId: string, row: UsageRow): Promise<void>;
  /** Rows of a tenant between two days (inclusive, YYYY-MM-DD), optionally one client's. */
  query(tenantId: string, q: { from: string; to: string; clientId?: string }): Promise<UsageRow[]>;
}

export class UsageMeter {
  constructor(private readonly repository: UsageRepository) {}

  /** `outcome` where the status does not tell it (a vendor dialect that answers failures with 200). */
  async count(tenantId: string, clientId: string, service: string, status: number, usesEngine: boolean, at: Date, outcome = outcomeOf(status)): Promise<void> {
    await this.repository.add(tenantId, { day: at.toISOString().slice(0, 10), clientId, service, outcome, billable: isBillable(outcome, usesEngine), count: 1 });
  }

  async report(tenantId: string, q: { from: string; to: string; clientId?: string }): Promise<{ rows: UsageRow[]; requests: number; billable: number }> {
    const rows = await this.repository.query(tenantId, q);
    return {
      rows,
      requests: rows.reduce((n, r) => n + r.count, 0),
      billable: rows.reduce((n, r) => n + (r.billable ? r.count : 0), 0),
    };
  }
}
