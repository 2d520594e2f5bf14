import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface MetricsSources {
  /** Engine requests in flight (the bounded queue). */
  pendingRequests(): number;
  inferenceStats(): Array<{ model: string; runs: number; seconds: number }>;
  collectionSizes(): Promise<Array<{ tenantId: string; name: string; faces: number }>>;
}

/**
 * Prometheus metrics at GET /metrics (scope `metrics`): requests by route and status, latency,
 * queue, inference, faces stored. Process and Node.js metrics keep prom-client's standard names
 * (process_cpu_seconds_total, nodejs_heap_size_used_bytes, …) so stock dashboards work. Series
 * labelled with tenants and collections are shown only to a key that also holds `admin`: one
 * tenant's scraper key must not learn another tenant's names.
 */
export function registerMetrics(app: FastifyInstance, sources: MetricsSources): void {
  const registry = new Registry();
  const perTenant = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({ name: 'faceproof_http_requests_total', help: 'HTTP requests by route, method and status', labelNames: ['route', 'method', 'status'], registers: [registry] });
  const latency = new Histogram({
    name: 'faceproof_http_request_duration_seconds', help: 'HTTP request latency by route', labelNames: ['route', 'method'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry],
  });
  new Gauge({ name: 'faceproof_engine_pending_requests', help: 'Requests in flight for the face engine', registers: [registry], collect() { this.set(sources.pendingRequests()); } });
  new Gauge({
    name: 'faceproof_inference_runs', help: 'Inferences run per model since start', labelNames: ['model'], registers: [registry],
    collect() { for (const s of sources.inferenceStats()) this.set({ model: s.model }, s.runs); },
  });
  new Gauge({
    name: 'faceproof_inference_seconds', help: 'Seconds spent per model since start (queue wait included)', labelNames: ['model'], registers: [registry],
    collect() { for (const s of sources.inferenceStats()) this.set({ model: s.model }, s.seconds); },
  });
  new Gauge({
    name: 'faceproof_collection_faces_total', help: 'Faces in every collection of every tenant', registers: [registry],
    async collect() { this.set((await sources.collectionSizes()).reduce((n, c) => n + c.faces, 0)); },
  });
  new Gauge({
    name: 'faceproof_collection_faces', help: 'Faces per collection (shown to admin keys only)', labelNames: ['tenant', 'collection'], registers: [perTenant],
    async collect() { this.reset(); for (const c of await sources.collectionSizes()) this.set({ tenant: c.tenantId, collection: c.name }, c.faces); },
  });

  app.addHook('onResponse', async (request, reply) => {
    // Unmatched paths share one label, so scanners cannot grow the series without bound.
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ route, method: request.method, status: String(reply.statusCode) });
    latency.observe({ route, method: request.method }, reply.elapsedTime / 1000);
  });
  app.get('/metrics', {
    schema: {
      tags: ['system'], summary: 'Prometheus metrics (text exposition format)',
      description: 'Per-collection series (tenant and collection labels) only for keys that also hold the `admin` scope.',
      response: { 200: { description: 'Prometheus text exposition format 0.0.4', content: { 'text/plain': { schema: { type: 'string' } } } } },
    },
  }, async (request, reply) => {
    const admin = request.caller.principal?.scopes.includes('admin') ?? false;
    const text = (await registry.metrics()) + (admin ? await perTenant.metrics() : '');
    return reply.type(registry.contentType).send(text);
  });
}
