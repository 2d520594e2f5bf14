import type { FastifyInstance } from 'fastify';
import { Type, type TObject } from '@sinclair/typebox';
import { FaceproofError } from '../../../core/errors.ts';
import { TRUSTVISION_PREFIX, TrustVisionEnvelope } from './descriptor.ts';

const tags = ['trustvision'];

/** The manual's ImageData: a stored image by `id` or the image itself in `base64`. */
const ImageData = Type.Object({
  id: Type.Optional(Type.String({ maxLength: 128 })),
  base64: Type.Optional(Type.String()),
  label: Type.Optional(Type.String({ maxLength: 64 })),
  metadata: Type.Optional(Type.String({ maxLength: 4096 })),
}, { additionalProperties: true });

const b64 = (description: string) => Type.Optional(Type.String({ description }));

/**
 * The identity-document operations of the manual, with their request schemas as the manual's tables
 * give them (fields beyond the tables are allowed: their forms carry QR images and videos). Identity
 * documents are issue 18's: until it wires these routes to core, each answers 401
 * access_denied_exception ("not authorized to perform the action"), as TrustVision answers a
 * customer whose account lacks the service (docs/dialects.md).
 */
const OPERATIONS: Array<{ path: string; summary: string; body: TObject }> = [
  { path: '/v1/read_id_card_info_sync', summary: 'Read an identity card (OCR)', body: Type.Object({ card_type: Type.String(), image1: ImageData, image2: Type.Optional(ImageData), qr1_images: Type.Optional(Type.Array(ImageData)), qr2_images: Type.Optional(Type.Array(ImageData)) }, { additionalProperties: true }) },
  { path: '/v1/verify_id_card_sanity_sync', summary: 'Is an identity card genuine-looking (sanity)?', body: Type.Object({ card_type: Type.String(), image1: ImageData, image2: Type.Optional(ImageData), special_id_type: Type.Optional(Type.String()) }, { additionalProperties: true }) },
  { path: '/v1/detect_id_card_tampering_sync', summary: 'Has an identity card been tampered with?', body: Type.Object({ card_type: Type.Optional(Type.String()), image1: Type.Optional(ImageData), image2: Type.Optional(ImageData) }, { additionalProperties: true }) },
  { path: '/v1/detect_id_cards_sync', summary: 'Find identity cards in an image', body: Type.Object({ card_type: Type.String(), image: ImageData }, { additionalProperties: true }) },
  { path: '/v1/read_doc_info_sync', summary: 'Read a document (OCR)', body: Type.Object({ doc_type: Type.String(), images: Type.Array(ImageData) }, { additionalProperties: true }) },
  {
    path: '/v1/verify_nfc', summary: 'Verify the data read from an identity card\'s chip',
    body: Type.Object({
      sod: Type.String({ description: 'EF.SOD, base64' }), dg1: b64('DG1, base64'), dg2: b64('DG2, base64'), dg13: b64('DG13, base64'), dg14: b64('DG14, base64'), dg15: b64('DG15, base64'), com: b64('EF.COM, base64'),
      cccd: Type.Optional(Type.String()), force_call_bca: Type.Optional(Type.Boolean()), clone_status: Type.Optional(Type.String()), card_image_id: Type.Optional(Type.String()),
    }, { additionalProperties: true }),
  },
  { path: '/v1/check_nfc', summary: 'Has a chip of this ID number been verified before?', body: Type.Object({ id_num: Type.String(), issue_date: Type.Optional(Type.String()) }, { additionalProperties: true }) },
  { path: '/v1/ekyc', summary: 'Identity card and selfies in one call (eKYC)', body: Type.Object({ card_type: Type.String(), image1: ImageData, image2: Type.Optional(ImageData), selfies: Type.Array(ImageData, { maxItems: 3 }) }, { additionalProperties: true }) },
];

export function trustvisionDocumentRoutes(app: FastifyInstance): void {
  for (const op of OPERATIONS) {
    app.post(`${TRUSTVISION_PREFIX}${op.path}`, {
      schema: {
        tags, summary: `${op.summary} — not served yet (identity documents, issue 18)`,
        description: 'Answers 401 access_denied_exception until identity documents are served.',
        body: op.body,
        response: { 200: TrustVisionEnvelope(Type.Object({}, { additionalProperties: true })) },
      },
    }, async () => {
      throw new FaceproofError('insufficient_scope', `${op.path.slice(4)} is not served by this server yet: identity documents are not supported (docs/dialects.md)`);
    });
  }
}
