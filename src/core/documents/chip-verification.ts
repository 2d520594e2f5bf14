import { FaceproofError } from '../errors.ts';
import { decodeBase64 } from '../image-input.ts';
import { verifyPassiveAuthentication, type PassiveAuthenticationReport } from './passive-authentication.ts';
import type { TrustStore } from './trust-anchors.ts';
import { parseDg1, parseDg2 } from './data-groups.ts';
import { verifyActiveAuthentication } from './active-authentication.ts';
import { jpeg2000ToPng } from '../../engine/image/jpeg2000.ts';
import { parseMrzLines } from './mrz.ts';
import type { ActiveAuthenticationChallenges, IssuedChallenge } from './active-authentication-challenges.ts';

/** The files a phone read from the chip, as the client sends them (base64), and the answer to a challenge. */
export interface ChipFilesInput {
  sod: string;
  data_groups: Record<string, string>;
  active_authentication?: { challenge_id: string; signature: string };
}

export interface ChipFiles {
  sod: Uint8Array;
  dataGroups: Record<number, Uint8Array>;
  activeAuthentication?: { challengeId: string; signature: Uint8Array };
}

export interface ChipFace {
  format: 'jpeg' | 'jpeg2000';
  width: number;
  height: number;
  /** The chip's face as PNG (JPEG 2000 decoded), base64: what a verifier shows beside the selfie. */
  image: string;
  template: string | null;
  selfie_match?: { score: number; far: number; decision: string; threshold: number };
}

export interface ChipReport {
  passive_authentication: PassiveAuthenticationReport;
  active_authentication?: { valid: boolean; algorithm?: string; failure?: string };
  /** DG1's MRZ: its format, lines and fields. */
  dg1: ({ format: string; lines: string[]; valid: boolean } & { fields: Record<string, string | null> }) | null;
  /** DG1 against the printed MRZ, when both were given. */
  mrz_comparison?: { match: boolean; differing_fields: string[] };
  face: ChipFace | null;
  /** Data groups that could not be parsed, with why (their hash verdicts are in passive_authentication). */
  unreadable_data_groups?: Record<string, string>;
}

/** A data group number from the request's key: "1"…"16", "DG2" or "dg2". */
function dataGroupNumber(key: string): number {
  const m = /^(?:dg)?(\d{1,2})$/i.exec(key.trim());
  const n = m ? Number(m[1]) : NaN;
  if (!(n >= 1 && n <= 16)) throw new FaceproofError('invalid_parameter', `data group "${key}" is not one of 1…16`, `data_groups.${key}`);
  return n;
}

function chipBase64(text: string, field: string): Uint8Array {
  try {
    const bytes = decodeBase64(text, field);
    if (bytes.length === 0) throw new Error('empty');
    return bytes;
  } catch {
    throw new FaceproofError('invalid_chip_data', `${field} is not base64 of the file's bytes`, field);
  }
}

/** The request's base64 files as bytes; bad base64 or an unknown data group number is the client's error. */
export function decodeChipFiles(input: ChipFilesInput): ChipFiles {
  const dataGroups: Record<number, Uint8Array> = {};
  for (const [key, value] of Object.entries(input.data_groups ?? {})) {
    dataGroups[dataGroupNumber(key)] = chipBase64(value, `data_groups.${key}`);
  }
  const aa = input.active_authentication;
  return {
    sod: chipBase64(input.sod, 'sod'),
    dataGroups,
    activeAuthentication: aa ? { challengeId: aa.challenge_id, signature: chipBase64(aa.signature, 'active_authentication.signature') } : undefined,
  };
}

/** Checks a chip's files: the SOD against the trust store, the data groups against the SOD, DG1 against the print, DG2's face. */
export class ChipVerifier {
  constructor(
    private readonly trust: TrustStore,
    private readonly challenges: ActiveAuthenticationChallenges,
    /** The template of the largest face in a PNG, null when there is none. */
    private readonly templateOf: (png: Buffer) => Promise<string | null>,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async verify(tenantId: string, files: ChipFiles, printedMrz?: string): Promise<ChipReport> {
    const passive = await verifyPassiveAuthentication({ sod: files.sod, dataGroups: files.dataGroups, anchors: this.trust, now: this.now() });
    const report: ChipReport = { passive_authentication: passive, dg1: null, face: null };

    // A data group that cannot be read is reported, not refused: a changed byte is what passive
    // authentication exists to catch, and its answer says which hash failed.
    const unreadable: Record<string, string> = {};
    const readGroup = async <T>(n: number, read: (bytes: Uint8Array) => T | Promise<T>): Promise<T | null> => {
      const bytes = files.dataGroups[n];
      if (!bytes) return null;
      try {
        return await read(bytes);
      } catch (err) {
        if (!(err instanceof FaceproofError) || err.status !== 400) throw err;
        unreadable[String(n)] = err.message;
        return null;
      }
    };
    report.dg1 = await readGroup(1, (bytes) => {
      const parsed = parseDg1(bytes);
      const mrz = parseMrzLines(parsed.lines);
      return { format: mrz.format ?? parsed.format, lines: parsed.lines, valid: mrz.valid, fields: mrz.fields };
    });
    if (report.dg1 && printedMrz !== undefined) report.mrz_comparison = compareMrz(printedMrz, report.dg1.fields);
    report.face = await readGroup(2, (bytes) => this.faceOf(bytes));
    if (Object.keys(unreadable).length) report.unreadable_data_groups = unreadable;
    if (files.activeAuthentication) {
      const nonce = await this.challenges.take(tenantId, files.activeAuthentication.challengeId);
      const dg15 = files.dataGroups[15];
      if (!dg15) throw FaceproofError.missing('active authentication needs DG15 (the chip\'s public key)', 'data_groups.15');
      // The key must itself be vouched for by the SOD, or a clone could bring its own.
      const dg15Signed = passive.hashes['15'] === 'valid';
      const aa = verifyActiveAuthentication({ dg15, challenge: nonce, signature: files.activeAuthentication.signature, dg14: files.dataGroups[14] });
      report.active_authentication = aa.valid && !dg15Signed ? { ...aa, valid: false, failure: 'dg15_not_signed' } : aa;
    }
    return report;
  }

  private async faceOf(dg2: Uint8Array): Promise<ChipFace | null> {
    const { faces } = parseDg2(dg2);
    const first = faces[0];
    if (!first) return null;
    const png = first.format === 'jpeg2000' ? await jpeg2000ToPng(first.image) : await toPng(first.image);
    const { width, height } = pngSize(png);
    return { format: first.format, width, height, image: png.toString('base64'), template: await this.templateOf(png) };
  }

  issueChallenge(tenantId: string): Promise<IssuedChallenge> {
    return this.challenges.issue(tenantId);
  }
}

const COMPARED_FIELDS = ['document_code', 'issuing_state', 'document_number', 'surname', 'given_names', 'nationality', 'birth_date', 'sex', 'expiry_date', 'optional_data'];

/** The printed MRZ (lines, newline- or space-separated) against DG1's fields, field by field. */
export function compareMrz(printed: string, chip: Record<string, string | null>): { match: boolean; differing_fields: string[] } {
  const lines = printed.toUpperCase().split(/[\s|]+/).filter(Boolean);
  let fields: Record<string, string | null>;
  try {
    fields = parseMrzLines(lines).fields;
  } catch {
    throw new FaceproofError('invalid_parameter', 'mrz is not a machine-readable zone of 2 or 3 lines', 'mrz');
  }
  const differing = COMPARED_FIELDS.filter((f) => (fields[f] ?? null) !== (chip[f] ?? null));
  return { match: differing.length === 0, differing_fields: differing };
}

async function toPng(jpeg: Uint8Array): Promise<Buffer> {
  const { default: sharp } = await import('sharp');
  try {
    return await sharp(jpeg, { limitInputPixels: 50_000_000 }).png().toBuffer();
  } catch {
    throw new FaceproofError('invalid_chip_data', 'the face in DG2 is not a decodable JPEG', 'data_groups.2');
  }
}

/** Width and height from the IHDR chunk of a PNG this server wrote. */
function pngSize(png: Buffer): { width: number; height: number } {
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}
