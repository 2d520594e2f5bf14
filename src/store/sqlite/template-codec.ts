import type { SecretBox } from '../../core/ports.ts';
import { FaceproofError } from '../../core/errors.ts';
import { blobToVector, vectorToBlob } from './vectors.ts';

/** Associated data of every sealed template: a sealed API secret or other value cannot stand in for one. */
export const TEMPLATE_PURPOSE = 'template';

/**
 * How a stored template is told apart: unsealed it is 4 × dimension bytes (little-endian floats),
 * sealed it is that plus 33 bytes (MasterKeyring's SEAL_OVERHEAD), never a multiple of 4. Rows
 * written before encryption was turned on therefore stay readable until `faceproof encryption
 * reseal` seals them.
 */
export const isRawTemplateLength = (bytes: number): boolean => bytes % 4 === 0;

/** The keys a codec seals with; MasterKeyring is one. */
export interface TemplateKeys extends SecretBox {
  /** Which key sealed a value (read from its header). */
  keyIdOf(sealed: Uint8Array): number;
  list(): Array<{ id: number }>;
}

/** A sealed template whose authentication failed: altered, truncated or corrupt. It is never decoded into a vector. */
export class TemplateIntegrityError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TemplateIntegrityError';
  }
}

/**
 * Writes templates sealed with AES-256-GCM under the master key (or as raw floats when sealing is
 * off) and reads either form. A sealed template that fails authentication throws
 * TemplateIntegrityError; one sealed under a key this server does not hold throws a plain Error (a
 * configuration fault that concerns every row, not one row).
 */
export class TemplateCodec {
  private constructor(
    private readonly keys: TemplateKeys | undefined,
    /** Whether new templates are sealed. */
    readonly sealing: boolean,
    private readonly warnings: (message: string) => void,
  ) {}

  /** Seals new templates when `seal` is true; opens sealed ones with any key of the ring either way. */
  static withKeys(keys: TemplateKeys, options: { seal: boolean; warn?: (message: string) => void }): TemplateCodec {
    return new TemplateCodec(keys, options.seal, options.warn ?? defaultWarn);
  }

  /** Raw floats only, without keys (benchmarks and tools on unsealed databases). */
  static plain(): TemplateCodec {
    return new TemplateCodec(undefined, false, defaultWarn);
  }

  encode(vector: Float32Array): Buffer {
    const raw = vectorToBlob(vector);
    return this.sealing ? this.keys!.seal(raw, TEMPLATE_PURPOSE) : raw;
  }

  /** The template of a stored BLOB; `what` names the row in errors (e.g. "face face_ab12 of user alice"). */
  decode(blob: Buffer, what = 'a template'): Float32Array {
    if (isRawTemplateLength(blob.length)) return blobToVector(blob);
    if (!this.keys) throw new Error(`${what} is sealed, and no master key was given to open it`);
    let plain: Buffer;
    try {
      plain = this.keys.open(blob, TEMPLATE_PURPOSE);
    } catch (err) {
      if (blob.length > 5) {
        const id = this.keys.keyIdOf(blob);
        if (!this.keys.list().some((k) => k.id === id)) {
          throw new Error(`${what} is sealed under master key ${id}, which this server does not hold (FACEPROOF_MASTER_KEY / FACEPROOF_MASTER_KEY_FILE)`, { cause: err });
        }
      }
      throw new TemplateIntegrityError(`the stored template of ${what} failed its integrity check (altered or corrupt)`, { cause: err });
    }
    if (!isRawTemplateLength(plain.length)) throw new TemplateIntegrityError(`the stored template of ${what} has ${plain.length} bytes, not whole floats`);
    return blobToVector(plain);
  }

  /** Reports a template that was skipped (see SqliteCollectionRepository.vectorsOf). */
  warn(message: string): void {
    this.warnings(message);
  }
}

function defaultWarn(message: string): void {
  process.emitWarning(message, 'FaceproofTemplates');
}

/**
 * Attaches a stored template to a face as a `vector` property decoded on first read. Counting and
 * deleting faces then never open templates, so a face whose template fails its integrity check can
 * still be deleted (DELETE …/faces/{face_id}), while whatever reads it (a comparison, or a listing
 * that copies the face) fails with internal_error naming the face: a 1:1 or 1:few answer is never
 * computed without one of the faces it claims to compare.
 */
export function withStoredVector<T extends object>(face: T, blob: Buffer, codec: TemplateCodec, what: string): T & { vector: Float32Array } {
  let vector: Float32Array | undefined;
  return Object.defineProperty(face, 'vector', {
    enumerable: true,
    get: () => {
      if (!vector) {
        try {
          vector = codec.decode(blob, what);
        } catch (err) {
          if (!(err instanceof TemplateIntegrityError)) throw err;
          codec.warn(err.message);
          throw new FaceproofError('internal_error', `${err.message}; delete that face and enrol it again`);
        }
      }
      return vector;
    },
  }) as T & { vector: Float32Array };
}

/**
 * The vectors of stored rows for a search's exact re-ranking. A template failing its integrity
 * check is left out and reported (the search goes on without that face), whatever the database.
 */
export function searchableVectors(codec: TemplateCodec, rows: Array<{ key: number; id: string; template: Buffer }>, collectionId: number): Array<{ key: number; vector: Float32Array }> {
  const out: Array<{ key: number; vector: Float32Array }> = [];
  for (const r of rows) {
    try {
      out.push({ key: r.key, vector: codec.decode(r.template, `face ${r.id} (collection ${collectionId})`) });
    } catch (err) {
      if (!(err instanceof TemplateIntegrityError)) throw err;
      codec.warn(`${err.message}; left out of the search: delete the face and index it again`);
    }
  }
  return out;
}

/**
 * The vectors of stored rows to (re)build an index from. The index must hold every row, so a
 * template failing its integrity check stops the build: internal_error naming the face, which
 * deleting that face (a path that reads no template) clears.
 */
export function indexableVectors(codec: TemplateCodec, rows: Array<{ key: number; id: string; template: Buffer }>, collectionId: number): Array<{ key: number; vector: Float32Array }> {
  return rows.map((r) => {
    try {
      return { key: r.key, vector: codec.decode(r.template, `face ${r.id}`) };
    } catch (err) {
      if (!(err instanceof TemplateIntegrityError)) throw err;
      codec.warn(`${err.message} (collection ${collectionId}); the collection cannot be indexed until the face is deleted`);
      throw new FaceproofError('internal_error', `${err.message}; delete that face and index it again`);
    }
  });
}
