import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { CompactSign, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { PublicKeySet, ResultSigner } from '../../core/result-signing.ts';

const ALG = 'ES256';

interface StoredKey { kid: string; alg: typeof ALG; created: string; privateJwk: JWK }

/**
 * ES256 signing keys as JWK files in one folder (the data folder's `keys/signing`). The newest key
 * signs; older keys stay published so that every signature ever given can still be checked.
 * A fresh folder gets its first key when the server starts (`open`) or at `faceproof signing-keys
 * rotate`; whatever else opens the keys (`faceproof verify`, other commands) reads them only.
 */
export class FileSigningKeys implements ResultSigner {
  private constructor(private readonly dir: string, private keys: Array<StoredKey & { privateKey: CryptoKey }>) {}

  /** The keys of `dir`; with `create` (the server's start), a folder without a key gets its first one. */
  static async open(dir: string, options: { create?: boolean } = {}): Promise<FileSigningKeys> {
    const create = options.create ?? true;
    if (create) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const store = new FileSigningKeys(dir, []);
    await store.reload();
    if (create && store.keys.length === 0) await store.rotate();
    return store;
  }

  /** Creates a new active key; earlier keys keep verifying. Returns its kid. */
  async rotate(): Promise<string> {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const { privateKey } = await generateKeyPair(ALG, { extractable: true });
    const created = new Date().toISOString();
    const kid = `${created.slice(0, 10)}-${randomUUID().slice(0, 8)}`;
    const stored: StoredKey = { kid, alg: ALG, created, privateJwk: await exportJWK(privateKey) };
    const file = path.join(this.dir, `${kid}.json`);
    // Written whole then renamed: a crash leaves the old key set, never half a key.
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(stored), { mode: 0o600 });
    fs.renameSync(`${file}.tmp`, file);
    await this.reload();
    return kid;
  }

  async signDetached(payload: Uint8Array): Promise<string> {
    const key = this.keys[0];
    if (!key) throw new Error(`no signing key in ${this.dir} (the server creates one at its start, or run \`faceproof signing-keys rotate\`)`);
    const jws = await new CompactSign(payload).setProtectedHeader({ alg: ALG, kid: key.kid }).sign(key.privateKey);
    const [header, , signature] = jws.split('.');
    return `${header}..${signature}`;
  }

  publicKeys(): PublicKeySet {
    return {
      keys: this.keys.map(({ kid, alg, privateJwk }) => {
        const { d: _d, ...publicJwk } = privateJwk;
        return { ...publicJwk, kid, alg, use: 'sig' };
      }),
    };
  }

  list(): Array<{ kid: string; created: string; active: boolean }> {
    return this.keys.map((k, i) => ({ kid: k.kid, created: k.created, active: i === 0 }));
  }

  private async reload(): Promise<void> {
    if (!fs.existsSync(this.dir)) {
      this.keys = [];
      return;
    }
    const stored = fs.readdirSync(this.dir).filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(fs.readFileSync(path.join(this.dir, f), 'utf8')) as StoredKey)
      .sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : 0));
    this.keys = await Promise.all(stored.map(async (k) => ({ ...k, privateKey: (await importJWK(k.privateJwk, ALG)) as CryptoKey })));
  }
}
