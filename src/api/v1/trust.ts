import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { FaceproofError } from '../../core/errors.ts';
import { MAX_TRUST_FILE_BYTES } from '../../core/documents/trust-anchors.ts';
import type { TrustStore } from '../../core/documents/trust-store.ts';
import { envelope } from '../envelope.ts';
import { Envelope, errorResponses, FileField } from './schemas.ts';

/** The media types a trust file may be sent as; its kind is recognised from its bytes, whatever the type says. */
export const TRUST_FILE_MEDIA_TYPES = ['application/x-pem-file', 'application/pkix-cert', 'application/pkix-crl', 'application/pkcs7-mime', 'application/octet-stream'];

const Nullable = (s: ReturnType<typeof Type.String>) => Type.Union([s, Type.Null()]);

const AnchorSchema = Type.Object({
  id: Type.String({ description: 'The first 20 hex digits of the SHA-256 fingerprint' }),
  kind: Type.Union([Type.Literal('certificate'), Type.Literal('crl')]),
  subject: Type.String({ description: 'A CRL\'s issuer' }),
  issuer: Type.String(),
  serial: Type.String({ description: 'Hex; a CRL\'s CRL number' }),
  country: Nullable(Type.String()),
  not_before: Type.String({ description: 'A CRL\'s thisUpdate' }),
  not_after: Type.String({ description: 'A CRL\'s nextUpdate' }),
  subject_key_identifier: Nullable(Type.String()),
  authority_key_identifier: Nullable(Type.String()),
  sha256: Type.String(),
  source: Type.String({ description: 'The file it came from and the file\'s kind' }),
  added_at: Type.String(),
}, { title: 'TrustAnchor' });

const ImportResponse = Type.Object({
  ...Envelope,
  kind: Type.Union(['certificate', 'pem_bundle', 'master_list', 'certificate_bundle', 'crl'].map((k) => Type.Literal(k))),
  added: Type.Integer({ description: 'Anchors new to the store' }),
  already_present: Type.Integer({ description: 'Anchors of the file the store already held' }),
  skipped: Type.Integer({ description: 'Entries of the file that could not be read' }),
  anchors: Type.Array(AnchorSchema),
  master_list: Type.Optional(Type.Object({
    signer: Type.Union([Type.Object({
      subject: Type.String(), issuer: Type.String(), serial: Type.String(), not_before: Type.String(), not_after: Type.String(), country: Nullable(Type.String()),
    }), Type.Null()], { description: 'The master list signer\'s certificate' }),
    signature: Type.Literal('valid'),
    certificates: Type.Integer(),
  })),
});

const ImportQuery = Type.Object({
  source: Type.Optional(Type.String({ maxLength: 200, description: 'What to record as the anchors\' source (the file name); default "upload"' })),
}, { additionalProperties: false });
const AnchorParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

/**
 * The trust store for chip verification (admin scope): operator-wide CSCA certificates and CRLs.
 * The raw-file body parsers are registered inside this plugin only, so no other route reads those types.
 */
export async function trustRoutes(app: FastifyInstance, trust: TrustStore): Promise<void> {
  await app.register(async (scope) => {
    scope.addContentTypeParser(TRUST_FILE_MEDIA_TYPES, { parseAs: 'buffer', bodyLimit: MAX_TRUST_FILE_BYTES }, (_request, body, done) => done(null, body));
    const tags = ['documents'];
    const file = FileField('The file itself: a DER or PEM certificate, a PEM bundle, a CSCA master list (CMS), or a CRL');
    scope.post<{ Querystring: Static<typeof ImportQuery> }>('/v1/admin/trust', {
      bodyLimit: MAX_TRUST_FILE_BYTES,
      schema: {
        tags,
        summary: 'Import trust anchors for chip verification from a certificate, PEM bundle, CSCA master list or CRL (admin)',
        description: 'The kind is recognised from the bytes. A master list\'s own signature is checked (a damaged or altered list is refused). Importing a file twice adds nothing: 201 when something was added, 200 when all was already there.',
        querystring: ImportQuery,
        body: { content: Object.fromEntries(TRUST_FILE_MEDIA_TYPES.map((t) => [t, { schema: file }])) },
        response: { 200: ImportResponse, 201: ImportResponse, ...errorResponses(400, 401, 403, 413, 415) },
      },
    }, async (request, reply) => {
      const body = request.body;
      if (!Buffer.isBuffer(body) || body.length === 0) throw FaceproofError.missing(`send the file as the body (${TRUST_FILE_MEDIA_TYPES.join(', ')})`, 'body');
      const result = await trust.import(new Uint8Array(body.buffer, body.byteOffset, body.byteLength), request.query.source ?? 'upload');
      return reply.code(result.added > 0 ? 201 : 200).send({ ...envelope(request), ...result });
    });

    scope.get('/v1/admin/trust', {
      schema: { tags, summary: 'List the trust anchors (admin)', response: { 200: Type.Object({ ...Envelope, anchors: Type.Array(AnchorSchema) }), ...errorResponses(401, 403) } },
    }, async (request) => ({ ...envelope(request), anchors: await trust.list() }));

    scope.delete<{ Params: Static<typeof AnchorParams> }>('/v1/admin/trust/:id', {
      schema: { tags, summary: 'Remove a trust anchor (admin)', params: AnchorParams, response: { 200: Type.Object({ ...Envelope, anchor: AnchorSchema }), ...errorResponses(400, 401, 403, 404) } },
    }, async (request) => ({ ...envelope(request), anchor: await trust.remove(request.params.id) }));
  });
}
