import type { FastifyInstance, FastifyRequest } from 'fastify';
import { createHash } from 'node:crypto';
import { Type, type Static, type TObject } from '@sinclair/typebox';
import { FaceproofError } from '../../../core/errors.ts';
import type { ImageSource } from '../../../core/image-input.ts';
import type { DocumentService, DocumentCheck } from '../../../core/documents/document-service.ts';
import type { ReadDocumentView } from '../../../core/documents/document-reading.ts';
import { decodeChipFiles, type ChipReport } from '../../../core/documents/chip-verification.ts';
import { normaliseIdNumber, type VerifiedChips } from '../../../core/documents/verified-chips.ts';
import type { AppServices } from '../../app.ts';
import { TRUSTVISION_PREFIX, TrustVisionEnvelope } from './descriptor.ts';
import { imageSourceOf } from './shared.ts';
import {
  DOC_TYPES_NOT_SERVED, DOC_TYPES_READ, cardBoxOf, cardInformation, cardLabelOf, cardTypeOf, kindOfDocument, kindOfType,
  mrzConfidence, mrzParsed, mrzRaw, sanityOf, type InformationItem,
} from './documents-translation.ts';

const tags = ['trustvision'];
const P = TRUSTVISION_PREFIX;
const engine = { usesEngine: true };

/** The manual's ImageData: a stored image by `id` or the image itself in `base64`. */
const ImageData = Type.Object({
  id: Type.Optional(Type.String({ maxLength: 128 })),
  base64: Type.Optional(Type.String()),
  label: Type.Optional(Type.String({ maxLength: 64 })),
  metadata: Type.Optional(Type.Unknown({ description: 'string_json: kept by the upload API; not used here' })),
}, { additionalProperties: true });
type ImageDataT = Static<typeof ImageData>;
const b64 = (description: string) => Type.Optional(Type.String({ description }));
const CardType = Type.String({ maxLength: 64, description: 'One of the manual\'s Card type table (global.passport, vn.national_id, …). Any ICAO 9303 document (TD1, TD2, TD3, MRV) is read whatever the type; a document of another kind (a passport for an ID-card type, …) is the failure incorrect_card_type.' });

const ReadBody = Type.Object({ card_type: CardType, image1: ImageData, image2: Type.Optional(ImageData), qr1_images: Type.Optional(Type.Array(ImageData)), qr2_images: Type.Optional(Type.Array(ImageData)), qr1_videos: Type.Optional(Type.Array(Type.Unknown())) }, { additionalProperties: true });
const SanityBody = Type.Object({ card_type: CardType, image1: ImageData, image2: Type.Optional(ImageData), special_id_type: Type.Optional(Type.String({ maxLength: 128 })) }, { additionalProperties: true });
const TamperingBody = Type.Object({ card_type: Type.Optional(Type.String()), image: Type.Optional(ImageData), image1: Type.Optional(ImageData), image2: Type.Optional(ImageData) }, { additionalProperties: true });
const DetectBody = Type.Object({ card_type: CardType, image: ImageData }, { additionalProperties: true });
const DocBody = Type.Object({ doc_type: Type.String({ maxLength: 64, description: 'global.passport, global.visa, global.id_card or any card type: an ICAO 9303 document. vn.business_license is not read by this server (401 access_denied_exception).' }), images: Type.Array(ImageData, { minItems: 1, maxItems: 10 }) }, { additionalProperties: true });
const NfcBody = Type.Object({
  sod: Type.String({ description: 'EF.SOD, base64' }), dg1: b64('DG1, base64'), dg2: b64('DG2, base64'), dg13: b64('DG13, base64'), dg14: b64('DG14, base64'), dg15: b64('DG15, base64'), com: b64('EF.COM, base64 (taken; the SOD does not cover it)'),
  cccd: Type.Optional(Type.String({ maxLength: 64, description: 'The ID number: compared with DG1\'s document number and optional data' })),
  force_call_bca: Type.Optional(Type.Boolean({ description: 'Taken; there is no authorities\' lookup here (bca_status not_check)' })),
  clone_status: Type.Optional(Type.String({ maxLength: 32, description: 'good, alert or error, as the client\'s SDK judged the chip; echoed in nfc_verification.clone_status' })),
  card_image_id: Type.Optional(Type.String({ maxLength: 128, description: 'A stored card image: the verification\'s verdict is added to its metadata' })),
}, { additionalProperties: true });
const CheckNfcBody = Type.Object({
  id_num: Type.String({ minLength: 1, maxLength: 128, description: 'The ID number as printed, or its SHA-256 (64 hex digits)' }),
  issue_date: Type.Optional(Type.String({ maxLength: 32, description: 'DD/MM/YYYY; taken and not compared (an ICAO chip\'s DG1 carries no issue date)' })),
}, { additionalProperties: true });
const EkycBody = Type.Object({ card_type: CardType, image1: ImageData, image2: Type.Optional(ImageData), selfies: Type.Array(ImageData, { minItems: 1, maxItems: 3 }) }, { additionalProperties: true });

const AnyData = TrustVisionEnvelope(Type.Object({}, { additionalProperties: true }));

/** A `failure` verdict of the manual: HTTP 200, data.status "failure", the reason in `errors`. */
class Failed extends Error {
  constructor(readonly code: string, message: string, readonly detail: Record<string, unknown> = {}) { super(message); }
}

function failureAnswer(request: FastifyRequest, f: Failed, data: Record<string, unknown>) {
  request.outcome = 'no_result';
  return { data: { status: 'failure' as const, ...data, request_id: request.id }, errors: [{ code: f.code, message: f.message, detail: f.detail }] };
}

/** The id the answer names an image by: the stored one, or "" for an image sent inline (Faceproof stores nothing the client did not upload). */
const idOf = (image: ImageDataT | undefined) => image?.id ?? '';
const r4 = (v: number) => Math.round(v * 1e4) / 1e4;

/** The face id ekyc names a face by: a UUID from the image (its id, or its bytes) and the face's place, as compare_faces_sync's. */
function faceId(image: ImageDataT, index: number): string {
  const h = createHash('sha256').update(image.id !== undefined ? `id:${image.id}` : `b64:${image.base64 ?? ''}`).update(`:${index}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const resultOf = (decision: string) => (decision === 'match' ? 'matched' : decision === 'uncertain' ? 'unsure' : 'unmatched');

/** Core's chip field names (data_groups.2) as the manual's (dg2). */
function chipField(err: unknown): unknown {
  if (!(err instanceof FaceproofError) || err.field === undefined) return err;
  const m = /^data_groups\.(?:dg)?(\d+)/i.exec(err.field);
  if (!m) return err;
  const again = new FaceproofError(err.code, err.message.replace(/data_groups\.(?:dg)?(\d+)/gi, 'dg$1'), `dg${m[1]}`);
  again.missing = err.missing;
  return again;
}

/** Each document in an image; several in one image, or none, is the manual's nocard_or_multicard_image when `one` is asked. */
async function readImage(documents: DocumentService, image: ImageDataT, field: string, tenantId: string): Promise<ReadDocumentView[]> {
  return documents.read(imageSourceOf(image, field), tenantId, field);
}

function onlyDocument(found: ReadDocumentView[], field: string): ReadDocumentView | null {
  if (found.length > 1) throw new Failed('nocard_or_multicard_image', `${field} shows ${found.length} documents: send one per image`, { field });
  return found[0] ?? null;
}

/** The document on each side of a card (image1, and image2 when sent), one at most per image. */
async function readSides(documents: DocumentService, b: { image1: ImageDataT; image2?: ImageDataT }, tenantId: string) {
  const one = onlyDocument(await readImage(documents, b.image1, 'image1', tenantId), 'image1');
  const two = b.image2 ? onlyDocument(await readImage(documents, b.image2, 'image2', tenantId), 'image2') : null;
  return { one, two };
}

/** A card type naming one kind of document (a passport, an ID card) given another: the manual's incorrect_card_type. */
function checkCardType(cardType: string, d: ReadDocumentView, field: string): void {
  const read = kindOfDocument(d.mrz.fields);
  if (read !== kindOfType(cardType)) {
    throw new Failed('incorrect_card_type', `${field} is ${read === 'id_card' ? 'an identity card' : `a ${read}`} (MRZ document code ${d.mrz.fields.document_code ?? '?'}), not a ${cardType}`, { field, card_type: cardType });
  }
}

const noCard = (fields: string[]) => new Failed('nocard_or_multicard_image', `no identity document with a machine-readable zone was found in ${fields.join(' or ')}`, { field: fields[0] });

/** One image of a reading answer: its id, the card's box, the MRZ read (ocr and qr are not read here: null). */
function imageAnswer(image: ImageDataT, d: ReadDocumentView | null) {
  return {
    id: idOf(image),
    transformed_image_id: '',
    card_box: d ? cardBoxOf(d.quad) : null,
    qr: null,
    ocr: { parsed: null, raw: null },
    mrz: d ? { parsed: mrzParsed(d), raw: mrzRaw(d) } : { parsed: null, raw: null },
    nfc: { parsed: null, raw: null },
  };
}

function documentsOf(services: AppServices, operation: string): DocumentService {
  if (!services.documents) throw new FaceproofError('insufficient_scope', `${operation} is not served by this server: identity documents are not configured (docs/dialects.md)`);
  return services.documents;
}

/** The chips verified here, for check_nfc (the server's table of them). */
function verifiedChipsOf(services: AppServices): VerifiedChips {
  if (!services.verifiedChips) throw new FaceproofError('insufficient_scope', 'check_nfc is not served by this server: identity documents are not configured (docs/dialects.md)');
  return services.verifiedChips;
}

/** nfc_verification.integrity_status from passive authentication (and the ID number given beside the chip). */
function integrityOf(report: ChipReport, cccdMismatch: string | null) {
  const pa = report.passive_authentication;
  const hashes = pa.hashes as Record<string, string>;
  const details = { hashes, signature: pa.signature, chain: pa.chain };
  if (!pa.valid) {
    const badHash = Object.entries(hashes).find(([, v]) => v === 'invalid')?.[0];
    const code = pa.failure ?? (badHash ? `dg${badHash}_hash_mismatch` : pa.signature !== 'valid' ? 'signature_invalid' : `chain_${pa.chain}`);
    const why = badHash ? `DG${badHash}'s hash is not the one the SOD signs`
      : pa.signature !== 'valid' ? 'the SOD\'s signature does not verify'
        : pa.chain === 'untrusted' ? 'the document signer does not chain to a CSCA of this server\'s trust store'
          : `the document signer's chain is ${pa.chain}`;
    return { verdict: 'alert', error_code: code, error_message: why, details };
  }
  if (cccdMismatch) return { verdict: 'alert', error_code: 'id_number_mismatch', error_message: cccdMismatch, details };
  return { verdict: 'good', error_code: '', error_message: '', details };
}

export function trustvisionDocumentRoutes(app: FastifyInstance, services: AppServices): void {
  /** Runs an operation, turning its `failure` verdicts into the manual's 200 failure answer (with what was found so far). */
  const verdicts = async <T>(request: FastifyRequest, partial: Record<string, unknown>, run: () => Promise<T>) => {
    try {
      return await run();
    } catch (err) {
      if (err instanceof Failed) return failureAnswer(request, err, partial);
      throw err;
    }
  };

  app.post<{ Body: Static<typeof ReadBody> }>(`${P}/v1/read_id_card_info_sync`, {
    config: engine,
    schema: {
      tags, summary: 'Read an identity document: its MRZ (ICAO 9303) as card_information, its box, each image\'s MRZ lines',
      description: 'image1 (and image2, the other side) are searched for a machine-readable zone (TD1, TD2, TD3, MRV-A, MRV-B). card_information: identity_number, full_name, first_name, last_name, birth_date (YYYY-MM-DD), gender, nationality, expiry_date, issuing_country, document_type, optional_data, card_type, card_label, each with its confidence. The visual zone (address, issue date, …) and QR codes are not read (ocr and qr: null). No document, or several in one image: status failure, nocard_or_multicard_image.',
      body: ReadBody, response: { 200: AnyData },
    },
  }, async (request) => {
    const b = request.body;
    const documents = documentsOf(services, 'read_id_card_info');
    const cardType = cardTypeOf(b.card_type);
    const tenantId = request.caller.tenantId;
    const partial: Record<string, unknown> = {};
    return verdicts(request, partial, async () => {
      const { one, two } = await readSides(documents, b, tenantId);
      partial.image1 = imageAnswer(b.image1, one);
      partial.image2 = b.image2 ? imageAnswer(b.image2, two) : null;
      const read = one ?? two;
      if (!read) throw noCard(b.image2 ? ['image1', 'image2'] : ['image1']);
      const field = one ? 'image1' : 'image2';
      checkCardType(cardType, read, field);
      return {
        data: {
          status: 'success' as const,
          image1: partial.image1, image2: partial.image2,
          card_information: cardInformation(read.mrz.fields, mrzConfidence(read), { cardType, cardLabel: cardLabelOf(cardType, read) }),
          request_id: request.id,
        },
      };
    });
  });

  app.post<{ Body: Static<typeof SanityBody> }>(`${P}/v1/verify_id_card_sanity_sync`, {
    config: engine,
    schema: {
      tags, summary: 'Is the capture of an identity document good enough (not cut, sharp, no glare, large enough, MRZ consistent)?',
      description: 'card_sanity.verdict: good, or the first issue found (image1 before image2): image_has_cut (a corner outside the photo), image_too_blur (blurred, or info too_small), image_too_bright (glare), mrz_check_digits_invalid (Faceproof\'s addition: the MRZ\'s check digits do not hold). Sanity here is the capture\'s quality and the MRZ\'s consistency: there is no tampering or forgery model. No document: status failure, nocard_or_multicard_image.',
      body: SanityBody, response: { 200: AnyData },
    },
  }, async (request) => {
    const b = request.body;
    const documents = documentsOf(services, 'verify_id_card_sanity');
    const cardType = cardTypeOf(b.card_type);
    const tenantId = request.caller.tenantId;
    const partial: Record<string, unknown> = {};
    return verdicts(request, partial, async () => {
      const { one, two } = await readSides(documents, b, tenantId);
      const side = (image: ImageDataT, d: ReadDocumentView | null) => ({ id: idOf(image), transformed_image_id: '', card_box: d ? cardBoxOf(d.quad) : null });
      partial.image1 = side(b.image1, one);
      partial.image2 = b.image2 ? side(b.image2, two) : null;
      if (!one && !two) throw noCard(b.image2 ? ['image1', 'image2'] : ['image1']);
      checkCardType(cardType, (one ?? two)!, one ? 'image1' : 'image2');
      const found = [one && sanityOf(one.capture, one.mrz.valid), two && sanityOf(two.capture, two.mrz.valid)].find((v) => v);
      return {
        data: {
          status: 'success' as const,
          image1: partial.image1, image2: partial.image2,
          card_sanity: found ?? { verdict: 'good', score: 1 },
          request_id: request.id,
        },
      };
    });
  });

  app.post<{ Body: Static<typeof DetectBody> }>(`${P}/v1/detect_id_cards_sync`, {
    config: engine,
    schema: {
      tags, summary: 'Find the identity documents (those with a machine-readable zone) in an image, each with its box and label',
      description: 'Every ICAO 9303 document whose MRZ is found: card_label (the request\'s card type and the side, or global.passport / global.id_card / global.visa when the document is of another kind) and card_box. A card side without an MRZ is not found. No document: success with no cards.',
      body: DetectBody, response: { 200: AnyData },
    },
  }, async (request) => {
    const b = request.body;
    const documents = documentsOf(services, 'detect_id_cards');
    const cardType = cardTypeOf(b.card_type);
    const found = await readImage(documents, b.image, 'image', request.caller.tenantId);
    return {
      data: {
        status: 'success' as const,
        image: { id: idOf(b.image), cards: found.map((d) => ({ transformed_image_id: '', card_label: cardLabelOf(cardType, d), card_box: cardBoxOf(d.quad) })) },
        request_id: request.id,
      },
    };
  });

  app.post<{ Body: Static<typeof DocBody> }>(`${P}/v1/read_doc_info_sync`, {
    config: engine,
    schema: {
      tags, summary: 'Read passports, visas and other ICAO 9303 documents page by page: doc_box, the MRZ lines, doc_information',
      description: 'doc_type global.passport, global.visa, global.id_card or a card type. Each image: doc_box and ocr (parsed: the MRZ\'s fields, raw: its lines); doc_information: as read_id_card_info\'s card_information, from the first image with an MRZ. vn.business_license is not read here: 401 access_denied_exception. No document in any image: status failure, nocard_or_multicard_image.',
      body: DocBody, response: { 200: AnyData },
    },
  }, async (request) => {
    const b = request.body;
    const documents = documentsOf(services, 'read_doc_info');
    if (DOC_TYPES_NOT_SERVED.includes(b.doc_type)) throw new FaceproofError('insufficient_scope', `doc_type ${b.doc_type} is not read by this server: ICAO 9303 documents only (docs/dialects/trustvision.md)`, 'doc_type');
    if (!DOC_TYPES_READ.includes(b.doc_type)) throw new FaceproofError('invalid_parameter', `doc_type ${JSON.stringify(b.doc_type.slice(0, 64))} is not one this server reads (global.passport, global.visa, global.id_card or a card type)`, 'doc_type');
    const tenantId = request.caller.tenantId;
    const partial: Record<string, unknown> = {};
    return verdicts(request, partial, async () => {
      const reads: Array<ReadDocumentView | null> = [];
      for (const [i, image] of b.images.entries()) reads.push(onlyDocument(await readImage(documents, image, `images[${i}]`, tenantId), `images[${i}]`));
      partial.images = b.images.map((image, i) => {
        const d = reads[i];
        return { id: idOf(image), transformed_image_id: '', doc_box: d ? cardBoxOf(d.quad) : null, ocr: d ? { parsed: mrzParsed(d), raw: mrzRaw(d) } : null };
      });
      const first = reads.find((d) => d);
      if (!first) throw noCard(['images']);
      return {
        data: {
          status: 'success' as const,
          images: partial.images,
          doc_information: cardInformation(first.mrz.fields, mrzConfidence(first), { cardType: b.doc_type }),
          request_id: request.id,
        },
      };
    });
  });

  app.post<{ Body: Static<typeof NfcBody> }>(`${P}/v1/verify_nfc`, {
    config: engine,
    schema: {
      tags, summary: 'Verify the files read from a chip (ICAO 9303 passive authentication) and give its data: card_information from DG1, DG2\'s face as a stored image',
      description: 'integrity_status: good when every data group sent hashes to the SOD\'s value, the SOD\'s signature verifies and its signer chains to a CSCA of the trust store (/v1/admin/trust); otherwise alert with the failure. bca_status: not_check (no authorities\' lookup). clone_status: the client\'s, echoed. The manual\'s rule holds: dg13 or cccd must be given. A chip that verifies is remembered (its ID numbers as SHA-256) for check_nfc.',
      body: NfcBody, response: { 200: AnyData },
    },
  }, async (request) => {
    const b = request.body;
    const documents = documentsOf(services, 'verify_nfc');
    const tenantId = request.caller.tenantId;
    const given = (v: string | undefined) => typeof v === 'string' && v !== '';
    if (!given(b.dg13) && !given(b.cccd)) throw FaceproofError.missing('dg13 or cccd must be provided', 'cccd');
    if (!given(b.sod)) throw FaceproofError.missing('sod is required', 'sod');
    const groups: Record<string, string> = {};
    for (const n of [1, 2, 13, 14, 15] as const) {
      const v = b[`dg${n}`];
      if (given(v)) groups[String(n)] = v!;
    }
    let report: ChipReport;
    let sod: Uint8Array;
    try {
      const files = decodeChipFiles({ sod: b.sod, data_groups: groups });
      sod = files.sod;
      report = await documents.verifyChip(tenantId, files);
    } catch (err) {
      throw chipField(err);
    }
    if (given(b.card_image_id)) {
      try { await services.images.describe(tenantId, b.card_image_id!); } catch (err) {
        if (err instanceof FaceproofError && err.code === 'not_found') throw new FaceproofError('not_found', `no image ${b.card_image_id}`, 'card_image_id');
        throw err;
      }
    }
    const dg1 = report.dg1?.fields ?? null;
    let cccdMismatch: string | null = null;
    const idNumbers: string[] = [];
    if (dg1) {
      const numbers = [dg1.document_number, dg1.optional_data].filter((v): v is string => !!v).map(normaliseIdNumber).filter(Boolean);
      idNumbers.push(...numbers);
      if (given(b.cccd)) {
        const cccd = normaliseIdNumber(b.cccd!);
        if (numbers.some((n) => n === cccd || (cccd.length >= 6 && n.includes(cccd)))) idNumbers.push(cccd);
        else cccdMismatch = `cccd ${cccd} is neither DG1's document number nor in its optional data`;
      }
    }
    const integrity = integrityOf(report, cccdMismatch);
    const clone = b.clone_status ?? '';
    const verdict = integrity.verdict !== 'good' || clone === 'alert' || clone === 'error' ? 'alert' : 'good';
    const signed = report.passive_authentication.signature === 'valid' && (report.passive_authentication.hashes as Record<string, string>)['1'] === 'valid';
    const card: InformationItem[] = dg1 ? cardInformation(dg1, () => (signed ? 1 : 0.5)) : [];

    let image: { id: string } | null = null;
    if (report.face) {
      const stored = await services.images.store(tenantId, { kind: 'base64', data: report.face.image }, { label: 'portrait', metadata: { source: 'verify_nfc', data_group: 2, request_id: request.id } }, 'dg2');
      image = { id: stored.id };
    }
    const inputFields = ['dg1', 'dg13', 'dg2', 'dg14', 'dg15', 'com', 'cccd'].filter((f) => given((b as unknown as Record<string, string | undefined>)[f]));
    if (integrity.verdict === 'good' && idNumbers.length) {
      await verifiedChipsOf(services).record({ tenantId, idNumbers, sod: sod!, inputFields, requestId: request.id });
    }
    if (given(b.card_image_id)) {
      const current = await services.images.describe(tenantId, b.card_image_id!);
      await services.images.update(tenantId, b.card_image_id!, { metadata: { ...current.metadata, nfc_request_id: request.id, nfc_verdict: verdict } });
    }
    return {
      data: {
        status: 'success' as const,
        card_information: card,
        image,
        nfc_verification: {
          bca_status: { verdict: 'not_check', error_code: 'not_supported', error_message: 'this server makes no lookup with the authorities (BCA)' },
          integrity_status: integrity,
          clone_status: { verdict: clone },
          verdict,
        },
        request_id: request.id,
      },
    };
  });

  app.post<{ Body: Static<typeof CheckNfcBody> }>(`${P}/v1/check_nfc`, {
    schema: {
      tags, summary: 'Has a chip carrying this ID number been verified (verify_nfc, integrity good) for this customer before?',
      description: 'id_num: the number as printed or its SHA-256 (64 hex digits). verified: the latest such verification\'s hash_sod (SHA-512 of the EF.SOD) and input_fields. issue_date is taken and not compared.',
      body: CheckNfcBody, response: { 200: AnyData },
    },
  }, async (request) => {
    const b = request.body;
    documentsOf(services, 'check_nfc');
    if (b.issue_date !== undefined && b.issue_date !== '' && !/^\d{2}\/\d{2}\/\d{4}$/.test(b.issue_date)) {
      throw new FaceproofError('invalid_parameter', 'issue_date must be DD/MM/YYYY', 'issue_date');
    }
    if (b.id_num.trim() === '') throw FaceproofError.missing('id_num is required', 'id_num');
    const found = await verifiedChipsOf(services).find(request.caller.tenantId, b.id_num);
    return {
      data: {
        status: 'success' as const,
        nfc_check: found ? { status: 'verified', hash_sod: found.sodSha512, input_fields: found.inputFields } : { status: 'not_verified' },
        request_id: request.id,
      },
    };
  });

  app.post<{ Body: Static<typeof EkycBody> }>(`${P}/v1/ekyc`, {
    config: engine,
    schema: {
      tags, summary: 'eKYC in one call: the document read (card_information), its portrait against every selfie (compare_faces), the selfies\' liveness',
      description: 'Core\'s one-shot document verification (the documents read, the portrait against each selfie, expiry, capture quality, age) with the selfies\' passive liveness. Failures (status failure): nocard_or_multicard_image, incorrect_card_type, image_has_no_faces (no portrait, or a selfie without a face; detail.sanity id_card or portrait), a capture issue (image_has_cut, image_too_blur, image_too_bright; detail.sanity id_card). verification (Faceproof\'s addition): the decision, its reasons and every check.',
      body: EkycBody, response: { 200: AnyData },
    },
  }, async (request) => {
    const b = request.body;
    const documents = documentsOf(services, 'ekyc');
    const cardType = cardTypeOf(b.card_type);
    const tenantId = request.caller.tenantId;
    const partial: Record<string, unknown> = {};
    return verdicts(request, partial, async () => {
      const cards = [b.image1, ...(b.image2 ? [b.image2] : [])];
      const cardSources = cards.map((image, i) => imageSourceOf(image, `image${i + 1}`));
      const selfieSources: ImageSource[] = b.selfies.map((s, i) => imageSourceOf(s, `selfies[${i}]`));
      let result;
      try {
        result = await documents.verify({ tenantId, documents: cardSources, selfies: selfieSources });
      } catch (err) {
        if (err instanceof FaceproofError && err.code === 'no_document_detected') throw noCard(b.image2 ? ['image1', 'image2'] : ['image1']);
        if (err instanceof FaceproofError && err.code === 'no_face_detected') {
          const field = (err.field ?? 'selfies').replace(/^documents\[(\d)\]/, (_, i) => `image${Number(i) + 1}`);
          throw new Failed('image_has_no_faces', err.message.replace(/documents\[(\d)\]/g, (_, i) => `image${Number(i) + 1}`), { field, sanity: field.startsWith('selfies') ? 'portrait' : 'id_card' });
        }
        throw err;
      }
      const d = result.document!;
      const cardIndex = await indexOfCard(documents, cards, tenantId, d);
      partial.card_information = cardInformation(d.mrz.fields, mrzConfidence(d), { cardType, cardLabel: cardLabelOf(cardType, d) });
      checkCardType(cardType, d, `image${cardIndex + 1}`);
      const portraitCheck = result.checks.portrait_matches_selfie as DocumentCheck & { selfies?: Array<{ score: number; decision: string }> };
      partial.compare_faces = (portraitCheck.selfies ?? []).map((m, i) => ({
        face1_id: faceId(cards[cardIndex], 0), face2_id: faceId(b.selfies[i], 0), score: r4(m.score), result: resultOf(m.decision),
      }));
      const live = await services.liveness.checkImages(selfieSources, tenantId, 'MEDIUM');
      partial.liveness_check = { is_live: live.isLive, score: r4(live.score) };
      partial.verification = { decision: result.decision, reasons: result.reasons, checks: result.checks };
      if (!d.portrait) throw new Failed('image_has_no_faces', 'no portrait was found on the document', { field: `image${cardIndex + 1}`, sanity: 'id_card' });
      const sanity = sanityOf(d.capture, true);
      if (sanity) throw new Failed(sanity.verdict, `the document's capture: ${sanity.info}`, { field: `image${cardIndex + 1}`, sanity: 'id_card' });
      return { data: { status: 'success' as const, ...partial, request_id: request.id } };
    });
  });

  // Tampering needs a model of forged and altered documents that this server does not have.
  app.post(`${P}/v1/detect_id_card_tampering_sync`, {
    schema: {
      tags, summary: 'Has an identity card been tampered with? — not served (no tampering model)',
      description: 'Answers 401 access_denied_exception: this server has no model of tampered or forged documents (docs/dialects/trustvision.md).',
      body: TamperingBody as TObject,
      response: { 200: AnyData },
    },
  }, async () => {
    throw new FaceproofError('insufficient_scope', 'detect_id_card_tampering is not served by this server: it has no tampering model (docs/dialects/trustvision.md)');
  });
}

/** Which of the card images the verification read its document from (the first with one): the same quad in the same image. */
async function indexOfCard(documents: DocumentService, cards: ImageDataT[], tenantId: string, d: ReadDocumentView): Promise<number> {
  // DocumentService.verify reads the images in order and keeps the first document: image1 unless it has none.
  if (cards.length === 1) return 0;
  const first = await documents.read(imageSourceOf(cards[0], 'image1'), tenantId, 'image1');
  return first.length > 0 && first[0].mrz.lines.join() === d.mrz.lines.join() ? 0 : 1;
}
