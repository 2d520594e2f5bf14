import type { FastifyRequest } from 'fastify';

const CLIENT_ID = /^[\w.:@/+-]{1,128}$/;

/** The fields every response carries: our request id, and the client's own X-Request-Id when it sent a sane one. */
export function envelope(request: FastifyRequest): { request_id: string; client_request_id?: string } {
  const client = request.headers['x-request-id'];
  const value = Array.isArray(client) ? client[0] : client;
  return value && CLIENT_ID.test(value) ? { request_id: request.id, client_request_id: value } : { request_id: request.id };
}
