import fs from 'node:fs';
import path from 'node:path';
import { Index, MetricKind, ScalarKind } from 'usearch';
import type { CollectionRecord, IndexJournal, VectorIndex, VectorIndexProvider, VectorMatch } from '../../core/ports.ts';
import { HalfPrecisionTemplates } from './half-templates.ts';
import type { VectorProjection } from './projection.ts';

export type Quantization = 'f32' | 'f16' | 'i8';

export interface UsearchOptions {
  /** Folder of the snapshot files. */
  dir: string;
  /** How the graph stores vectors; candidates are re-ranked on the templates kept at half precision in memory. */
  quantization: Quantization;
  /** HNSW graph degree and beam widths (usearch's connectivity, expansion_add, expansion_search). */
  connectivity: number;
  expansionAdd: number;
  expansionSearch: number;
  /** A snapshot is written once this many faces were added or removed since the last one. */
  snapshotEvery: number;
  /** Principal components of the template model: collections of that model index projected vectors. */
  projection?: VectorProjection;
  /** An index not refreshed for this long is counted against the database before use (default 1 h: half the shortest removal-log retention). */
  staleAfterMs?: number;
  log?: (message: string) => void;
}

const SCALAR: Record<Quantization, ScalarKind> = { f32: ScalarKind.F32, f16: ScalarKind.F16, i8: ScalarKind.I8 };
const REPLAY_BATCH = 10_000;
const STALE_AFTER_MS = 3_600_000;

interface Snapshot { file: string; maxKey: number; removalSeq: number }

/**
 * How a collection's vectors are indexed: which projection (if any), hence which dimensions and
 * metric, and what the graph is given for a template. The tag names all that goes into a snapshot.
 */
interface Layout { projection: VectorProjection | null; tag: string; toIndexed: (template: Float32Array) => Float32Array | Int8Array }

/**
 * One usearch HNSW index per collection, with the collection's templates in memory at half precision
 * to re-rank the graph's candidates. The database is the source of truth: a snapshot file is
 * named after what it contains (the highest face key and the last removal it applied), written to a
 * temporary file and renamed into place, so it is always whole. Opening an index loads the newest
 * snapshot, adds the faces inserted after it and applies the removals logged after it: after any
 * crash the index holds exactly the faces the database holds. If the counts still disagree, the
 * index is rebuilt from the database.
 */
export class UsearchIndexProvider implements VectorIndexProvider {
  private readonly open_ = new Map<number, CollectionIndex>();
  /** Indexes being read back from a snapshot and the database: concurrent opens share one load. */
  private readonly loading = new Map<number, Promise<CollectionIndex>>();

  constructor(private readonly journal: IndexJournal, private readonly options: UsearchOptions) {
    fs.mkdirSync(options.dir, { recursive: true });
  }

  async open(collection: CollectionRecord): Promise<VectorIndex> {
    const index = this.open_.get(collection.id);
    if (index && await this.missedRemovals(index)) {
      this.options.log?.(`collection ${collection.id}: index idle longer than the removal log is kept, and its size differs from the database; reloading`);
      this.open_.delete(collection.id);
    } else if (index) {
      if (await this.refresh(index)) this.changed(index);
      return index;
    }
    let loading = this.loading.get(collection.id);
    if (!loading) {
      loading = this.load(collection).then((loaded) => {
        // dropped while it loaded: hand it to this caller, keep nothing
        if (this.loading.get(collection.id) === loading) this.open_.set(collection.id, loaded);
        return loaded;
      }).finally(() => { if (this.loading.get(collection.id) === loading) this.loading.delete(collection.id); });
      this.loading.set(collection.id, loading);
    }
    return loading;
  }

  drop(collectionId: number): void {
    this.open_.delete(collectionId);
    this.loading.delete(collectionId);
    for (const file of this.snapshotFiles(collectionId)) fs.rmSync(path.join(this.options.dir, file), { force: true });
  }

  async close(): Promise<void> {
    for (const index of this.open_.values()) if (index.changes > 0) await this.snapshot(index);
    this.open_.clear();
  }

  /**
   * With several nodes, the removal log is pruned by age (a day on PostgreSQL), not by what this
   * node applied: an index left unrefreshed for longer may have missed removals for good. Such an
   * index is counted against the database, and reloaded when the counts differ.
   */
  private async missedRemovals(index: CollectionIndex): Promise<boolean> {
    if (Date.now() - index.refreshedAt < (this.options.staleAfterMs ?? STALE_AFTER_MS)) return false;
    await this.refresh(index);
    return index.native.size() !== await this.journal.count(index.collectionId);
  }

  /** Writes a snapshot of the index as it is now, then forgets the removals it already contains. */
  async snapshot(index: CollectionIndex): Promise<void> {
    // the name says what the file holds, so first take in what another process changed
    await this.refresh(index);
    const removalSeq = index.removalSeq;
    const name = `c${index.collectionId}.${index.layout.tag}.k${index.maxKey}.r${removalSeq}.usearch`;
    const tmp = path.join(this.options.dir, `${name}.tmp`);
    index.native.save(tmp);
    const fd = fs.openSync(tmp, 'r');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, path.join(this.options.dir, name));
    syncDir(this.options.dir);
    for (const file of this.snapshotFiles(index.collectionId)) if (file !== name) fs.rmSync(path.join(this.options.dir, file), { force: true });
    await this.journal.pruneRemovals(index.collectionId, removalSeq);
    index.changes = 0;
  }

  private snapshotFiles(collectionId: number): string[] {
    const prefix = `c${collectionId}.`;
    return fs.readdirSync(this.options.dir).filter((f) => f.startsWith(prefix));
  }

  private latestSnapshot(collectionId: number, layout: Layout): Snapshot | undefined {
    // A snapshot of another layout (before a recalibration) or an interrupted write is deleted.
    const pattern = new RegExp(`^c${collectionId}\\.${layout.tag}\\.k(\\d+)\\.r(\\d+)\\.usearch$`);
    let best: Snapshot | undefined;
    for (const file of this.snapshotFiles(collectionId)) {
      const m = pattern.exec(file);
      if (!m) { fs.rmSync(path.join(this.options.dir, file), { force: true }); continue; }
      const snap = { file, maxKey: Number(m[1]), removalSeq: Number(m[2]) };
      if (!best || snap.maxKey > best.maxKey || (snap.maxKey === best.maxKey && snap.removalSeq > best.removalSeq)) best = snap;
    }
    return best;
  }

  private layoutOf(collection: CollectionRecord): Layout {
    const p = this.options.projection;
    const { quantization, connectivity } = this.options;
    // "s": built one insert at a time (see addNow). Snapshots written before, by concurrent
    // inserts, may hold unreachable faces: their tag differs, so they are deleted and rebuilt.
    const graph = `${quantization}m${connectivity}s`;
    const fits = p && p.modelId === collection.model.modelId && p.modelVersion === collection.model.version && p.inDim === collection.model.dimension;
    if (!fits) return { projection: null, tag: `full${graph}`, toIndexed: (t) => t };
    return { projection: p, tag: `p${p.id}l2${graph}`, toIndexed: quantization === 'i8' ? (t) => p.toInt8(p.project(t)) : (t) => p.project(t) };
  }

  private createIndex(collection: CollectionRecord, layout: Layout): CollectionIndex {
    const o = this.options;
    // Projections are compared by Euclidean distance, which ranks as the cosine of the unit templates does;
    // an inner product over centred projections ranks the same in theory, but its graph is far harder to search.
    const native = new Index({
      dimensions: layout.projection ? layout.projection.outDim : collection.model.dimension,
      metric: layout.projection ? MetricKind.L2sq : MetricKind.Cos,
      quantization: SCALAR[o.quantization],
      connectivity: o.connectivity, expansion_add: o.expansionAdd, expansion_search: o.expansionSearch, multi: false,
    });
    return new CollectionIndex(collection.id, native, new HalfPrecisionTemplates(collection.model.dimension), layout, this);
  }

  private async load(collection: CollectionRecord): Promise<CollectionIndex> {
    const layout = this.layoutOf(collection);
    const snap = this.latestSnapshot(collection.id, layout);
    let index = this.createIndex(collection, layout);
    if (snap) {
      try {
        index.native.load(path.join(this.options.dir, snap.file));
        index.maxKey = snap.maxKey;
        index.removalSeq = snap.removalSeq;
      } catch (err) {
        this.options.log?.(`collection ${collection.id}: snapshot ${snap.file} unreadable (${(err as Error).message}); rebuilding from the database`);
        index = this.createIndex(collection, layout);
      }
    }
    await this.catchUp(index);
    const stored = await this.journal.count(collection.id);
    if (index.native.size() !== stored) {
      this.options.log?.(`collection ${collection.id}: index holds ${index.native.size()} faces, database ${stored}; rebuilding from the database`);
      index = this.createIndex(collection, layout);
      await this.catchUp(index);
    }
    if (index.changes > 0) await this.snapshot(index);
    return index;
  }

  /**
   * Reads every stored face into the half-precision copy, adds to the graph those stored after its
   * snapshot, and applies the removals logged after it.
   */
  private async catchUp(index: CollectionIndex): Promise<void> {
    await this.addStoredAfter(index, 0);
    index.seenKey = index.maxKey;
    await this.applyRemovals(index);
  }

  /**
   * Takes in the faces another process (the CLI's bulk index, another node) stored or removed since
   * this index last looked: two indexed reads when nothing changed. True when the index changed.
   *
   * One refresh of an index runs at a time; callers arriving meanwhile share the next one. Two at
   * once could bring a deleted face back: one reads the face's vector, the deletion commits, the
   * other applies that removal (nothing to remove yet) and moves the index's removal mark past it,
   * then the first adds the face, and no later refresh removes it. One at a time, a refresh reads
   * the removals after the vectors it added, so a removal that committed in between is applied.
   */
  private refresh(index: CollectionIndex): Promise<boolean> {
    if (index.queuedRefresh) return index.queuedRefresh;
    const start = (): Promise<boolean> => {
      index.queuedRefresh = undefined;
      const running: Promise<boolean> = this.refreshOnce(index).finally(() => {
        if (index.runningRefresh === running) index.runningRefresh = undefined;
      });
      index.runningRefresh = running;
      return running;
    };
    if (!index.runningRefresh) return start();
    // it may have read the database before this caller's change: run once more after it
    index.queuedRefresh = index.runningRefresh.then(start, start);
    return index.queuedRefresh;
  }

  /**
   * Keys are handed out in commit order, so every face this process has not seen has a key above
   * the last one it read.
   */
  private async refreshOnce(index: CollectionIndex): Promise<boolean> {
    let changed = false;
    const seen = index.seenKey;
    const keys = await this.journal.keysAfter(index.collectionId, seen);
    if (keys.length > 0) {
      if (keys.some((k) => !index.holds(k))) {
        await this.addStoredAfter(index, seen);
        changed = true;
      }
      index.seenKey = keys[keys.length - 1];
    }
    if (await this.journal.lastRemovalSeq(index.collectionId) > index.removalSeq) changed = await this.applyRemovals(index) || changed;
    index.refreshedAt = Date.now();
    return changed;
  }

  private async addStoredAfter(index: CollectionIndex, afterKey: number): Promise<void> {
    for (let after = afterKey; ;) {
      const batch = await this.journal.vectorsAfter(index.collectionId, after, REPLAY_BATCH);
      if (batch.length === 0) break;
      index.addNow(batch.map((b) => b.key), batch.map((b) => b.vector));
      after = batch[batch.length - 1].key;
    }
  }

  /** Applies the removals logged after the index's last one (this process's own are applied already: removing them again does nothing). */
  private async applyRemovals(index: CollectionIndex): Promise<boolean> {
    const { keys, lastSeq } = await this.journal.removalsAfter(index.collectionId, index.removalSeq);
    const removed = keys.length ? index.removeNow(keys) : 0;
    index.changes += removed;
    index.removalSeq = Math.max(index.removalSeq, lastSeq);
    return removed > 0;
  }

  /** Called after every change: writes a snapshot once enough changes have gathered, off the request's path. */
  changed(index: CollectionIndex): void {
    if (index.changes < this.options.snapshotEvery || index.snapshotPending) return;
    index.snapshotPending = true;
    setImmediate(() => {
      index.snapshotPending = false;
      if (this.open_.get(index.collectionId) === index) {
        this.snapshot(index).catch((err: Error) => this.options.log?.(`collection ${index.collectionId}: snapshot failed (${err.message}); the next change tries again`));
      }
    });
  }
}

class CollectionIndex implements VectorIndex {
  maxKey = 0;
  /** Every face stored with a key up to this one is in the index (or was removed since). */
  seenKey = 0;
  removalSeq = 0;
  changes = 0;
  snapshotPending = false;
  /** When it last caught up with the database (see missedRemovals). */
  refreshedAt = Date.now();
  /** The refresh in progress, and the one waiting for it (see UsearchIndexProvider.refresh). */
  runningRefresh?: Promise<boolean>;
  queuedRefresh?: Promise<boolean>;

  constructor(
    readonly collectionId: number,
    readonly native: Index,
    private readonly templates: HalfPrecisionTemplates,
    readonly layout: Layout,
    private readonly provider: UsearchIndexProvider,
  ) {}

  get size(): number {
    return this.native.size();
  }

  /**
   * Keeps the templates, and adds to the graph those it does not hold yet (a snapshot, or an index
   * opened after their insert, has them).
   *
   * Always on one thread. usearch's concurrent insertion (2.26, unum-cloud/USearch#735, open) can
   * leave a node stored but unreachable: no other node links to it, so no search ever returns it,
   * whatever its beam. Measured here: 13–18 such faces per 20,000 inserted on 2 threads, none on
   * one (bench/experiments/concurrent-insert.ts). A face the index holds and never finds is a lost
   * enrolment, so a rebuild takes twice as long on two cores instead.
   */
  addNow(keys: number[], vectors: Float32Array[]): void {
    const fresh = keys.flatMap((k, i) => (k <= this.maxKey && this.native.contains(BigInt(k)) ? [] : [i]));
    // The templates last: a key is `held` only once the graph has it, so a failed add is retried by the next refresh.
    const keep = () => keys.forEach((k, i) => this.templates.set(k, vectors[i]));
    if (fresh.length === 0) { keep(); return; }
    const indexed = fresh.map((i) => this.layout.toIndexed(vectors[i]));
    const dim = indexed[0].length;
    const flat = indexed[0] instanceof Int8Array ? new Int8Array(fresh.length * dim) : new Float32Array(fresh.length * dim);
    indexed.forEach((v, j) => flat.set(v, j * dim));
    this.native.add(BigUint64Array.from(fresh, (i) => BigInt(keys[i])), flat, 1);
    keep();
    for (const k of keys) if (k > this.maxKey) this.maxKey = k;
    this.changes += fresh.length;
  }

  add(keys: number[], vectors: Float32Array[]): void {
    this.addNow(keys, vectors);
    this.provider.changed(this);
  }

  /** How many of `keys` the graph held. */
  removeNow(keys: number[]): number {
    const counts = this.native.remove(BigUint64Array.from(keys, BigInt)) as number[];
    for (const k of keys) this.templates.delete(k);
    return counts.reduce((a, b) => a + b, 0);
  }

  holds(key: number): boolean {
    return this.templates.has(key);
  }

  remove(keys: number[]): void {
    if (keys.length === 0) return;
    this.removeNow(keys);
    this.changes += keys.length;
    this.provider.changed(this);
  }

  search(vector: Float32Array, k: number, candidates: number): VectorMatch[] {
    const size = this.native.size();
    if (size === 0) return [];
    const found = this.native.search(this.layout.toIndexed(vector), Math.min(Math.max(k, candidates), size), 1);
    const out: VectorMatch[] = [];
    for (let i = 0; i < found.keys.length; i++) {
      // usearch pads with sentinel keys when fewer than asked are reachable.
      if (!Number.isFinite(found.distances[i])) continue;
      const key = Number(found.keys[i]);
      const similarity = this.templates.dot(vector, key);
      if (!Number.isNaN(similarity)) out.push({ key, similarity });
    }
    return out.sort((a, b) => b.similarity - a.similarity).slice(0, k);
  }
}

function syncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
}
