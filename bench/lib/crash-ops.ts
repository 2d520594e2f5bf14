import type { DbState, FaceM, KeptM, SessionM, Templates, UserM, World } from './crash-world.ts';
import { sameKept } from './crash-world.ts';

/**
 * The crash benchmark's writes. Each knows its request, what an acknowledgement changes in the
 * model, and, when it was in flight at the kill, how to tell from the database whether it was
 * applied wholly or not at all. Writes to one user, session or image never overlap (each holds
 * its entity), nor a collection's deletion with anything else on it, so an interrupted write is
 * always the last one on what it touches and has exactly two acceptable outcomes.
 */

/** Applied wholly, absent wholly, or why neither. */
export type Settled = 'applied' | 'absent' | { partial: string };

/** What an interrupted write may have changed, left out of the row-by-row comparison (its settle checks it). */
export interface Scope {
  images?: string[];
  imageLabel?: string;
  collection?: string;
  faceIds?: string[];
  externalIds?: string[];
  user?: string;
  session?: string;
  sessionOp?: string;
}

export interface Op {
  id: string;
  type: string;
  method: 'POST' | 'PATCH' | 'DELETE';
  path: string;
  body?: unknown;
  scope: Scope;
  /** The server answered 2xx: the model follows. A returned string is a disagreement with the request. */
  acked(status: number, body: Record<string, unknown> | undefined): string | undefined;
  /** The server answered something else: nothing changed; release what the write held. */
  refused(): void;
  /** In flight at the kill: which of the two outcomes the database shows. */
  settle(db: DbState): Settled;
  outcome?: 'acked' | 'refused' | 'in_flight';
  status?: number;
  settled?: Settled;
}

export interface Planner {
  world: World;
  rand: () => number;
  templates: Templates;
  images: Array<{ bytes: Buffer; sha256: string }>;
  /** The next write's id (also its X-Request-Id, label or external id). */
  nextId(): string;
}

type Body = Record<string, unknown> | undefined;
const pick = <T>(rand: () => number, items: T[]): T | undefined => items.length ? items[Math.floor(rand() * items.length)] : undefined;
const partial = (why: string): Settled => ({ partial: why });
const IMAGE_TYPES = ['SELFIE', 'ID_DOCUMENT', 'VIDEO_FRAME'];
/** Collections kept between these sizes by creating and deleting them. */
const MIN_COLLECTIONS = 3;
const MAX_COLLECTIONS = 6;
/** Sessions live long enough for the whole run (the sweeper would erase them otherwise). */
const SESSION_TTL = 7 * 24 * 3600;

function kept(faces: Map<string, KeptM>, extra: KeptM[] = [], without?: string): Map<string, KeptM> {
  const out = new Map([...faces].filter(([id]) => id !== without));
  for (const f of extra) out.set(f.id, f);
  return out;
}

/** New kept faces read from the database: those not in `before`, matched to the templates sent (any order). */
function newKept(db: Map<string, { tpl: number; imageType: string }>, before: Map<string, KeptM>, sent: Array<{ tpl: number; imageType: string }>): KeptM[] | undefined {
  const fresh = [...db].filter(([id]) => !before.has(id));
  if (fresh.length !== sent.length) return undefined;
  const want = new Map(sent.map((s) => [s.tpl, s.imageType]));
  if (!fresh.every(([, f]) => want.get(f.tpl) === f.imageType)) return undefined;
  return fresh.map(([id, f]) => ({ id, ...f }));
}

// ---------------------------------------------------------------------------------------------

function storeImage(p: Planner): Op {
  const id = p.nextId();
  const image = pick(p.rand, p.images)!;
  const metadata = { op: id };
  return {
    id, type: 'image.store', method: 'POST', path: '/v1/images',
    body: { image: { base64: image.bytes.toString('base64') }, label: id, metadata },
    scope: { imageLabel: id },
    acked(_s, b) {
      p.world.images.set(String(b!.image_id), { id: String(b!.image_id), label: id, sha256: image.sha256, metadata: JSON.stringify(metadata), busy: false });
      return b!.sha256 === image.sha256 ? undefined : `sha256 ${String(b!.sha256)} for bytes of ${image.sha256}`;
    },
    refused() {},
    settle(db) {
      const rows = [...db.images].filter(([, r]) => r.label === id);
      if (rows.length === 0) return 'absent';
      if (rows.length > 1) return partial(`${rows.length} images labelled ${id}`);
      const [, r] = rows[0];
      if (r.blob !== 'ok') return partial(`image row without its bytes (${r.blob})`);
      return r.sha256 === image.sha256 ? 'applied' : partial('stored bytes differ from those sent');
    },
  };
}

function updateImage(p: Planner): Op | undefined {
  const image = pick(p.rand, [...p.world.images.values()].filter((i) => !i.busy));
  if (!image) return undefined;
  image.busy = true;
  const id = p.nextId();
  const metadata = { op: id, revision: Math.floor(p.rand() * 1e6) };
  const before = image.metadata;
  return {
    id, type: 'image.update', method: 'PATCH', path: `/v1/images/${image.id}`, body: { metadata }, scope: { images: [image.id] },
    acked() { image.metadata = JSON.stringify(metadata); image.busy = false; return undefined; },
    refused() { image.busy = false; },
    settle(db) {
      const r = db.images.get(image.id);
      if (!r) return partial('image gone while its metadata was changed');
      return r.metadata === JSON.stringify(metadata) ? 'applied' : r.metadata === before ? 'absent' : partial(`metadata ${r.metadata}`);
    },
  };
}

function deleteImage(p: Planner): Op | undefined {
  const image = pick(p.rand, [...p.world.images.values()].filter((i) => !i.busy));
  if (!image) return undefined;
  image.busy = true;
  const id = p.nextId();
  return {
    id, type: 'image.delete', method: 'DELETE', path: `/v1/images/${image.id}`, scope: { images: [image.id] },
    acked() { p.world.images.delete(image.id); return undefined; },
    refused() { image.busy = false; },
    settle(db) {
      const r = db.images.get(image.id);
      if (!r) return 'applied'; // bytes left behind are counted as orphan blobs
      return r.blob === 'ok' ? 'absent' : partial(`row kept, bytes ${r.blob}`);
    },
  };
}

function createCollection(p: Planner): Op | undefined {
  if (p.world.collections.size >= MAX_COLLECTIONS) return undefined;
  const id = p.nextId();
  const name = `g${id}`;
  return {
    id, type: 'collection.create', method: 'POST', path: '/v1/collections', body: { name, metadata: { op: id } }, scope: { collection: name },
    acked() { p.world.collections.set(name, { name, faces: new Map(), users: 0, exclusive: false }); return undefined; },
    refused() {},
    settle(db) {
      const c = db.collections.get(name);
      if (!c) return 'absent';
      return c.faces.size === 0 ? 'applied' : partial(`new collection holds ${c.faces.size} faces`);
    },
  };
}

function deleteCollection(p: Planner): Op | undefined {
  if (p.world.collections.size <= MIN_COLLECTIONS) return undefined;
  const c = pick(p.rand, [...p.world.collections.values()].filter((x) => x.users === 0 && !x.exclusive));
  if (!c) return undefined;
  c.exclusive = true;
  const id = p.nextId();
  return {
    id, type: 'collection.delete', method: 'DELETE', path: `/v1/collections/${c.name}`, scope: { collection: c.name },
    acked() { p.world.collections.delete(c.name); return undefined; },
    refused() { c.exclusive = false; },
    settle(db) {
      const d = db.collections.get(c.name);
      if (!d) return 'applied';
      const same = d.faces.size === c.faces.size && [...c.faces.keys()].every((f) => d.faces.has(f));
      return same ? 'absent' : partial(`collection kept with ${d.faces.size} of ${c.faces.size} faces`);
    },
  };
}

function addFaces(p: Planner, batch: boolean): Op | undefined {
  const c = pick(p.rand, [...p.world.collections.values()].filter((x) => !x.exclusive));
  if (!c) return undefined;
  c.users++;
  const id = p.nextId();
  const n = batch ? 1 + Math.floor(p.rand() * 40) : 1;
  const items = Array.from({ length: n }, (_, i) => ({ ...p.templates.fresh(), externalId: `${id}.${i}` }));
  const faces = items.map((f) => ({ template: f.template, external_id: f.externalId, metadata: { op: id } }));
  return {
    id, type: batch ? 'faces.batch' : 'faces.add', method: 'POST',
    path: `/v1/collections/${c.name}/faces${batch ? '/batch' : ''}`,
    body: batch ? { faces } : faces[0],
    scope: { collection: c.name, externalIds: items.map((f) => f.externalId) },
    acked(_s, b) {
      c.users--;
      const got = (b!.faces as Array<{ face_id: string; external_id: string }>);
      got.forEach((f, i) => c.faces.set(f.face_id, { id: f.face_id, externalId: items[i].externalId, tpl: items[i].tpl, key: 0, busy: false }));
      return got.length === n && got.every((f, i) => f.external_id === items[i].externalId) ? undefined : `${got.length} faces acknowledged for ${n} sent`;
    },
    refused() { c.users--; },
    settle(db) {
      const d = db.collections.get(c.name);
      const want = new Map(items.map((f) => [f.externalId, f.tpl]));
      const found = d ? [...d.faces.values()].filter((f) => f.externalId !== null && want.has(f.externalId)) : [];
      if (found.length === 0) return 'absent';
      if (found.length !== n) return partial(`${found.length} of ${n} faces stored`);
      return found.every((f) => f.tpl === want.get(f.externalId!)) ? 'applied' : partial('stored templates differ from those sent');
    },
  };
}

function deleteFaces(p: Planner): Op | undefined {
  const c = pick(p.rand, [...p.world.collections.values()].filter((x) => !x.exclusive && x.faces.size > 0));
  if (!c) return undefined;
  const free = [...c.faces.values()].filter((f) => !f.busy);
  if (free.length === 0) return undefined;
  const how = p.rand();
  const n = how < 0.3 ? 1 : 1 + Math.floor(p.rand() * Math.min(12, free.length));
  const victims: FaceM[] = [];
  for (let i = 0; i < n && free.length; i++) victims.push(free.splice(Math.floor(p.rand() * free.length), 1)[0]);
  // By external id only where the id names that face alone (the workload never reuses one).
  const byExternal = how >= 0.3 && how < 0.5;
  for (const f of victims) f.busy = true;
  c.users++;
  const id = p.nextId();
  const single = how < 0.15;
  const ids = victims.map((f) => f.id);
  return {
    id, type: 'faces.delete', method: single ? 'DELETE' : 'POST',
    path: single ? `/v1/collections/${c.name}/faces/${ids[0]}` : `/v1/collections/${c.name}/faces/delete`,
    body: single ? undefined : byExternal ? { external_ids: victims.map((f) => f.externalId) } : { face_ids: ids },
    scope: { collection: c.name, faceIds: ids },
    acked(_s, b) {
      c.users--;
      for (const f of ids) c.faces.delete(f);
      return single || b!.deleted === ids.length ? undefined : `deleted ${String(b!.deleted)} of ${ids.length}`;
    },
    refused() { c.users--; for (const f of victims) f.busy = false; },
    settle(db) {
      const d = db.collections.get(c.name);
      const left = d ? ids.filter((f) => d.faces.has(f)).length : 0;
      return left === ids.length ? 'absent' : left === 0 ? 'applied' : partial(`${left} of ${ids.length} faces left`);
    },
  };
}

function sendFaces(p: Planner, n: number) {
  const sent = Array.from({ length: n }, () => ({ ...p.templates.fresh(), imageType: pick(p.rand, IMAGE_TYPES)! }));
  return { sent, body: sent.map((s) => ({ template: s.template, image_type: s.imageType })) };
}

function registerUser(p: Planner): Op {
  const id = p.nextId();
  const userId = `u${id}`;
  const { sent, body } = sendFaces(p, 1 + Math.floor(p.rand() * 3));
  return {
    id, type: 'user.register', method: 'POST', path: '/v1/users', body: { user_id: userId, faces: body, metadata: { op: id } }, scope: { user: userId },
    acked(_s, b) {
      const faces = (b!.faces as Array<{ face_id: string }>).map((f, i): KeptM => ({ id: f.face_id, tpl: sent[i].tpl, imageType: sent[i].imageType }));
      p.world.users.set(userId, { userId, status: 'active', faces: new Map(faces.map((f) => [f.id, f])), events: 1, busy: false });
      return faces.length === sent.length ? undefined : `${faces.length} faces acknowledged for ${sent.length}`;
    },
    refused() {},
    settle(db) {
      const u = db.users.get(userId);
      if (!u) return 'absent';
      if (u.status === null) return partial(`no user row, but ${u.faces.size} faces and ${u.events} events`);
      if (!newKept(u.faces, new Map(), sent)) return partial(`user with ${u.faces.size} faces, ${sent.length} sent`);
      return u.events === 1 ? 'applied' : partial(`registered user with ${u.events} history events, not 1`);
    },
  };
}

function busyUser(p: Planner, ok: (u: UserM) => boolean): UserM | undefined {
  const u = pick(p.rand, [...p.world.users.values()].filter((x) => !x.busy && ok(x)));
  if (u) u.busy = true;
  return u;
}

function addUserFaces(p: Planner): Op | undefined {
  const u = busyUser(p, (x) => x.faces.size < 18);
  if (!u) return undefined;
  const id = p.nextId();
  const { sent, body } = sendFaces(p, 1 + Math.floor(p.rand() * 2));
  const before = kept(u.faces);
  return {
    id, type: 'user.add_faces', method: 'POST', path: `/v1/users/${u.userId}/faces`, body: { faces: body }, scope: { user: u.userId },
    acked(_s, b) {
      (b!.faces as Array<{ face_id: string }>).forEach((f, i) => u.faces.set(f.face_id, { id: f.face_id, tpl: sent[i].tpl, imageType: sent[i].imageType }));
      u.events++; u.busy = false;
      return undefined;
    },
    refused() { u.busy = false; },
    settle(db) {
      const d = db.users.get(u.userId);
      if (!d || d.status === null) return partial('user gone while faces were added');
      if (sameKept(before, d.faces)) return d.events === u.events ? 'absent' : partial(`faces unchanged but ${d.events - u.events} new history events`);
      const fresh = newKept(d.faces, before, sent);
      if (!fresh || !sameKept(before, new Map([...d.faces].filter(([f]) => before.has(f))))) return partial(`faces ${d.faces.size}, expected ${before.size} or ${before.size + sent.length}`);
      return d.events === u.events + 1 ? 'applied' : partial(`faces added with ${d.events - u.events} history events, not 1`);
    },
  };
}

function removeUserFace(p: Planner): Op | undefined {
  const u = busyUser(p, (x) => x.faces.size > 1);
  if (!u) return undefined;
  const face = pick(p.rand, [...u.faces.keys()])!;
  const id = p.nextId();
  const before = kept(u.faces);
  return {
    id, type: 'user.remove_face', method: 'DELETE', path: `/v1/users/${u.userId}/faces/${face}`, scope: { user: u.userId },
    acked() { u.faces.delete(face); u.events++; u.busy = false; return undefined; },
    refused() { u.busy = false; },
    settle(db) {
      const d = db.users.get(u.userId);
      if (!d || d.status === null) return partial('user gone while a face was removed');
      if (sameKept(before, d.faces)) return d.events === u.events ? 'absent' : partial('face kept but a removal recorded');
      if (!sameKept(kept(before, [], face), d.faces)) return partial('faces other than the one removed changed');
      return d.events === u.events + 1 ? 'applied' : partial(`face removed with ${d.events - u.events} history events, not 1`);
    },
  };
}

function setUserStatus(p: Planner): Op | undefined {
  const u = busyUser(p, () => true);
  if (!u) return undefined;
  const id = p.nextId();
  const to = u.status === 'active' ? 'inactive' : 'active';
  return {
    id, type: 'user.status', method: 'POST', path: `/v1/users/${u.userId}/${to === 'active' ? 'activate' : 'deactivate'}`, scope: { user: u.userId },
    acked(_s, b) { u.status = to; u.events++; u.busy = false; return b!.status === to ? undefined : `status ${String(b!.status)}`; },
    refused() { u.busy = false; },
    settle(db) {
      const d = db.users.get(u.userId);
      if (!d || d.status === null) return partial('user gone while its status changed');
      if (!sameKept(u.faces, d.faces)) return partial('faces changed with the status');
      if (d.status === u.status) return d.events === u.events ? 'absent' : partial('status unchanged but a change recorded');
      return d.events === u.events + 1 ? 'applied' : partial(`status changed with ${d.events - u.events} history events, not 1`);
    },
  };
}

function deleteUser(p: Planner): Op | undefined {
  const u = busyUser(p, () => true);
  if (!u) return undefined;
  const id = p.nextId();
  return {
    id, type: 'user.delete', method: 'DELETE', path: `/v1/users/${u.userId}`, scope: { user: u.userId },
    acked() { p.world.users.delete(u.userId); return undefined; },
    refused() { u.busy = false; },
    settle(db) {
      const d = db.users.get(u.userId);
      if (!d) return 'applied';
      if (d.status === null) return partial(`user row gone, ${d.faces.size} faces and ${d.events} events left`);
      return sameKept(u.faces, d.faces) && d.events === u.events && d.status === u.status ? 'absent' : partial('user changed but not deleted');
    },
  };
}

function createSession(p: Planner): Op {
  const id = p.nextId();
  return {
    id, type: 'session.create', method: 'POST', path: '/v1/sessions', body: { ttl_seconds: SESSION_TTL, metadata: { op: id } }, scope: { sessionOp: id },
    acked(_s, b) { const sid = String(b!.session_id); p.world.sessions.set(sid, { id: sid, faces: new Map(), busy: false }); return undefined; },
    refused() {},
    settle(db) {
      const found = [...db.sessions.values()].filter((s) => s.op === id);
      if (found.length === 0) return 'absent';
      return found.length === 1 && found[0].faces.size === 0 ? 'applied' : partial(`${found.length} sessions, ${found[0].faces.size} faces`);
    },
  };
}

function busySession(p: Planner, ok: (s: SessionM) => boolean): SessionM | undefined {
  const s = pick(p.rand, [...p.world.sessions.values()].filter((x) => !x.busy && ok(x)));
  if (s) s.busy = true;
  return s;
}

function addSessionFace(p: Planner): Op | undefined {
  const s = busySession(p, (x) => x.faces.size < 90);
  if (!s) return undefined;
  const id = p.nextId();
  const { sent, body } = sendFaces(p, 1);
  const before = kept(s.faces);
  return {
    id, type: 'session.add_face', method: 'POST', path: `/v1/sessions/${s.id}/faces`, body: body[0], scope: { session: s.id },
    acked(_st, b) {
      const [f] = b!.faces as Array<{ face_id: string }>;
      s.faces.set(f.face_id, { id: f.face_id, tpl: sent[0].tpl, imageType: sent[0].imageType });
      s.busy = false;
      return undefined;
    },
    refused() { s.busy = false; },
    settle(db) {
      const d = db.sessions.get(s.id);
      if (!d || !d.exists) return partial('session gone while a face was added');
      if (sameKept(before, d.faces)) return 'absent';
      const fresh = newKept(d.faces, before, sent);
      return fresh && sameKept(before, new Map([...d.faces].filter(([f]) => before.has(f)))) ? 'applied' : partial(`session holds ${d.faces.size} faces, expected ${before.size} or ${before.size + 1}`);
    },
  };
}

function removeSessionFace(p: Planner): Op | undefined {
  const s = busySession(p, (x) => x.faces.size > 0);
  if (!s) return undefined;
  const face = pick(p.rand, [...s.faces.keys()])!;
  const id = p.nextId();
  const before = kept(s.faces);
  return {
    id, type: 'session.remove_face', method: 'DELETE', path: `/v1/sessions/${s.id}/faces/${face}`, scope: { session: s.id },
    acked() { s.faces.delete(face); s.busy = false; return undefined; },
    refused() { s.busy = false; },
    settle(db) {
      const d = db.sessions.get(s.id);
      if (!d || !d.exists) return partial('session gone while a face was removed');
      return sameKept(before, d.faces) ? 'absent' : sameKept(kept(before, [], face), d.faces) ? 'applied' : partial('faces other than the one removed changed');
    },
  };
}

function deleteSession(p: Planner): Op | undefined {
  const s = busySession(p, () => true);
  if (!s) return undefined;
  const id = p.nextId();
  return {
    id, type: 'session.delete', method: 'DELETE', path: `/v1/sessions/${s.id}`, scope: { session: s.id },
    acked() { p.world.sessions.delete(s.id); return undefined; },
    refused() { s.busy = false; },
    settle(db) {
      const d = db.sessions.get(s.id);
      if (!d) return 'applied';
      if (!d.exists) return partial(`session row gone, ${d.faces.size} faces left`);
      return sameKept(s.faces, d.faces) ? 'absent' : partial('session changed but not deleted');
    },
  };
}

/** The mix: relative weights (a write that finds nothing to act on is drawn again). */
const MIX: Array<[number, (p: Planner) => Op | undefined]> = [
  [12, storeImage], [4, updateImage], [5, deleteImage],
  [1, createCollection], [0.6, deleteCollection],
  [16, (p) => addFaces(p, true)], [6, (p) => addFaces(p, false)], [9, deleteFaces],
  [8, registerUser], [4, addUserFaces], [3, removeUserFace], [4, setUserStatus], [3, deleteUser],
  [4, createSession], [8, addSessionFace], [3, removeSessionFace], [2, deleteSession],
];
const TOTAL_WEIGHT = MIX.reduce((a, [w]) => a + w, 0);

/** The next write, drawn from the mix. */
export function planOp(p: Planner): Op {
  for (;;) {
    let r = p.rand() * TOTAL_WEIGHT;
    const entry = MIX.find(([w]) => (r -= w) < 0) ?? MIX[MIX.length - 1];
    const op = entry[1](p);
    if (op) return op;
  }
}

/** Creates a collection outright (the first cycle's setup). */
export function collectionOp(p: Planner): Op {
  return createCollection(p)!;
}
