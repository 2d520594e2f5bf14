import fs from 'node:fs';
import path from 'node:path';
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { SecretBox } from '../../core/ports.ts';

/** One AES-256 key; `id` is written into every ciphertext so that any key of the ring can open it. */
interface MasterKey { id: number; key: Buffer; created: string }

const FORMAT = 0x01;
const HEADER = 1 + 4 + 12; // format, key id, IV
const TAG = 16;

/** Bytes a sealed value adds to its plaintext (format byte, key id, IV, GCM tag). */
export const SEAL_OVERHEAD = HEADER + TAG;

/**
 * AES-256-GCM under the server's master keys. The first key seals; every key opens, so values
 * sealed before a rotation stay readable until they are re-sealed. The purpose of a value is bound
 * as associated data, so a sealed API secret cannot be passed off as a template or the reverse.
 *
 * Keys come from FACEPROOF_MASTER_KEY (base64 keys separated by commas, the first one active) or
 * from a JSON key file, created with one random key on first use.
 */
export class MasterKeyring implements SecretBox {
  private constructor(private keys: MasterKey[], private readonly file: string | undefined, private readonly beforeCreate?: () => void) {}

  static fromEnvironment(value: string): MasterKeyring {
    const keys = value.split(',').map((s) => s.trim()).filter(Boolean).map((b64) => {
      const key = Buffer.from(b64, 'base64');
      if (key.length !== 32) throw new Error('FACEPROOF_MASTER_KEY must hold base64 AES-256 keys (32 bytes each)');
      return { id: createHash('sha256').update(key).digest().readUInt32BE(0), key, created: '' };
    });
    if (keys.length === 0) throw new Error('FACEPROOF_MASTER_KEY is empty');
    return new MasterKeyring(keys, undefined);
  }

  /**
   * The keys of a JSON key file. A missing file is created with one random key at once (`now`: the
   * server's start) or only when something is first sealed (`on-first-seal`: CLI commands, which
   * must not create a key just by reading). Until then the ring is empty: it opens nothing.
   * `beforeCreate` may refuse the creation by throwing (a data folder already sealed under a key not given).
   */
  static openFile(file: string, options: { create?: 'now' | 'on-first-seal'; beforeCreate?: () => void } = {}): MasterKeyring {
    const ring = new MasterKeyring([], file, options.beforeCreate);
    if (!ring.load() && (options.create ?? 'now') === 'now') ring.createFile();
    return ring;
  }

  get activeKeyId(): number {
    return this.existingKey().id;
  }

  list(): Array<{ id: number; created: string; active: boolean }> {
    return this.keys.map((k, i) => ({ id: k.id, created: k.created, active: i === 0 }));
  }

  /** Adds a new active key to a file keyring; older keys keep opening what they sealed. */
  rotate(): number {
    if (!this.file) throw new Error('keys given in FACEPROOF_MASTER_KEY are rotated by putting the new key first in the variable');
    this.existingKey();
    this.keys = [newKey(), ...this.keys];
    this.save();
    return this.keys[0].id;
  }

  /** Drops every key but the active one (after everything was re-sealed under it). */
  retireOldKeys(): number {
    if (!this.file) throw new Error('keys given in FACEPROOF_MASTER_KEY are retired by removing them from the variable');
    this.existingKey();
    const dropped = this.keys.length - 1;
    this.keys = this.keys.slice(0, 1);
    this.save();
    return dropped;
  }

  seal(plain: Uint8Array, purpose: string): Buffer {
    const { id, key } = this.activeKey();
    const iv = randomBytes(12);
    const header = Buffer.alloc(HEADER);
    header[0] = FORMAT;
    header.writeUInt32BE(id, 1);
    iv.copy(header, 5);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.concat([header, Buffer.from(purpose)]));
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([header, body, cipher.getAuthTag()]);
  }

  open(sealed: Uint8Array, purpose: string): Buffer {
    const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    if (buf.length < SEAL_OVERHEAD || buf[0] !== FORMAT) throw new Error('not a sealed value');
    const id = buf.readUInt32BE(1);
    // A key file created by another process since this ring was opened empty.
    if (this.keys.length === 0 && this.file) this.load();
    const entry = this.keys.find((k) => k.id === id);
    if (!entry) throw new Error(`sealed under master key ${id}, which this server does not hold`);
    const decipher = createDecipheriv('aes-256-gcm', entry.key, buf.subarray(5, HEADER));
    decipher.setAAD(Buffer.concat([buf.subarray(0, HEADER), Buffer.from(purpose)]));
    decipher.setAuthTag(buf.subarray(buf.length - TAG));
    return Buffer.concat([decipher.update(buf.subarray(HEADER, buf.length - TAG)), decipher.final()]);
  }

  /** Which key sealed a value (to find what a rotation still has to re-seal). */
  keyIdOf(sealed: Uint8Array): number {
    return Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength).readUInt32BE(1);
  }

  /**
   * The key that seals. An empty file ring (opened `on-first-seal`) reads the file again, since
   * another process (the server) may have created it; if there is still none, it creates it.
   */
  private activeKey(): MasterKey {
    if (this.keys.length === 0 && this.file && !this.load()) this.createFile();
    return this.keys[0];
  }

  /** The active key, which must exist already (reading never creates one). */
  private existingKey(): MasterKey {
    if (this.keys.length === 0 && this.file) this.load();
    if (this.keys.length === 0) throw new Error(`no master key: ${this.file} does not exist and FACEPROOF_MASTER_KEY is unset`);
    return this.keys[0];
  }

  /** Reads the key file; false when there is none. */
  private load(): boolean {
    const file = this.file!;
    if (!fs.existsSync(file)) return false;
    const stored = JSON.parse(fs.readFileSync(file, 'utf8')) as { keys: Array<{ id: number; key: string; created: string }> };
    this.keys = stored.keys.map((k) => ({ id: k.id, key: Buffer.from(k.key, 'base64'), created: k.created }));
    return true;
  }

  /** Creates the key file with one new key, unless another process created it first (then that one is read). */
  private createFile(): void {
    const file = this.file!;
    this.beforeCreate?.();
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const keys = [newKey()];
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, serialize(keys), { mode: 0o600 });
    try {
      fs.linkSync(tmp, file); // never replaces an existing key file
      this.keys = keys;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      this.load();
    } finally {
      fs.unlinkSync(tmp);
    }
  }

  private save(): void {
    const file = this.file!;
    fs.writeFileSync(`${file}.tmp`, serialize(this.keys), { mode: 0o600 });
    fs.renameSync(`${file}.tmp`, file);
  }
}

function serialize(keys: MasterKey[]): string {
  return JSON.stringify({ keys: keys.map((k) => ({ id: k.id, key: k.key.toString('base64'), created: k.created })) }, null, 2);
}

function newKey(): MasterKey {
  const key = randomBytes(32);
  return { id: createHash('sha256').update(key).digest().readUInt32BE(0), key, created: new Date().toISOString() };
}
