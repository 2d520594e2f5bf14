import type { FastifyInstance } from 'fastify';
import type { AppServices } from '../../app.ts';
import { trustvisionAccessRoutes } from './routes-access.ts';
import { trustvisionMediaRoutes } from './routes-media.ts';
import { trustvisionRecordRoutes } from './routes-records.ts';
import { trustvisionDocumentRoutes } from './routes-documents.ts';
import { trustvisionCollectionRoutes } from './routes-collections.ts';
import { trustvisionFaceAuthRoutes } from './routes-face-auth.ts';
import { trustvisionFaceRoutes } from './routes-faces.ts';

/** TrustVision's operations, one module per area of its manual. */
export function trustvisionRoutes(app: FastifyInstance, services: AppServices): void {
  trustvisionAccessRoutes(app, services);
  trustvisionMediaRoutes(app, services);
  trustvisionRecordRoutes(app, services);
  trustvisionDocumentRoutes(app, services);
  trustvisionCollectionRoutes(app, services);
  trustvisionFaceAuthRoutes(app, services);
  trustvisionFaceRoutes(app, services);
}
