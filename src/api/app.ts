import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import { mendMultipartFinish } from './multipart-finish.ts';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FaceService } from '../core/face-service.ts';
import type { EngineInfo } from '../engine/face-engine.ts';
import { FaceproofError } from '../core/errors.ts';
import type { Config } from '../config.ts';
import { registerErrorHandling, sendError } from './errors.ts';
import { registerCors } from './cors.ts';
import { detectRoute } from './v1/detect.ts';
import { compareRoute } from './v1/compare.ts';
import { systemRoutes } from './v1/system.ts';
import { imageRoutes } from './v1/images.ts';
import { fileRoutes } from './v1/files.ts';
import type { FileStore } from '../core/file-store.ts';
import type { ImageStore } from '../core/image-store.ts';
import { VERSION } from '../version.ts';
import type { QualityService } from '../core/quality.ts';
import { signedPayload, type ResultSigner } from '../core/result-signing.ts';
import type { AuditInputArchive, AuditTrail } from '../core/audit.ts';
import { registerAudit, type AuditRecorder } from './audit-hook.ts';
import { DEFAULT_TENANT } from '../core/image-store.ts';
import { registerMetrics, type MetricsSources } from './metrics.ts';
import { auditRoutes } from './v1/audit.ts';
import { Type } from '@sinclair/typebox';
import { portraitRoutes } from './v1/portrait.ts';
import type { AgeService } from '../core/age.ts';
import type { LivenessService } from '../core/liveness.ts';
import type { ChallengeService } from '../core/challenges.ts';
import { registerCaller } from './caller.ts';
import { RateLimiter } from './rate-limiter.ts';
import type { RateBuckets } from '../core/rate-buckets.ts';
import type { ClientAdministration } from '../core/api-clients.ts';
import type { Authenticator } from '../core/authentication.ts';
import type { TransactionService } from '../core/transactions.ts';
import type { UsageMeter } from '../core/usage.ts';
import { accessRoutes } from './v1/access.ts';
import { trustRoutes } from './v1/trust.ts';
import type { TrustStore } from '../core/documents/trust-store.ts';
import { registerTransactionHeader, transactionRoutes, usageRoutes } from './v1/transactions.ts';
import { registerBodyLimits, registerRequestTimeout } from './limits.ts';
import { registerBodyRules, registerRouteContract } from './route-contract.ts';
import type { CollectionService } from '../core/collections.ts';
import type { UserService } from '../core/users.ts';
import type { SessionService } from '../core/sessions.ts';
import type { ImageErasure } from '../core/erasure.ts';
import type { PayloadEncryption } from '../core/payload-encryption.ts';
import type { RequestRecords } from '../core/request-records.ts';
import type { ClientSettingsStore } from '../core/client-settings.ts';
import type { DocumentService } from '../core/documents/document-service.ts';
import type { VerifiedChips } from '../core/documents/verified-chips.ts';
import { collectionRoutes } from './v1/collections.ts';
import { userRoutes } from './v1/users.ts';
import { sessionRoutes } from './v1/sessions.ts';
import { documentRoutes } from './v1/documents.ts';
import { DIALECTS } from './dialects/registry.ts';
import { dialectRoutes } from './dialects/routes.ts';
import { consoleRoutes } from './console/routes.ts';

/** Request headers that carry credentials. */
const SECRET_HEADERS = ['authorization', 'x-api-key', 'apikey', 'x-access-token'];

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Routes that run the face engine, and so count against FACEPROOF_MAX_PENDING_REQUESTS. */
    usesEngine?: boolean;
    /** Decisions: the response carries a `signature` (see ResultSigner). */
    signed?: boolean;
  }
}

/** The use cases the routes call. */
export interface AppServices {
  /** Inferences and seconds per model (metrics). */
  inferenceStats: MetricsSources['inferenceStats'];
  signer: ResultSigner;
  audit: AuditTrail;
  /** Raw inputs of audited requests, when the operator keeps them (FACEPROOF_AUDIT_KEEP_INPUTS). */
  auditInputs?: AuditInputArchive;
  quality: QualityService;
  age: AgeService;
  liveness: LivenessService;
  challenges: ChallengeService;
  service: FaceService;
  images: ImageStore;
  files: FileStore;
  collections: CollectionService;
  users: UserService;
  sessions: SessionService;
  erasure: ImageErasure;
  administration: ClientAdministration;
  authenticator: Authenticator;
  transactions: TransactionService;
  usage: UsageMeter;
  /** The key pair end-to-end encrypted request fields are opened with (iDenFace retrieve_pubky); optional for apps built without it. */
  payloadEncryption?: PayloadEncryption;
  /** Kept answers of earlier requests (TrustVision's requests_by_*); optional for apps built without them. */
  requestRecords?: RequestRecords;
  /** Per-client SDK settings (TrustVision's client_settings); optional for apps built without them. */
  clientSettings?: ClientSettingsStore;
  /** Identity documents: MRZ reading, chip verification, one-shot verification; optional for apps built without them. */
  documents?: DocumentService;
  /** Chips verified here (TrustVision's check_nfc); optional for apps built without them. */
  verifiedChips?: VerifiedChips;
  /** The operator's trust anchors for chip verification (/v1/admin/trust); optional for apps built without them. */
  trust?: TrustStore;
  /** Readiness: each dependency's state (database, signing keys, inference threads). */
  readiness: () => Promise<Record<string, boolean>>;
  /** Where clients' rate budgets live: shared by the nodes on one database; this process's memory when absent. */
  rateBuckets?: RateBuckets;
}

export interface AppDeps {
  config: Config;
  services: AppServices;
  engine: EngineInfo;
  /** Extra pino options (a destination stream in tests), or false for no log. */
  logger?: boolean | object;
  /** Releases what the dependencies hold (the inference threads) when the app closes. */
  close?: () => Promise<void>;
}

/** Builds the HTTP application without listening, so tests can drive it with inject(). */
export async function buildApp({ config, services, engine, logger, close }: AppDeps): Promise<FastifyInstance> {
  let recordUnrouted: AuditRecorder | undefined;
  const app = Fastify({
    // Credentials never reach the log, whatever a serializer is later told to include.
    logger: logger === false ? false : {
      level: config.logLevel,
      redact: { paths: SECRET_HEADERS.map((h) => `req.headers["${h}"]`), censor: '[redacted]' },
      ...(typeof logger === 'object' ? logger : {}),
    },
    bodyLimit: config.maxBodyBytes,
    genReqId: () => randomUUID(),
    // Long path parameters reach the routes' schemas, which answer 400 with the field named.
    routerOptions: { maxParamLength: 2048 },
    // A path that is not valid percent-encoding never reaches a route or its hooks: answered and audited here.
    frameworkErrors: (err, request, reply) => {
      request.caller = { tenantId: DEFAULT_TENANT, clientId: 'anonymous', principal: null };
      const error = new FaceproofError('invalid_parameter', `the path cannot be read: ${err.message}`);
      request.auditResult = { error: error.code };
      reply.statusCode = error.status;
      void (recordUnrouted?.(request, reply) ?? Promise.resolve()).then(() => sendError(request, reply.header('X-Request-Id', request.id), error));
    },
    // Unknown fields are errors, not silently dropped; `binary` marks multipart file fields in the OpenAPI document.
    ajv: { customOptions: { removeAdditional: false, strictTypes: false, formats: { binary: true } } },
  });

  registerErrorHandling(app);
  // Before the caller hook: preflights are answered without credentials, refusals carry the CORS headers.
  await registerCors(app, config.corsOrigins);
  registerBodyLimits(app, { media: config.maxBodyBytes, other: config.maxSmallBodyBytes });
  registerRouteContract(app);
  registerCaller(app, { authenticator: services.authenticator, limiter: new RateLimiter(config.rateLimit, services.rateBuckets) });
  registerRequestTimeout(app, config.requestTimeoutMs);
  registerTransactionHeader(app, services.transactions);
  if (close) app.addHook('onClose', close);
  // Only JSON and multipart bodies are accepted; anything else is 415 unsupported_media_type.
  app.removeContentTypeParser('text/plain');
  // Once closing, responses end their keep-alive connection, so close() need not wait for idle timeouts.
  let closing = false;
  app.addHook('preClose', async () => { closing = true; });
  app.addHook('onSend', async (request, reply) => {
    reply.header('X-Request-Id', request.id);
    if (closing) reply.header('Connection', 'close');
  });
  // Signed over the body exactly as serialised, so what a client verifies is what it received.
  app.addHook('onSend', async (request, reply, payload) => {
    if (!request.routeOptions.config.signed || reply.statusCode >= 400 || typeof payload !== 'string') return payload;
    const body = JSON.parse(payload) as Record<string, unknown>;
    body.signature = await services.signer.signDetached(signedPayload(body));
    return JSON.stringify(body);
  });
  // After signing, so a record keeps the signature it answered with.
  recordUnrouted = registerAudit(app, services.audit, services.usage, { archive: services.auditInputs, auditProbes: config.auditProbes });

  // The engine's queue: a request takes its place once its body is in (a slow upload holds none),
  // and is refused at once, before its body is read, while the queue is full.
  let pending = 0;
  const queueFull = (request: FastifyRequest, reply: FastifyReply) => {
    reply.header('Retry-After', '1');
    return sendError(request, reply, new FaceproofError('too_many_requests', `more than ${config.maxPendingRequests} requests are waiting for the face engine; retry shortly`));
  };
  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.config.usesEngine && pending >= config.maxPendingRequests) return queueFull(request, reply);
  });
  app.addHook('preHandler', async (request, reply) => {
    if (!request.routeOptions.config.usesEngine) return;
    if (pending >= config.maxPendingRequests) return queueFull(request, reply);
    pending++;
    let released = false;
    const release = () => { if (!released) { released = true; pending--; } };
    reply.raw.once('close', release);
    reply.raw.once('finish', release);
  });

  mendMultipartFinish();
  await app.register(multipart, {
    attachFieldsToBody: 'keyValues',
    limits: { fileSize: config.image.maxBytes, files: 2, fields: 10, parts: 12, fieldSize: 64 * 1024 },
  });
  registerBodyRules(app);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Faceproof',
        version: VERSION,
        description: [
          'Self-hosted face verification and identity proofing: face detection with landmarks and pose, 1:1 comparison with calibrated false-accept rates,',
          'collections with 1:N search and watch-lists, users who authenticate with their face, one-to-few sessions, portrait quality, passive and challenge',
          'liveness, age, stored images and files; API clients with scoped keys, signed results (JWKS), a tamper-evident audit trail, transactions, usage',
          'and Prometheus metrics. Every error is {"request_id", "error": {"code", "message", "field"?}} with the status of docs/errors.md.',
        ].join(' '),
        license: { name: 'MIT', identifier: 'MIT' },
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: '"<key_id>.<secret>"; also accepted in `apikey` and `Authorization: Bearer`' },
          bearer: { type: 'http', scheme: 'bearer', description: 'A JWT from POST /v1/auth/token, or an API key' },
          accessToken: { type: 'apiKey', in: 'header', name: 'X-ACCESS-TOKEN', description: 'A token from POST /v1/auth/advance-token' },
          trustVisionHmac: { type: 'apiKey', in: 'header', name: 'Authorization', description: 'TV <key_id>:<Base64 HMAC-SHA256(secret, METHOD\\nPATH\\nX-TV-Timestamp[\\nContent-MD5])>, with X-TV-Timestamp (RFC 3339); see docs/authentication.md' },
        },
      },
      security: [{ apiKey: [] }, { bearer: [] }, { accessToken: [] }, { trustVisionHmac: [] }],
      tags: [
        { name: 'faces', description: 'Detection, comparison, quality, liveness and age' },
        { name: 'collections', description: 'Galleries of faces and 1:N search' },
        { name: 'users', description: 'Users who authenticate with their face' },
        { name: 'sessions', description: 'Short-lived one-to-few galleries' },
        { name: 'documents', description: 'Identity documents: MRZ reading, chip verification (passive and active authentication), one-shot document verification; the trust store' },
        { name: 'images', description: 'Stored images' },
        { name: 'files', description: 'Stored files' },
        { name: 'access', description: 'API clients, keys and tokens' },
        { name: 'transactions', description: 'Transactions and usage' },
        { name: 'audit', description: 'The audit trail' },
        { name: 'system', description: 'Health, capabilities, signing keys and metrics' },
        ...DIALECTS.map((d) => ({ name: d.name, description: `Vendor dialect under ${d.prefix}: ${d.title}; see docs/dialects.md` })),
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  // After the document's plugin, so that it lists them.
  app.get('/.well-known/jwks.json', {
    schema: { tags: ['system'], summary: 'Public keys of result signatures (JWKS)', response: { 200: Type.Object({ keys: Type.Array(Type.Object({ kid: Type.String(), alg: Type.String() }, { additionalProperties: true })) }) } },
  }, async () => services.signer.publicKeys());
  registerMetrics(app, { pendingRequests: () => pending, inferenceStats: () => services.inferenceStats(), collectionSizes: () => services.collections.sizes() });

  const { service } = services;
  detectRoute(app, service);
  compareRoute(app, service);
  imageRoutes(app, services.images, services.erasure);
  fileRoutes(app, services.files);
  collectionRoutes(app, services.collections);
  userRoutes(app, services.users);
  sessionRoutes(app, services.sessions);
  auditRoutes(app, services.audit, services.auditInputs);
  portraitRoutes(app, services.quality, services.liveness, services.challenges, services.age, config.liveness.defaultLevel);
  accessRoutes(app, services.administration, services.authenticator);
  if (services.trust) await trustRoutes(app, services.trust);
  transactionRoutes(app, services.transactions, services.audit);
  usageRoutes(app, services.usage);
  if (services.documents) documentRoutes(app, services.documents);
  dialectRoutes(app, services);
  consoleRoutes(app);
  systemRoutes(app, { service, engine, config, version: VERSION, readiness: async () => (closing ? { accepting_requests: false } : { accepting_requests: true, ...(await services.readiness()) }) });
  return app;
}
