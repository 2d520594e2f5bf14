import type { Db } from './database.ts';
import type { TrustAnchorRecord, TrustAnchorRepository } from '../../core/ports.ts';

interface Row {
  id: string; kind: TrustAnchorRecord['kind']; subject: string; issuer: string; serial: string; country: string | null;
  not_before: string; not_after: string; subject_key_id: string | null; authority_key_id: string | null; name_key: string;
  sha256: string; source: string; added_at: string; der: Buffer;
}

const toRecord = (r: Row): TrustAnchorRecord => ({
  id: r.id, kind: r.kind, subject: r.subject, issuer: r.issuer, serial: r.serial, country: r.country, notBefore: r.not_before, notAfter: r.not_after,
  subjectKeyId: r.subject_key_id, authorityKeyId: r.authority_key_id, nameKey: r.name_key, sha256: r.sha256, source: r.source, addedAt: r.added_at,
  der: new Uint8Array(r.der),
});

/** Trust anchors in SQLite (table trust_anchors): operator-wide, no tenant. */
export class SqliteTrustAnchorRepository implements TrustAnchorRepository {
  private readonly s;
  private readonly insertAll: (records: TrustAnchorRecord[]) => Set<string>;

  constructor(db: Db) {
    this.s = {
      insert: db.prepare(`INSERT OR IGNORE INTO trust_anchors
        (id, kind, subject, issuer, serial, country, not_before, not_after, subject_key_id, authority_key_id, name_key, sha256, source, added_at, der)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      list: db.prepare('SELECT * FROM trust_anchors ORDER BY seq'),
      get: db.prepare('SELECT * FROM trust_anchors WHERE id = ?'),
      remove: db.prepare('DELETE FROM trust_anchors WHERE id = ?'),
      // seq only grows (AUTOINCREMENT): count and largest seq together change on every insert and delete.
      revision: db.prepare("SELECT count(*) || ':' || coalesce(max(seq), 0) FROM trust_anchors").pluck(),
    };
    this.insertAll = db.transaction((records: TrustAnchorRecord[]) => {
      const added = new Set<string>();
      for (const r of records) {
        const result = this.s.insert.run(r.id, r.kind, r.subject, r.issuer, r.serial, r.country, r.notBefore, r.notAfter, r.subjectKeyId, r.authorityKeyId, r.nameKey, r.sha256, r.source, r.addedAt, Buffer.from(r.der));
        if (result.changes > 0) added.add(r.sha256);
      }
      return added;
    });
  }

  async insert(records: TrustAnchorRecord[]): Promise<Set<string>> {
    return this.insertAll(records);
  }

  async list(): Promise<TrustAnchorRecord[]> {
    return (this.s.list.all() as Row[]).map(toRecord);
  }

  async get(id: string): Promise<TrustAnchorRecord | undefined> {
    const row = this.s.get.get(id) as Row | undefined;
    return row ? toRecord(row) : undefined;
  }

  async remove(id: string): Promise<boolean> {
    return this.s.remove.run(id).changes > 0;
  }

  async revision(): Promise<string> {
    return this.s.revision.get() as string;
  }
}
