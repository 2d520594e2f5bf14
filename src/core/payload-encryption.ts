import fs from 'node:fs';
import path from 'node:path';
import {
  constants, createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, generateKeyPairSync, privateDecrypt, publicEncrypt, randomBytes,
  type KeyObject,
} from 'node:crypto';
import { FaceproofError } from './errors.ts';
import type { SecretBox } from './ports.ts';

/**
 * End-to-end encryption of request fields (iDenFace's `retrieve_pubky`): a client encrypts an image
 * for this server alone, so that TLS-terminating proxies and request logs never see it in the clear.
 *
 * The scheme ("E2E1"), RSA-OAEP-wrapped AES-256-GCM:
 *  1. the client draws a random 32-byte AES key and a 12-byte IV;
 *  2. encrypts the field's plaintext (the image's bytes, or its base64 text) with AES-256-GCM, no
 *     associated data, keeping the 16-byte tag after the ciphertext;
 *  3. wraps the AES key with the server's RSA public key: RSA-OAEP, SHA-256 and MGF1-SHA-256 (Web
 *     Crypto's `RSA-OAEP` with hash SHA-256; OpenSSL `-pkeyopt rsa_oaep_md:sha256`);
 *  4. sends, in place of the field's value, the string
 *     `E2E1.<wrapped key>.<IV>.<ciphertext ‖ tag>`, each part base64url (standard base64 accepted).
 *
 * The RSA-2048 key pair is the server's: its private key is kept in a file of the data folder
 * (`keys/payload-rsa.json`), sealed with AES-256-GCM under the master keyring (as API key secrets
 * and templates are), and created by the server when first needed. The public key is published as the
 * hex of its DER SubjectPublicKeyInfo, as iDenFace prints it.
 */
export const ENVELOPE_PREFIX = 'E2E1.';

const PURPOSE = 'payload-encryption-rsa-private-key';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const AES_KEY_BYTES = 32;
const PART = /^[A-Za-z0-9_+/-]+={0,2}$/;

interface StoredKeyFile {
  format: 1;
  created: string;
  /** base64 of the PKCS#8 DER private key sealed under the master keyring. */
  sealedPrivateKey: string;
}

export class PayloadEncryption {
  private key?: KeyObject;

  private constructor(private readonly file: string, private readonly box: SecretBox, private readonly create: boolean) {}

  /**
   * The key pair of `file`, read when first needed. Without the file, `create` (the server) makes
   * one then and writes it sealed; a tool only reads, so without the file it has no key.
   */
  static openFile(file: string, box: SecretBox, options: { create: boolean }): PayloadEncryption {
    return new PayloadEncryption(file, box, options.create);
  }

  private privateKey(): KeyObject {
    if (this.key) return this.key;
    if (fs.existsSync(this.file)) {
      const stored = JSON.parse(fs.readFileSync(this.file, 'utf8')) as StoredKeyFile;
      if (stored.format !== 1) throw new Error(`${this.file}: not a payload key of format 1`);
      const der = this.box.open(Buffer.from(stored.sealedPrivateKey, 'base64'), PURPOSE);
      this.key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
      return this.key;
    }
    if (!this.create) throw new FaceproofError('service_unavailable', 'this process has no payload encryption key (the server creates it)');
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
    const der = privateKey.export({ format: 'der', type: 'pkcs8' });
    const stored: StoredKeyFile = { format: 1, created: new Date().toISOString(), sealedPrivateKey: this.box.seal(der, PURPOSE).toString('base64') };
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    // Written whole then renamed: a crash leaves no half key.
    fs.writeFileSync(`${this.file}.tmp`, JSON.stringify(stored), { mode: 0o600 });
    fs.renameSync(`${this.file}.tmp`, this.file);
    this.key = privateKey;
    return privateKey;
  }

  /** The public key as DER SubjectPublicKeyInfo. */
  publicKeyDer(): Buffer {
    return createPublicKey(this.privateKey()).export({ format: 'der', type: 'spki' });
  }

  /** Whether a field's value is an E2E1 envelope rather than plain base64. */
  static isEnvelope(value: string): boolean {
    return value.startsWith(ENVELOPE_PREFIX);
  }

  /** Opens an E2E1 envelope: the plaintext bytes, or 400 base64_decode_failed / invalid_parameter naming `field`. */
  decrypt(envelope: string, field: string): Buffer {
    const parts = envelope.slice(ENVELOPE_PREFIX.length).split('.');
    if (parts.length !== 3 || !parts.every((p) => PART.test(p))) {
      throw new FaceproofError('base64_decode_failed', `${field} is not an E2E1 envelope: E2E1.<wrapped key>.<IV>.<ciphertext and tag>, each base64url`, field);
    }
    const [wrapped, iv, sealed] = parts.map((p) => Buffer.from(p, 'base64'));
    if (iv.length !== IV_BYTES || sealed.length < TAG_BYTES) throw new FaceproofError('invalid_parameter', `${field}: the IV must be ${IV_BYTES} bytes and the ciphertext end with a ${TAG_BYTES}-byte tag`, field);
    let key: Buffer;
    try {
      key = privateDecrypt({ key: this.privateKey(), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, wrapped);
    } catch {
      throw new FaceproofError('invalid_parameter', `${field}: the wrapped key does not open with this server's key (fetch the current public key)`, field);
    }
    if (key.length !== AES_KEY_BYTES) throw new FaceproofError('invalid_parameter', `${field}: the wrapped key must be a ${AES_KEY_BYTES}-byte AES key`, field);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv);
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new FaceproofError('invalid_parameter', `${field}: the ciphertext does not authenticate under the wrapped key`, field);
    }
  }

  /** The client's side of the scheme, for reference and tests: an E2E1 envelope of `plain` for the key `publicKeyDer`. */
  static encrypt(publicKeyDer: Uint8Array, plain: Uint8Array): string {
    const key = randomBytes(AES_KEY_BYTES);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const sealed = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    const publicKey = createPublicKey({ key: Buffer.from(publicKeyDer), format: 'der', type: 'spki' });
    const wrapped = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, key);
    return `${ENVELOPE_PREFIX}${[wrapped, iv, sealed].map((b) => b.toString('base64url')).join('.')}`;
  }
}
