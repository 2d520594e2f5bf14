import { createHash } from 'node:crypto';

/**
 * A record that a chip was verified: which identity numbers it carried (as SHA-256 only), the
 * SHA-512 of its EF.SOD, and which inputs the verification was given. What TrustVision's check_nfc
 * asks ("has a chip with this ID number been verified before, for this customer?") and nothing more:
 * no name, no date of birth, no face.
 */
export interface VerifiedChip {
  tenantId: string;
  /** Lower-case hex SHA-256 of each identity number (as printed: upper case, no fillers). */
  idHashes: string[];
  /** Lower-case hex SHA-512 of the EF.SOD bytes. */
  sodSha512: string;
  /** The request's input fields (dg1, dg2, dg13, dg14, dg15, com, cccd). */
  inputFields: string[];
  requestId: string;
  at: string;
}

export interface VerifiedChipRepository {
  put(record: VerifiedChip): Promise<void>;
  /** The latest record carrying this identity-number hash, for this tenant. */
  latest(tenantId: string, idHash: string): Promise<VerifiedChip | undefined>;
  /** Removes records made before `before`; how many. */
  prune(before: string): Promise<number>;
}

/** SHA-256 of an identity number as printed (upper case, spaces and `<` fillers removed), lower-case hex. */
export function idNumberHash(idNumber: string): string {
  return createHash('sha256').update(normaliseIdNumber(idNumber), 'utf8').digest('hex');
}

export function normaliseIdNumber(idNumber: string): string {
  return idNumber.replace(/[\s<]+/g, '').toUpperCase();
}

/** An id_num that is already a SHA-256 (64 hex digits), lower-cased; undefined for a raw number. */
export function asSha256(value: string): string | undefined {
  const v = value.trim();
  return /^[0-9a-fA-F]{64}$/.test(v) ? v.toLowerCase() : undefined;
}

/** The chips this server verified, per tenant, looked up by identity number (raw or SHA-256). */
export class VerifiedChips {
  constructor(private readonly repository: VerifiedChipRepository) {}

  async record(input: { tenantId: string; idNumbers: string[]; sod: Uint8Array; inputFields: string[]; requestId: string; at?: Date }): Promise<VerifiedChip | undefined> {
    const idHashes = [...new Set(input.idNumbers.map(normaliseIdNumber).filter((n) => n.length > 0).map(idNumberHash))];
    if (idHashes.length === 0) return undefined;
    const record: VerifiedChip = {
      tenantId: input.tenantId,
      idHashes,
      sodSha512: createHash('sha512').update(input.sod).digest('hex'),
      inputFields: [...input.inputFields],
      requestId: input.requestId,
      at: (input.at ?? new Date()).toISOString(),
    };
    await this.repository.put(record);
    return record;
  }

  /** The latest verification of a chip carrying `idNumber` (raw, or its SHA-256 in hex). */
  async find(tenantId: string, idNumber: string): Promise<VerifiedChip | undefined> {
    return this.repository.latest(tenantId, asSha256(idNumber) ?? idNumberHash(idNumber));
  }

  async prune(before: string): Promise<number> {
    return this.repository.prune(before);
  }
}
