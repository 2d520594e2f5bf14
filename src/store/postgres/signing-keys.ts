import { randomUUID } from 'node:crypto';
import { CompactSign, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { SecretBox } from '../../core/ports.ts';
import type { PublicKeySet, ResultSigner } from '../../core/result-signing.ts';
import type { PostgresDatabase, Queryable } from './database.ts';

const ALG = 'ES256';

/** The advisory lock around creating keys: "fp" then "SIGN" in ASCII, apart from the migrations' lock. */
export const SIGNING_KEYS_LOCK_KEY = 0x6670_5349_474en;

export interface PgSigningKeysOptions {
  /** Create the first key when there is none (the server's start; default true). CLI commands only read. */
  create?: boolean;
  /** How often the keys are read again, so that a key rotated on another node is published here (default 5000 ms; 0: never). */
  refreshMs?: number;
  /** Asked about a kid it does not know, the table is read again at most this often (default 1000 ms): bogus kids cannot flood it. */
  unknownKidRefreshMs?: number;
  /** Hears of a periodic re-read that failed (the keys read before stay in use). Default: ignored. */
  onRefreshError?: (err: unknown) => void;
}

interface KeyRow { seq: number; kid: string; alg: string; created_at: string; public_jwk: JWK; sealed_private_jwk: Buffer }

/**
 * ES256 result-signing keys in the shared database (migration 3's `signing_keys`), for several
 * nodes: each signs with the newest key (the highest seq) and publishes every key, so a signature
 * from any node verifies against any node's JWKS. The private keys are sealed by the master keyring.
 *
 * Each node holds the keys in memory (publicKeys() and list() answer from there, synchronously, as
 * the file keys do) and reads the table again every `refreshMs` and whenever asked about a kid it
 * does not know. So after a rotation on one node, the others publish the new key and sign with it
 * within `refreshMs`; meanwhile they sign with the previous key, which every node still publishes.
 */
export class PgSigningKeys implements ResultSigner {
  private keys: KeyRow[] = [];
  private readonly privateKeys = new Map<string, Promise<CryptoKey>>();
  private refreshing: Promise<void> | undefined;
  private refreshedAt = 0;
  private timer: NodeJS.Timeout | undefined;

  private constructor(private readonly db: PostgresDatabase, private readonly keyring: SecretBox, private readonly options: PgSigningKeysOptions) {}

  /**
   * The keys of the database, read; with `create` (default) a first key is made when there is none.
   * Nodes starting together on an empty table queue on an advisory lock: the first creates the
   * key, the others find it, so there is one key, not one per node.
   */
  static async open(db: PostgresDatabase, keyring: SecretBox, options: PgSigningKeysOptions = {}): Promise<PgSigningKeys> {
    const store = new PgSigningKeys(db, keyring, options);
    await store.refresh();
    if ((options.create ?? true) && store.keys.length === 0) {
      await store.addKey({ onlyIfNone: true });
      await store.refresh();
    }
    const every = options.refreshMs ?? 5000;
    if (every > 0) {
      store.timer = setInterval(() => {
        store.refresh().catch((err: unknown) => store.options.onRefreshError?.(err));
      }, every);
      store.timer.unref(); // a process with nothing else to do may end
    }
    return store;
  }

  /** Creates a new key, which signs from now on (on other nodes from their next re-read); earlier keys keep verifying. Returns its kid. */
  async rotate(): Promise<string> {
    const kid = await this.addKey({ onlyIfNone: false });
    await this.refresh();
    return kid!;
  }

  async signDetached(payload: Uint8Array): Promise<string> {
    const key = this.keys[0];
    if (!key) throw new Error('no signing key in the database (the server creates one at its start, or run `faceproof signing-keys rotate`)');
    const jws = await new CompactSign(payload).setProtectedHeader({ alg: ALG, kid: key.kid }).sign(await this.privateKeyOf(key));
    const [header, , signature] = jws.split('.');
    return `${header}..${signature}`;
  }

  publicKeys(): PublicKeySet {
    return { keys: this.keys.map(({ kid, alg, public_jwk }) => ({ ...public_jwk, kid, alg, use: 'sig' })) };
  }

  list(): Array<{ kid: string; created: string; active: boolean }> {
    return this.keys.map((k, i) => ({ kid: k.kid, created: k.created_at, active: i === 0 }));
  }

  /**
   * Whether `kid` is one of the keys, reading the table again first when it is not known here (a
   * key rotated on another node since the last re-read), at most every `unknownKidRefreshMs`.
   */
  async knows(kid: string): Promise<boolean> {
    if (this.keys.some((k) => k.kid === kid)) return true;
    if (Date.now() - this.refreshedAt >= (this.options.unknownKidRefreshMs ?? 1000)) await this.refresh();
    return this.keys.some((k) => k.kid === kid);
  }

  /** Reads the keys again; concurrent calls share one read. */
  refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        const { rows } = await this.db.query<KeyRow>({
          name: 'signing_keys_all',
          text: 'SELECT seq, kid, alg, created_at, public_jwk, sealed_private_jwk FROM signing_keys ORDER BY seq DESC',
        });
        this.keys = rows;
        this.refreshedAt = Date.now();
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  /** Stops the periodic re-read (the database is the caller's to close). */
  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Opened from its sealed row the first time it signs, then kept. */
  private privateKeyOf(key: KeyRow): Promise<CryptoKey> {
    let opened = this.privateKeys.get(key.kid);
    if (!opened) {
      const jwk = JSON.parse(this.keyring.open(key.sealed_private_jwk, purposeOf(key.kid)).toString('utf8')) as JWK;
      opened = importJWK(jwk, ALG) as Promise<CryptoKey>;
      this.privateKeys.set(key.kid, opened);
      opened.catch(() => this.privateKeys.delete(key.kid));
    }
    return opened;
  }

  /** Inserts a new key under the advisory lock; with `onlyIfNone`, only into an empty table (undefined then). */
  private async addKey({ onlyIfNone }: { onlyIfNone: boolean }): Promise<string | undefined> {
    // Generated outside the transaction: the lock is held for the two statements only.
    const { privateKey } = await generateKeyPair(ALG, { extractable: true });
    const privateJwk = await exportJWK(privateKey);
    const { d: _d, ...publicJwk } = privateJwk;
    const created = new Date().toISOString();
    const kid = `${created.slice(0, 10)}-${randomUUID().slice(0, 8)}`;
    const sealed = this.keyring.seal(Buffer.from(JSON.stringify(privateJwk)), purposeOf(kid));
    return this.db.transaction(async (tx: Queryable) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [SIGNING_KEYS_LOCK_KEY.toString()]);
      // Looked at under the lock: a node that started first has committed its key by now.
      if (onlyIfNone && (await tx.query('SELECT 1 FROM signing_keys LIMIT 1')).rowCount) return undefined;
      await tx.query(
        'INSERT INTO signing_keys (kid, alg, created_at, public_jwk, sealed_private_jwk) VALUES ($1, $2, $3, $4, $5)',
        [kid, ALG, created, JSON.stringify(publicJwk), sealed],
      );
      return kid;
    });
  }
}

/** Bound into the seal: a sealed key cannot be moved to another kid's row. */
const purposeOf = (kid: string) => `signing-key:${kid}`;
