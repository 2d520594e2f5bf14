import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { FaceproofError } from './errors.ts';
import type { SecretBox } from './ports.ts';
import { narrowScopes, SCOPES, type Scope } from './scopes.ts';
import { DEFAULT_TENANT } from './image-store.ts';

/** A caller of the API: it acts for one tenant (several clients may share one). */
export interface ApiClient {
  id: string;
  tenantId: string;
  name: string;
  status: 'active' | 'disabled';
  /** Its own rate limit; null: the server's default. */
  ratePerSecond: number | null;
  burst: number | null;
  createdAt: string;
  updatedAt: string;
}

export interface ApiKeyRecord {
  id: string;
  clientId: string;
  /** Set on temporary credentials: the key that created them, whose revocation ends them too. */
  parentKeyId: string | null;
  label: string | null;
  scopes: Scope[];
  secretSha256: string;
  /** The secret sealed under the master key, for keys that may sign requests (HMAC, ADVANCE tokens). */
  secretSealed: Buffer | null;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
}

export interface ClientRepository {
  createTenantIfMissing(tenantId: string): Promise<void>;
  insertClient(client: ApiClient): Promise<void>;
  getClient(id: string): Promise<ApiClient | undefined>;
  listClients(): Promise<ApiClient[]>;
  updateClient(id: string, changes: Partial<Pick<ApiClient, 'status' | 'ratePerSecond' | 'burst' | 'name'>> & { updatedAt: string }): Promise<ApiClient | undefined>;
  insertKey(key: ApiKeyRecord): Promise<void>;
  /** Replaces the bootstrap key's row (its secret comes from the environment at each start). */
  upsertKey(key: ApiKeyRecord): Promise<void>;
  getKey(id: string): Promise<ApiKeyRecord | undefined>;
  listKeys(clientId?: string): Promise<ApiKeyRecord[]>;
  revokeKey(id: string, at: string): Promise<ApiKeyRecord | undefined>;
}

/** A key's secret as given to its owner once: never stored in the clear, never shown again. */
export interface IssuedKey {
  key: ApiKeyRecord;
  secret: string;
  /** What goes in X-API-Key: "<key id>.<secret>". */
  apiKey: string;
}

export const BOOTSTRAP_CLIENT = 'bootstrap';
export const BOOTSTRAP_KEY_ID = 'bootstrap';
const SECRET_PURPOSE = 'api-key-secret';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const newSecret = () => randomBytes(32).toString('base64url');
const newKeyId = () => `fpk_${randomBytes(10).toString('hex')}`;
const CLIENT_ID = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

/** Constant-time comparison of a presented secret with a stored digest. */
export function secretMatches(secret: string, storedSha256: string): boolean {
  return timingSafeEqual(Buffer.from(sha256(secret), 'hex'), Buffer.from(storedSha256, 'hex'));
}

/**
 * Clients and their keys: what the admin CLI and the admin routes do. Secrets are random 256-bit
 * values, so a single SHA-256 is enough to store them (no password stretching needed); only keys
 * made for request signing also keep the secret, sealed under the master key.
 */
export class ClientAdministration {
  constructor(
    private readonly repository: ClientRepository,
    private readonly box: SecretBox,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async createClient(input: { id: string; name?: string; tenantId?: string; ratePerSecond?: number; burst?: number }): Promise<ApiClient> {
    if (!CLIENT_ID.test(input.id)) throw new FaceproofError('invalid_parameter', 'a client id is 1–64 characters of a–z, 0–9, _ . - (starting with a letter or digit)', 'client_id');
    if (await this.repository.getClient(input.id)) throw new FaceproofError('already_exists', `client ${input.id} exists`, 'client_id');
    const tenantId = input.tenantId ?? input.id;
    if (!CLIENT_ID.test(tenantId)) throw new FaceproofError('invalid_parameter', 'a tenant id has the same form as a client id', 'tenant_id');
    const at = this.now().toISOString();
    const client: ApiClient = {
      id: input.id, tenantId, name: input.name ?? input.id, status: 'active',
      ratePerSecond: input.ratePerSecond ?? null, burst: input.burst ?? null, createdAt: at, updatedAt: at,
    };
    await this.repository.createTenantIfMissing(tenantId);
    await this.repository.insertClient(client);
    return client;
  }

  async listClients(): Promise<ApiClient[]> {
    return this.repository.listClients();
  }

  async getClient(id: string): Promise<ApiClient> {
    const client = await this.repository.getClient(id);
    if (!client) throw new FaceproofError('not_found', `no client ${id}`, 'client_id');
    return client;
  }

  async setStatus(id: string, status: ApiClient['status']): Promise<ApiClient> {
    if (id === BOOTSTRAP_CLIENT) throw new FaceproofError('invalid_parameter', 'the bootstrap client is governed by FACEPROOF_BOOTSTRAP_KEY', 'client_id');
    await this.getClient(id);
    return (await this.repository.updateClient(id, { status, updatedAt: this.now().toISOString() }))!;
  }

  async setRateLimit(id: string, ratePerSecond: number | null, burst: number | null): Promise<ApiClient> {
    // Like its status: a throttled bootstrap key could not undo it, and its row outlives restarts.
    if (id === BOOTSTRAP_CLIENT) throw new FaceproofError('invalid_parameter', 'the bootstrap client is governed by FACEPROOF_BOOTSTRAP_KEY', 'client_id');
    await this.getClient(id);
    return (await this.repository.updateClient(id, { ratePerSecond, burst, updatedAt: this.now().toISOString() }))!;
  }

  /** A new key for a client; `signing` keeps the secret sealed so the key can sign requests (HMAC). */
  async createKey(clientId: string, input: { scopes: Scope[]; label?: string; signing?: boolean; expiresInSeconds?: number }): Promise<IssuedKey> {
    await this.getClient(clientId);
    return this.issue(clientId, null, input.scopes, input.label ?? null, input.signing ?? false, input.expiresInSeconds);
  }

  /**
   * TrustVision's temporary credential: a signing key pair with at most its parent's scopes and an
   * expiry; revoking the parent, or disabling the client, ends it as well.
   */
  async createTemporaryCredential(parent: ApiKeyRecord, input: { scopes?: Scope[]; durationSeconds: number }): Promise<IssuedKey> {
    if (parent.parentKeyId) throw new FaceproofError('insufficient_scope', 'a temporary credential cannot create further credentials', 'scopes');
    const scopes = narrowScopes(parent.scopes, input.scopes);
    if (scopes.includes('admin')) throw new FaceproofError('insufficient_scope', 'temporary credentials cannot carry the admin scope', 'scopes');
    return this.issue(parent.clientId, parent.id, scopes, 'temporary', true, input.durationSeconds);
  }

  async listKeys(clientId?: string): Promise<ApiKeyRecord[]> {
    if (clientId) await this.getClient(clientId);
    return this.repository.listKeys(clientId);
  }

  async key(id: string): Promise<ApiKeyRecord> {
    const key = await this.repository.getKey(id);
    if (!key) throw new FaceproofError('not_found', `no key ${id}`, 'key_id');
    return key;
  }

  async revokeKey(id: string): Promise<ApiKeyRecord> {
    if (id === BOOTSTRAP_KEY_ID) throw new FaceproofError('invalid_parameter', 'the bootstrap key is revoked by restarting the server without FACEPROOF_BOOTSTRAP_KEY, or with `faceproof keys revoke bootstrap`', 'key_id');
    const key = await this.repository.revokeKey(id, this.now().toISOString());
    if (!key) throw new FaceproofError('not_found', `no key ${id}`, 'key_id');
    return key;
  }

  /**
   * The operator's explicit revocation (`faceproof keys revoke bootstrap`): the running server
   * refuses the key from its next request; the next server start with FACEPROOF_BOOTSTRAP_KEY set
   * gives it back (the row follows the variable at each start).
   */
  async revokeBootstrapKey(): Promise<ApiKeyRecord> {
    const key = await this.repository.getKey(BOOTSTRAP_KEY_ID);
    if (!key) throw new FaceproofError('not_found', 'this data folder has no bootstrap key (no server started with FACEPROOF_BOOTSTRAP_KEY)', 'key_id');
    return key.revokedAt ? key : (await this.repository.revokeKey(BOOTSTRAP_KEY_ID, this.now().toISOString()))!;
  }

  /**
   * The key given in FACEPROOF_BOOTSTRAP_KEY: every scope, default tenant. Its row follows the
   * variable at each start of the server (a changed value replaces it; an unset one revokes it).
   * The server's start alone calls this: CLI commands and benchmarks leave the row as it is.
   */
  async syncBootstrapKey(secret: string | undefined): Promise<void> {
    const at = this.now().toISOString();
    if (!(await this.repository.getClient(BOOTSTRAP_CLIENT))) {
      await this.repository.insertClient({ id: BOOTSTRAP_CLIENT, tenantId: DEFAULT_TENANT, name: 'bootstrap (FACEPROOF_BOOTSTRAP_KEY)', status: 'active', ratePerSecond: null, burst: null, createdAt: at, updatedAt: at });
    }
    const existing = await this.repository.getKey(BOOTSTRAP_KEY_ID);
    if (!secret) {
      if (existing && !existing.revokedAt) await this.repository.revokeKey(BOOTSTRAP_KEY_ID, at);
      return;
    }
    if (secret.length < 16) throw new Error('FACEPROOF_BOOTSTRAP_KEY must be at least 16 characters');
    if (existing && !existing.revokedAt && secretMatches(secret, existing.secretSha256)) return;
    await this.repository.upsertKey({
      id: BOOTSTRAP_KEY_ID, clientId: BOOTSTRAP_CLIENT, parentKeyId: null, label: 'FACEPROOF_BOOTSTRAP_KEY', scopes: [...SCOPES],
      secretSha256: sha256(secret), secretSealed: null, createdAt: at, expiresAt: null, revokedAt: null,
    });
  }

  /** The secret of a signing key, for checking an HMAC; undefined for keys that cannot sign. */
  signingSecret(key: ApiKeyRecord): string | undefined {
    return key.secretSealed ? this.box.open(key.secretSealed, SECRET_PURPOSE).toString('utf8') : undefined;
  }

  private async issue(clientId: string, parentKeyId: string | null, scopes: Scope[], label: string | null, signing: boolean, expiresInSeconds?: number): Promise<IssuedKey> {
    const secret = newSecret();
    const now = this.now();
    const key: ApiKeyRecord = {
      id: newKeyId(), clientId, parentKeyId, label, scopes,
      secretSha256: sha256(secret),
      secretSealed: signing ? this.box.seal(Buffer.from(secret, 'utf8'), SECRET_PURPOSE) : null,
      createdAt: now.toISOString(),
      expiresAt: expiresInSeconds ? new Date(now.getTime() + expiresInSeconds * 1000).toISOString() : null,
      revokedAt: null,
    };
    await this.repository.insertKey(key);
    return { key, secret, apiKey: `${key.id}.${secret}` };
  }
}
