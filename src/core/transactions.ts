import { randomUUID } from 'node:crypto';
import { FaceproofError } from './errors.ts';

/** TrustVision's transaction: a client's onboarding or login journey, grouping the requests made for it. */
export interface Transaction {
  id: string;
  tenantId: string;
  clientId: string;
  referenceId: string | null;
  channel: string | null;
  metadata: Record<string, unknown>;
  status: 'open' | 'finished';
  /** What the client concluded, given when finishing (e.g. "approved"). */
  outcome: string | null;
  createdAt: string;
  finishedAt: string | null;
}

export interface TransactionRepository {
  insert(t: Transaction): void;
  get(tenantId: string, id: string): Transaction | undefined;
  finish(tenantId: string, id: string, outcome: string | null, at: string): Transaction | undefined;
}

export class TransactionService {
  constructor(private readonly repository: TransactionRepository, private readonly now: () => Date = () => new Date()) {}

  open(tenantId: string, clientId: string, input: { referenceId?: string; channel?: string; metadata?: Record<string, unknown> }): Transaction {
    const t: Transaction = {
      id: randomUUID(), tenantId, clientId, referenceId: input.referenceId ?? null, channel: input.channel ?? null, metadata: input.metadata ?? {},
      status: 'open', outcome: null, createdAt: this.now().toISOString(), finishedAt: null,
    };
    this.repository.insert(t);
    return t;
  }

  get(tenantId: string, id: string): Transaction {
    const t = this.repository.get(tenantId, id);
    if (!t) throw new FaceproofError('not_found', `no transaction ${id}`, 'transaction_id');
    return t;
  }

  /** A request naming a transaction may only join an open one of its own tenant. */
  join(tenantId: string, id: string): Transaction {
    const t = this.repository.get(tenantId, id);
    if (!t) throw new FaceproofError('not_found', `no transaction ${id}`, 'x-transaction-id');
    if (t.status !== 'open') throw new FaceproofError('transaction_closed', `transaction ${id} was finished at ${t.finishedAt}`, 'x-transaction-id');
    return t;
  }

  finish(tenantId: string, id: string, outcome?: string): Transaction {
    this.join(tenantId, id);
    return this.repository.finish(tenantId, id, outcome ?? null, this.now().toISOString())!;
  }
}
