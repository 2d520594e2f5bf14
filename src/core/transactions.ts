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
  insert(t: Transaction): Promise<void>;
  get(tenantId: string, id: string): Promise<Transaction | undefined>;
  finish(tenantId: string, id: string, outcome: string | null, at: string): Promise<Transaction | undefined>;
}

export class TransactionService {
  constructor(private readonly repository: TransactionRepository, private readonly now: () => Date = () => new Date()) {}

  async open(tenantId: string, clientId: string, input: { referenceId?: string; channel?: string; metadata?: Record<string, unknown> }): Promise<Transaction> {
    const t: Transaction = {
      id: randomUUID(), tenantId, clientId, referenceId: input.referenceId ?? null, channel: input.channel ?? null, metadata: input.metadata ?? {},
      status: 'open', outcome: null, createdAt: this.now().toISOString(), finishedAt: null,
    };
    await this.repository.insert(t);
    return t;
  }

  async get(tenantId: string, id: string): Promise<Transaction> {
    const t = await this.repository.get(tenantId, id);
    if (!t) throw new FaceproofError('not_found', `no transaction ${id}`, 'transaction_id');
    return t;
  }

  /** A request naming a transaction may only join an open one of its own tenant. */
  async join(tenantId: string, id: string): Promise<Transaction> {
    const t = await this.repository.get(tenantId, id);
    if (!t) throw new FaceproofError('not_found', `no transaction ${id}`, 'x-transaction-id');
    if (t.status !== 'open') throw new FaceproofError('transaction_closed', `transaction ${id} was finished at ${t.finishedAt}`, 'x-transaction-id');
    return t;
  }

  async finish(tenantId: string, id: string, outcome?: string): Promise<Transaction> {
    await this.join(tenantId, id);
    return (await this.repository.finish(tenantId, id, outcome ?? null, this.now().toISOString()))!;
  }
}
