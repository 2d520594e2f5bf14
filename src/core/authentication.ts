import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { FaceproofError } from './errors.ts';
import { narrowScopes, type Scope } from './scopes.ts';
import { BOOTSTRAP_KEY_ID, secretMatches, type ApiClient, type ApiKeyRecord, type ClientAdministration, type ClientRepository } from './api-clients.ts';

/** What a request presented, already taken out of its headers by the API layer. */
export type Credentials =
  | { scheme: 'api_key'; value: string }
  /** TrustVision: `Authorization: TV <key id>:<base64 HMAC-SHA256>` over METHOD\nTARGET\nTIMESTAMP[\nCONTENT-MD5]. */
  | { scheme: 'hmac'; keyId: string; signature: string; timestamp: string; contentMd5?: string; method: string; target: string; repeatable?: boolean }
  /** A JWT this server issued (POST /v1/auth/token or the ADVANCE token exchange). */
  | { scheme: 'token'; token: string };

/** Who made a request and what it may do. */
export interface Principal {
  client: ApiClient;
  tenantId: string;
  clientId: string;
  keyId: string;
  scopes: Scope[];
  scheme: Credentials['scheme'];
}

export interface TokenClaims {
  clientId: string;
  keyId: string;
  scopes: Scope[];
  subject?: string;
}

/** Signed, expiring access tokens. `verify` throws token_expired or invalid_credentials. */
export interface AccessTokens {
  issue(claims: TokenClaims, ttlSeconds: number): Promise<{ token: string; expiresAt: Date }>;
  verify(token: string): Promise<TokenClaims>;
}

/** Remembers request signatures until they expire, so that each is accepted once. */
export interface ReplayGuard {
  /** True the first time `digest` is seen before `expiresAtMs`; false for a replay. */
  firstUse(digest: string, expiresAtMs: number): Promise<boolean>;
}

export interface AuthenticationPolicy {
  /** TrustVision's window: a signed request's timestamp may differ from the server's clock by this much. */
  hmacSkewSeconds: number;
  /** ADVANCE's window for the token exchange's 13-digit timestamp. */
  advanceSkewSeconds: number;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;
const sha256hex = (s: string) => createHash('sha256').update(s).digest('hex');

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Every authentication scheme maps onto the same thing: an API key of a client, with its scopes.
 * Whatever the scheme, the key must be unrevoked and unexpired (its parent too, for temporary
 * credentials) and its client active, checked on every request, so that revoking a key or
 * disabling a client takes effect at once, tokens included.
 */
export class Authenticator {
  constructor(
    private readonly repository: ClientRepository,
    private readonly administration: ClientAdministration,
    private readonly tokens: AccessTokens,
    private readonly replays: ReplayGuard,
    private readonly policy: AuthenticationPolicy,
    private readonly now: () => number = Date.now,
  ) {}

  async authenticate(credentials: Credentials): Promise<Principal> {
    switch (credentials.scheme) {
      case 'api_key': return this.byApiKey(credentials.value);
      case 'hmac': return this.bySignature(credentials);
      case 'token': return this.byToken(credentials.token);
    }
  }

  /** iDenFace-style token from a key-based caller: a JWT with at most the caller's scopes. */
  async issueToken(principal: Principal, input: { scopes?: Scope[]; ttlSeconds: number; subject?: string }): Promise<{ token: string; expiresAt: Date; scopes: Scope[] }> {
    if (principal.scheme === 'token') throw new FaceproofError('insufficient_scope', 'a token cannot be exchanged for another token; use an API key or a signed request', 'authorization');
    const scopes = narrowScopes(principal.scopes, input.scopes);
    const issued = await this.tokens.issue({ clientId: principal.clientId, keyId: principal.keyId, scopes, subject: input.subject }, input.ttlSeconds);
    return { ...issued, scopes };
  }

  /**
   * ADVANCE's exchange: accessKey, a 13-digit millisecond timestamp within ±300 s and
   * SHA-256(accessKey + secretKey + timestamp) give a token valid `periodSeconds`.
   */
  async exchangeAdvanceSignature(input: { accessKey: string; timestamp: string; signature: string; periodSeconds: number }): Promise<{ token: string; expiresAt: Date; scopes: Scope[] }> {
    if (!/^\d{13}$/.test(input.timestamp)) throw new FaceproofError('invalid_parameter', 'timestamp must be 13 digits (milliseconds since 1970)', 'timestamp');
    if (Math.abs(this.now() - Number(input.timestamp)) > this.policy.advanceSkewSeconds * 1000) {
      throw new FaceproofError('request_time_too_skewed', `timestamp is more than ${this.policy.advanceSkewSeconds} s away from the server's clock`, 'timestamp');
    }
    const key = await this.repository.getKey(input.accessKey);
    const secret = key && this.administration.signingSecret(key);
    if (!key || !secret) throw new FaceproofError('invalid_credentials', 'unknown accessKey, or a key not made for signing', 'accessKey');
    const expected = sha256hex(input.accessKey + secret + input.timestamp);
    if (!sameText(expected, input.signature.toLowerCase())) throw new FaceproofError('invalid_signature', 'signature is not SHA-256(accessKey + secretKey + timestamp)', 'signature');
    const principal = await this.admit(key, 'token');
    await this.rejectReplay(`advance:${key.id}:${input.signature.toLowerCase()}`, Number(input.timestamp) + this.policy.advanceSkewSeconds * 1000);
    const issued = await this.tokens.issue({ clientId: principal.clientId, keyId: key.id, scopes: key.scopes }, input.periodSeconds);
    return { ...issued, scopes: key.scopes };
  }

  private async byApiKey(value: string): Promise<Principal> {
    const dot = value.indexOf('.');
    const key = dot > 0 ? await this.repository.getKey(value.slice(0, dot)) : undefined;
    if (key && key.id !== BOOTSTRAP_KEY_ID && secretMatches(value.slice(dot + 1), key.secretSha256)) return this.admit(key, 'api_key');
    const bootstrap = await this.repository.getKey(BOOTSTRAP_KEY_ID);
    if (bootstrap && secretMatches(value, bootstrap.secretSha256)) return this.admit(bootstrap, 'api_key');
    throw new FaceproofError('invalid_credentials', 'the API key is not valid');
  }

  private async bySignature(c: Extract<Credentials, { scheme: 'hmac' }>): Promise<Principal> {
    if (!RFC3339.test(c.timestamp)) throw new FaceproofError('invalid_credentials', 'X-TV-Timestamp must be an RFC 3339 time, e.g. 2019-04-21T18:00:15+07:00', 'x-tv-timestamp');
    const at = Date.parse(c.timestamp);
    if (Math.abs(this.now() - at) > this.policy.hmacSkewSeconds * 1000) {
      throw new FaceproofError('request_time_too_skewed', `X-TV-Timestamp is more than ${this.policy.hmacSkewSeconds / 60} minutes away from the server's clock`, 'x-tv-timestamp');
    }
    const key = await this.repository.getKey(c.keyId);
    const secret = key && this.administration.signingSecret(key);
    if (!key || !secret) throw new FaceproofError('invalid_credentials', 'unknown access key id, or a key not made for signing requests', 'authorization');
    const toSign = [c.method, c.target, c.timestamp, ...(c.contentMd5 !== undefined ? [c.contentMd5] : [])].join('\n');
    const expected = createHmac('sha256', secret).update(toSign, 'utf8').digest('base64');
    if (!sameText(expected, c.signature)) throw new FaceproofError('invalid_signature', 'the request signature does not match its method, path, timestamp (and Content-MD5)', 'authorization');
    const principal = await this.admit(key, 'hmac');
    // TrustVision's own API defends against replay by its time window alone (`repeatable`): a client
    // may send several requests in one second, which sign the same.
    if (!c.repeatable) await this.rejectReplay(`tv:${key.id}:${c.signature}`, at + this.policy.hmacSkewSeconds * 1000);
    return principal;
  }

  private async byToken(token: string): Promise<Principal> {
    const claims = await this.tokens.verify(token);
    const key = await this.repository.getKey(claims.keyId);
    if (!key || key.clientId !== claims.clientId) throw new FaceproofError('invalid_credentials', 'the token\'s key no longer exists');
    const principal = await this.admit(key, 'token');
    return { ...principal, scopes: claims.scopes.filter((s) => key.scopes.includes(s)) };
  }

  private async rejectReplay(digestOf: string, expiresAtMs: number): Promise<void> {
    if (!(await this.replays.firstUse(sha256hex(digestOf), expiresAtMs))) {
      throw new FaceproofError('request_replayed', 'this signature was already used; sign each request anew (a new timestamp)', 'authorization');
    }
  }

  /** The key, its parent and its client must all still be in force. */
  private async admit(key: ApiKeyRecord, scheme: Credentials['scheme']): Promise<Principal> {
    const nowIso = new Date(this.now()).toISOString();
    for (let k: ApiKeyRecord | undefined = key; k; k = k.parentKeyId ? await this.repository.getKey(k.parentKeyId) : undefined) {
      if (k.revokedAt) throw new FaceproofError('key_revoked', k === key ? 'this key was revoked' : 'the key this credential was made from was revoked');
      if (k.expiresAt && k.expiresAt <= nowIso) throw new FaceproofError('key_expired', `this credential expired at ${k.expiresAt}`);
    }
    const client = await this.repository.getClient(key.clientId);
    if (!client) throw new FaceproofError('invalid_credentials', 'the key\'s client no longer exists');
    if (client.status !== 'active') throw new FaceproofError('client_disabled', `client ${client.id} is disabled`);
    return { client, tenantId: client.tenantId, clientId: client.id, keyId: key.id, scopes: key.scopes, scheme };
  }
}
