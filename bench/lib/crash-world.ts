import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { encodeTemplate } from '../../src/core/template.ts';
import type { TemplateCodec } from '../../src/store/sqlite/template-codec.ts';

/**
 * The crash benchmark's picture of what the server holds: every write it sent, the ones the server
 * acknowledged applied at once, the ones in flight at the kill settled against the database after
 * the restart (wholly applied or wholly absent), and everything else compared row by row.
 */

export interface TemplateModel { model_id: string; version: number; dimension: number }

/** Seeded PRNG (mulberry32): the workload's choices and kill times follow --seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const print = (v: Float32Array) => `${v[0]},${v[1]},${v[2]},${v[3]}`;

/**
 * Random unit templates of the server's model, template n regenerated from (seed, n) alone, and
 * recognised again when read back from the database (so a row tells which write it came from).
 */
export class Templates {
  private readonly byPrint = new Map<string, number>();
  private issued = 0;

  constructor(private readonly seed: number, readonly model: TemplateModel) {}

  vector(n: number): Float32Array {
    let s = (Math.imul(n + 1, 0x9e3779b1) ^ Math.imul(this.seed + 7, 0x85ebca6b)) >>> 0 || 1;
    const rand = () => { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; return ((s >>> 0) / 2 ** 32) - 0.5; };
    for (let i = 0; i < 8; i++) rand();
    const v = new Float32Array(this.model.dimension);
    let norm = 0;
    for (let i = 0; i < v.length; i++) { v[i] = rand(); norm += v[i] * v[i]; }
    for (let i = 0; i < v.length; i++) v[i] /= Math.sqrt(norm);
    return v;
  }

  encoded(n: number): string {
    return encodeTemplate({ modelId: this.model.model_id, version: this.model.version, vector: this.vector(n) });
  }

  /** A template never sent before: its number and its encoding. */
  fresh(): { tpl: number; template: string } {
    const tpl = this.issued++;
    this.byPrint.set(print(this.vector(tpl)), tpl);
    return { tpl, template: this.encoded(tpl) };
  }

  /** Which template a stored vector is (all of it, not only its first values), or -1. */
  identify(v: Float32Array): number {
    const tpl = this.byPrint.get(print(v));
    if (tpl === undefined) return -1;
    const expected = this.vector(tpl);
    return expected.length === v.length && expected.every((x, i) => x === v[i]) ? tpl : -1;
  }
}

/** Small JPEG, PNG and WebP images of noise (stored images need not hold a face). */
export async function imagePool(rand: () => number, count = 16): Promise<Array<{ bytes: Buffer; sha256: string }>> {
  const out: Array<{ bytes: Buffer; sha256: string }> = [];
  for (let i = 0; i < count; i++) {
    const width = 40 + Math.floor(rand() * 120);
    const height = 40 + Math.floor(rand() * 120);
    const raw = Buffer.alloc(width * height * 3);
    for (let p = 0; p < raw.length; p++) raw[p] = Math.floor(rand() * 256);
    const img = sharp(raw, { raw: { width, height, channels: 3 } });
    const bytes = await (i % 4 === 0 ? img.png() : i % 4 === 1 ? img.webp({ quality: 80 }) : img.jpeg({ quality: 85 })).toBuffer();
    out.push({ bytes, sha256: createHash('sha256').update(bytes).digest('hex') });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The model of what the server should hold.

export interface ImageM { id: string; label: string; sha256: string; metadata: string; busy: boolean }
export interface FaceM { id: string; externalId: string; tpl: number; key: number; busy: boolean }
export interface CollectionM { name: string; faces: Map<string, FaceM>; users: number; exclusive: boolean }
export interface KeptM { id: string; tpl: number; imageType: string }
export interface UserM { userId: string; status: 'active' | 'inactive'; faces: Map<string, KeptM>; events: number; busy: boolean }
export interface SessionM { id: string; faces: Map<string, KeptM>; busy: boolean }

export class World {
  images = new Map<string, ImageM>();
  collections = new Map<string, CollectionM>();
  users = new Map<string, UserM>();
  sessions = new Map<string, SessionM>();
}

// ---------------------------------------------------------------------------------------------
// What the database holds, read after a restart.

export interface DbFace { key: number; externalId: string | null; tpl: number }
export interface DbKept { tpl: number; imageType: string }
export interface DbState {
  images: Map<string, { label: string | null; sha256: string; metadata: string; blob: 'ok' | 'missing' | 'mismatch' }>;
  /** Image blob files without a row, and which of them are marked pending (the sweeper erases those). */
  orphanBlobs: string[];
  markedBlobs: Set<string>;
  /** Files of interrupted blob writes. */
  partialBlobs: number;
  collections: Map<string, { id: number; faces: Map<string, DbFace> }>;
  /** Users from any of users, user_faces and user_events (so rows left behind show up); status null when no users row. */
  users: Map<string, { status: string | null; faces: Map<string, DbKept>; events: number }>;
  sessions: Map<string, { op: string | null; exists: boolean; faces: Map<string, DbKept> }>;
  /** Audit records written since the last read: client_request_id → statuses. */
  audit: Map<string | null, number[]>;
  auditRecords: number;
  /** Index files (snapshots, interrupted writes) of collections that no longer exist. */
  orphanIndexFiles: string[];
}

/**
 * Reads the data folder as the restarted server sees it: a read-only connection (the server may be
 * running; WAL gives a consistent snapshot), templates decoded and recognised, blobs hashed. Rows
 * and blobs never change once written, so templates are decoded and blobs hashed the first time
 * only (a blob's presence is checked every time).
 */
export class DbReader {
  private auditSeq = 0;
  private readonly faceTpl = new Map<string, number>();
  private readonly blobOk = new Set<string>();

  constructor(private readonly dataDir: string, private readonly codec: TemplateCodec, private readonly templates: Templates) {}

  private tplOf(id: string, blob: Buffer): number {
    let tpl = this.faceTpl.get(id);
    if (tpl === undefined) {
      try {
        tpl = this.templates.identify(this.codec.decode(blob, id));
      } catch {
        tpl = -2; // unreadable
      }
      this.faceTpl.set(id, tpl);
    }
    return tpl;
  }

  read(): DbState {
    const db = new Database(path.join(this.dataDir, 'faceproof.db'), { readonly: true, fileMustExist: true });
    try {
      return db.transaction(() => this.readIn(db))();
    } finally {
      db.close();
    }
  }

  private readIn(db: Database.Database): DbState {
    const state: DbState = {
      images: new Map(), orphanBlobs: [], markedBlobs: new Set(), partialBlobs: 0, collections: new Map(), users: new Map(), sessions: new Map(),
      audit: new Map(), auditRecords: 0, orphanIndexFiles: [],
    };
    const blobDir = path.join(this.dataDir, 'blobs', 'default', 'images');
    for (const r of db.prepare("SELECT id, label, metadata, sha256 FROM images WHERE tenant_id = 'default'").all() as Array<{ id: string; label: string | null; metadata: string; sha256: string }>) {
      let blob: 'ok' | 'missing' | 'mismatch' = 'ok';
      const file = path.join(blobDir, r.id);
      if (!fs.existsSync(file)) blob = 'missing';
      else if (!this.blobOk.has(r.id)) {
        if (createHash('sha256').update(fs.readFileSync(file)).digest('hex') !== r.sha256) blob = 'mismatch';
        else this.blobOk.add(r.id);
      }
      state.images.set(r.id, { label: r.label, sha256: r.sha256, metadata: r.metadata, blob });
    }
    const marked = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'pending_blobs'").get()
      ? new Set(db.prepare('SELECT key FROM pending_blobs').pluck().all() as string[]) : new Set<string>();
    if (fs.existsSync(blobDir)) {
      for (const f of fs.readdirSync(blobDir)) {
        if (f.endsWith('.tmp')) state.partialBlobs++; // written beside the blob before blob writes had their own folder
        else if (!state.images.has(f)) {
          state.orphanBlobs.push(f);
          if (marked.has(`default/images/${f}`)) state.markedBlobs.add(f);
        }
      }
    }
    const partialDir = path.join(this.dataDir, 'blobs', '.partial');
    if (fs.existsSync(partialDir)) state.partialBlobs += fs.readdirSync(partialDir).length;
    for (const id of this.blobOk) if (!state.images.has(id)) this.blobOk.delete(id);

    const byId = new Map<number, string>();
    for (const c of db.prepare("SELECT id, name FROM collections WHERE tenant_id = 'default'").all() as Array<{ id: number; name: string }>) {
      byId.set(c.id, c.name);
      state.collections.set(c.name, { id: c.id, faces: new Map() });
    }
    for (const f of db.prepare('SELECT key, id, collection_id, external_id, template FROM faces').iterate() as Iterable<{ key: number; id: string; collection_id: number; external_id: string | null; template: Buffer }>) {
      const name = byId.get(f.collection_id) ?? `#${f.collection_id}`;
      if (!state.collections.has(name)) state.collections.set(name, { id: f.collection_id, faces: new Map() });
      state.collections.get(name)!.faces.set(f.id, { key: f.key, externalId: f.external_id, tpl: this.tplOf(f.id, f.template) });
    }
    const indexDir = path.join(this.dataDir, 'indexes');
    if (fs.existsSync(indexDir)) {
      for (const f of fs.readdirSync(indexDir)) {
        const m = /^c(\d+)\./.exec(f);
        if (!m || !byId.has(Number(m[1]))) state.orphanIndexFiles.push(f);
      }
    }

    const user = (id: string) => {
      let u = state.users.get(id);
      if (!u) state.users.set(id, u = { status: null, faces: new Map(), events: 0 });
      return u;
    };
    for (const u of db.prepare("SELECT user_id, status FROM users WHERE tenant_id = 'default'").all() as Array<{ user_id: string; status: string }>) user(u.user_id).status = u.status;
    for (const f of db.prepare("SELECT id, user_id, image_type, template FROM user_faces WHERE tenant_id = 'default'").iterate() as Iterable<{ id: string; user_id: string; image_type: string; template: Buffer }>) {
      user(f.user_id).faces.set(f.id, { tpl: this.tplOf(f.id, f.template), imageType: f.image_type });
    }
    for (const e of db.prepare("SELECT user_id, COUNT(*) AS n FROM user_events WHERE tenant_id = 'default' GROUP BY user_id").all() as Array<{ user_id: string; n: number }>) user(e.user_id).events = e.n;

    const session = (id: string) => {
      let s = state.sessions.get(id);
      if (!s) state.sessions.set(id, s = { op: null, exists: false, faces: new Map() });
      return s;
    };
    for (const s of db.prepare("SELECT id, metadata FROM sessions WHERE tenant_id = 'default'").all() as Array<{ id: string; metadata: string }>) {
      const entry = session(s.id);
      entry.exists = true;
      entry.op = (JSON.parse(s.metadata) as { op?: string }).op ?? null;
    }
    for (const f of db.prepare("SELECT session_id, id, image_type, template FROM session_faces WHERE tenant_id = 'default'").iterate() as Iterable<{ session_id: string; id: string; image_type: string; template: Buffer }>) {
      session(f.session_id).faces.set(f.id, { tpl: this.tplOf(f.id, f.template), imageType: f.image_type });
    }

    for (const a of db.prepare('SELECT seq, client_request_id, status FROM audit_records WHERE seq > ? ORDER BY seq').iterate(this.auditSeq) as Iterable<{ seq: number; client_request_id: string | null; status: number }>) {
      const list = state.audit.get(a.client_request_id) ?? [];
      list.push(a.status);
      state.audit.set(a.client_request_id, list);
      this.auditSeq = a.seq;
    }
    state.auditRecords = db.prepare('SELECT COUNT(*) FROM audit_records').pluck().get() as number;
    return state;
  }
}

/** The model rebuilt from what the database holds (after its differences were recorded). */
export function worldOf(db: DbState): World {
  const w = new World();
  for (const [id, i] of db.images) w.images.set(id, { id, label: i.label ?? '', sha256: i.sha256, metadata: i.metadata, busy: false });
  for (const [name, c] of db.collections) {
    if (name.startsWith('#')) continue;
    const faces = new Map<string, FaceM>();
    for (const [id, f] of c.faces) faces.set(id, { id, externalId: f.externalId ?? '', tpl: f.tpl, key: f.key, busy: false });
    w.collections.set(name, { name, faces, users: 0, exclusive: false });
  }
  for (const [userId, u] of db.users) {
    if (u.status === null) continue;
    w.users.set(userId, {
      userId, status: u.status as 'active' | 'inactive', events: u.events, busy: false,
      faces: new Map([...u.faces].map(([id, f]) => [id, { id, ...f }])),
    });
  }
  for (const [id, s] of db.sessions) {
    if (!s.exists) continue;
    w.sessions.set(id, { id, busy: false, faces: new Map([...s.faces].map(([fid, f]) => [fid, { id: fid, ...f }])) });
  }
  return w;
}

/** Same faces (ids, templates, image types)? */
export function sameKept(a: Map<string, KeptM | DbKept>, b: Map<string, DbKept>): boolean {
  if (a.size !== b.size) return false;
  for (const [id, f] of a) {
    const g = b.get(id);
    if (!g || g.tpl !== f.tpl || g.imageType !== f.imageType) return false;
  }
  return true;
}
