import fs from 'node:fs';
import path from 'node:path';
import { FaceEngine } from './engine/face-engine.ts';
import { Calibrator } from './core/calibration.ts';
import { FaceService } from './core/face-service.ts';
import { ImageStore } from './core/image-store.ts';
import { FileStore } from './core/file-store.ts';
import { SqliteFileRepository } from './store/sqlite/file-repository.ts';
import { openDatabase, type Db } from './store/sqlite/database.ts';
import { SqliteImageRepository } from './store/sqlite/image-repository.ts';
import { FolderBlobStore } from './store/blob/folder-blob-store.ts';
import { ConfigError, type Config } from './config.ts';
import type { AppServices } from './api/app.ts';
import { CollectionService } from './core/collections.ts';
import { UserService } from './core/users.ts';
import { SessionService } from './core/sessions.ts';
import { ImageErasure } from './core/erasure.ts';
import { QualityService } from './core/quality.ts';
import { ImageLoader } from './core/image-loader.ts';
import { FileSigningKeys } from './store/signing/file-signing-keys.ts';
import { AuditInputArchive, AuditTrail } from './core/audit.ts';
import { SqliteAuditRepository } from './store/sqlite/audit-repository.ts';
import { AgeService } from './core/age.ts';
import { LivenessService } from './core/liveness.ts';
import { ChallengeService } from './core/challenges.ts';
import { readLivenessModel } from './core/liveness-model.ts';
import { SqliteCollectionRepository } from './store/sqlite/collection-repository.ts';
import { SqliteUserRepository } from './store/sqlite/user-repository.ts';
import { SqliteSessionRepository } from './store/sqlite/session-repository.ts';
import { UsearchIndexProvider } from './store/vector/usearch-indexes.ts';
import { VectorProjection } from './store/vector/projection.ts';
import { MasterKeyring } from './store/crypto/master-keyring.ts';
import { PayloadEncryption } from './core/payload-encryption.ts';
import { ClientAdministration } from './core/api-clients.ts';
import { Authenticator } from './core/authentication.ts';
import { SqliteClientRepository } from './store/sqlite/client-repository.ts';
import { SqliteReplayGuard } from './store/sqlite/replay-guard.ts';
import { JwtAccessTokens } from './store/crypto/jwt-access-tokens.ts';
import { TransactionService } from './core/transactions.ts';
import { SqliteTransactionRepository } from './store/sqlite/transaction-repository.ts';
import { UsageMeter } from './core/usage.ts';
import { SqliteUsageRepository } from './store/sqlite/usage-repository.ts';
import { TemplateCodec } from './store/sqlite/template-codec.ts';
import { sealedColumns, sealingStatus } from './store/sqlite/template-reseal.ts';
import { FaceproofError } from './core/errors.ts';
import { RequestRecords } from './core/request-records.ts';
import { ClientSettingsStore } from './core/client-settings.ts';
import { SqliteClientSettingsRepository, SqliteRequestRecordRepository } from './store/sqlite/request-record-repository.ts';

/** The template model's principal components, when a matching file exists (see VectorProjection). */
export function loadProjection(config: Config, info: { templateModelId: string; templateVersion: number; dimension: number }): VectorProjection | undefined {
  if (!fs.existsSync(config.index.projectionFile)) return undefined;
  const projection = VectorProjection.read(config.index.projectionFile);
  if (projection.modelId !== info.templateModelId || projection.modelVersion !== info.templateVersion || projection.inDim !== info.dimension) {
    throw new Error(`projection ${config.index.projectionFile} was built for ${projection.modelId} v${projection.modelVersion}, not ${info.templateModelId} v${info.templateVersion}`);
  }
  return config.index.dimensions > 0 ? projection.truncated(config.index.dimensions) : undefined;
}

/** The audit trail alone, without loading models (for `faceproof audit`). */
export function openAuditTrail(config: Config): { audit: AuditTrail; close(): void } {
  const db = openDatabase(path.join(config.dataDir, 'faceproof.db'));
  return { audit: new AuditTrail(new SqliteAuditRepository(db)), close: () => db.close() };
}

/** The master keys that seal templates and HMAC secrets at rest (see MasterKeyring); a missing key file is created (the server's start). */
export function openMasterKeyring(config: Config): MasterKeyring {
  return config.masterKey.value ? MasterKeyring.fromEnvironment(config.masterKey.value) : MasterKeyring.openFile(config.masterKey.file);
}

/**
 * The master keys as a tool opens them: never created by reading, and never made up for a data
 * folder whose values are already sealed (under a key this process was not given: most often the
 * server's FACEPROOF_MASTER_KEY left out of the command's environment). `eager`: refuse at once
 * when the ring is missing and the folder holds sealed values, rather than at the first seal.
 */
function toolKeyring(config: Config, db: Db, options: { eager: boolean }): MasterKeyring {
  if (config.masterKey.value) return openMasterKeyring(config);
  const refuseIfSealed = () => {
    const ids = [...new Set(sealingStatus(db, sealedColumns(db)).flatMap((s) => Object.keys(s.sealed)))];
    if (ids.length > 0) {
      throw new FaceproofError('not_found', `this data folder holds values sealed under master key ${ids.join(', ')}, but FACEPROOF_MASTER_KEY is unset and ${config.masterKey.file} does not exist: run with the server's FACEPROOF_MASTER_KEY or FACEPROOF_MASTER_KEY_FILE`);
    }
  };
  const ring = MasterKeyring.openFile(config.masterKey.file, { create: 'on-first-seal', beforeCreate: refuseIfSealed });
  if (options.eager && ring.list().length === 0) refuseIfSealed();
  return ring;
}

/**
 * The master keys as the server opens them: the key file is created at the first start, but never
 * made up for a data folder whose values are already sealed (the server started without the
 * FACEPROOF_MASTER_KEY it was given before): it would start and fail on every sealed value.
 */
function serverKeyring(config: Config, db: Db): MasterKeyring {
  if (config.masterKey.value || fs.existsSync(config.masterKey.file)) return openMasterKeyring(config);
  const ids = [...new Set(sealingStatus(db, sealedColumns(db)).flatMap((st) => Object.keys(st.sealed)))];
  if (ids.length > 0) {
    throw new ConfigError(`this data folder holds values sealed under master key ${ids.join(', ')}, but FACEPROOF_MASTER_KEY is unset and ${config.masterKey.file} does not exist: start the server with its FACEPROOF_MASTER_KEY or FACEPROOF_MASTER_KEY_FILE`);
  }
  return openMasterKeyring(config);
}

/** How templates are stored: sealed under the master key when FACEPROOF_ENCRYPT_TEMPLATES is on; sealed ones are read either way. */
export function templateCodec(config: Config, keyring: MasterKeyring = openMasterKeyring(config)): TemplateCodec {
  return TemplateCodec.withKeys(keyring, { seal: config.encryptTemplates });
}

/**
 * Clients and keys over the database alone, without loading models (for `faceproof clients|keys`).
 * The bootstrap key is left as it is, and the master key file is created only by sealing a signing
 * key's secret into a data folder that has none.
 */
export function openClientAdministration(config: Config): { administration: ClientAdministration; close(): void } {
  const db = openDatabase(path.join(config.dataDir, 'faceproof.db'));
  return { administration: new ClientAdministration(new SqliteClientRepository(db), toolKeyring(config, db, { eager: false })), close: () => db.close() };
}

/**
 * Who may call: clients, keys and the schemes that map onto them. At the server's start the
 * bootstrap key follows FACEPROOF_BOOTSTRAP_KEY and the token secret is created if missing; a tool
 * leaves both as they are.
 */
function createAccess(config: Config, db: Db, keyring: MasterKeyring, mode: ServicesMode): { administration: ClientAdministration; authenticator: Authenticator } {
  const clients = new SqliteClientRepository(db);
  const administration = new ClientAdministration(clients, keyring);
  if (mode === 'serve') administration.syncBootstrapKey(config.bootstrapKey);
  const tokens = JwtAccessTokens.open(path.join(config.dataDir, 'keys', 'token-hs256.key'), { create: mode === 'serve' });
  const authenticator = new Authenticator(clients, administration, tokens, new SqliteReplayGuard(db), config.auth);
  return { administration, authenticator };
}

/** Where the result-signing keys live: under the data folder, never in the repository. */
export function signingKeysDir(config: Config): string {
  return path.join(config.dataDir, 'keys', 'signing');
}

/**
 * The result-signing keys. By default (the server's start) a data folder without one gets its first
 * key; with `create: false` they are only read (none: an empty set that cannot sign).
 */
export function openSigningKeys(config: Config, options: { create?: boolean } = {}): Promise<FileSigningKeys> {
  return FileSigningKeys.open(signingKeysDir(config), options);
}

/**
 * Whose the services are. `serve`: the server's start, which owns the data folder's keys — the
 * bootstrap key's row follows FACEPROOF_BOOTSTRAP_KEY (created, replaced, or revoked when the
 * variable is unset), and a missing signing key, token secret or master key file is created.
 * `tool`: a CLI command or benchmark working on someone's data folder — it never creates, replaces
 * or revokes a key: the bootstrap row is not touched, signing keys and the token secret are only
 * read, and the master key file is created only if the tool must seal a template and none exists
 * (refused when the folder already holds values sealed under another key: see toolKeyring).
 */
export type ServicesMode = 'serve' | 'tool';

/** The use cases the routes call, plus what only the composition root holds. */
export interface Services extends AppServices {
  engine: FaceEngine;
  db: Db;
  /** Ends the inference threads and closes the database. */
  close(): Promise<void>;
}

/**
 * Loads the models once, opens the embedded store (SQLite file and blob folder under the data
 * folder) and wires the use cases: the composition root shared by the server, CLI and benchmarks.
 * Only the server may use the default mode; everything else passes `{ mode: 'tool' }` (see ServicesMode).
 */
export async function createServices(config: Config, options: { mode?: ServicesMode } = {}): Promise<Services> {
  const mode = options.mode ?? 'serve';
  const engine = await FaceEngine.load(config.pipeline, config.threads);
  const calibrator = Calibrator.fromFile(config.calibrationFile, config.thresholds);
  const info = engine.info();
  const table = calibrator.table;
  if (table.templateModelId !== info.templateModelId || table.templateVersion !== info.templateVersion) {
    await engine.close();
    throw new Error(`calibration ${config.calibrationFile} was built for ${table.templateModelId} v${table.templateVersion}, not ${info.templateModelId} v${info.templateVersion}`);
  }
  const db = openDatabase(path.join(config.dataDir, 'faceproof.db'));
  const blobs = new FolderBlobStore(path.join(config.dataDir, 'blobs'));
  const images = new ImageStore(new SqliteImageRepository(db), blobs, config.image);
  const files = new FileStore(new SqliteFileRepository(db), blobs, { ...config.image, maxFrames: config.maxFrames });
  const loader = new ImageLoader(config.image, images);
  const quality = new QualityService(engine, loader);
  const service = new FaceService(engine, calibrator, loader, quality);
  let keyring: MasterKeyring;
  try {
    keyring = mode === 'serve' ? serverKeyring(config, db) : toolKeyring(config, db, { eager: true });
  } catch (err) {
    await engine.close();
    db.close();
    throw err;
  }
  const templates = templateCodec(config, keyring);
  const collectionRepository = new SqliteCollectionRepository(db, templates);
  const indexes = new UsearchIndexProvider(collectionRepository, {
    dir: path.join(config.dataDir, 'indexes'), ...config.index, projection: loadProjection(config, info), buildThreads: 0,
    log: (m) => process.emitWarning(m, 'FaceproofIndex'),
  });
  const collections = new CollectionService(collectionRepository, indexes, service, calibrator, config.search);
  const users = new UserService(new SqliteUserRepository(db, templates), service, calibrator);
  const sessions = new SessionService(new SqliteSessionRepository(db, templates), service, images, calibrator, config.sessions);
  const liveness = new LivenessService(service, loader, engine, files, calibrator, readLivenessModel(config.liveness.modelFile), config.image, {
    minInterEyeDistance: 12,
    minVideoSeconds: config.liveness.minVideoSeconds,
    video: { fps: config.liveness.videoFps, maxFrames: config.liveness.maxVideoFrames, maxSide: 640, timeoutMs: 60_000 },
  });
  const signer = await openSigningKeys(config, { create: mode === 'serve' });
  const access = createAccess(config, db, keyring, mode);
  return {
    ...access,
    transactions: new TransactionService(new SqliteTransactionRepository(db)),
    usage: new UsageMeter(new SqliteUsageRepository(db)),
    requestRecords: new RequestRecords(new SqliteRequestRecordRepository(db), keyring),
    clientSettings: new ClientSettingsStore(new SqliteClientSettingsRepository(db)),
    // Sealed under the master keyring; created by the server when first needed, only read by tools.
    payloadEncryption: PayloadEncryption.openFile(path.join(config.dataDir, 'keys', 'payload-rsa.json'), keyring, { create: mode === 'serve' }),
    readiness: async () => ({
      database: db.prepare('SELECT 1 AS ok').get() !== undefined,
      signing_keys: signer.publicKeys().keys.length > 0,
      inference_threads: engine.ready(),
    }),
    service,
    signer,
    inferenceStats: () => engine.inferenceStats(),
    audit: new AuditTrail(new SqliteAuditRepository(db)),
    auditInputs: config.auditKeepInputs ? new AuditInputArchive(blobs) : undefined,
    quality,
    age: new AgeService(engine, loader),
    liveness,
    challenges: new ChallengeService(liveness, { ttlSeconds: config.liveness.challengeTtlSeconds, turnDegrees: 15, closedEyes: 0.3 }),
    images,
    files,
    collections,
    users,
    sessions,
    erasure: new ImageErasure(images, collections, users, sessions),
    engine,
    db,
    close: async () => {
      await engine.close();
      indexes.close();
      db.close();
    },
  };
}
