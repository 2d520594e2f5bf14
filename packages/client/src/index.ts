/**
 * @faceproof/client: the Faceproof HTTP API, typed from the server's OpenAPI document.
 *
 * The calls are openapi-fetch's (`client.POST('/v1/compare', { body })`), typed by `schema.ts`,
 * which openapi-typescript generates (`npm run client:generate`). This file adds only what a
 * generator cannot know: the authentication schemes (API key, bearer token, TrustVision's HMAC
 * signature), retries on 429 honouring Retry-After, multipart bodies, and the check of a result's
 * signature against the server's JWKS. It runs in Node ≥ 20 and in browsers (fetch, WebCrypto).
 */
import createClient, { type Client, type ClientOptions } from 'openapi-fetch';
import type { paths } from './schema.ts';
import { verifySignedResponse, type PublicKeySet as JsonWebKeySet, type SignatureCheck } from '../../../src/core/result-signing.ts';

export type { paths } from './schema.ts';

/** Sets a request's credentials; called before every attempt (an HMAC signature is used once). */
export type Auth = (request: Request) => Promise<void> | void;

/** `X-API-Key: <key_id>.<secret>`. */
export function apiKey(key: string): Auth {
  return (request) => { request.headers.set('X-API-Key', key); };
}

/** `Authorization: Bearer <token>`: a JWT from POST /v1/auth/token (or a function that returns a fresh one), or an API key. */
export function bearer(token: string | (() => string | Promise<string>)): Auth {
  return async (request) => { request.headers.set('Authorization', `Bearer ${typeof token === 'string' ? token : await token()}`); };
}

export interface HmacOptions {
  /** The clock (tests); default: now. */
  now?: () => Date;
  /** Base64 MD5 of a JSON body, to sign the body too (Content-MD5). WebCrypto has no MD5: in Node, `(b) => createHash('md5').update(b).digest('base64')`. */
  contentMd5?: (body: Uint8Array) => string;
}

const encoder = new TextEncoder();
const toBase64 = (bytes: Uint8Array) => {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
};

/** Base64 HMAC-SHA256(secret, METHOD\nPATH\nTIMESTAMP[\nCONTENT-MD5]), as the server checks it (docs/authentication.md). */
export async function hmacSignature(secret: string, method: string, target: string, timestamp: string, contentMd5?: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const text = [method, target, timestamp, ...(contentMd5 !== undefined ? [contentMd5] : [])].join('\n');
  return toBase64(new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(text))));
}

/**
 * TrustVision's request signature with a signing key (`"signing": true`): `Authorization: TV
 * <key_id>:<signature>` and `X-TV-Timestamp`. PATH is the request target as sent, query included.
 * The server accepts each signature once; the timestamp carries milliseconds, so that two requests
 * (a retry too) get two signatures.
 */
export function trustVisionHmac(keyId: string, secret: string, options: HmacOptions = {}): Auth {
  return async (request) => {
    const url = new URL(request.url);
    const timestamp = (options.now?.() ?? new Date()).toISOString();
    let md5: string | undefined;
    if (options.contentMd5 && /json/i.test(request.headers.get('content-type') ?? '')) {
      md5 = options.contentMd5(new Uint8Array(await request.clone().arrayBuffer()));
      request.headers.set('Content-MD5', md5);
    }
    request.headers.set('X-TV-Timestamp', timestamp);
    request.headers.set('Authorization', `TV ${keyId}:${await hmacSignature(secret, request.method, url.pathname + url.search, timestamp, md5)}`);
  };
}

export interface RetryOptions {
  /** Attempts in all, the first included (default 3; 1 = no retry). */
  attempts?: number;
  /** The longest wait honoured, in ms (default 30 000): a longer Retry-After is answered with the 429. */
  maxDelayMs?: number;
}

/** The wait a 429 asks for: Retry-After in seconds or as an HTTP date; 1 s when absent. */
export function retryAfterMs(response: Response, now = Date.now()): number {
  const value = response.headers.get('retry-after');
  if (value === null) return 1000;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? 1000 : Math.max(0, at - now);
}

export interface FaceproofOptions extends Omit<ClientOptions, 'fetch'> {
  /** The server, e.g. http://127.0.0.1:8080 (no trailing /v1). */
  baseUrl: string;
  auth?: Auth;
  retry?: RetryOptions;
  /** The fetch to send with (default globalThis.fetch). */
  fetch?: (request: Request) => Promise<Response>;
  /** How to wait (tests); default setTimeout. */
  sleep?: (ms: number) => Promise<void>;
}

export type FaceproofClient = Client<paths> & {
  /** The server's public keys of result signatures, fetched once. */
  jwks(): Promise<JsonWebKeySet>;
  /** Checks a decision's `signature` against the server's JWKS (see verifyResult). */
  verify(body: object): Promise<SignatureCheck>;
};

/** A typed client: credentials set on every attempt, 429 retried after Retry-After. */
export function createFaceproofClient(options: FaceproofOptions): FaceproofClient {
  const { auth, retry = {}, fetch: send = (r: Request) => globalThis.fetch(r), sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms)), ...rest } = options;
  const attempts = Math.max(1, retry.attempts ?? 3);
  const maxDelayMs = retry.maxDelayMs ?? 30_000;
  const fetchWithRetries = async (request: Request): Promise<Response> => {
    for (let attempt = 1; ; attempt++) {
      const copy = attempt < attempts ? request.clone() : request;
      if (auth) await auth(copy);
      const response = await send(copy);
      if (response.status !== 429 || attempt >= attempts) return response;
      const wait = retryAfterMs(response);
      if (wait > maxDelayMs) return response;
      await response.body?.cancel();
      await sleep(wait);
    }
  };
  const client = createClient<paths>({ ...rest, fetch: fetchWithRetries }) as FaceproofClient;
  let keys: Promise<JsonWebKeySet> | undefined;
  client.jwks = () => {
    keys ??= client.GET('/.well-known/jwks.json').then(({ data, error }) => {
      if (!data) { keys = undefined; throw new FaceproofApiError(error, 0); }
      return data as JsonWebKeySet;
    });
    return keys;
  };
  client.verify = async (body) => verifyResult(body, await client.jwks());
  return client;
}

// ---------------------------------------------------------------------------------------------
// Multipart

/** Bytes as a file part: a Blob (browser File, Node Buffer or Uint8Array). */
export function photo(bytes: Blob | Uint8Array | ArrayBuffer, type = 'image/jpeg'): Blob {
  if (bytes instanceof Blob) return bytes;
  const view = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes;
  return new Blob([view as Uint8Array<ArrayBuffer>], { type });
}

/**
 * A body serializer for the multipart/form-data form of a route (openapi-fetch's `bodySerializer`):
 * Blobs become file parts, arrays repeat their field, objects are sent as JSON text, other values as text.
 */
export function multipart(body: unknown): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries((body ?? {}) as Record<string, unknown>)) {
    if (value === undefined || value === null) continue;
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v instanceof Blob) form.append(name, v, (v as File).name || `${name}.${(v.type.split('/')[1] ?? 'bin').replace('jpeg', 'jpg')}`);
      else form.append(name, typeof v === 'object' ? JSON.stringify(v) : String(v));
    }
  }
  return form;
}

// ---------------------------------------------------------------------------------------------
// Errors

/** The body of every error: `{"request_id", "error": {"code", "message", "field"?}}`. */
export interface ApiErrorBody { request_id?: string; error?: { code: string; message: string; field?: string } }

export class FaceproofApiError extends Error {
  readonly code: string;
  readonly field?: string;
  readonly requestId?: string;
  constructor(readonly body: unknown, readonly status: number) {
    const e = (body as ApiErrorBody | undefined)?.error;
    super(e ? `${status} ${e.code}: ${e.message}` : `HTTP ${status}`);
    this.name = 'FaceproofApiError';
    this.code = e?.code ?? 'http_error';
    this.field = e?.field;
    this.requestId = (body as ApiErrorBody | undefined)?.request_id;
  }
}

/** The data of a successful answer, or a FaceproofApiError: `const r = ok(await fp.POST(…))`. */
export function ok<T>(answer: { data?: T; error?: unknown; response: Response }): T {
  if (answer.error !== undefined || !answer.response.ok) throw new FaceproofApiError(answer.error, answer.response.status);
  return answer.data as T;
}

// ---------------------------------------------------------------------------------------------
// Signed results

/** The server's own check (src/core/result-signing.ts, pure and browser-safe): one definition of what a signature covers. */
export { canonicalJson } from '../../../src/core/canonical-json.ts';
export type { PublicKeySet as JsonWebKeySet, SignatureCheck } from '../../../src/core/result-signing.ts';

/**
 * Checks a decision's `signature` (a compact JWS with a detached payload: the body without
 * `signature`, canonicalised by RFC 8785) against a key set, offline. See docs/signing.md.
 */
export function verifyResult(body: object, keySet: JsonWebKeySet): Promise<SignatureCheck> {
  return verifySignedResponse(body as Record<string, unknown>, keySet);
}
