import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUILTIN_PIPELINES, DEFAULT_PIPELINE, type PipelineConfig } from './engine/pipeline.ts';
import { parseThresholdPolicy, validateFars, type ThresholdPolicy } from './core/calibration.ts';
import type { DecodeLimits } from './engine/image/decode.ts';
import type { InferenceThreads } from './engine/onnx/session.ts';
import type { Quantization } from './store/vector/usearch-indexes.ts';

/** A setting the server cannot start with: the command line says which and why, without a stack trace. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Everything the server reads from FACEPROOF_* variables; docs/configuration.md lists them with their defaults. */
export interface Config {
  host: string;
  port: number;
  dataDir: string;
  /**
   * FACEPROOF_DATABASE_URL (postgres://…): the shared PostgreSQL database of a multi-node deployment
   * (docs/deployment.md). Unset: the embedded SQLite file in the data folder.
   */
  databaseUrl?: string;
  logLevel: string;
  /** Largest HTTP body of a route that takes images, video or templates, in bytes. */
  maxBodyBytes: number;
  /** Largest body of every other route (administration, metadata, transactions). */
  maxSmallBodyBytes: number;
  /** A key with every scope for the default tenant, so a fresh server can be used and administered. Never logged. */
  bootstrapKey?: string;
  /** Per-client token bucket, unless the client has its own (0 requests/s: unlimited). */
  rateLimit: { perSecond: number; burst: number };
  /** A request unanswered after this long gets 408 (0: no limit). */
  requestTimeoutMs: number;
  /** How far a signed request's timestamp may be from the server's clock (TrustVision: 15 minutes; ADVANCE: 300 s). */
  auth: { hmacSkewSeconds: number; advanceSkewSeconds: number };
  image: DecodeLimits;
  /** Inference worker threads, and threads one inference may use inside an operator. */
  threads: InferenceThreads;
  pipeline: PipelineConfig;
  calibrationFile: string;
  thresholds: ThresholdPolicy;
  shutdownTimeoutMs: number;
  /** Most frames one POST /v1/files may carry. */
  maxFrames: number;
  /** How often expired stored images are erased. */
  retentionSweepMs: number;
  /** Requests waiting for the engine beyond this many get 503 `service_unavailable` instead of queueing. */
  maxPendingRequests: number;
  /** Origins whose browser pages may call /v1/* and /.well-known/* (CORS); empty: none, `*`: any. */
  corsOrigins: string[];
  search: {
    /** Target false-positive identification rate of the default 1:N threshold. */
    fpir: number;
    candidates: number;
    maxResults: number;
  };
  index: {
    /** Principal components of the templates (written by `npm run calibrate`); absent: full templates are indexed. */
    projectionFile: string;
    /** How many of those components the index keeps. */
    dimensions: number;
    quantization: Quantization;
    connectivity: number;
    expansionAdd: number;
    expansionSearch: number;
    snapshotEvery: number;
  };
  sessions: { defaultTtlSeconds: number; maxTtlSeconds: number; maxFaces: number };
  /** Audit records older than this many days are pruned by the sweeper (0 keeps them forever). */
  auditRetentionDays: number;
  /** Keep the raw images and videos of audited requests (by SHA-256, per tenant); off: digests only. */
  auditKeepInputs: boolean;
  /** Also audit health and readiness probes (off: a load balancer's probes would flood the trail). */
  auditProbes: boolean;
  /** Where the master keys come from: FACEPROOF_MASTER_KEY (base64 keys, first active) or a key file. */
  masterKey: { value?: string; file: string };
  /** Face templates are stored sealed with AES-256-GCM under the master key. */
  encryptTemplates: boolean;
  liveness: {
    /** The fitted cue fusion and its per-level thresholds (calibration/liveness.json). */
    modelFile: string;
    defaultLevel: 'LOW' | 'MEDIUM' | 'HIGH';
    videoFps: number;
    maxVideoFrames: number;
    minVideoSeconds: number;
    challengeTtlSeconds: number;
  };
}

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env = process.env): Config {
  const maxImageBytes = int(env, 'FACEPROOF_MAX_IMAGE_BYTES', 15 * 1024 * 1024);
  const pipeline = env.FACEPROOF_PIPELINE_FILE
    ? (JSON.parse(fs.readFileSync(env.FACEPROOF_PIPELINE_FILE, 'utf8')) as PipelineConfig)
    : builtinPipeline(env.FACEPROOF_PIPELINE);
  const fallback = { matchFar: num(env, 'FACEPROOF_MATCH_FAR', 1e-4), uncertainFar: num(env, 'FACEPROOF_UNCERTAIN_FAR', 1e-2) };
  validateFars(fallback, 'FACEPROOF_MATCH_FAR / FACEPROOF_UNCERTAIN_FAR');
  return {
    host: env.FACEPROOF_HOST ?? '127.0.0.1',
    port: int(env, 'FACEPROOF_PORT', 8080),
    dataDir: path.resolve(env.FACEPROOF_DATA_DIR ?? './data'),
    databaseUrl: databaseUrl(env.FACEPROOF_DATABASE_URL),
    logLevel: env.FACEPROOF_LOG_LEVEL ?? 'info',
    // Two images of the maximum size, base64-encoded, plus room for the rest of the JSON.
    maxBodyBytes: int(env, 'FACEPROOF_MAX_BODY_BYTES', 2 * Math.ceil((maxImageBytes * 4) / 3) + 64 * 1024),
    maxSmallBodyBytes: int(env, 'FACEPROOF_MAX_SMALL_BODY_BYTES', 64 * 1024),
    bootstrapKey: env.FACEPROOF_BOOTSTRAP_KEY || undefined,
    rateLimit: { perSecond: num(env, 'FACEPROOF_RATE_LIMIT_PER_SECOND', 50), burst: int(env, 'FACEPROOF_RATE_LIMIT_BURST', 100) },
    requestTimeoutMs: int(env, 'FACEPROOF_REQUEST_TIMEOUT_MS', 60_000),
    auth: { hmacSkewSeconds: 15 * 60, advanceSkewSeconds: 300 },
    image: {
      maxBytes: maxImageBytes,
      maxPixels: int(env, 'FACEPROOF_MAX_IMAGE_PIXELS', 50_000_000),
      minSide: int(env, 'FACEPROOF_MIN_IMAGE_SIDE', 32),
      maxWorkingSide: int(env, 'FACEPROOF_MAX_WORKING_SIDE', 2048),
    },
    threads: {
      workers: int(env, 'FACEPROOF_INFERENCE_THREADS', os.availableParallelism()),
      intraOp: int(env, 'FACEPROOF_INTRA_OP_THREADS', 1),
      niceness: Math.min(19, int(env, 'FACEPROOF_INFERENCE_NICENESS', 10)),
    },
    pipeline,
    calibrationFile: env.FACEPROOF_CALIBRATION_FILE ?? path.join(PROJECT_ROOT, 'calibration', `${pipeline.id}.json`),
    thresholds: parseThresholdPolicy(env.FACEPROOF_THRESHOLDS, fallback),
    shutdownTimeoutMs: int(env, 'FACEPROOF_SHUTDOWN_TIMEOUT_MS', 10_000),
    maxFrames: int(env, 'FACEPROOF_MAX_FRAMES', 300),
    retentionSweepMs: Math.max(1000, int(env, 'FACEPROOF_RETENTION_SWEEP_MS', 60_000)),
    maxPendingRequests: int(env, 'FACEPROOF_MAX_PENDING_REQUESTS', 16),
    corsOrigins: corsOrigins(env.FACEPROOF_CORS_ORIGINS),
    search: {
      fpir: fraction(env, 'FACEPROOF_SEARCH_FPIR', 0.01),
      candidates: int(env, 'FACEPROOF_SEARCH_CANDIDATES', 200),
      maxResults: 10,
    },
    index: {
      projectionFile: env.FACEPROOF_PROJECTION_FILE ?? path.join(PROJECT_ROOT, 'calibration', `${pipeline.id}.projection.bin`),
      dimensions: int(env, 'FACEPROOF_INDEX_DIMENSIONS', 96),
      quantization: oneOf(env, 'FACEPROOF_INDEX_QUANTIZATION', ['i8', 'f16', 'f32'] as const),
      connectivity: int(env, 'FACEPROOF_INDEX_CONNECTIVITY', 64),
      expansionAdd: int(env, 'FACEPROOF_INDEX_EXPANSION_ADD', 128),
      expansionSearch: int(env, 'FACEPROOF_INDEX_EXPANSION_SEARCH', 768),
      snapshotEvery: Math.max(1, int(env, 'FACEPROOF_INDEX_SNAPSHOT_EVERY', 10_000)),
    },
    sessions: {
      defaultTtlSeconds: int(env, 'FACEPROOF_SESSION_TTL_SECONDS', 3600),
      maxTtlSeconds: int(env, 'FACEPROOF_SESSION_MAX_TTL_SECONDS', 7 * 24 * 3600),
      maxFaces: int(env, 'FACEPROOF_SESSION_MAX_FACES', 100),
    },
    auditRetentionDays: int(env, 'FACEPROOF_AUDIT_RETENTION_DAYS', 0),
    auditKeepInputs: oneOf(env, 'FACEPROOF_AUDIT_KEEP_INPUTS', ['false', 'true'] as const) === 'true',
    auditProbes: oneOf(env, 'FACEPROOF_AUDIT_PROBES', ['false', 'true'] as const) === 'true',
    masterKey: {
      value: env.FACEPROOF_MASTER_KEY || undefined,
      file: path.resolve(env.FACEPROOF_MASTER_KEY_FILE ?? path.join(env.FACEPROOF_DATA_DIR ?? './data', 'keys', 'master.json')),
    },
    encryptTemplates: oneOf(env, 'FACEPROOF_ENCRYPT_TEMPLATES', ['true', 'false'] as const) === 'true',
    liveness: {
      modelFile: env.FACEPROOF_LIVENESS_MODEL_FILE ?? path.join(PROJECT_ROOT, 'calibration', 'liveness.json'),
      defaultLevel: oneOf(env, 'FACEPROOF_LIVENESS_LEVEL', ['MEDIUM', 'LOW', 'HIGH'] as const),
      videoFps: Math.max(1, int(env, 'FACEPROOF_VIDEO_FPS', 5)),
      maxVideoFrames: Math.max(1, int(env, 'FACEPROOF_VIDEO_MAX_FRAMES', 50)),
      minVideoSeconds: num(env, 'FACEPROOF_VIDEO_MIN_SECONDS', 2),
      challengeTtlSeconds: Math.max(1, int(env, 'FACEPROOF_CHALLENGE_TTL_SECONDS', 120)),
    },
  };
}

function databaseUrl(value: string | undefined): string | undefined {
  if (!value) return undefined;
  if (!/^postgres(ql)?:\/\//.test(value)) throw new ConfigError('FACEPROOF_DATABASE_URL must be a postgres:// or postgresql:// URL (unset: the embedded SQLite database)');
  return value;
}

/** FACEPROOF_CORS_ORIGINS: comma-separated origins (scheme://host[:port], as a browser sends them in Origin) or `*`. */
function corsOrigins(value: string | undefined): string[] {
  const list = (value ?? '').split(',').map((o) => o.trim()).filter(Boolean);
  for (const o of list) {
    let origin: string | undefined;
    try { origin = new URL(o).origin; } catch { /* refused below */ }
    if (o !== '*' && (origin !== o || o.includes('*'))) throw new ConfigError(`FACEPROOF_CORS_ORIGINS must list origins such as https://shop.example.com or http://localhost:3000 (scheme, host, port; no path or trailing slash) or *, got "${o}"`);
  }
  return list;
}

function builtinPipeline(name: string | undefined): PipelineConfig {
  if (!name) return DEFAULT_PIPELINE;
  const pipeline = BUILTIN_PIPELINES[name];
  if (!pipeline) throw new ConfigError(`FACEPROOF_PIPELINE must be one of ${Object.keys(BUILTIN_PIPELINES).join(', ')}, got "${name}"`);
  return pipeline;
}

function fraction(env: Env, name: string, fallback: number): number {
  const value = num(env, name, fallback);
  if (!(value > 0 && value < 1)) throw new ConfigError(`${name} must be between 0 and 1 (exclusive), got ${value}`);
  return value;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[]): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return allowed[0];
  if (!(allowed as readonly string[]).includes(raw)) throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
  return raw as T;
}

function int(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new ConfigError(`${name} must be a non-negative integer, got "${raw}"`);
  return value;
}

function num(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new ConfigError(`${name} must be a number, got "${raw}"`);
  return value;
}
