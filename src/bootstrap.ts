import fs from 'node:fs';
import path from 'node:path';
import { FaceEngine } from './engine/face-engine.ts';
import { Calibrator } from './core/calibration.ts';
import { FaceService } from './core/face-service.ts';
import { ImageStore } from './core/image-store.ts';
import { FileStore } from './core/file-store.ts';
import type { Db } from './store/sqlite/database.ts';
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
import { openStore, type Repositories, type SigningKeys, type Store, type StoreDatabase } from './store/open-store.ts';
import { AgeService } from './core/age.ts';
import { LivenessService } from './core/liveness.ts';
import { ChallengeService } from './core/challenges.ts';
import { readLivenessModel } from './core/liveness-model.ts';
import { UsearchIndexProvider } from './store/vector/usearch-indexes.ts';
import { VectorProjection } from './store/vector/projection.ts';
import { MasterKeyring } from './store/crypto/master-keyring.ts';
import { PayloadEncryption } from './core/payload-encryption.ts';
import { ClientAdministration } from './core/api-clients.ts';
import { Authenticator } from './core/authentication.ts';
import { JwtAccessTokens } from './store/crypto/jwt-access-tokens.ts';
import { TransactionService } from './core/transactions.ts';
import { UsageMeter } from './core/usage.ts';
import { TemplateCodec } from './store/sqlite/template-codec.ts';
import { sealedColumns, sealingStatus } from './store/sqlite/template-reseal.ts';
import { FaceproofError } from './core/errors.ts';
import { RequestRecords } from './core/request-records.ts';
import { ClientSettingsStore } from './core/client-settings.ts';
import { TrustStore } from './core/documents/trust-store.ts';
import { DocumentService } from './core/documents/document-service.ts';
import { VerifiedChips } from './core/documents/verified-chips.ts';
import { DocumentReading } from './core/documents/document-reading.ts';
import { ChipVerifier } from './core/documents/chip-verification.ts';
import { ActiveAuthenticationChallenges } from './core/documents/active-authentication-challenges.ts';
import { DocumentReader } from './engine/document/document-reader.ts';

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
export async function openAuditTrail(config: Config): Promise<{ audit: AuditTrail; close(): Promise<void> }> {
  const store = await openStore(config, { applicationName: 'faceproof audit' });
  return { audit: new AuditTrail(store.repositories(TemplateCodec.plain()).audit), close: () => store.close() };
}

/**
 * Master key ids under which the store already holds sealed values. Only the SQLite store is
 * inspected: a PostgreSQL deployment gives every node FACEPROOF_MASTER_KEY (docs/deployment.md).
 */
function sealedKeyIds(database: StoreDatabase): string[] {
  if (database.kind !== 'sqlite') return [];
  const db = database.sqlite;
  return [...new Set(sealingStatus(db, sealedColumns(db)).flatMap((s) => Object.keys(s.sealed)))];
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
function toolKeyring(config: Config, database: StoreDatabase, options: { eager: boolean }): MasterKeyring {
  if (config.masterKey.value) return openMasterKeyring(config);
  const refuseIfSealed = () => {
    const ids = sealedKeyIds(database);
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
function serverKeyring(config: Config, database: StoreDatabase): MasterKeyring {
  if (config.masterKey.value || fs.existsSync(config.masterKey.file)) return openMasterKeyring(config);
  const ids = sealedKeyIds(database);
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
export async function openClientAdministration(config: Config): Promise<{ administration: ClientAdministration; close(): Promise<void> }> {
  const store = await openStore(config, { applicationName: 'faceproof keys' });
  try {
    const clients = store.repositories(TemplateCodec.plain()).clients;
    return { administration: new ClientAdministration(clients, toolKeyring(config, store.database, { eager: false })), close: () => store.close() };
  } catch (err) {
    await store.close();
    throw err;
  }
}

/**
 * Who may call: clients, keys and the schemes that map onto them. At the server's start the
 * bootstrap key follows FACEPROOF_BOOTSTRAP_KEY and the token secret is created if missing; a tool
 * leaves both as they are.
 */
async function createAccess(config: Config, store: Store, repositories: Repositories, keyring: MasterKeyring, mode: ServicesMode): Promise<{ administration: ClientAdministration; authenticator: Authenticator }> {
  const { clients } = repositories;
  const administration = new ClientAdministration(clients, keyring);
  if (mode === 'serve') await administration.syncBootstrapKey(config.bootstrapKey);
  // Every node must verify every node's tokens: with a shared database the secret is its.
  const tokens = store.shared
    ? JwtAccessTokens.fromSecret(await store.shared.tokenSecret(keyring, { create: mode === 'serve' }))
    : JwtAccessTokens.open(path.join(config.dataDir, 'keys', 'token-hs256.key'), { create: mode === 'serve' });
  const authenticator = new Authenticator(clients, administration, tokens, repositories.replays, config.auth);
  return { administration, authenticator };
}

/** Where the result-signing keys live: under the data folder, never in the repository. */
export function signingKeysDir(config: Config): string {
  return path.join(config.dataDir, 'keys', 'signing');
}

/**
 * The result-signing keys: the data folder's files, or with a shared database its table (every node
 * signs with a key every node publishes). By default (the server's start) a store without one gets
 * its first key; with `create: false` they are only read (none: an empty set that cannot sign).
 */
export async function openSigningKeys(config: Config, options: { create?: boolean; store?: Store; keyring?: MasterKeyring } = {}): Promise<SigningKeys> {
  const create = options.create ?? true;
  if (!config.databaseUrl) return FileSigningKeys.open(signingKeysDir(config), { create });
  const store = options.store ?? await openStore(config, { applicationName: 'faceproof signing-keys' });
  const keys = await store.shared!.signingKeys(options.keyring ?? openMasterKeyring(config), { create });
  if (options.store) return keys;
  // A tool's own connection: closed with the keys.
  const closeKeys = keys.close?.bind(keys);
  keys.close = async () => { await closeKeys?.(); await store.close(); };
  return keys;
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
  /** Trust anchors for chip verification; always there in a composed server (optional in AppServices only for hand-built apps). */
  trust: TrustStore;
  documents: DocumentService;
  /** Where the rows and bytes are: `store.database.kind` tells SQLite from PostgreSQL. */
  store: Store;
  /** The SQLite database, when that is the store (tests and tools inspect it); undefined on PostgreSQL. */
  db?: Db;
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
  let store: Store;
  try {
    store = await openStore(config);
  } catch (err) {
    await engine.close();
    throw err;
  }
  const { blobs } = store;
  let keyring: MasterKeyring;
  try {
    keyring = mode === 'serve' ? serverKeyring(config, store.database) : toolKeyring(config, store.database, { eager: true });
  } catch (err) {
    await engine.close();
    await store.close();
    throw err;
  }
  const repositories = store.repositories(templateCodec(config, keyring));
  const images = new ImageStore(repositories.images, blobs, config.image);
  const files = new FileStore(repositories.files, blobs, { ...config.image, maxFrames: config.maxFrames });
  const loader = new ImageLoader(config.image, images);
  const quality = new QualityService(engine, loader);
  const service = new FaceService(engine, calibrator, loader, quality);
  const indexes = new UsearchIndexProvider(repositories.collections, {
    dir: path.join(config.dataDir, 'indexes'), ...config.index, projection: loadProjection(config, info),
    log: (m) => process.emitWarning(m, 'FaceproofIndex'),
  });
  const collections = new CollectionService(repositories.collections, indexes, service, calibrator, config.search);
  const users = new UserService(repositories.users, service, calibrator);
  const sessions = new SessionService(repositories.sessions, service, images, calibrator, config.sessions);
  const liveness = new LivenessService(service, loader, engine, files, calibrator, readLivenessModel(config.liveness.modelFile), config.image, {
    minInterEyeDistance: 12,
    minVideoSeconds: config.liveness.minVideoSeconds,
    video: { fps: config.liveness.videoFps, maxFrames: config.liveness.maxVideoFrames, maxSide: 640, timeoutMs: 60_000 },
  });
  const signer = await openSigningKeys(config, { create: mode === 'serve', store, keyring });
  const trust = new TrustStore(repositories.trustAnchors);
  const documentReading = new DocumentReading(new DocumentReader({ faces: engine, limits: { maxBytes: config.image.maxBytes, maxPixels: config.image.maxPixels, minSide: config.image.minSide } }));
  const age = new AgeService(engine, loader);
  const documents = DocumentService.compose(documentReading, trust, new ActiveAuthenticationChallenges(undefined, undefined, undefined, store.shared?.challenges), service, loader, age);
  const access = await createAccess(config, store, repositories, keyring, mode);
  return {
    ...access,
    transactions: new TransactionService(repositories.transactions),
    usage: new UsageMeter(repositories.usage),
    requestRecords: new RequestRecords(repositories.requestRecords, keyring),
    clientSettings: new ClientSettingsStore(repositories.clientSettings),
    trust,
    documents,
    verifiedChips: new VerifiedChips(repositories.verifiedChips),
    // Sealed under the master keyring; created by the server when first needed, only read by tools.
    payloadEncryption: PayloadEncryption.openFile(path.join(config.dataDir, 'keys', 'payload-rsa.json'), keyring, { create: mode === 'serve' }),
    readiness: async () => ({
      database: await store.ping().catch(() => false),
      signing_keys: signer.publicKeys().keys.length > 0,
      inference_threads: engine.ready(),
    }),
    service,
    signer,
    inferenceStats: () => engine.inferenceStats(),
    audit: new AuditTrail(repositories.audit),
    auditInputs: config.auditKeepInputs ? new AuditInputArchive(blobs) : undefined,
    quality,
    age,
    liveness,
    challenges: new ChallengeService(liveness, { ttlSeconds: config.liveness.challengeTtlSeconds, turnDegrees: 15, closedEyes: 0.3 }, undefined, undefined, store.shared?.challenges),
    rateBuckets: store.shared?.rateBuckets,
    images,
    files,
    collections,
    users,
    sessions,
    erasure: new ImageErasure(images, collections, users, sessions),
    engine,
    store,
    db: store.database.kind === 'sqlite' ? store.database.sqlite : undefined,
    close: async () => {
      await engine.close();
      await documentReading.close();
      await indexes.close();
      await signer.close?.();
      await store.close();
    },
  };
}
