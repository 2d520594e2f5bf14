import { randomUUID } from 'node:crypto';
import { FaceproofError } from './errors.ts';
import type { FaceInput, FaceService } from './face-service.ts';
import { Calibrator } from './calibration.ts';
import { cosineSimilarity } from './template.ts';
import { searchThreshold, type SearchThreshold, type ThresholdRequest } from './identification.ts';
import { assertSameModel, boxOf, storedImageIdOf } from './face-records.ts';
import type {
  CollectionFace, CollectionKind, CollectionRecord, CollectionRepository, FaceBox, FaceQuery, FaceSelector, InquiryQuery, InquiryWindow, VectorIndexProvider,
  WatchlistInquiry,
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

  async create(tenantId: string, spec: { name: string; kind: CollectionKind; description?: string; metadata?: Record<string, unknown> }): Promise<CollectionSummary> {
    const record = await this.repository.create({
      tenantId, name: spec.name, kind: spec.kind, description: spec.description ?? null, metadata: spec.metadata ?? {},
      model: this.faces.templateModel, createdAt: this.now().toISOString(),
    });
    return { ...record, faceCount: 0 };
  }

  /** Faces per collection of every tenant (for metrics). */
  sizes(): Promise<Array<{ tenantId: string; name: string; faces: number }>> {
    return this.repository.sizes();
  }

  /**
   * Opens every collection's index, so that no search waits for one to load (a million faces take
   * seconds to read back into memory); returns how many faces they hold.
   */
  async openIndexes(): Promise<number> {
    let faces = 0;
    for (const { tenantId, name } of await this.repository.sizes()) faces += (await this.indexes.open(await this.get(tenantId, name))).size;
    return faces;
  }

  async list(tenantId: string): Promise<CollectionSummary[]> {
    const collections = await this.repository.list(tenantId);
    return Promise.all(collections.map(async (c) => ({ ...c, faceCount: await this.repository.count(c.id) })));
  }

  async describe(tenantId: string, name: string): Promise<CollectionSummary> {
    const c = await this.get(tenantId, name);
    return { ...c, faceCount: await this.repository.count(c.id) };
  }

  /**
   * Erases the collection: its faces, their templates and history, and its index files. The files
   * go first: a crash in between leaves a collection whose index is rebuilt from its rows, rather
   * than index files (the faces' projections) that no collection will ever open or erase.
   */
  async delete(tenantId: string, name: string): Promise<void> {
    const c = await this.get(tenantId, name);
    this.indexes.drop(c.id);
    await this.repository.delete(tenantId, c.id);
  }

  async index(tenantId: string, name: string, input: FaceInput, options: IndexOptions): Promise<CollectionFace[]> {
    const collection = await this.get(tenantId, name);
    assertSameModel(collection.model, this.faces.templateModel, 'collection');
    const found = await this.faces.facesOf(input, { tenantId, field: 'image', allFaces: options.allFaces, autoRotate: options.autoRotate, qualityProfile: options.qualityProfile });
    // Deleted (or deleted and made again) while the engine ran: checked before the index is opened,
    // which would otherwise recreate its files; one deleted after this check fails the insert (the
    // repository refuses faces of a collection that is gone).
    if ((await this.get(tenantId, name)).id !== collection.id) throw new FaceproofError('not_found', `no collection "${name}"`, 'collection');
    // Opened (and caught up with the database) before the insert, so the new rows are added once.
    const index = await this.indexes.open(collection);
    const createdAt = this.now().toISOString();
    const imageId = storedImageIdOf(input);
    const added = await this.repository.addFaces(tenantId, collection.id, found.map((f) => ({
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
  async indexTemplates(tenantId: string, name: string, items: Array<{ template: string; externalId?: string; metadata?: Record<string, unknown> }>): Promise<CollectionFace[]> {
    const collection = await this.get(tenantId, name);
    assertSameModel(collection.model, this.faces.templateModel, 'collection');
    const createdAt = this.now().toISOString();
    const vectors = items.map((item, i) => this.faces.parseTemplate(item.template, `faces[${i}].template`).vector);
    const index = await this.indexes.open(collection);
    const added = await this.repository.addFaces(tenantId, collection.id, items.map((item, i) => ({
      id: `face_${randomUUID().replace(/-/g, '')}`, externalId: item.externalId ?? null, metadata: item.metadata ?? {},
      imageId: null, box: null, vector: vectors[i], createdAt,
    })));
    index.add(added.map((f) => f.key), vectors);
    return added;
  }

  async search(tenantId: string, names: string[], input: FaceInput, options: SearchOptions): Promise<SearchResult> {
    const collections = await Promise.all([...new Set(names)].map((n) => this.get(tenantId, n)));
    for (const c of collections) assertSameModel(c.model, this.faces.templateModel, 'collection');
    const probes = await this.faces.facesOf(input, { tenantId, field: 'image', allFaces: options.allFaces, autoRotate: options.autoRotate });
    const indexes = await Promise.all(collections.map((c) => this.indexes.open(c)));
    const galleryFaces = indexes.reduce((n, i) => n + i.size, 0);
    const threshold = searchThreshold(this.calibrator, galleryFaces, options, this.settings.fpir);
    const maxResults = options.maxResults ?? this.settings.maxResults;
    const queries = await Promise.all(probes.map(async (probe) => {
      const ranked = collections.flatMap((collection, i) =>
        indexes[i].search(probe.vector, maxResults, this.settings.candidates).map((m) => ({ collection, key: m.key, similarity: m.similarity })));
      const top = ranked.sort((a, b) => b.similarity - a.similarity).slice(0, maxResults);
      // The results are scored on the exact stored templates; the index ranked on copies it may keep rounded.
      const best: typeof top = [];
      for (const [c, keys] of keysByCollection(top)) {
        for (const { key, vector } of await this.repository.vectorsOf(c.id, keys)) {
          const similarity = cosineSimilarity(probe.vector, vector);
          if (similarity >= threshold.similarity) best.push({ collection: c, key, similarity });
        }
      }
      best.sort((a, b) => b.similarity - a.similarity);
      const faces = new Map<number, CollectionFace>(); // face keys are unique across collections
      for (const [c, keys] of keysByCollection(best)) {
        for (const face of await this.repository.facesByKeys(c.id, keys)) faces.set(face.key, face);
      }
      const hits = best.map((s): SearchHit => {
        const far = this.calibrator.far(s.similarity);
        return { collection: s.collection.name, face: faces.get(s.key)!, similarity: s.similarity, far: Number(far.toPrecision(3)), score: Calibrator.score(far) };
      });
      return { box: boxOf(probe.face) ?? undefined, hits };
    }));
    await this.attachWatchlistHistory(tenantId, collections, queries.flatMap((q) => q.hits), options.clientId);
    return { threshold, queries };
  }

  /** Reports each watch-list hit's earlier inquiries, then records this inquiry against it. */
  private async attachWatchlistHistory(tenantId: string, collections: CollectionRecord[], hits: SearchHit[], clientId: string): Promise<void> {
    const watchlists = new Set(collections.filter((c) => c.kind === 'watchlist').map((c) => c.name));
    const watched = hits.filter((h) => watchlists.has(h.collection));
    if (watched.length === 0) return;
    const now = this.now();
    const history = await this.repository.inquiryHistory(watched.map((h) => h.face.key), now, HISTORY_WINDOWS);
    for (const hit of watched) hit.history = history.get(hit.face.key);
    await this.repository.recordInquiries(tenantId, clientId, [...new Set(watched.map((h) => h.face.key))], now.toISOString());
  }

  /** A watch-list's recorded inquiries, newest first (a gallery records none: searching it is not watched). */
  async inquiries(tenantId: string, name: string, query: InquiryQuery): Promise<{ collection: CollectionRecord; inquiries: WatchlistInquiry[] }> {
    const collection = await this.get(tenantId, name);
    return { collection, inquiries: await this.repository.inquiries(tenantId, collection.id, query) };
  }

  async getFace(tenantId: string, name: string, faceId: string): Promise<CollectionFace> {
    const c = await this.get(tenantId, name);
    const face = await this.repository.getFace(c.id, faceId);
    if (!face) throw new FaceproofError('not_found', `no face ${faceId} in collection "${name}"`, 'face_id');
    return face;
  }

  async findFaces(tenantId: string, name: string, query: FaceQuery): Promise<CollectionFace[]> {
    return this.repository.findFaces((await this.get(tenantId, name)).id, query);
  }

  /** Deletes faces (their rows and templates first, then their index entries); returns how many. */
  async deleteFaces(tenantId: string, name: string, selector: FaceSelector): Promise<number> {
    const c = await this.get(tenantId, name);
    const keys = await this.repository.removeFaces(c.id, selector);
    (await this.indexes.open(c)).remove(keys);
    return keys.length;
  }

  /** Right to erasure: removes every face the tenant indexed from a stored image. */
  async eraseImage(tenantId: string, imageId: string): Promise<number> {
    const byCollection = new Map<number, string[]>();
    for (const { collectionId, faceId } of await this.repository.facesFromImage(tenantId, imageId)) {
      byCollection.set(collectionId, [...(byCollection.get(collectionId) ?? []), faceId]);
    }
    let removed = 0;
    const collections = new Map((await this.repository.list(tenantId)).map((c) => [c.id, c]));
    for (const [id, faceIds] of byCollection) {
      const collection = collections.get(id)!;
      const keys = await this.repository.removeFaces(id, { faceIds });
      (await this.indexes.open(collection)).remove(keys);
      removed += keys.length;
    }
    return removed;
  }

  private async get(tenantId: string, name: string): Promise<CollectionRecord> {
    const c = await this.repository.get(tenantId, name);
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
