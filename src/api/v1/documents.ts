import type { FastifyInstance } from 'fastify';
import type { DocumentService } from '../../core/documents/document-service.ts';
import type { ReadDocumentView } from '../../core/documents/document-reading.ts';
import { decodeChipFiles } from '../../core/documents/chip-verification.ts';
import { envelope } from '../envelope.ts';
import { errorResponses } from './schemas.ts';
import { imageSourceOf } from './inputs.ts';
import {
  ChallengeResponse, ChipVerifyBody, ChipVerifyResponse, ReadDocumentJsonBody, ReadDocumentMultipartBody, ReadDocumentResponse,
  VerifyDocumentBody, VerifyDocumentResponse, type ChipVerifyJson, type ReadDocumentBody, type VerifyDocumentJson,
} from './document-schemas.ts';

const tags = ['documents'];

/** A read document as the API shows it: the page's pixels only when asked for. */
export function documentView(d: ReadDocumentView, withImages: boolean) {
  return {
    format: d.format,
    mrz: d.mrz,
    quad: d.quad,
    page: { width: d.page.width, height: d.page.height, ...(withImages ? { image: d.page.image.toString('base64') } : {}) },
    portrait: d.portrait,
    capture: d.capture,
  };
}

export function documentRoutes(app: FastifyInstance, documents: DocumentService): void {
  app.post<{ Body: ReadDocumentBody }>('/v1/documents/read', {
    config: { usesEngine: true },
    schema: {
      tags,
      summary: 'Find identity documents in an image and read their MRZ',
      description: 'Locates each machine-readable zone (TD1, TD2, TD3, MRV-A, MRV-B; any rotation), reads and corrects it with the ICAO check digits, and returns the fields, every check digit\'s verdict, the document\'s corners, the straightened page and its portrait (with a face template, image type ID_DOCUMENT). `documents: []` when there is none.',
      body: { content: { 'application/json': { schema: ReadDocumentJsonBody }, 'multipart/form-data': { schema: ReadDocumentMultipartBody } } },
      response: { 200: ReadDocumentResponse, ...errorResponses(400, 413, 415, 429, 500) },
    },
  }, async (request) => {
    const found = await documents.read(imageSourceOf(request.body.image, 'image'), request.caller.tenantId);
    return { ...envelope(request), documents: found.map((d) => documentView(d, request.body.return_images ?? false)) };
  });

  app.post('/v1/documents/chip/challenge', {
    schema: {
      tags,
      summary: 'Draw a nonce for the chip\'s active authentication',
      description: 'Send the 8 bytes to the chip in INTERNAL AUTHENTICATE, then the chip\'s answer with `challenge_id` to /v1/documents/chip/verify (or /v1/documents/verify) within 5 minutes; each challenge is used once.',
      response: { 200: ChallengeResponse, ...errorResponses(400, 429, 500) },
    },
  }, async (request) => ({ ...envelope(request), ...(await documents.issueChallenge(request.caller.tenantId)) }));

  app.post<{ Body: ChipVerifyJson }>('/v1/documents/chip/verify', {
    config: { usesEngine: true, signed: true },
    schema: {
      tags,
      summary: 'Verify the files read from a passport\'s chip',
      description: 'Passive authentication (SOD signature, data-group hashes, the signer\'s chain to the trust store), DG1 against the printed MRZ, DG2\'s face (JPEG or JPEG 2000) with its template and, with `selfie`, its comparison; active authentication when the chip answered a challenge. A chip whose checks fail answers 200 with the failure; malformed files are 400 invalid_chip_data.',
      body: ChipVerifyBody,
      response: { 200: ChipVerifyResponse, ...errorResponses(400, 409, 413, 415, 422, 429, 500) },
    },
  }, async (request) => {
    const b = request.body;
    const report = await documents.verifyChip(request.caller.tenantId, decodeChipFiles(b), { mrz: b.mrz, selfie: b.selfie ? imageSourceOf(b.selfie, 'selfie') : undefined });
    return { ...envelope(request), ...report };
  });

  app.post<{ Body: VerifyDocumentJson }>('/v1/documents/verify', {
    config: { usesEngine: true, signed: true },
    schema: {
      tags,
      summary: 'One decision on a document, its chip and the person presenting it',
      description: 'Reads the document images, verifies the chip, compares the portrait and the chip\'s face with the selfies, checks expiry, MRZ against chip, age against the birth date and the capture\'s quality, and returns one signed decision (accept, review, reject) with every check\'s result.',
      body: VerifyDocumentBody,
      response: { 200: VerifyDocumentResponse, ...errorResponses(400, 409, 413, 415, 422, 429, 500) },
    },
  }, async (request) => {
    const b = request.body;
    const result = await documents.verify({
      tenantId: request.caller.tenantId,
      documents: (b.documents ?? []).map((d, i) => imageSourceOf(d, `documents[${i}]`)),
      chip: b.chip ? decodeChipFiles(b.chip) : undefined,
      selfies: (b.selfies ?? []).map((s, i) => imageSourceOf(s, `selfies[${i}]`)),
      maxAgeDifference: b.max_age_difference,
    });
    return { ...envelope(request), ...result, document: result.document ? documentView(result.document, b.return_images ?? false) : null };
  });
}
