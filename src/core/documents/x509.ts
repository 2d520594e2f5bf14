import { createHash } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

/**
 * DER reading and X.509 certificates and CRLs as the chip verifier and the trust store need them:
 * names compared by meaning (not bytes), key identifiers, validity, and a printable summary.
 */

/** Thrown by the parsers here; callers turn it into their own FaceproofError (invalid_chip_data, invalid_certificate). */
export class Asn1Error extends Error {}

/**
 * One BER/DER element from `bytes`, which must be exactly that element. asn1js reports malformed
 * input (lengths past the end, bad tags) without throwing; whatever it does throw on hostile input
 * (recursion on deeply nested constructions) is turned into Asn1Error too.
 */
export function parseAsn1(bytes: Uint8Array, what: string, options: { allowTrailing?: boolean; maxNodes?: number } = {}): asn1js.AsnType {
  let parsed: ReturnType<typeof asn1js.fromBER>;
  try {
    // Octet and bit strings are not parsed as embedded ASN.1 (asn1js's default): it costs time and
    // nodes, and what they hold is read where it is needed. asn1js's limits (nesting depth 100,
    // 10 000 nodes unless raised for a master list) stop hostile structures early.
    parsed = asn1js.fromBER(bytes, { parseEmbedded: false, maxNodes: options.maxNodes ?? 10_000 });
  } catch (err) {
    throw new Asn1Error(`${what} is not valid ASN.1 (${(err as Error).message})`);
  }
  if (parsed.offset === -1 || parsed.result.error) throw new Asn1Error(`${what} is not valid ASN.1${parsed.result.error ? ` (${parsed.result.error})` : ''}`);
  if (!options.allowTrailing && parsed.offset !== bytes.length) throw new Asn1Error(`${what} has ${bytes.length - parsed.offset} bytes after its ASN.1 structure`);
  return parsed.result;
}

/** A pkijs object from a schema; pkijs throws plain Errors on a structure that does not fit. */
export function fromSchema<T>(build: () => T, what: string): T {
  try {
    return build();
  } catch (err) {
    throw new Asn1Error(`${what} does not have the expected structure (${(err as Error).message})`);
  }
}

export const hex = (bytes: ArrayBuffer | Uint8Array) => Buffer.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)).toString('hex');
export const sha256Hex = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

const NAME_LABELS: Record<string, string> = {
  '2.5.4.3': 'CN', '2.5.4.4': 'SN', '2.5.4.5': 'serialNumber', '2.5.4.6': 'C', '2.5.4.7': 'L', '2.5.4.8': 'ST', '2.5.4.9': 'street',
  '2.5.4.10': 'O', '2.5.4.11': 'OU', '2.5.4.12': 'title', '2.5.4.42': 'GN', '2.5.4.97': 'organizationIdentifier',
  '1.2.840.113549.1.9.1': 'emailAddress', '0.9.2342.19200300.100.1.25': 'DC',
};

/** The text of a directory string, or undefined for a value that is not one. */
function textOf(value: asn1js.AsnType): string | undefined {
  const block = (value as { valueBlock?: { value?: unknown } }).valueBlock;
  return typeof block?.value === 'string' ? block.value : undefined;
}

/**
 * Text compared the way RFC 5280 §7.1 asks for, simplified: Unicode NFKC, case folded, spaces
 * trimmed and runs of them collapsed, whatever the string type (Printable, UTF8, BMP, T61).
 */
const normaliseText = (s: string) => s.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').trim();

/**
 * A name's comparison key: every attribute's type and normalised value, sorted. Sorting makes two
 * encodings of one name equal even when their RDNs come in another order — one real passport's SOD
 * names its signer's issuer with the RDNs reordered. The signature checked afterwards decides; the
 * key only finds candidates.
 */
export function nameKey(name: pkijs.RelativeDistinguishedNames): string {
  return name.typesAndValues
    .map((a) => {
      const text = textOf(a.value);
      return `${a.type}=${text !== undefined ? normaliseText(text) : `#${hex(a.value.toBER())}`}`;
    })
    .sort()
    .join('\u0000');
}

/** The name as text in its encoded order, RFC 4514 style (C=DE, O=…, CN=…). */
export function nameText(name: pkijs.RelativeDistinguishedNames): string {
  return name.typesAndValues.map((a) => `${NAME_LABELS[a.type] ?? a.type}=${textOf(a.value) ?? `#${hex(a.value.toBER())}`}`).join(', ');
}

function countryOf(name: pkijs.RelativeDistinguishedNames): string | null {
  const c = name.typesAndValues.find((a) => a.type === '2.5.4.6');
  const text = c ? textOf(c.value) : undefined;
  return text ? text.trim().toUpperCase() : null;
}

/** A serial number as unsigned hex without leading zeros (how it is printed and compared). */
export function serialHex(serial: asn1js.Integer): string {
  const h = hex(serial.valueBlock.valueHexView).replace(/^(00)+(?=.)/, '');
  return h || '00';
}

const EXT_SKI = '2.5.29.14';
const EXT_KEY_USAGE = '2.5.29.15';
const EXT_BASIC_CONSTRAINTS = '2.5.29.19';
const EXT_CRL_NUMBER = '2.5.29.20';
const EXT_AKI = '2.5.29.35';

/** The key identifier of an AuthorityKeyIdentifier extension's value, when it has one. */
function authorityKeyIdOf(extensions: pkijs.Extension[] | undefined): string | undefined {
  const ext = extensions?.find((e) => e.extnID === EXT_AKI);
  if (!ext) return undefined;
  try {
    const aki = new pkijs.AuthorityKeyIdentifier({ schema: parseAsn1(ext.extnValue.valueBlock.valueHexView, 'authority key identifier') });
    return aki.keyIdentifier ? hex(aki.keyIdentifier.valueBlock.valueHexView) : undefined;
  } catch {
    return undefined;
  }
}

export interface CertificateSummary {
  subject: string;
  issuer: string;
  serial: string;
  not_before: string;
  not_after: string;
  country: string | null;
}

/** A parsed X.509 certificate with what lookups and checks need precomputed. */
export class ParsedCertificate {
  readonly subjectKey: string;
  readonly issuerKey: string;
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly subjectKeyId?: string;
  readonly authorityKeyId?: string;
  readonly sha256: string;
  readonly country: string | null;
  /** basicConstraints cA; undefined when the extension is absent (some old CSCAs lack it). */
  readonly isCa?: boolean;
  /** keyUsage keyCertSign; undefined when the extension is absent. */
  readonly mayCertify?: boolean;

  constructor(readonly der: Uint8Array, readonly cert: pkijs.Certificate) {
    this.subjectKey = nameKey(cert.subject);
    this.issuerKey = nameKey(cert.issuer);
    this.serial = serialHex(cert.serialNumber);
    this.notBefore = cert.notBefore.value;
    this.notAfter = cert.notAfter.value;
    this.sha256 = sha256Hex(der);
    this.country = countryOf(cert.subject) ?? countryOf(cert.issuer);
    const ski = cert.extensions?.find((e) => e.extnID === EXT_SKI);
    if (ski) {
      const parsed = safe(() => parseAsn1(ski.extnValue.valueBlock.valueHexView, 'subject key identifier'));
      if (parsed instanceof asn1js.OctetString) this.subjectKeyId = hex(parsed.valueBlock.valueHexView);
    }
    this.authorityKeyId = authorityKeyIdOf(cert.extensions);
    const bc = cert.extensions?.find((e) => e.extnID === EXT_BASIC_CONSTRAINTS);
    if (bc) this.isCa = safe(() => new pkijs.BasicConstraints({ schema: parseAsn1(bc.extnValue.valueBlock.valueHexView, 'basic constraints') }).cA) ?? false;
    const ku = cert.extensions?.find((e) => e.extnID === EXT_KEY_USAGE);
    if (ku) {
      const bits = safe(() => parseAsn1(ku.extnValue.valueBlock.valueHexView, 'key usage'));
      if (bits instanceof asn1js.BitString) {
        const view = bits.valueBlock.valueHexView;
        // keyCertSign is bit 5: the first byte's 0x04.
        this.mayCertify = view.length > 0 && (view[0] & 0x04) !== 0;
      }
    }
  }

  /** The self-signed look: same name both sides (a link certificate has them too, but with another key). */
  get selfIssued(): boolean {
    return this.subjectKey === this.issuerKey;
  }

  summary(): CertificateSummary {
    return {
      subject: nameText(this.cert.subject),
      issuer: nameText(this.cert.issuer),
      serial: this.serial,
      not_before: this.notBefore.toISOString(),
      not_after: this.notAfter.toISOString(),
      country: this.country,
    };
  }
}

function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

/** A certificate from its DER bytes (or an already parsed ASN.1 element). */
export function parseCertificate(input: Uint8Array | asn1js.AsnType, what = 'certificate'): ParsedCertificate {
  const schema = input instanceof Uint8Array ? parseAsn1(input, what) : input;
  const cert = fromSchema(() => new pkijs.Certificate({ schema }), what);
  const der = input instanceof Uint8Array ? input : new Uint8Array(schema.toBER());
  return fromSchema(() => new ParsedCertificate(new Uint8Array(der), cert), what);
}

/** A parsed certificate revocation list. */
export class ParsedCrl {
  readonly issuerKey: string;
  readonly authorityKeyId?: string;
  readonly thisUpdate: Date;
  readonly nextUpdate?: Date;
  readonly crlNumber: string | null;
  readonly sha256: string;
  readonly country: string | null;
  /** Revoked serial numbers (unsigned hex) and when each was revoked. */
  readonly revoked: Map<string, Date>;

  constructor(readonly der: Uint8Array, readonly crl: pkijs.CertificateRevocationList) {
    this.issuerKey = nameKey(crl.issuer);
    this.authorityKeyId = authorityKeyIdOf(crl.crlExtensions?.extensions);
    this.thisUpdate = crl.thisUpdate.value;
    this.nextUpdate = crl.nextUpdate?.value;
    this.sha256 = sha256Hex(der);
    this.country = countryOf(crl.issuer);
    const number = crl.crlExtensions?.extensions.find((e) => e.extnID === EXT_CRL_NUMBER);
    const parsed = number ? safe(() => parseAsn1(number.extnValue.valueBlock.valueHexView, 'CRL number')) : undefined;
    this.crlNumber = parsed instanceof asn1js.Integer ? serialHex(parsed) : null;
    this.revoked = new Map((crl.revokedCertificates ?? []).map((r) => [serialHex(r.userCertificate), r.revocationDate.value]));
  }

  summary(): CertificateSummary {
    return {
      subject: nameText(this.crl.issuer),
      issuer: nameText(this.crl.issuer),
      serial: this.crlNumber ?? '',
      not_before: this.thisUpdate.toISOString(),
      not_after: (this.nextUpdate ?? this.thisUpdate).toISOString(),
      country: this.country,
    };
  }
}

export function parseCrl(input: Uint8Array, what = 'CRL'): ParsedCrl {
  const schema = parseAsn1(input, what);
  const crl = fromSchema(() => new pkijs.CertificateRevocationList({ schema }), what);
  return fromSchema(() => new ParsedCrl(new Uint8Array(input), crl), what);
}
