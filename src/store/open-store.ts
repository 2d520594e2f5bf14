import path from 'node:path';
import type { Config } from '../config.ts';
import type { BlobStore, CollectionRepository, FileRepository, ImageRepository, IndexJournal, SessionRepository, TrustAnchorRepository, UserRepository } from '../core/ports.ts';
import type { ClientRepository } from '../core/api-clients.ts';
import type { ReplayGuard } from '../core/authentication.ts';
import type { AuditRepository } from '../core/audit.ts';
import type { TransactionRepository } from '../core/transactions.ts';
import type { UsageRepository } from '../core/usage.ts';
import type { RequestRecordRepository } from '../core/request-records.ts';
import type { ClientSettingsRepository } from '../core/client-settings.ts';
import type { VerifiedChipRepository } from '../core/documents/verified-chips.ts';
import type { TemplateCodec } from './sqlite/template-codec.ts';
import { openDatabase, type Db } from './sqlite/database.ts';
import { FolderBlobStore } from './blob/folder-blob-store.ts';
import { SqliteImageRepository } from './sqlite/image-repository.ts';
import { SqliteFileRepository } from './sqlite/file-repository.ts';
import { SqliteCollectionRepository } from './sqlite/collection-repository.ts';
import { SqliteUserRepository } from './sqlite/user-repository.ts';
import { SqliteSessionRepository } from './sqlite/session-repository.ts';
import { SqliteClientRepository } from './sqlite/client-repository.ts';
import { SqliteReplayGuard } from './sqlite/replay-guard.ts';
import { SqliteAuditRepository } from './sqlite/audit-repository.ts';
import { SqliteTransactionRepository } from './sqlite/transaction-repository.ts';
import { SqliteUsageRepository } from './sqlite/usage-repository.ts';
import { SqliteClientSettingsRepository, SqliteRequestRecordRepository } from './sqlite/request-record-repository.ts';
import { SqliteTrustAnchorRepository } from './sqlite/trust-anchor-repository.ts';
import { SqliteVerifiedChipRepository } from './sqlite/verified-chip-repository.ts';
import type { PostgresDatabase } from './postgres/database.ts';
import type { ResultSigner } from '../core/result-signing.ts';
import type { SecretBox } from '../core/ports.ts';
import type { RateBuckets } from '../core/rate-buckets.ts';
import type { ChallengeStore } from '../core/challenge-store.ts';

/** Every repository the use cases run on, whichever database holds them. */
export interface Repositories {
  images: ImageRepository;
  files: FileRepository;
  collections: CollectionRepository & IndexJournal;
  users: UserRepository;
  sessions: SessionRepository;
  clients: ClientRepository;
  replays: ReplayGuard;
  audit: AuditRepository;
  transactions: TransactionRepository;
  usage: UsageRepository;
  requestRecords: RequestRecordRepository;
  clientSettings: ClientSettingsRepository;
  trustAnchors: TrustAnchorRepository;
  verifiedChips: VerifiedChipRepository;
}

/** The database behind a store: the embedded SQLite file, or a PostgreSQL shared by every node. */
export type StoreDatabase = { kind: 'sqlite'; sqlite: Db } | { kind: 'postgres'; postgres: PostgresDatabase };

/** A signer the CLI can also list and rotate (the data folder's files, or the database's table). */
export interface SigningKeys extends ResultSigner {
  rotate(): Promise<string>;
  list(): Array<{ kid: string; created: string; active: boolean }>;
  /** Stops its refresh (and closes the connection a tool opened for it). */
  close?(): void | Promise<void>;
}

/**
 * What one process keeps in memory or in its data folder when it is alone, and what every node
 * must share when several run on one database: signing keys, the access-token secret, rate-limit
 * buckets, and challenges drawn on one node and answered on another.
 */
export interface SharedState {
  signingKeys(keyring: SecretBox, options: { create: boolean }): Promise<SigningKeys>;
  /** The HS256 secret of access tokens; undefined when none exists and `create` is false. */
  tokenSecret(keyring: SecretBox, options: { create: boolean }): Promise<Buffer | undefined>;
  rateBuckets: RateBuckets;
  challenges: ChallengeStore;
}

export interface Store {
  database: StoreDatabase;
  /** Image, file and audit-input bytes: the data folder's blobs/ with SQLite, the database's blobs table with PostgreSQL. */
  blobs: BlobStore;
  /** State the nodes of a deployment share; undefined for the single-process SQLite store (files and memory serve). */
  shared?: SharedState;
  /** The repositories; templates are read and written through `codec` (sealed at rest when encryption is on). */
  repositories(codec: TemplateCodec): Repositories;
  /** The database answers a trivial query (readiness). */
  ping(): Promise<boolean>;
  /**
   * Runs `task` unless another node of the deployment is running one under the same name (retention
   * sweeps: each expired row is erased by one node, not raced by all). undefined when skipped.
   */
  exclusively<T>(name: string, task: () => Promise<T>): Promise<T | undefined>;
  close(): Promise<void>;
}

/**
 * Opens the configured store: PostgreSQL when FACEPROOF_DATABASE_URL is set (schema migrated on
 * open; every node of a deployment opens the same one), else the SQLite file and blob folder under
 * the data folder. Blobs go where the rows go, so that every node reads what another one wrote
 * without a shared filesystem, and a database backup holds the images its rows point at.
 */
export async function openStore(config: Config, options: { applicationName?: string } = {}): Promise<Store> {
  if (config.databaseUrl) {
    // Loaded only here: a single-node server on SQLite never loads the PostgreSQL client.
    const { openPostgresStore } = await import('./postgres/store.ts');
    return openPostgresStore(config.databaseUrl, options.applicationName ?? 'faceproof');
  }
  const db = openDatabase(path.join(config.dataDir, 'faceproof.db'));
  return {
    database: { kind: 'sqlite', sqlite: db },
    blobs: new FolderBlobStore(path.join(config.dataDir, 'blobs')),
    repositories: (codec) => ({
      images: new SqliteImageRepository(db),
      files: new SqliteFileRepository(db),
      collections: new SqliteCollectionRepository(db, codec),
      users: new SqliteUserRepository(db, codec),
      sessions: new SqliteSessionRepository(db, codec),
      clients: new SqliteClientRepository(db),
      replays: new SqliteReplayGuard(db),
      audit: new SqliteAuditRepository(db),
      transactions: new SqliteTransactionRepository(db),
      usage: new SqliteUsageRepository(db),
      requestRecords: new SqliteRequestRecordRepository(db),
      clientSettings: new SqliteClientSettingsRepository(db),
      trustAnchors: new SqliteTrustAnchorRepository(db),
      verifiedChips: new SqliteVerifiedChipRepository(db),
    }),
    ping: async () => db.prepare('SELECT 1 AS ok').get() !== undefined,
    // One process owns a SQLite file: nobody to share the work with.
    exclusively: (_name, task) => task(),
    close: async () => { db.close(); },
  };
}
