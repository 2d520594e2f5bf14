import { FaceproofError } from '../errors.ts';
import type { FaceService } from '../face-service.ts';
import type { AgeService } from '../age.ts';
import type { ImageLoader } from '../image-loader.ts';
import { publicRejection, type ImageSource } from '../image-input.ts';
import type { CalibratedScore, ImageType } from '../calibration.ts';
import { ChipVerifier, type ChipFiles, type ChipReport } from './chip-verification.ts';
import type { TrustStore } from './trust-store.ts';
import type { ActiveAuthenticationChallenges, IssuedChallenge } from './active-authentication-challenges.ts';
import type { CaptureQuality, DocumentReading, ReadDocumentView } from './document-reading.ts';
import { ageOn, isExpired } from './mrz-dates.ts';

/** One check of a one-shot verification: what was decided, and why when it is not a pass. */
export interface DocumentCheck {
  result: 'pass' | 'fail' | 'review' | 'not_checked';
  reason?: string;
  [detail: string]: unknown;
}

export interface FaceMatch {
  score: number;
  far: number;
  decision: CalibratedScore['decision'];
  threshold: number;
}

export interface DocumentVerification {
  decision: 'accept' | 'review' | 'reject';
  /** The checks that decided a reject or review, in the order of `checks`. */
  reasons: string[];
  checks: Record<string, DocumentCheck>;
  document: ReadDocumentView | null;
  chip: ChipReport | null;
}

export interface VerifyRequest {
  tenantId: string;
  documents: ImageSource[];
  chip?: ChipFiles;
  selfies: ImageSource[];
  /** Largest tolerated gap, years, between the age the birth date gives and the selfie's estimated age. */
  maxAgeDifference?: number;
}

/** Years between the MRZ's age and the selfie's apparent age beyond which a human should look (about 3× the estimator's MAE). */
export const DEFAULT_DOCUMENT_AGE_TOLERANCE = 15;

/**
 * Identity documents as use cases: read a document image (MRZ, page, portrait with its template),
 * verify a chip's files, and the one-shot verification that joins document, chip and selfies into
 * one decision. Pixels are the engine's (DocumentReading); cryptography is the chip verifier's.
 */
export class DocumentService {
  constructor(
    private readonly reading: DocumentReading,
    private readonly chips: ChipVerifier,
    private readonly faces: FaceService,
    private readonly loader: ImageLoader,
    private readonly age?: AgeService,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The service with its chip verifier, whose faces get templates from the same face service. */
  static compose(reading: DocumentReading, trust: TrustStore, challenges: ActiveAuthenticationChallenges, faces: FaceService, loader: ImageLoader, age?: AgeService): DocumentService {
    return new DocumentService(reading, new ChipVerifier(trust, challenges, (png) => templateOfPng(faces, png)), faces, loader, age);
  }

  /** Every document in the image, each with its portrait's template ([] when none is found). */
  async read(source: ImageSource, tenantId: string, field = 'image'): Promise<ReadDocumentView[]> {
    const bytes = await this.loader.bytesOf(source, tenantId, field);
    try {
      return await this.reading.read(bytes, (png) => templateOfPng(this.faces, png));
    } catch (err) {
      // The header passed; a body that is truncated or corrupt is found only when the reader decodes it.
      throw publicRejection(err, field);
    }
  }

  /** Passive (and, with a challenge answered, active) authentication, DG1 against the printed MRZ, the chip's face against a selfie. */
  async verifyChip(tenantId: string, files: ChipFiles, options: { mrz?: string; selfie?: ImageSource } = {}): Promise<ChipReport> {
    const report = await this.chips.verify(tenantId, files, options.mrz);
    if (options.selfie && report.face?.template) {
      const selfie = await this.templateOfSource(options.selfie, tenantId, 'selfie');
      report.face.selfie_match = await this.match(report.face.template, selfie, 'ID_DOCUMENT', 'SELFIE');
    }
    return report;
  }

  issueChallenge(tenantId: string): Promise<IssuedChallenge> {
    return this.chips.issueChallenge(tenantId);
  }

  async verify(request: VerifyRequest): Promise<DocumentVerification> {
    const { tenantId } = request;
    if (request.documents.length === 0 && !request.chip) throw FaceproofError.missing('give at least one document image or the chip files', 'documents');
    const read = await this.readFirstDocument(request.documents, tenantId);
    const chip = request.chip ? await this.chips.verify(tenantId, request.chip, read?.mrz.lines.join('\n')) : null;
    if (!read && !chip) throw new FaceproofError('no_document_detected', 'no document with a machine-readable zone was found in the document images', 'documents');
    const selfies = await Promise.all(request.selfies.map((s, i) => this.templateOfSource(s, tenantId, `selfies[${i}]`)));
    const checks: Record<string, DocumentCheck> = {};
    const fields = read?.mrz.fields ?? chip?.dg1?.fields ?? null;

    checks.mrz_check_digits = !read ? notChecked('no document image was read')
      : read.mrz.valid ? pass() : fail('mrz_check_digits_invalid', { checks: read.mrz.checks });
    checks.document_expired = !fields?.expiry_date ? notChecked('no expiry date was read')
      : isExpired(String(fields.expiry_date), this.now()) ? fail('document_expired', { expiry_date: fields.expiry_date }) : pass({ expiry_date: fields.expiry_date });
    checks.capture_quality = captureCheck(read?.capture);
    checks.chip_passive_authentication = !chip ? notChecked('no chip files were given') : passiveCheck(chip);
    checks.chip_active_authentication = !chip?.active_authentication ? notChecked('no active-authentication answer was given')
      : chip.active_authentication.valid ? pass() : fail(chip.active_authentication.failure ?? 'active_authentication_failed');
    checks.mrz_matches_chip = !chip?.mrz_comparison ? notChecked(read && chip ? 'the chip carried no DG1' : 'needs both a document image and the chip')
      : chip.mrz_comparison.match ? pass() : fail('mrz_chip_mismatch', { differing_fields: chip.mrz_comparison.differing_fields });
    checks.portrait_present = !read ? notChecked('no document image was read')
      : read.portrait ? pass() : fail('portrait_missing');

    const portrait = read?.portrait?.template ?? undefined;
    const chipFace = chip?.face?.template ?? undefined;
    checks.portrait_matches_selfie = await this.faceCheck(portrait, selfies, 'no portrait on the document', 'ID_DOCUMENT');
    checks.chip_face_matches_selfie = await this.faceCheck(chipFace, selfies, 'no chip face', 'ID_DOCUMENT');
    checks.chip_face_matches_portrait = portrait && chipFace
      ? faceResult(await this.match(chipFace, portrait, 'ID_DOCUMENT', 'ID_DOCUMENT'))
      : notChecked('needs the chip face and the document portrait');
    checks.age_consistent = await this.ageCheck(fields?.birth_date ? String(fields.birth_date) : undefined, request, tenantId);

    const reasons: string[] = [];
    let decision: DocumentVerification['decision'] = 'accept';
    for (const [name, check] of Object.entries(checks)) {
      if (check.result === 'fail') { decision = 'reject'; reasons.push(check.reason ?? name); }
      else if (check.result === 'review') { if (decision === 'accept') decision = 'review'; reasons.push(check.reason ?? name); }
    }
    // A document nobody's face was compared with proves nothing about the person in front of it.
    if (selfies.length === 0 && decision === 'accept') { decision = 'review'; reasons.push('no_selfie'); }
    return { decision, reasons, checks, document: read, chip };
  }

  private async readFirstDocument(sources: ImageSource[], tenantId: string): Promise<ReadDocumentView | null> {
    for (const [i, source] of sources.entries()) {
      const found = await this.read(source, tenantId, `documents[${i}]`);
      if (found.length) return found[0];
    }
    return null;
  }

  private async faceCheck(reference: string | undefined, selfies: string[], absent: string, referenceType: ImageType): Promise<DocumentCheck> {
    if (!reference) return notChecked(absent);
    if (selfies.length === 0) return notChecked('no selfie was given');
    // Every selfie must be the document's person: one matching selfie among strangers is not a pass.
    const matches = await Promise.all(selfies.map((s) => this.match(reference, s, referenceType, 'SELFIE')));
    const worst = matches.reduce((a, b) => (b.score < a.score ? b : a));
    return { ...faceResult(worst), selfies: matches };
  }

  private async ageCheck(birthDate: string | undefined, request: VerifyRequest, tenantId: string): Promise<DocumentCheck> {
    if (!birthDate) return notChecked('no birth date was read');
    if (!this.age || request.selfies.length === 0) return notChecked('no selfie was given');
    const documentAge = ageOn(birthDate, this.now());
    if (documentAge === null) return notChecked('the birth date is not a full date');
    const estimated = await this.age.estimate(request.selfies[0], tenantId, undefined, 'selfies[0]');
    if (estimated.length === 0) return notChecked('no face in the first selfie');
    const tolerance = request.maxAgeDifference ?? DEFAULT_DOCUMENT_AGE_TOLERANCE;
    const difference = Math.round((estimated[0].age - documentAge) * 10) / 10;
    const details = { document_age: documentAge, estimated_age: estimated[0].age, difference, max_difference: tolerance };
    return Math.abs(difference) <= tolerance ? pass(details) : review('age_inconsistent', details);
  }

  private async match(a: string, b: string, aType: ImageType, bType: ImageType): Promise<FaceMatch> {
    const r = await this.faces.compare({ source: { kind: 'template', template: a }, target: { kind: 'template', template: b }, sourceType: aType, targetType: bType, allFaces: false, autoRotate: false });
    return { score: r.score, far: r.far, decision: r.decision, threshold: r.threshold };
  }

  private async templateOfSource(source: ImageSource, tenantId: string, field: string): Promise<string> {
    const [face] = await this.faces.facesOf({ kind: 'image', source }, { tenantId, field, allFaces: false, autoRotate: true });
    return this.faces.encodeVector(face.vector);
  }
}

const pass = (details: Record<string, unknown> = {}): DocumentCheck => ({ result: 'pass', ...details });
const fail = (reason: string, details: Record<string, unknown> = {}): DocumentCheck => ({ result: 'fail', reason, ...details });
const review = (reason: string, details: Record<string, unknown> = {}): DocumentCheck => ({ result: 'review', reason, ...details });
const notChecked = (reason: string): DocumentCheck => ({ result: 'not_checked', reason });

function faceResult(m: FaceMatch): DocumentCheck {
  const details = { score: m.score, far: m.far, decision: m.decision, threshold: m.threshold };
  return m.decision === 'match' ? pass(details) : m.decision === 'uncertain' ? review('face_uncertain', details) : fail('face_mismatch', details);
}

function passiveCheck(chip: ChipReport): DocumentCheck {
  const pa = chip.passive_authentication;
  if (pa.valid) return pass({ chain: pa.chain });
  // A chip that verifies but whose signer the operator has not chosen to trust is not forged: someone should look.
  const onlyTrust = pa.signature === 'valid' && Object.values(pa.hashes).every((h) => h !== 'invalid') && pa.chain === 'untrusted';
  return onlyTrust ? review('chip_signer_not_trusted', { chain: pa.chain }) : fail(pa.failure ?? 'chip_passive_authentication_failed', { chain: pa.chain, signature: pa.signature });
}

function captureCheck(capture: CaptureQuality | undefined): DocumentCheck {
  if (!capture) return notChecked('no document image was read');
  return capture.issues.length === 0 ? pass({ ...capture }) : review(capture.issues.join(', '), { ...capture });
}

/** The largest face's template in a PNG the server made itself (a page or a chip face); null when it shows none. */
async function templateOfPng(faces: FaceService, png: Buffer): Promise<string | null> {
  try {
    const [face] = await faces.facesOf({ kind: 'image', source: { kind: 'bytes', data: png } }, { tenantId: '', field: 'portrait', allFaces: false, autoRotate: false });
    return faces.encodeVector(face.vector);
  } catch (err) {
    if (err instanceof FaceproofError && err.code === 'no_face_detected') return null;
    throw err;
  }
}
