import type pg from 'pg';
import { FaceproofError } from '../../core/errors.ts';
import type { Queryable } from './database.ts';

/**
 * What the PostgreSQL repositories share: running a statement (prepared by name where its text is
 * fixed) with PostgreSQL's refusals that a client's input can cause turned into FaceproofErrors, and
 * writing JSON into JSONB columns.
 */

/** SQLSTATEs the repositories act on. */
export const PG = {
  uniqueViolation: '23505',
  /** A TEXT value holding a NUL character (0x00), which PostgreSQL's text cannot hold. */
  characterNotInRepertoire: '22021',
  /** JSONB given the escape \u0000 (it cannot hold a NUL either). */
  untranslatableCharacter: '22P05',
} as const;

export const pgCode = (err: unknown): string | undefined => {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
};

/**
 * Runs one statement. `name` makes node-postgres prepare it once per connection (only for fixed
 * text: a name stands for one text on a connection, hence the `fp-<repository>-` prefixes).
 *
 * SQLite stores a NUL character in text and in JSON; PostgreSQL refuses both. Such a value can only
 * come from a client (an id, a metadata string), so it is refused as the client's error, not
 * reported as a fault of the server.
 */
export async function run<R extends pg.QueryResultRow = pg.QueryResultRow>(db: Queryable, name: string | undefined, text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
  try {
    return await db.query<R>(name ? { name, text, values } : { text, values });
  } catch (err) {
    const code = pgCode(err);
    if (code === PG.characterNotInRepertoire || code === PG.untranslatableCharacter) {
      throw new FaceproofError('invalid_parameter', 'text holding a NUL character (\\u0000) cannot be stored');
    }
    throw err;
  }
}

/**
 * A JSON value for a JSONB parameter, as text. Always stringified here: node-postgres would send a
 * JavaScript array as a PostgreSQL array literal, not as JSON. JSONB keeps the value, not its text:
 * an object's keys come back in JSONB's order (shorter keys first), not in the order written.
 */
export const jsonb = (value: unknown): string => JSON.stringify(value, refuseLoneSurrogates);
export const jsonbOrNull = (value: unknown): string | null => (value === null || value === undefined ? null : jsonb(value));

/** Half of a UTF-16 surrogate pair standing alone (a pair matches as one code point, not as Cs). */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * JSON.stringify writes a lone surrogate as the escape \ud800, which PostgreSQL's JSON refuses
 * ("invalid input syntax for type json", the same SQLSTATE as any malformed text, so it cannot be
 * told apart after the fact). Only a client's key or string can hold one: refused as its error.
 */
function refuseLoneSurrogates(key: string, value: unknown): unknown {
  if (LONE_SURROGATE.test(key) || (typeof value === 'string' && LONE_SURROGATE.test(value))) {
    throw new FaceproofError('invalid_parameter', 'text holding an unpaired UTF-16 surrogate (such as \\ud800) cannot be stored');
  }
  return value;
}

/** A Buffer for a BYTEA parameter (node-postgres sends a plain Uint8Array as text). */
export const bytea = (bytes: Uint8Array): Buffer => (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
