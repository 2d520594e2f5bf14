import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { FaceproofError } from '../../../core/errors.ts';
import { scopesFromServiceFlags } from '../../../core/scopes.ts';
import type { AppServices } from '../../app.ts';
import { TRUSTVISION_PREFIX, TrustVisionEnvelope } from './descriptor.ts';

const tags = ['trustvision'];

const TemporaryCredentialBody = Type.Object({
  duration_seconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 86400, description: 'Default 900 (15 minutes)' })),
  services: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), Type.Boolean(), { description: "TrustVision service names (verify_face_liveness, …), each true/false; default: the signing key's own" })),
});

/** TrustVision's access operations: temporary credentials, which sign requests as the key that made them does. */
export function trustvisionAccessRoutes(app: FastifyInstance, services: AppServices): void {
  app.post<{ Body: Static<typeof TemporaryCredentialBody> }>(`${TRUSTVISION_PREFIX}/v1/temporary_credential`, {
    schema: {
      tags, summary: 'Temporary access key and secret with (a subset of) the signing key\'s services',
      body: TemporaryCredentialBody,
      response: { 200: TrustVisionEnvelope(Type.Object({ access_key: Type.String(), secret: Type.String(), expire_at: Type.String() })) },
    },
  }, async (request) => {
    const principal = request.caller.principal!;
    if (principal.scheme === 'token') throw new FaceproofError('insufficient_scope', 'temporary credentials are made from a key, not from a token', 'authorization');
    const b = request.body;
    const scopes = b.services ? scopesFromServiceFlags(b.services) : undefined;
    const issued = await services.administration.createTemporaryCredential(await services.administration.key(principal.keyId), { scopes, durationSeconds: b.duration_seconds ?? 900 });
    return { data: { access_key: issued.key.id, secret: issued.secret, expire_at: issued.key.expiresAt ?? '' } };
  });
}
