import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { sign } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { createTestApp } from './helpers/app.ts';
import { sharedDataDir } from './helpers/images.ts';
import { makeCertificate, makeKey, makeSod, sampleDataGroups, type SignatureSpec } from './helpers/test-passports.ts';
import { verifySignedResponse } from '../src/core/result-signing.ts';

const data = sharedDataDir();
const YEAR = 365 * 86400_000;
const now = Date.now();
const ecSig: SignatureSpec = { scheme: 'ecdsa', hash: 'sha256' };
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

/** A passport of our own: CSCA, document signer, SOD over DG1, DG2 and DG15 (an EC key for active authentication). */
function testPassport(extra: Record<number, Uint8Array> = {}) {
  const csca = makeCertificate({ subject: [['C', 'UT'], ['CN', 'CSCA Utopia API']], key: makeKey({ kind: 'ec', curve: 'prime256v1' }), signature: ecSig, serial: 1, ca: true, notBefore: new Date(now - YEAR), notAfter: new Date(now + 10 * YEAR) });
  const dsc = makeCertificate({ subject: [['C', 'UT'], ['CN', 'DS Utopia API']], key: makeKey({ kind: 'ec', curve: 'prime256v1' }), issuer: csca, signature: ecSig, serial: 7, ca: false, notBefore: new Date(now - YEAR), notAfter: new Date(now + YEAR) });
  const aaKey = makeKey({ kind: 'ec', curve: 'prime256v1' });
  const dg15 = Buffer.concat([Buffer.from([0x6f, aaKey.spki.length]), aaKey.spki]);
  const dataGroups: Record<number, Uint8Array> = { ...sampleDataGroups(), 15: new Uint8Array(dg15), ...extra };
  const { sod } = makeSod({ dataGroups, ldsHash: 'sha256', dsc, signature: ecSig });
  return { csca, sod, dataGroups, aaKey };
}

describe('documents API', () => {
  let app: FastifyInstance;
  beforeAll(async () => { ({ app } = await createTestApp()); }, 120_000);
  afterAll(async () => { await app?.close(); });

  const post = (url: string, payload: object) => app.inject({ method: 'POST', url, payload });

  it('verifies a chip against the operator\'s trust store, and says untrusted before its CSCA is imported', async () => {
    const { csca, sod, dataGroups } = testPassport();
    const withoutFace = { ...dataGroups };
    delete withoutFace[2];
    const body = { sod: b64(sod), data_groups: Object.fromEntries(Object.entries(withoutFace).map(([k, v]) => [k, b64(v)])), mrz: 'P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10' };
    const before = await post('/v1/documents/chip/verify', body);
    expect(before.statusCode).toBe(200);
    expect(before.json().passive_authentication).toMatchObject({ valid: false, signature: 'valid', chain: 'untrusted', hashes: { 1: 'valid', 2: 'absent', 15: 'valid' } });

    const trust = await app.inject({ method: 'POST', url: '/v1/admin/trust', headers: { 'content-type': 'application/pkix-cert' }, payload: Buffer.from(csca.der) });
    expect(trust.statusCode).toBe(201);
    const after = await post('/v1/documents/chip/verify', body);
    const report = after.json();
    expect(report.passive_authentication).toMatchObject({ signature: 'valid', chain: 'valid' });
    expect(report.dg1).toMatchObject({ format: 'TD3', valid: true, fields: { surname: 'ERIKSSON', document_number: 'L898902C3', issuing_state: 'UTO' } });
    expect(report.mrz_comparison).toEqual({ match: true, differing_fields: [] });
    expect(typeof report.signature).toBe('string');
    const jwks = (await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
    expect((await verifySignedResponse(report, jwks)).valid).toBe(true);

    const other = await post('/v1/documents/chip/verify', { ...body, mrz: body.mrz.replace('ERIKSSON', 'ERIKSSEN') });
    expect(other.json().mrz_comparison).toEqual({ match: false, differing_fields: ['surname'] });
  });

  it('reports a changed data group as its specific failure', async () => {
    const { sod, dataGroups } = testPassport();
    const dg1 = Buffer.from(dataGroups[1]);
    dg1[dg1.length - 3] ^= 0x01;
    const res = await post('/v1/documents/chip/verify', { sod: b64(sod), data_groups: { 1: b64(dg1) } });
    expect(res.statusCode).toBe(200);
    expect(res.json().passive_authentication).toMatchObject({ valid: false, hashes: { 1: 'invalid' }, failure: 'data_group_hash_mismatch' });
  });

  it('runs active authentication: a server nonce, signed by the chip\'s DG15 key, used once', async () => {
    const { sod, dataGroups, aaKey } = testPassport();
    const challenge = (await post('/v1/documents/chip/challenge', {})).json();
    expect(Buffer.from(challenge.challenge, 'base64')).toHaveLength(8);
    const signature = sign('sha256', Buffer.from(challenge.challenge, 'base64'), { key: aaKey.privateKey, dsaEncoding: 'ieee-p1363' });
    const body = {
      sod: b64(sod), data_groups: { 1: b64(dataGroups[1]), 15: b64(dataGroups[15]) },
      active_authentication: { challenge_id: challenge.challenge_id, signature: b64(signature) },
    };
    const res = await post('/v1/documents/chip/verify', body);
    expect(res.statusCode).toBe(200);
    expect(res.json().active_authentication).toMatchObject({ valid: true });
    const again = await post('/v1/documents/chip/verify', body);
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe('challenge_invalid');

    const second = (await post('/v1/documents/chip/challenge', {})).json();
    const forged = await post('/v1/documents/chip/verify', { ...body, active_authentication: { challenge_id: second.challenge_id, signature: b64(signature) } });
    expect(forged.json().active_authentication).toMatchObject({ valid: false });
  });

  it('answers malformed chip files with invalid_chip_data and an oversized body with 413, and stays up', async () => {
    const cases: Array<[object, number, string]> = [
      [{ sod: b64(Buffer.from('not a sod at all')), data_groups: {} }, 400, 'invalid_chip_data'],
      [{ sod: '%%%', data_groups: {} }, 400, 'invalid_chip_data'],
      [{ sod: b64(Buffer.from([0x77, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x30])), data_groups: {} }, 400, 'invalid_chip_data'],
      [{ sod: b64(testPassport().sod.subarray(0, 200)), data_groups: {} }, 400, 'invalid_chip_data'],
      [{ sod: b64(testPassport().sod), data_groups: { 99: 'AAAA' } }, 400, 'invalid_parameter'],
      [{ data_groups: {} }, 400, 'invalid_parameter'],
      [{ sod: b64(testPassport().sod), data_groups: { 2: b64(Buffer.alloc(50 * 1024 * 1024, 1)) } }, 413, 'payload_too_large'],
    ];
    for (const [body, status, code] of cases) {
      const res = await post('/v1/documents/chip/verify', body);
      expect([res.statusCode, res.json().error?.code]).toEqual([status, code]);
    }
    expect((await app.inject({ method: 'GET', url: '/v1/health' })).statusCode).toBe(200);
  });

  it('one-shot verification without a document image or chip is refused', async () => {
    const res = await post('/v1/documents/verify', { selfies: [] });
    expect(res.statusCode).toBe(400);
  });

  describe.skipIf(!data)('with the shared documents', () => {
    const doc = (rel: string) => fs.readFileSync(path.join(data!, 'documents', rel));

    it('reads a passport page: MRZ, quad, portrait with a template; a face photo holds no document', async () => {
      const res = await post('/v1/documents/read', { image: { base64: b64(doc('images/passporteye/passport-td3.png')) } });
      expect(res.statusCode).toBe(200);
      const [d] = res.json().documents;
      expect(d.format).toBe('TD3');
      expect(d.mrz.fields).toMatchObject({ surname: 'ERIKSSON', issuing_state: 'UTO' });
      expect(d.quad).toHaveLength(4);
      expect(d.portrait?.template).toEqual(expect.any(String));
      expect(d.capture.issues).toEqual([]);
      const photo = path.join(data!, 'verify/lfw_original150_pairs/Aaron_Patterson/Aaron_Patterson_0001.jpg');
      const none = await post('/v1/documents/read', { image: { base64: b64(fs.readFileSync(photo)) } });
      expect([none.statusCode, none.json().documents]).toEqual([200, []]);
    }, 60_000);

    it('verifies the German test chip: hashes and signature valid, no CSCA for it, its JPEG 2000 face matches the specimen scan', async () => {
      const chip = (n: string) => b64(doc(`chips/tsemrtd/${n}`));
      const res = await post('/v1/documents/chip/verify', {
        sod: chip('EF_SOD.bin'), data_groups: { 1: chip('EF_DG1.bin'), 2: chip('EF_DG2.bin') },
        selfie: { base64: b64(doc('pairs/erika_mustermann_DEU/doc_DEU_passport_specimen_scan.jpg')) },
      });
      expect(res.statusCode).toBe(200);
      const r = res.json();
      expect(r.passive_authentication).toMatchObject({ signature: 'valid', chain: 'untrusted', hashes: { 1: 'valid', 2: 'valid' } });
      expect(r.dg1.fields.surname).toBe('MUSTERMANN');
      expect(r.face).toMatchObject({ format: 'jpeg2000', template: expect.any(String) });
      expect(r.face.selfie_match.decision).toBe('match');
    }, 60_000);

    it('gives one signed decision on document, chip and selfie, with every check', async () => {
      const chip = (n: string) => b64(doc(`chips/tsemrtd/${n}`));
      const res = await post('/v1/documents/verify', {
        documents: [{ base64: b64(doc('images/passporteye/passport-td3.png')) }],
        chip: { sod: chip('EF_SOD.bin'), data_groups: { 1: chip('EF_DG1.bin'), 2: chip('EF_DG2.bin') } },
        selfies: [{ base64: b64(doc('pairs/erika_mustermann_DEU/doc_DEU_passport_specimen_scan.jpg')) }],
      });
      expect(res.statusCode).toBe(200);
      const r = res.json();
      // The UTO specimen page and the German chip are two people's: every cross-check must say so.
      expect(r.decision).toBe('reject');
      expect(r.checks.mrz_matches_chip).toMatchObject({ result: 'fail', reason: 'mrz_chip_mismatch' });
      expect(r.checks.chip_face_matches_selfie.result).toBe('pass');
      expect(r.checks.portrait_matches_selfie.result).toBe('fail');
      expect(r.checks.document_expired.result).toBe('fail');
      expect(r.checks.chip_passive_authentication).toMatchObject({ result: 'review', reason: 'chip_signer_not_trusted' });
      expect(typeof r.signature).toBe('string');

      const notADocument = await post('/v1/documents/verify', { documents: [{ base64: b64(doc('pairs/erika_mustermann_DEU/chip_DG2_face_BSI_testset_decoded.png')) }], selfies: [] });
      expect([notADocument.statusCode, notADocument.json().error?.code]).toEqual([422, 'no_document_detected']);
    }, 120_000);
  });
});
