import type { FastifyInstance } from 'fastify';
import type { AppServices } from '../../app.ts';
import { trustvisionAccessRoutes } from './routes-access.ts';
import { trustvisionDocumentRoutes } from './routes-documents.ts';

/** TrustVision's operations, one module per area of its manual. */
export function trustvisionRoutes(app: FastifyInstance, services: AppServices): void {
  trustvisionAccessRoutes(app, services);
  trustvisionDocumentRoutes(app);
}
