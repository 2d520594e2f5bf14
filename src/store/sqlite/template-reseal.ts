import type { Db } from './database.ts';
import { isRawTemplateLength, TEMPLATE_PURPOSE, type TemplateKeys } from './template-codec.ts';
import { REQUEST_RESPONSE_PURPOSE } from '../../core/request-records.ts';

/** A BLOB column whose values are sealed by the master keyring under one purpose. */
export interface SealedColumn {
  table: string;
  column: string;
  purpose: string;
  /** Values of such a length are stored unsealed (written before sealing was on); absent: always sealed. */
  isRawLength?: (bytes: number) => boolean;
}

/** Face templates of collections, users and sessions. */
export const TEMPLATE_COLUMNS: readonly SealedColumn[] = ['faces', 'user_faces', 'session_faces']
  .map((table) => ({ table, column: 'template', purpose: TEMPLATE_PURPOSE, isRawLength: isRawTemplateLength }));

/** HMAC secrets of API keys (always sealed). */
export const API_KEY_SECRETS: SealedColumn = { table: 'api_keys', column: 'secret_sealed', purpose: 'api-key-secret' };

/** Kept answers of earlier requests (always sealed; see RequestRecords). */
export const REQUEST_RESPONSES: SealedColumn = { table: 'request_records', column: 'sealed', purpose: REQUEST_RESPONSE_PURPOSE };

/** Every sealed column this database holds (the API-key table exists from its migration on). */
export function sealedColumns(db: Db): SealedColumn[] {
  return [...TEMPLATE_COLUMNS, API_KEY_SECRETS, REQUEST_RESPONSES].filter((c) => hasColumn(db, c.table, c.column));
}

/** The keyring as re-sealing needs it (MasterKeyring). */
export interface ResealKeys extends TemplateKeys {
  readonly activeKeyId: number;
}

export interface ResealCount {
  table: string;
  column: string;
  /** Non-null values looked at. */
  rows: number;
  /** Values already sealed under the active key, left as they were. */
  current: number;
  /** Values sealed under an older key, now sealed under the active one. */
  resealed: number;
  /** Unsealed values now sealed. */
  sealed: number;
  /** Unsealed values left unsealed (sealing of this column is off). */
  leftRaw: number;
  /** Values that no key of the ring opens (altered, corrupt, or sealed under a key the ring lacks): rowids, first 100. */
  unreadable: number[];
}

/**
 * Brings every sealed column under the active key: values sealed under another key of the ring are
 * opened and sealed again, unsealed values are sealed (unless `sealRaw` says otherwise for their
 * column). Walks each table in rowid order, `batch` rows per IMMEDIATE transaction, so a server
 * writing meanwhile never sees half a batch, an interruption loses at most the batch in flight
 * (nothing committed is ever in an intermediate state) and running it again only does what is left.
 * A value no key opens is counted and left untouched, never rewritten.
 */
export function resealColumns(
  db: Db,
  keys: ResealKeys,
  columns: readonly SealedColumn[],
  options: { sealRaw: (column: SealedColumn) => boolean; batch?: number; progress?: (table: string, rows: number) => void },
): ResealCount[] {
  const batchSize = options.batch ?? 1000;
  return columns.map((c) => {
    const count: ResealCount = { table: c.table, column: c.column, rows: 0, current: 0, resealed: 0, sealed: 0, leftRaw: 0, unreadable: [] };
    const sealRaw = options.sealRaw(c);
    const select = db.prepare(`SELECT rowid AS r, "${c.column}" AS v FROM "${c.table}" WHERE rowid > ? AND "${c.column}" IS NOT NULL ORDER BY rowid LIMIT ?`);
    const update = db.prepare(`UPDATE "${c.table}" SET "${c.column}" = ? WHERE rowid = ?`);
    const step = db.transaction((after: number): { last: number; full: boolean } | undefined => {
      const rows = select.all(after, batchSize) as Array<{ r: number; v: Buffer }>;
      for (const { r, v } of rows) {
        count.rows++;
        if (c.isRawLength?.(v.length)) {
          if (!sealRaw) { count.leftRaw++; continue; }
          update.run(keys.seal(v, c.purpose), r);
          count.sealed++;
          continue;
        }
        if (v.length > 5 && keys.keyIdOf(v) === keys.activeKeyId) {
          // Opened too: a value that only claims the active key is reported, not skipped over.
          if (canOpen(keys, v, c.purpose)) count.current++;
          else if (count.unreadable.length < 100) count.unreadable.push(r);
          continue;
        }
        let plain: Buffer;
        try {
          plain = keys.open(v, c.purpose);
        } catch {
          if (count.unreadable.length < 100) count.unreadable.push(r);
          continue;
        }
        update.run(keys.seal(plain, c.purpose), r);
        count.resealed++;
      }
      return rows.length ? { last: rows[rows.length - 1].r, full: rows.length === batchSize } : undefined;
    });
    for (let done = step.immediate(0); done; done = done.full ? step.immediate(done.last) : undefined) {
      options.progress?.(c.table, count.rows);
    }
    return count;
  });
}

export interface SealingStatus {
  table: string;
  column: string;
  rows: number;
  /** Unsealed values. */
  raw: number;
  /** Sealed values by the id of the key that sealed them. */
  sealed: Record<string, number>;
}

/** How many values of each column are unsealed, and under which key the others are sealed (read from their headers; nothing is opened). */
export function sealingStatus(db: Db, columns: readonly SealedColumn[]): SealingStatus[] {
  return columns.map((c) => {
    const status: SealingStatus = { table: c.table, column: c.column, rows: 0, raw: 0, sealed: {} };
    const rows = db.prepare(`SELECT length("${c.column}") AS n, hex(substr("${c.column}", 2, 4)) AS k, count(*) AS count
      FROM "${c.table}" WHERE "${c.column}" IS NOT NULL GROUP BY n, k`).all() as Array<{ n: number; k: string; count: number }>;
    for (const { n, k, count } of rows) {
      status.rows += count;
      if (c.isRawLength?.(n)) status.raw += count;
      else {
        const id = k.length === 8 ? String(Number.parseInt(k, 16)) : 'malformed';
        status.sealed[id] = (status.sealed[id] ?? 0) + count;
      }
    }
    return status;
  });
}

function canOpen(keys: ResealKeys, value: Buffer, purpose: string): boolean {
  try {
    keys.open(value, purpose);
    return true;
  } catch {
    return false;
  }
}

function hasColumn(db: Db, table: string, column: string): boolean {
  return (db.prepare('SELECT name FROM pragma_table_info(?)').pluck().all(table) as string[]).includes(column);
}
