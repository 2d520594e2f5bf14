import { createHash, createHmac } from 'node:crypto';
import { expect } from 'vitest';

/** RFC 3339 with a +07:00 offset, as the manual's examples write it (2019-04-21T18:00:15+07:00). */
export function rfc3339(at = new Date(), offsetMinutes = 7 * 60): string {
  const local = new Date(at.getTime() + offsetMinutes * 60_000).toISOString().slice(0, 19);
  const sign = offsetMinutes >= 0 ? '+' : '-';
  const abs = Math.abs(offsetMinutes);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

export interface TrustVisionAnswer {
  status: number;
  headers: Headers;
  /** Parsed JSON, or the raw bytes when the answer is not JSON (a downloaded image). */
  body: any;
  raw: Buffer;
}

/**
 * A TrustVision client written from its manual alone: `Authorization: TV <access key>:<signature>`,
 * `X-TV-Timestamp`, signature = Base64(HMAC-SHA256(secret, METHOD \n UrlPath \n Timestamp [\n ContentMD5]))
 * where UrlPath is the path below the base URL (`/v1/images`), without the query.
 */
export class TrustVisionClient {
  constructor(readonly baseUrl: string, public accessKey: string, public secret: string) {}

  sign(method: string, urlPath: string, timestamp: string, contentMd5?: string): string {
    const toSign = [method, urlPath, timestamp, ...(contentMd5 !== undefined ? [contentMd5] : [])].join('\n');
    return createHmac('sha256', this.secret).update(toSign, 'utf8').digest('base64');
  }

  /** Sends a request; `json` or `form` is the body; `contentMd5` signs the JSON body too (the manual's "Advanced"). */
  async send(method: string, pathAndQuery: string, options: { json?: unknown; form?: FormData; headers?: Record<string, string>; timestamp?: string; contentMd5?: boolean } = {}): Promise<TrustVisionAnswer> {
    const timestamp = options.timestamp ?? rfc3339();
    const urlPath = pathAndQuery.split('?')[0];
    const body = options.json !== undefined ? JSON.stringify(options.json) : options.form;
    const md5 = options.contentMd5 && typeof body === 'string' ? createHash('md5').update(body).digest('base64') : undefined;
    const headers: Record<string, string> = {
      Authorization: `TV ${this.accessKey}:${this.sign(method, urlPath, timestamp, md5)}`,
      'X-TV-Timestamp': timestamp,
      ...(options.json !== undefined ? { 'Content-Type': 'application/json' } : {}),
      ...(md5 ? { 'Content-MD5': md5 } : {}),
      ...options.headers,
    };
    const res = await fetch(`${this.baseUrl}${pathAndQuery}`, { method, headers, body });
    const raw = Buffer.from(await res.arrayBuffer());
    let parsed: unknown = raw;
    if ((res.headers.get('content-type') ?? '').includes('json')) parsed = JSON.parse(raw.toString('utf8'));
    return { status: res.status, headers: res.headers, body: parsed, raw };
  }
}

/** The manual's error envelope: empty data, one error with code, message and detail (and its field, when given). */
export function expectTrustVisionError(answer: { status: number; body: any }, status: number, code: string, field?: string): void {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(answer.body.data).toEqual({});
  expect(answer.body.errors).toHaveLength(1);
  expect(answer.body.errors[0].code).toBe(code);
  expect(typeof answer.body.errors[0].message).toBe('string');
  expect(typeof answer.body.errors[0].detail).toBe('object');
  if (field) expect(answer.body.errors[0].detail.field).toBe(field);
}
