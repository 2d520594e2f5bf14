import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TSchema } from '@sinclair/typebox';
import type { FaceproofError } from '../../core/errors.ts';
import type { AppServices } from '../app.ts';

/** A failure as a vendor answers it: status, body and any headers its manual adds. */
export interface DialectReply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/**
 * What the shared layer knows of a vendor's API: where it lives, which Faceproof service each of
 * its routes belongs to (the scope it needs, how it is audited and metered), which routes are
 * public, and how it answers a failure. Every failure of a route under the prefix (validation,
 * credentials, 404, 413, 429, 500) goes through `errorReply`, so it comes out in the vendor's shape.
 */
export interface DialectDescriptor {
  /** The folder under src/api/dialects and the OpenAPI tag. */
  name: string;
  /** The manual it follows, for the OpenAPI tag's description. */
  title: string;
  /** Mount point: the vendor's base URL is http://HOST:PORT + prefix. */
  prefix: string;
  /** The Faceproof service of a route, from its path below the prefix. */
  serviceOf(path: string): string;
  /** Paths below the prefix that need no credentials (token issuance). */
  publicPaths: readonly string[];
  /** The vendor's answer to a failure of one of its routes. */
  errorReply(err: FaceproofError, request: FastifyRequest): DialectReply;
  /** The HTTP status the vendor answers where Faceproof would answer `status` (some vendors answer errors with 200). */
  statusOf(status: number): number;
  /** The vendor's error body, for the OpenAPI document. */
  errorSchema: TSchema;
  /**
   * A vendor that signs requests with TrustVision's `TV` HMAC: the signed path is the route below the
   * prefix without its query (the vendor's base URL includes the prefix), and whether a signature may
   * be sent again within its time window (the native scheme refuses a repeat).
   */
  hmac?: { repeatedSignatures: boolean };
}

/** A dialect's routes, registered under its prefix with the use cases of the native API. */
export type DialectRoutes = (app: FastifyInstance, services: AppServices) => void;
