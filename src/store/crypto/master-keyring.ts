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
  private constructor(private keys: MasterKey[], private readonly file: string | undefined) {}

  static fromEnvironment(value: string): MasterKeyring {
    const keys = value.split(',').map((s) => s.trim()).filter(Boolean).map((b64) => {
      const key = Buffer.from(b64, 'base64');
      if (key.length !== 32) throw new Error('FACEPROOF_MASTER_KEY must hold base64 AES-256 keys (32 bytes each)');
      return { id: createHash('sha256').update(key).digest().readUInt32BE(0), key, created: '' };
    });
    if (keys.length === 0) throw new Error('FACEPROOF_MASTER_KEY is empty');
    return new MasterKeyring(keys, undefined);
  }

  static openFile(file: string): MasterKeyring {
    if (!fs.existsSync(file)) {
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      const ring = new MasterKeyring([], file);
      ring.keys = [newKey()];
      ring.save();
      return ring;
    }
    const stored = JSON.parse(fs.readFileSync(file, 'utf8')) as { keys: Array<{ id: number; key: string; created: string }> };
    return new MasterKeyring(stored.keys.map((k) => ({ id: k.id, key: Buffer.from(k.key, 'base64'), created: k.created })), file);
  }

  get activeKeyId(): number {
    return this.keys[0].id;
  }

  list(): Array<{ id: number; created: string; active: boolean }> {
    return this.keys.map((k, i) => ({ id: k.id, created: k.created, active: i === 0 }));
  }

  /** Adds a new active key to a file keyring; older keys keep opening what they sealed. */
  rotate(): number {
    if (!this.file) throw new Error('keys given in FACEPROOF_MASTER_KEY are rotated by putting the new key first in the variable');
    this.keys = [newKey(), ...this.keys];
    this.save();
    return this.keys[0].id;
  }

  /** Drops every key but the active one (after everything was re-sealed under it). */
  retireOldKeys(): number {
    if (!this.file) throw new Error('keys given in FACEPROOF_MASTER_KEY are retired by removing them from the variable');
    const dropped = this.keys.length - 1;
    this.keys = this.keys.slice(0, 1);
    this.save();
    return dropped;
  }

  seal(plain: Uint8Array, purpose: string): Buffer {
    const { id, key } = this.keys[0];
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

  private save(): void {
    const file = this.file!;
    const stored = { keys: this.keys.map((k) => ({ id: k.id, key: k.key.toString('base64'), created: k.created })) };
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(stored, null, 2), { mode: 0o600 });
    fs.renameSync(`${file}.tmp`, file);
  }
}

function newKey(): MasterKey {
  const key = randomBytes(32);
  return { id: createHash('sha256').update(key).digest().readUInt32BE(0), key, created: new Date().toISOString() };
}
