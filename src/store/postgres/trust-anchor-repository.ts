import type { TrustAnchorRecord, TrustAnchorRepository } from '../../core/ports.ts';
import type { PostgresDatabase } from './database.ts';
import { bytea, run } from './statements.ts';

interface Row {
  id: string; kind: TrustAnchorRecord['kind']; subject: string; issuer: string; serial: string; country: string | null;
  not_before: string; not_after: string; subject_key_id: string | null; authority_key_id: string | null; name_key: string;
  sha256: string; source: string; added_at: string; der: Buffer;
}

/**
 * Text read from certificates, as PostgreSQL can keep it. A name's comparison key joins its
 * attributes with NUL characters (x509.ts nameKey), and a certificate's own text may hold one too;
 * PostgreSQL's text holds no NUL, so these columns keep NUL as `\0` and a backslash as `\\`, undone
 * on reading. No statement compares these columns, so the escaped form is never matched against.
 */
const escapeText = (s: string): string => s.replace(/\\/g, '\\\\').replace(/\u0000/g, '\\0');
const unescapeText = (s: string): string => s.replace(/\\(\\|0)/g, (_, c: string) => (c === '0' ? '\u0000' : '\\'));
const escapeOrNull = (s: string | null): string | null => (s === null ? null : escapeText(s));

const toRecord = (r: Row): TrustAnchorRecord => ({
  id: r.id, kind: r.kind, subject: unescapeText(r.subject), issuer: unescapeText(r.issuer), serial: r.serial, country: r.country === null ? null : unescapeText(r.country),
  notBefore: r.not_before, notAfter: r.not_after, subjectKeyId: r.subject_key_id, authorityKeyId: r.authority_key_id, nameKey: unescapeText(r.name_key),
  sha256: r.sha256, source: unescapeText(r.source), addedAt: r.added_at, der: new Uint8Array(r.der),
});

const SQL = {
  // Without a conflict target, as SQLite's INSERT OR IGNORE: a known id or a known fingerprint adds nothing.
  insert: `INSERT INTO trust_anchors
    (id, kind, subject, issuer, serial, country, not_before, not_after, subject_key_id, authority_key_id, name_key, sha256, source, added_at, der)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT DO NOTHING`,
  list: 'SELECT * FROM trust_anchors ORDER BY seq',
  get: 'SELECT * FROM trust_anchors WHERE id = $1',
  remove: 'DELETE FROM trust_anchors WHERE id = $1',
  // seq only grows (a sequence): count and largest seq together change on every insert and delete.
  revision: "SELECT count(*) || ':' || coalesce(max(seq), 0) AS revision FROM trust_anchors",
};

/** Trust anchors in PostgreSQL (table trust_anchors): operator-wide, no tenant, shared by every node. */
export class PgTrustAnchorRepository implements TrustAnchorRepository {
  constructor(private readonly db: PostgresDatabase) {}

  async insert(records: TrustAnchorRecord[]): Promise<Set<string>> {
    return this.db.transaction(async (tx) => {
      const added = new Set<string>();
      for (const r of records) {
        const result = await run(tx, 'fp-trust-anchors-insert', SQL.insert, [r.id, r.kind, escapeText(r.subject), escapeText(r.issuer), r.serial,
          escapeOrNull(r.country), r.notBefore, r.notAfter, r.subjectKeyId, r.authorityKeyId, escapeText(r.nameKey), r.sha256, escapeText(r.source), r.addedAt, bytea(r.der)]);
        if ((result.rowCount ?? 0) > 0) added.add(r.sha256);
      }
      return added;
    });
  }

  async list(): Promise<TrustAnchorRecord[]> {
    return (await run<Row>(this.db, 'fp-trust-anchors-list', SQL.list)).rows.map(toRecord);
  }

  async get(id: string): Promise<TrustAnchorRecord | undefined> {
    const row = (await run<Row>(this.db, 'fp-trust-anchors-get', SQL.get, [id])).rows[0];
    return row ? toRecord(row) : undefined;
  }

  async remove(id: string): Promise<boolean> {
    return ((await run(this.db, 'fp-trust-anchors-remove', SQL.remove, [id])).rowCount ?? 0) > 0;
  }

  async revision(): Promise<string> {
    return (await run<{ revision: string }>(this.db, 'fp-trust-anchors-revision', SQL.revision)).rows[0]!.revision;
  }
}
