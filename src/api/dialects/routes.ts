import type { FastifyInstance } from 'fastify';
import type { AppServices } from '../app.ts';
import { advanceRoutes } from './advance/routes.ts';
import { idenfaceRoutes } from './idenface/routes.ts';
import { idemiaRoutes } from './idemia/routes.ts';
import { senseidRoutes } from './senseid/routes.ts';
import { trustvisionRoutes } from './trustvision/routes.ts';

/** Registers every dialect's routes (each under the prefix of its descriptor in registry.ts). */
export function dialectRoutes(app: FastifyInstance, services: AppServices): void {
  advanceRoutes(app, services);
  idenfaceRoutes(app, services);
  idemiaRoutes(app, services);
  senseidRoutes(app, services);
  trustvisionRoutes(app, services);
}
