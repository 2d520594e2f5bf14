import { FaceproofError } from './errors.ts';
import type { SecretBox } from './ports.ts';

/** The purpose a kept response is sealed under (bound as associated data by the master keyring). */
export const REQUEST_RESPONSE_PURPOSE = 'request-response';

/**
 * One request's answer, kept so that the client can read it again later by the request's id or by
 * its own X-Request-Id (TrustVision's requests_by_req_id / requests_by_x_req_id).
 */
export interface RequestRecord {
  tenantId: string;
  requestId: string;
  /** The client's own X-Request-Id, when it sent one. */
  xRequestId: string | null;
  clientId: string;
  /** The key that made the request. */
  keyId: string | null;
  /** The operation's name (compare_faces, verify_face_liveness, …). */
  service: string;
  /** Ids (with labels) of the stored images and files the request took as input. */
  inputs: Array<{ id: string; label: string | null }>;
  /** The answer as the client received it (JSON). */
  response: unknown;
  at: string;
}

/** A stored record: everything but the inputs and the response is clear; those two are sealed together. */
export interface SealedRequestRecord extends Omit<RequestRecord, 'inputs' | 'response'> {
  sealed: Buffer;
}

export interface RequestRecordRepository {
  /** Replaces an earlier record of the same request id (a retried request keeps its last answer). */
  put(record: SealedRequestRecord): Promise<void>;
  get(tenantId: string, requestId: string): Promise<SealedRequestRecord | undefined>;
  /** Records sharing a client X-Request-Id, oldest first. */
  byXRequestId(tenantId: string, xRequestId: string, limit: number): Promise<SealedRequestRecord[]>;
  /** Removes records made before `before`; how many. */
  prune(before: string): Promise<number>;
}

/**
 * Kept answers of earlier requests, sealed at rest under the master keyring (as templates and API
 * secrets are), removed by the retention sweeper with the audit records they belong to.
 */
export class RequestRecords {
  constructor(private readonly repository: RequestRecordRepository, private readonly box: SecretBox) {}

  async keep(record: RequestRecord): Promise<void> {
    const { inputs, response, ...clear } = record;
    const sealed = this.box.seal(Buffer.from(JSON.stringify({ inputs, response }), 'utf8'), REQUEST_RESPONSE_PURPOSE);
    await this.repository.put({ ...clear, sealed });
  }

  async get(tenantId: string, requestId: string): Promise<RequestRecord> {
    const row = await this.repository.get(tenantId, requestId);
    if (!row) throw new FaceproofError('not_found', `no kept request ${requestId}`, 'request_id');
    return this.open(row);
  }

  async byXRequestId(tenantId: string, xRequestId: string, limit = 100): Promise<RequestRecord[]> {
    return (await this.repository.byXRequestId(tenantId, xRequestId, limit)).map((row) => this.open(row));
  }

  async prune(before: string): Promise<number> {
    return this.repository.prune(before);
  }

  private open(row: SealedRequestRecord): RequestRecord {
    const { sealed, ...clear } = row;
    const { inputs, response } = JSON.parse(this.box.open(sealed, REQUEST_RESPONSE_PURPOSE).toString('utf8')) as Pick<RequestRecord, 'inputs' | 'response'>;
    return { ...clear, inputs, response };
  }
}
