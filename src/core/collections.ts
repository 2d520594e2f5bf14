import { randomUUID } from 'node:crypto';
import { FaceproofError } from './errors.ts';
import type { FaceInput, FaceService } from './face-service.ts';
import { Calibrator } from './calibration.ts';
import { cosineSimilarity } from './template.ts';
import { searchThreshold, type SearchThreshold, type ThresholdRequest } from './identification.ts';
import { assertSameModel, boxOf, storedImageIdOf } from './face-records.ts';
import type {
  CollectionFace, CollectionKind, CollectionRecord, CollectionRepository, FaceBox, FaceQuery, FaceSelector, InquiryWindow, VectorIndexProvider,
} from './ports.ts';

export interface CollectionSummary extends CollectionRecord {
  faceCount: number;
}

export interface IndexOptions {
  externalId?: string;
  metadata?: Record<string, unknown>;
  /** Index every face of the image (default: the largest only). */
  allFaces: boolean;
  autoRotate: boolean;
  /** Refuse faces that are not good under this quality profile. */
  qualityProfile?: string;
  /** The API client indexing the face, kept with it (watch-list alerts count the clients with a suspect face). */
  indexedBy?: string;
}

export interface SearchOptions extends ThresholdRequest {
  /** Results per query face; the configured default when absent. */
  maxResults?: number;
  /** Search with every face of the query image (default) or only the largest. */
  allFaces: boolean;
  autoRotate: boolean;
  /** Who asks; recorded against the hits of a watch-list. */
  clientId: string;
}

export interface SearchHit {
  collection: string;
  face: CollectionFace;
  similarity: number;
  score: number;
  far: number;
  /** Watch-lists only: earlier inquiries that matched this face, per window of days. */
  history?: InquiryWindow[];
}

export interface SearchResult {
  threshold: SearchThreshold;
  /** One entry per face of the query (largest first): its box (absent for a template) and its hits, best first. */
  queries: Array<{ box?: FaceBox; hits: SearchHit[] }>;
}

export interface CollectionSettings {
  /** Target false-positive identification rate of the default threshold. */
  fpir: number;
  /** Candidates taken from the vector index and re-ranked exactly; at least max_results. */
  candidates: number;
  maxResults: number;
}

/** Days over which a watch-list hit reports its history (TrustVision's alert windows). */
export const HISTORY_WINDOWS = [1, 7, 30, 180];

/** 1:N: galleries and watch-lists of faces, indexed for search at million scale. */
export class CollectionService {
  constructor(
    private readonly repository: CollectionRepository,
    private readonly indexes: VectorIndexProvider,
    private readonly faces: FaceService,
    private readonly calibrator: Calibrator,
    private readonly settings: CollectionSettings,
    private readonly now: () => Date = () => new Date(),
  ) {}

  create(tenantId: string, spec: { name: string; kind: CollectionKind; description?: string; metadata?: Record<string, unknown> }): CollectionSummary {
    const record = this.repository.create({
      tenantId, name: spec.name, kind: spec.kind, description: spec.description ?? null, metadata: spec.metadata ?? {},
      model: this.faces.templateModel, createdAt: this.now().toISOString(),
    });
    return { ...record, faceCount: 0 };
  }

  /** Faces per collection of every tenant (for metrics). */
  sizes(): Array<{ tenantId: string; name: string; faces: number }> {
    return this.repository.sizes();
  }

  /**
   * Opens every collection's index, so that no search waits for one to load (a million faces take
   * seconds to read back into memory); returns how many faces they hold.
   */
  openIndexes(): number {
    return this.repository.sizes().reduce((n, { tenantId, name }) => n + this.indexes.open(this.get(tenantId, name)).size, 0);
  }

  list(tenantId: string): CollectionSummary[] {
    return this.repository.list(tenantId).map((c) => ({ ...c, faceCount: this.repository.count(c.id) }));
  }

  describe(tenantId: string, name: string): CollectionSummary {
    const c = this.get(tenantId, name);
    return { ...c, faceCount: this.repository.count(c.id) };
  }

  /**
   * Erases the collection: its faces, their templates and history, and its index files. The files
   * go first: a crash in between leaves a collection whose index is rebuilt from its rows, rather
   * than index files (the faces' projections) that no collection will ever open or erase.
   */
  delete(tenantId: string, name: string): void {
    const c = this.get(tenantId, name);
    this.indexes.drop(c.id);
    this.repository.delete(tenantId, c.id);
  }

  async index(tenantId: string, name: string, input: FaceInput, options: IndexOptions): Promise<CollectionFace[]> {
    const collection = this.get(tenantId, name);
    assertSameModel(collection.model, this.faces.templateModel, 'collection');
    const found = await this.faces.facesOf(input, { tenantId, field: 'image', allFaces: options.allFaces, autoRotate: options.autoRotate, qualityProfile: options.qualityProfile });
    // Deleted (or deleted and made again) while the engine ran: checked in the same turn as the
    // insert, and before the index is opened, which would otherwise recreate its files.
    if (this.get(tenantId, name).id !== collection.id) throw new FaceproofError('not_found', `no collection "${name}"`, 'collection');
    // Opened (and caught up with the database) before the insert, so the new rows are added once.
    const index = this.indexes.open(collection);
    const createdAt = this.now().toISOString();
    const imageId = storedImageIdOf(input);
    const added = this.repository.addFaces(tenantId, collection.id, found.map((f) => ({
      id: `face_${randomUUID().replace(/-/g, '')}`,
      externalId: options.externalId ?? null,
      metadata: options.metadata ?? {},
      imageId,
      box: boxOf(f.face),
      vector: f.vector,
      createdAt,
      indexedBy: options.indexedBy ?? null,
    })));
    // The rows are committed; the index follows at once (and is replayed from them after a crash).
    index.add(added.map((f) => f.key), found.map((f) => f.vector));
    return added;
  }

  /** Indexes ready-made templates in one transaction (bulk loading). */
  indexTemplates(tenantId: string, name: string, items: Array<{ template: string; externalId?: string; metadata?: Record<string, unknown> }>): CollectionFace[] {
    const collection = this.get(tenantId, name);
    assertSameModel(collection.model, this.faces.templateModel, 'collection');
    const createdAt = this.now().toISOString();
    const vectors = items.map((item, i) => this.faces.parseTemplate(item.template, `faces[${i}].template`).vector);
    const index = this.indexes.open(collection);
    const added = this.repository.addFaces(tenantId, collection.id, items.map((item, i) => ({
      id: `face_${randomUUID().replace(/-/g, '')}`, externalId: item.externalId ?? null, metadata: item.metadata ?? {},
      imageId: null, box: null, vector: vectors[i], createdAt,
    })));
    index.add(added.map((f) => f.key), vectors);
    return added;
  }

  async search(tenantId: string, names: string[], input: FaceInput, options: SearchOptions): Promise<SearchResult> {
    const collections = [...new Set(names)].map((n) => this.get(tenantId, n));
    for (const c of collections) assertSameModel(c.model, this.faces.templateModel, 'collection');
    const probes = await this.faces.facesOf(input, { tenantId, field: 'image', allFaces: options.allFaces, autoRotate: options.autoRotate });
    const indexes = collections.map((c) => this.indexes.open(c));
    const galleryFaces = indexes.reduce((n, i) => n + i.size, 0);
    const threshold = searchThreshold(this.calibrator, galleryFaces, options, this.settings.fpir);
    const maxResults = options.maxResults ?? this.settings.maxResults;
    const queries = probes.map((probe) => {
      const ranked = collections.flatMap((collection, i) =>
        indexes[i].search(probe.vector, maxResults, this.settings.candidates).map((m) => ({ collection, key: m.key, similarity: m.similarity })));
      const top = ranked.sort((a, b) => b.similarity - a.similarity).slice(0, maxResults);
      // The results are scored on the exact stored templates; the index ranked on copies it may keep rounded.
      const best: typeof top = [];
      for (const [c, keys] of keysByCollection(top)) {
        for (const { key, vector } of this.repository.vectorsOf(c.id, keys)) {
          const similarity = cosineSimilarity(probe.vector, vector);
          if (similarity >= threshold.similarity) best.push({ collection: c, key, similarity });
        }
      }
      best.sort((a, b) => b.similarity - a.similarity);
      const faces = new Map<number, CollectionFace>(); // face keys are unique across collections
      for (const [c, keys] of keysByCollection(best)) {
        for (const face of this.repository.facesByKeys(c.id, keys)) faces.set(face.key, face);
      }
      const hits = best.map((s): SearchHit => {
        const far = this.calibrator.far(s.similarity);
        return { collection: s.collection.name, face: faces.get(s.key)!, similarity: s.similarity, far: Number(far.toPrecision(3)), score: Calibrator.score(far) };
      });
      return { box: boxOf(probe.face) ?? undefined, hits };
    });
    this.attachWatchlistHistory(tenantId, collections, queries.flatMap((q) => q.hits), options.clientId);
    return { threshold, queries };
  }

  /** Reports each watch-list hit's earlier inquiries, then records this inquiry against it. */
  private attachWatchlistHistory(tenantId: string, collections: CollectionRecord[], hits: SearchHit[], clientId: string): void {
    const watchlists = new Set(collections.filter((c) => c.kind === 'watchlist').map((c) => c.name));
    const watched = hits.filter((h) => watchlists.has(h.collection));
    if (watched.length === 0) return;
    const now = this.now();
    const history = this.repository.inquiryHistory(watched.map((h) => h.face.key), now, HISTORY_WINDOWS);
    for (const hit of watched) hit.history = history.get(hit.face.key);
    this.repository.recordInquiries(tenantId, clientId, [...new Set(watched.map((h) => h.face.key))], now.toISOString());
  }

  getFace(tenantId: string, name: string, faceId: string): CollectionFace {
    const c = this.get(tenantId, name);
    const face = this.repository.getFace(c.id, faceId);
    if (!face) throw new FaceproofError('not_found', `no face ${faceId} in collection "${name}"`, 'face_id');
    return face;
  }

  findFaces(tenantId: string, name: string, query: FaceQuery): CollectionFace[] {
    return this.repository.findFaces(this.get(tenantId, name).id, query);
  }

  /** Deletes faces (their rows and templates first, then their index entries); returns how many. */
  deleteFaces(tenantId: string, name: string, selector: FaceSelector): number {
    const c = this.get(tenantId, name);
    const keys = this.repository.removeFaces(c.id, selector);
    this.indexes.open(c).remove(keys);
    return keys.length;
  }

  /** Right to erasure: removes every face the tenant indexed from a stored image. */
  eraseImage(tenantId: string, imageId: string): number {
    const byCollection = new Map<number, string[]>();
    for (const { collectionId, faceId } of this.repository.facesFromImage(tenantId, imageId)) {
      byCollection.set(collectionId, [...(byCollection.get(collectionId) ?? []), faceId]);
    }
    let removed = 0;
    const collections = new Map(this.repository.list(tenantId).map((c) => [c.id, c]));
    for (const [id, faceIds] of byCollection) {
      const collection = collections.get(id)!;
      const keys = this.repository.removeFaces(id, { faceIds });
      this.indexes.open(collection).remove(keys);
      removed += keys.length;
    }
    return removed;
  }

  private get(tenantId: string, name: string): CollectionRecord {
    const c = this.repository.get(tenantId, name);
    if (!c) throw new FaceproofError('not_found', `no collection "${name}"`, 'collection');
    return c;
  }
}

function keysByCollection(items: Array<{ collection: CollectionRecord; key: number }>): Map<CollectionRecord, number[]> {
  const out = new Map<CollectionRecord, number[]>();
  for (const { collection, key } of items) {
    const keys = out.get(collection);
    if (keys) keys.push(key); else out.set(collection, [key]);
  }
  return out;
}
