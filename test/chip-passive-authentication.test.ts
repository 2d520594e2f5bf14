import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { FaceproofError } from '../src/core/errors.ts';
import { verifyPassiveAuthentication, type PassiveAuthenticationReport } from '../src/core/documents/passive-authentication.ts';
import { AnchorIndex, parseTrustFile } from '../src/core/documents/trust-anchors.ts';
import { parseSod } from '../src/core/documents/sod.ts';
import { parseCertificate, parseCrl, type ParsedCertificate, type ParsedCrl } from '../src/core/documents/x509.ts';
import { sharedDataDir } from './helpers/images.ts';
import {
  flip, makeCertificate, makeCrl, makeKey, makeSod, positions, sampleDataGroups, type KeySpec, type SignatureSpec, type TestCertificate,
} from './helpers/test-passports.ts';

// Real crypto, no mocks: test passports are made here (CSCA, document signer, SOD over DG1/DG2) in
// each algorithm, and every change of one byte of a data group, of the signed attributes or of the
// signature must be reported as its own failure.

const NOW = new Date('2026-06-01T00:00:00Z');
const YEAR = 365 * 86400_000;
const CSCA_NAME: Array<[string, string]> = [['C', 'UT'], ['O', 'Utopia'], ['CN', 'CSCA Utopia']];

function csca(key: KeySpec, signature: SignatureSpec, options: { notBefore?: Date; notAfter?: Date; name?: Array<[string, string]> } = {}): TestCertificate {
  return makeCertificate({
    subject: options.name ?? CSCA_NAME, key: makeKey(key), signature, serial: 1, ca: true,
    notBefore: options.notBefore ?? new Date(NOW.getTime() - 5 * YEAR), notAfter: options.notAfter ?? new Date(NOW.getTime() + 10 * YEAR),
  });
}

function dsc(issuer: TestCertificate, key: KeySpec, issuerSignature: SignatureSpec, options: { notBefore?: Date; notAfter?: Date; serial?: number } = {}): TestCertificate {
  return makeCertificate({
    subject: [['C', 'UT'], ['O', 'Utopia'], ['CN', `DS ${options.serial ?? 4242}`]], key: makeKey(key), issuer, signature: issuerSignature, serial: options.serial ?? 4242, ca: false,
    notBefore: options.notBefore ?? new Date(NOW.getTime() - YEAR), notAfter: options.notAfter ?? new Date(NOW.getTime() + 9 * YEAR),
  });
}

const anchorsOf = (certs: TestCertificate[], crls: Uint8Array[] = []) => AnchorIndex.of(certs.map((c) => parseCertificate(c.der)), crls.map((c) => parseCrl(c)));

async function verify(sod: Uint8Array, dataGroups: Record<number, Uint8Array>, anchors: AnchorIndex, now = NOW): Promise<PassiveAuthenticationReport> {
  return verifyPassiveAuthentication({ sod, dataGroups, anchors, now });
}

/** Either a report naming one of `failures`, or (a changed tag or length) invalid_chip_data. */
async function expectDetected(run: () => Promise<PassiveAuthenticationReport>, failures: string[]): Promise<void> {
  try {
    const report = await run();
    expect(report.valid).toBe(false);
    expect(failures).toContain(report.failure);
  } catch (err) {
    expect(err).toBeInstanceOf(FaceproofError);
    expect((err as FaceproofError).code).toBe('invalid_chip_data');
  }
}

interface Case { name: string; cscaKey: KeySpec; cscaSig: SignatureSpec; dscKey: KeySpec; sodSig: SignatureSpec; ldsHash: 'sha1' | 'sha256' | 'sha384' | 'sha512'; sidByKeyId?: boolean }

const RSA: KeySpec = { kind: 'rsa', bits: 2048 };
const CASES: Case[] = [
  { name: 'RSA PKCS#1 v1.5 SHA-256', cscaKey: RSA, cscaSig: { scheme: 'pkcs1', hash: 'sha256' }, dscKey: RSA, sodSig: { scheme: 'pkcs1', hash: 'sha256' }, ldsHash: 'sha256' },
  { name: 'RSA-PSS SHA-512', cscaKey: RSA, cscaSig: { scheme: 'pss', hash: 'sha512', saltLength: 64 }, dscKey: RSA, sodSig: { scheme: 'pss', hash: 'sha512', saltLength: 64 }, ldsHash: 'sha512' },
  { name: 'RSA-PSS SHA-256 with MGF1-SHA-1 (signer identified by key id)', cscaKey: RSA, cscaSig: { scheme: 'pkcs1', hash: 'sha384' }, dscKey: RSA, sodSig: { scheme: 'pss', hash: 'sha256', saltLength: 32, mgfHash: 'sha1' }, ldsHash: 'sha256', sidByKeyId: true },
  { name: 'ECDSA P-256 SHA-256', cscaKey: { kind: 'ec', curve: 'prime256v1' }, cscaSig: { scheme: 'ecdsa', hash: 'sha256' }, dscKey: { kind: 'ec', curve: 'prime256v1' }, sodSig: { scheme: 'ecdsa', hash: 'sha256' }, ldsHash: 'sha256' },
  { name: 'ECDSA brainpoolP384r1 SHA-384', cscaKey: { kind: 'ec', curve: 'brainpoolP384r1' }, cscaSig: { scheme: 'ecdsa', hash: 'sha384' }, dscKey: { kind: 'ec', curve: 'brainpoolP384r1' }, sodSig: { scheme: 'ecdsa', hash: 'sha384' }, ldsHash: 'sha384' },
  { name: 'ECDSA explicit-parameter brainpoolP256r1 document signer, SHA-1 LDS', cscaKey: { kind: 'ec', curve: 'brainpoolP384r1' }, cscaSig: { scheme: 'ecdsa', hash: 'sha512' }, dscKey: { kind: 'ec', curve: 'brainpoolP256r1', explicit: true }, sodSig: { scheme: 'ecdsa', hash: 'sha256' }, ldsHash: 'sha1' },
  { name: 'ECDSA explicit parameters of no passport curve (secp256k1, BigInt), plain r‖s', cscaKey: { kind: 'ec', curve: 'secp256k1', explicit: true }, cscaSig: { scheme: 'ecdsa', hash: 'sha256' }, dscKey: { kind: 'ec', curve: 'secp256k1', explicit: true }, sodSig: { scheme: 'ecdsa', hash: 'sha256', plain: true }, ldsHash: 'sha256' },
];

describe('test passports in every algorithm', () => {
  for (const c of CASES) {
    describe(c.name, () => {
      const root = csca(c.cscaKey, c.cscaSig);
      const signer = dsc(root, c.dscKey, c.cscaSig);
      const dataGroups = sampleDataGroups();
      const made = makeSod({ dataGroups, ldsHash: c.ldsHash, dsc: signer, signature: c.sodSig, ldsV1: c.ldsHash === 'sha512', sidByKeyId: c.sidByKeyId });
      const anchors = anchorsOf([root]);

      it('verifies: every hash, the signature and the chain', async () => {
        const r = await verify(made.sod, dataGroups, anchors);
        expect(r).toMatchObject({ valid: true, hashes: { 1: 'valid', 2: 'valid' }, signature: 'valid', chain: 'valid', failures: [], hash_algorithm: c.ldsHash });
        expect(r.failure).toBeUndefined();
        expect(r.csca?.anchor_id).toBeTruthy();
        expect(r.signer?.country).toBe('UT');
        if (c.ldsHash === 'sha512') expect(r.lds_version).toBe('0108');
      });

      it('reports a changed byte of each data group as data_group_hash_mismatch', async () => {
        for (const n of [1, 2]) {
          for (const at of positions(0, dataGroups[n].length, 6)) {
            const r = await verify(made.sod, { ...dataGroups, [n]: flip(dataGroups[n], at) }, anchors);
            expect({ n, at, failure: r.failure, hash: r.hashes[n], other: r.hashes[3 - n], signature: r.signature, chain: r.chain })
              .toEqual({ n, at, failure: 'data_group_hash_mismatch', hash: 'invalid', other: 'valid', signature: 'valid', chain: 'valid' });
          }
        }
      });

      it('reports a changed byte of the signed message digest as signed_attributes_digest_mismatch', async () => {
        for (const at of positions(...made.ranges.messageDigest, 5)) {
          const r = await verify(flip(made.sod, at), dataGroups, anchors);
          expect({ at, failure: r.failure, signature: r.signature }).toEqual({ at, failure: 'signed_attributes_digest_mismatch', signature: 'invalid' });
        }
      });

      it('reports another changed byte of the signed attributes as signature_invalid', async () => {
        for (const at of positions(...made.ranges.signingTime, 5)) {
          const r = await verify(flip(made.sod, at), dataGroups, anchors);
          expect({ at, failure: r.failure, signature: r.signature, hashes: r.hashes }).toEqual({ at, failure: 'signature_invalid', signature: 'invalid', hashes: { 1: 'valid', 2: 'valid' } });
        }
        // Anywhere in them, tags and lengths included: never accepted.
        for (const at of positions(...made.ranges.signedAttributes, 12)) await expectDetected(() => verify(flip(made.sod, at), dataGroups, anchors), ['signature_invalid', 'signed_attributes_digest_mismatch', 'signed_attributes_content_type_mismatch']);
      });

      it('reports a changed byte of the signature as signature_invalid', async () => {
        for (const at of positions(...made.ranges.signature, 8)) {
          const r = await verify(flip(made.sod, at), dataGroups, anchors);
          expect({ at, failure: r.failure, signature: r.signature, chain: r.chain }).toEqual({ at, failure: 'signature_invalid', signature: 'invalid', chain: 'valid' });
        }
      });

      it('reports a changed hash in the LDS security object as signed_attributes_digest_mismatch', async () => {
        const [start, end] = made.ranges.ldsHashes;
        // The last bytes of the list: inside the last hash value.
        for (const at of positions(end - 8, end, 4)) {
          const r = await verify(flip(made.sod, at), dataGroups, anchors);
          expect(r.failure).toBe('signed_attributes_digest_mismatch');
          expect(Object.values(r.hashes)).toContain('invalid');
        }
        for (const at of positions(start, end, 8)) await expectDetected(() => verify(flip(made.sod, at), dataGroups, anchors), ['signed_attributes_digest_mismatch', 'data_group_hash_mismatch', 'data_group_not_in_sod']);
      });
    });
  }
});

describe('the chain to the trust store', () => {
  const ec: KeySpec = { kind: 'ec', curve: 'prime256v1' };
  const ecSig: SignatureSpec = { scheme: 'ecdsa', hash: 'sha256' };
  const root = csca(ec, ecSig);
  const dataGroups = sampleDataGroups();
  const sodBy = (signer: TestCertificate) => makeSod({ dataGroups, ldsHash: 'sha256', dsc: signer, signature: ecSig }).sod;

  it('an expired document signer certificate: chain expired, signer_certificate_expired', async () => {
    const old = dsc(root, ec, ecSig, { notBefore: new Date(NOW.getTime() - 3 * YEAR), notAfter: new Date(NOW.getTime() - 86400_000) });
    const r = await verify(sodBy(old), dataGroups, anchorsOf([root]));
    expect(r).toMatchObject({ valid: false, signature: 'valid', chain: 'expired', failure: 'signer_certificate_expired' });
    // The same chip the day before it expired.
    expect((await verify(sodBy(old), dataGroups, anchorsOf([root]), new Date(NOW.getTime() - 2 * 86400_000))).valid).toBe(true);
  });

  it('a document signer certificate not yet valid: chain not_yet_valid', async () => {
    const early = dsc(root, ec, ecSig, { notBefore: new Date(NOW.getTime() + 86400_000) });
    expect(await verify(sodBy(early), dataGroups, anchorsOf([root]))).toMatchObject({ valid: false, chain: 'not_yet_valid', failure: 'signer_certificate_not_yet_valid' });
  });

  it('an expired or not yet valid CSCA: csca_expired, csca_not_yet_valid', async () => {
    const oldRoot = csca(ec, ecSig, { notBefore: new Date(NOW.getTime() - 20 * YEAR), notAfter: new Date(NOW.getTime() - YEAR) });
    const signer = dsc(oldRoot, ec, ecSig);
    expect(await verify(sodBy(signer), dataGroups, anchorsOf([oldRoot]))).toMatchObject({ chain: 'expired', failure: 'csca_expired' });
    const newRoot = csca(ec, ecSig, { notBefore: new Date(NOW.getTime() + YEAR) });
    expect(await verify(sodBy(dsc(newRoot, ec, ecSig)), dataGroups, anchorsOf([newRoot]))).toMatchObject({ chain: 'not_yet_valid', failure: 'csca_not_yet_valid' });
  });

  it('a signer whose CSCA is not in the trust store is untrusted, though the SOD carries its certificate', async () => {
    const other = csca(ec, ecSig, { name: [['C', 'XX'], ['CN', 'CSCA Elsewhere']] });
    const r = await verify(sodBy(dsc(other, ec, ecSig)), dataGroups, anchorsOf([root]));
    expect(r).toMatchObject({ valid: false, hashes: { 1: 'valid', 2: 'valid' }, signature: 'valid', chain: 'untrusted', failure: 'signer_not_trusted' });
    expect(r.csca).toBeUndefined();
    // A trust store that holds only the document signer itself trusts nothing either.
    const self = dsc(root, ec, ecSig);
    expect(await verify(sodBy(self), dataGroups, anchorsOf([self]))).toMatchObject({ chain: 'untrusted', failure: 'signer_not_trusted' });
  });

  it('a document signer certificate forged under a trusted CSCA\'s name and key id: chain invalid', async () => {
    const forger = makeKey(ec);
    const forged = makeCertificate({
      subject: [['C', 'UT'], ['CN', 'DS forged']], key: makeKey(ec), issuerName: CSCA_NAME, issuerKey: forger, authorityKeyId: root.keyId,
      signature: ecSig, serial: 99, ca: false, notBefore: new Date(NOW.getTime() - YEAR), notAfter: new Date(NOW.getTime() + YEAR),
    });
    expect(await verify(sodBy(forged), dataGroups, anchorsOf([root]))).toMatchObject({ valid: false, signature: 'valid', chain: 'invalid', failure: 'signer_certificate_signature_invalid' });
  });

  it('a revoked document signer (CRL in the trust store): chain revoked; a CRL not signed by the CSCA is ignored', async () => {
    const signer = dsc(root, ec, ecSig, { serial: 777 });
    const crl = makeCrl({ issuer: root, signature: ecSig, revoked: [5, 777], thisUpdate: new Date(NOW.getTime() - 86400_000), nextUpdate: new Date(NOW.getTime() + 30 * 86400_000) });
    expect(await verify(sodBy(signer), dataGroups, anchorsOf([root], [crl]))).toMatchObject({ valid: false, chain: 'revoked', revocation: 'revoked', failure: 'signer_certificate_revoked' });
    const clean = makeCrl({ issuer: root, signature: ecSig, revoked: [5], thisUpdate: NOW, nextUpdate: new Date(NOW.getTime() + 86400_000) });
    expect(await verify(sodBy(signer), dataGroups, anchorsOf([root], [clean]))).toMatchObject({ valid: true, revocation: 'not_revoked' });
    const bogus = makeCrl({ issuer: root, signer: makeKey(ec), signature: ecSig, revoked: [777], thisUpdate: NOW, nextUpdate: new Date(NOW.getTime() + 86400_000) });
    expect(await verify(sodBy(signer), dataGroups, anchorsOf([root], [bogus]))).toMatchObject({ valid: true, revocation: 'unknown' });
  });

  it('a CSCA link certificate (new key signed by the old one) chains a signer of the new key; names compared by meaning', async () => {
    const oldRoot = csca(ec, ecSig);
    const newKey = makeKey({ kind: 'ec', curve: 'secp384r1' });
    const link = makeCertificate({
      subject: CSCA_NAME, key: newKey, issuer: oldRoot, signature: ecSig, serial: 2, ca: true,
      notBefore: new Date(NOW.getTime() - YEAR), notAfter: new Date(NOW.getTime() + 10 * YEAR),
    });
    // The signer's issuer name in UTF8String where the CSCA has PrintableString, RDNs as given.
    const signer = makeCertificate({
      subject: [['C', 'UT'], ['CN', 'DS new']], key: makeKey(ec), issuerName: [['C', 'UT'], ['O', 'utopia'], ['CN', 'CSCA  Utopia']], issuerKey: newKey, utf8Names: true,
      signature: { scheme: 'ecdsa', hash: 'sha384' }, serial: 5, ca: false, notBefore: new Date(NOW.getTime() - YEAR), notAfter: new Date(NOW.getTime() + YEAR),
    });
    const r = await verify(sodBy(signer), dataGroups, anchorsOf([oldRoot, link]));
    expect(r).toMatchObject({ valid: true, chain: 'valid' });
    expect(r.csca?.serial).toBe('02');
  });

  it('data groups: listed but not supplied is absent; supplied but not listed is data_group_not_in_sod; none supplied is no_data_groups', async () => {
    const signer = dsc(root, ec, ecSig);
    const sod = sodBy(signer);
    expect(await verify(sod, { 1: dataGroups[1] }, anchorsOf([root]))).toMatchObject({ valid: true, hashes: { 1: 'valid', 2: 'absent' } });
    expect(await verify(sod, { ...dataGroups, 15: new Uint8Array([0x6f, 0]) }, anchorsOf([root]))).toMatchObject({ valid: false, hashes: { 15: 'invalid' }, failure: 'data_group_not_in_sod' });
    expect(await verify(sod, {}, anchorsOf([root]))).toMatchObject({ valid: false, signature: 'valid', chain: 'valid', failure: 'no_data_groups' });
  });
});

describe('hostile input', () => {
  const ec: KeySpec = { kind: 'ec', curve: 'prime256v1' };
  const ecSig: SignatureSpec = { scheme: 'ecdsa', hash: 'sha256' };
  const root = csca(ec, ecSig);
  const dataGroups = sampleDataGroups();
  const { sod } = makeSod({ dataGroups, ldsHash: 'sha256', dsc: dsc(root, ec, ecSig), signature: ecSig });
  const anchors = anchorsOf([root]);

  const expectInvalidChipData = async (input: Uint8Array, groups: Record<number, Uint8Array> = dataGroups, field = 'sod') => {
    const err = await verify(input, groups, anchors).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(FaceproofError);
    expect({ code: (err as FaceproofError).code, field: (err as FaceproofError).field }).toEqual({ code: 'invalid_chip_data', field });
  };

  it('truncated at every length: invalid_chip_data', async () => {
    for (let length = 0; length < sod.length; length += length < 64 ? 1 : 37) await expectInvalidChipData(sod.subarray(0, length));
  });

  it('huge length fields, deep nesting, random bytes and not-a-SOD structures: invalid_chip_data', async () => {
    await expectInvalidChipData(new Uint8Array([0x77, 0x84, 0xff, 0xff, 0xff, 0xff, 0x30, 0x00]));
    await expectInvalidChipData(new Uint8Array([0x77, 0x88, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x30]));
    const huge = new Uint8Array(sod);
    huge[1] = 0x84; // the outer length made to claim gigabytes
    await expectInvalidChipData(huge);
    await expectInvalidChipData(new Uint8Array(200_000).map((_, i) => (i % 2 ? 0x80 : 0x30)));
    await expectInvalidChipData(new Uint8Array(2 * 1024 * 1024));
    for (let i = 0; i < 200; i++) await expectInvalidChipData(new Uint8Array(randomBytes(1 + (i * 37) % 3000)));
    // A certificate where a SOD should be.
    await expectInvalidChipData(root.der);
  });

  it('bad data group numbers and values: invalid_chip_data naming the data group', async () => {
    await expectInvalidChipData(sod, { 0: new Uint8Array(1) } as Record<number, Uint8Array>, 'data_groups.0');
    await expectInvalidChipData(sod, { 17: new Uint8Array(1) }, 'data_groups.17');
    await expectInvalidChipData(sod, { ['x' as unknown as number]: new Uint8Array(1) }, 'data_groups.x');
    await expectInvalidChipData(sod, { 1: 'text' as unknown as Uint8Array }, 'data_groups.1');
  });

  it('a data group of 50 MB is hashed and reported, quickly', async () => {
    const big = new Uint8Array(50 * 1024 * 1024);
    const started = performance.now();
    const r = await verify(sod, { ...dataGroups, 2: big }, anchors);
    expect(r).toMatchObject({ valid: false, hashes: { 1: 'valid', 2: 'invalid' }, failure: 'data_group_hash_mismatch' });
    expect(performance.now() - started).toBeLessThan(5000);
  });
});

// ---------------------------------------------------------------------------------------------
// The real chips of ../shared/data/documents/chips (FACEPROOF_TEST_DATA).

const dataDir = sharedDataDir();
const chipsDir = dataDir && path.join(dataDir, 'documents', 'chips');
if (!chipsDir || !fs.existsSync(chipsDir)) console.warn('real chip tests skipped: set FACEPROOF_TEST_DATA to the evaluation data folder (../shared/data) to run them');

interface RealChip { name: string; sod: Uint8Array; dataGroups: Record<number, Uint8Array>; csca?: string }

function realChips(): RealChip[] {
  const chips: RealChip[] = [];
  const add = (name: string, dir: string) => {
    const dataGroups: Record<number, Uint8Array> = {};
    for (const f of fs.readdirSync(dir)) {
      const m = /^EF_DG(\d+)\.bin$/.exec(f);
      if (m) dataGroups[Number(m[1])] = new Uint8Array(fs.readFileSync(path.join(dir, f)));
    }
    const csca = path.join(dir, 'CSCA.der');
    chips.push({ name, sod: new Uint8Array(fs.readFileSync(path.join(dir, 'EF_SOD.bin'))), dataGroups, csca: fs.existsSync(csca) ? csca : undefined });
  };
  for (const cc of fs.readdirSync(path.join(chipsDir!, 'gmrtd')).sort()) {
    if (fs.existsSync(path.join(chipsDir!, 'gmrtd', cc, 'EF_SOD.bin'))) add(`gmrtd/${cc}`, path.join(chipsDir!, 'gmrtd', cc));
  }
  add('tsemrtd', path.join(chipsDir!, 'tsemrtd'));
  for (const d of fs.readdirSync(path.join(chipsDir!, 'pymrtd')).sort()) {
    if (fs.existsSync(path.join(chipsDir!, 'pymrtd', d, 'EF_SOD.bin'))) add(`pymrtd/${d}`, path.join(chipsDir!, 'pymrtd', d));
  }
  return chips;
}

describe.skipIf(!chipsDir || !fs.existsSync(chipsDir))('the real chips (FACEPROOF_TEST_DATA)', () => {
  const chips = chipsDir && fs.existsSync(chipsDir) ? realChips() : [];
  const certificates: ParsedCertificate[] = [];
  const crls: ParsedCrl[] = [];
  const load = (file: string) => {
    const parsed = parseTrustFile(new Uint8Array(fs.readFileSync(file)));
    certificates.push(...parsed.certificates);
    crls.push(...parsed.crls);
  };
  if (chipsDir && fs.existsSync(chipsDir)) {
    for (const c of chips) if (c.csca) load(c.csca);
    const anchorDir = path.join(chipsDir, 'csca');
    for (const f of ['NFCPassportReader_masterList.pem', 'DE_ML_2026-05-28-08-28-45.ml', 'NL_ML_2026-07-22.ml']) load(path.join(anchorDir, f));
    for (const f of fs.readdirSync(path.join(anchorDir, 'IDN'))) load(path.join(anchorDir, 'IDN', f));
  }
  const anchors = AnchorIndex.of(certificates, crls);
  // The chips' own certificates date from 2007 to 2036: checked at the time of this data (December 2026).
  const now = new Date('2026-12-01T00:00:00Z');

  it('every SOD parses, every hash that can be checked is checked, every signature verifies, every chain with a CSCA available verifies', async () => {
    const table: string[] = [];
    const lacking: string[] = [];
    for (const chip of chips) {
      const r = await verifyPassiveAuthentication({ sod: chip.sod, dataGroups: chip.dataGroups, anchors, now });
      const listed = Object.entries(r.hashes).filter(([n]) => chip.dataGroups[Number(n)] !== undefined);
      table.push(`${chip.name}: signature ${r.signature} (${r.signature_algorithm}), chain ${r.chain}${r.csca ? ` to ${r.csca.subject}` : ''}, hashes ${JSON.stringify(r.hashes)}`);
      expect({ chip: chip.name, signature: r.signature }).toEqual({ chip: chip.name, signature: 'valid' });
      // Every data group beside the SOD that it lists hashes right; the files it does not list are reported as such.
      for (const [n, verdict] of listed) {
        const inSod = !r.details.some((d) => d.startsWith(`data group ${n} was supplied but the SOD does not list it`));
        expect({ chip: chip.name, n, verdict }).toEqual({ chip: chip.name, n, verdict: inSod ? 'valid' : 'invalid' });
      }
      if (r.chain === 'untrusted') lacking.push(chip.name);
      else expect({ chip: chip.name, chain: r.chain }).toEqual({ chip: chip.name, chain: 'valid' });
    }
    console.log(`real chips:\n  ${table.join('\n  ')}\nno CSCA available for: ${lacking.join(', ')}`);
    // The test chips' CSCAs (BSI "CSCA BDR TEST", HJP and ETSI test CSCAs) are published nowhere.
    expect(lacking.sort()).toEqual(['pymrtd/BSI_TR03105-5_ref', 'pymrtd/ETSI_TR103200_EACAA', 'tsemrtd']);
    // Every gmrtd chip chains, its country's CSCA file being in the store.
    expect(chips.filter((c) => c.name.startsWith('gmrtd/')).length).toBe(14);
  });

  it('chips with their data groups verify them all; each real SOD detects a changed byte of a data group, of the message digest and of the signature', async () => {
    for (const chip of chips) {
      const base = await verifyPassiveAuthentication({ sod: chip.sod, dataGroups: {}, anchors, now });
      const listed = Object.fromEntries(Object.entries(chip.dataGroups).filter(([n]) => n in base.hashes));
      const clean = await verifyPassiveAuthentication({ sod: chip.sod, dataGroups: listed, anchors, now });
      if (Object.keys(listed).length) {
        expect(Object.values(clean.hashes).filter((v) => v !== 'absent').every((v) => v === 'valid')).toBe(true);
        for (const [n, bytes] of Object.entries(listed)) {
          for (const at of positions(0, bytes.length, 4)) {
            const r = await verifyPassiveAuthentication({ sod: chip.sod, dataGroups: { ...listed, [n]: flip(bytes, at) }, anchors, now });
            expect({ chip: chip.name, n, at, failure: r.failure, hash: r.hashes[n] }).toEqual({ chip: chip.name, n, at, failure: 'data_group_hash_mismatch', hash: 'invalid' });
          }
        }
      }
      // Where the signature and the message digest lie, as the parser reads them.
      const parsedSod = parseSod(chip.sod);
      for (const at of positions(...rangeOf(chip.sod, parsedSod.signature, 'signature'), 6)) {
        const r = await verifyPassiveAuthentication({ sod: flip(chip.sod, at), dataGroups: listed, anchors, now });
        expect({ chip: chip.name, at, failure: r.failure, signature: r.signature }).toEqual({ chip: chip.name, at, failure: 'signature_invalid', signature: 'invalid' });
      }
      // The message digest attribute's value.
      for (const at of positions(...rangeOf(chip.sod, parsedSod.signedAttributes!.messageDigest!, 'message digest'), 4)) {
        const r = await verifyPassiveAuthentication({ sod: flip(chip.sod, at), dataGroups: listed, anchors, now });
        expect({ chip: chip.name, at, failure: r.failure }).toEqual({ chip: chip.name, at, failure: 'signed_attributes_digest_mismatch' });
      }
    }
  });
});

/** Where `needle` lies in `sod`, found exactly once. */
function rangeOf(sod: Uint8Array, needle: Uint8Array, what: string): [number, number] {
  const at = Buffer.from(sod).indexOf(Buffer.from(needle));
  expect({ what, found: at >= 0, once: Buffer.from(sod).indexOf(Buffer.from(needle), at + 1) < 0 }).toEqual({ what, found: true, once: true });
  return [at, at + needle.length];
}
