import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { FaceproofError } from '../src/core/errors.ts';
import { openDatabase } from '../src/store/sqlite/database.ts';
import { SqliteTrustAnchorRepository } from '../src/store/sqlite/trust-anchor-repository.ts';
import { TrustStore } from '../src/core/documents/trust-store.ts';
import { parseTrustFile } from '../src/core/documents/trust-anchors.ts';
import { verifyPassiveAuthentication } from '../src/core/documents/passive-authentication.ts';
import { createTestApp } from './helpers/app.ts';
import { sharedDataDir } from './helpers/images.ts';
import { makeCertificate, makeCrl, makeKey, makeSod, sampleDataGroups, type SignatureSpec, type TestCertificate } from './helpers/test-passports.ts';

const YEAR = 365 * 86400_000;
const now = Date.now();
const ecSig: SignatureSpec = { scheme: 'ecdsa', hash: 'sha256' };
const root = (cn: string): TestCertificate => makeCertificate({
  subject: [['C', 'UT'], ['CN', cn]], key: makeKey({ kind: 'ec', curve: 'prime256v1' }), signature: ecSig, serial: 1, ca: true,
  notBefore: new Date(now - YEAR), notAfter: new Date(now + 10 * YEAR),
});
const pem = (label: string, der: Uint8Array) => `-----BEGIN ${label}-----\n${Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n')}\n-----END ${label}-----\n`;

const cscaA = root('CSCA A');
const cscaB = root('CSCA B');
const cscaC = root('CSCA C');
const signer = makeCertificate({
  subject: [['C', 'UT'], ['CN', 'DS A']], key: makeKey({ kind: 'ec', curve: 'prime256v1' }), issuer: cscaA, signature: ecSig, serial: 31, ca: false,
  notBefore: new Date(now - YEAR), notAfter: new Date(now + YEAR),
});
const crl = makeCrl({ issuer: cscaA, signature: ecSig, revoked: [31], thisUpdate: new Date(now - 86400_000), nextUpdate: new Date(now + 86400_000) });
const bundle = Buffer.from(`# a comment line\n${pem('CERTIFICATE', cscaA.der)}${pem('CERTIFICATE', cscaB.der)}${pem('CERTIFICATE', cscaC.der)}`);

const memoryStore = () => new TrustStore(new SqliteTrustAnchorRepository(openDatabase(':memory:')));

describe('trust files', () => {
  it('recognises a DER certificate, a PEM certificate, a PEM bundle, a DER and a PEM CRL from their bytes', () => {
    expect(parseTrustFile(cscaA.der)).toMatchObject({ kind: 'certificate', skipped: 0 });
    expect(parseTrustFile(Buffer.from(pem('CERTIFICATE', cscaA.der)))).toMatchObject({ kind: 'certificate' });
    expect(parseTrustFile(bundle).certificates).toHaveLength(3);
    expect(parseTrustFile(bundle).kind).toBe('pem_bundle');
    expect(parseTrustFile(crl)).toMatchObject({ kind: 'crl', certificates: [] });
    expect(parseTrustFile(Buffer.from(pem('X509 CRL', crl))).crls[0].revoked.has('1f')).toBe(true);
  });

  it('refuses what is none of them, and a damaged file, with invalid_certificate', () => {
    const bad = [Buffer.from('hello'), Buffer.from('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'), cscaA.der.subarray(0, 100), new Uint8Array(0), Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff])];
    for (const bytes of bad) {
      const err = (() => { try { parseTrustFile(bytes); return undefined; } catch (e) { return e; } })();
      expect(err).toBeInstanceOf(FaceproofError);
      expect((err as FaceproofError).code).toBe('invalid_certificate');
    }
  });
});

describe('the trust store', () => {
  it('imports, adds nothing twice, lists, removes; not_found for an unknown id', async () => {
    const store = memoryStore();
    const first = await store.import(cscaA.der, 'a.der');
    expect(first).toMatchObject({ kind: 'certificate', added: 1, already_present: 0 });
    expect(first.anchors[0]).toMatchObject({ kind: 'certificate', subject: 'C=UT, CN=CSCA A', country: 'UT', serial: '01', source: 'a.der (certificate)' });
    expect(first.anchors[0].sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(first.anchors[0].subject_key_identifier).toBe(cscaA.keyId.toString('hex'));
    const again = await store.import(bundle, 'bundle.pem');
    expect(again).toMatchObject({ kind: 'pem_bundle', added: 2, already_present: 1 });
    // The anchor imported before keeps its first source.
    expect(again.anchors.find((a) => a.id === first.anchors[0].id)?.source).toBe('a.der (certificate)');
    expect(await store.import(bundle, 'bundle.pem')).toMatchObject({ added: 0, already_present: 3 });
    expect(await store.import(crl, 'a.crl')).toMatchObject({ kind: 'crl', added: 1 });
    expect((await store.list()).map((a) => a.kind)).toEqual(['certificate', 'certificate', 'certificate', 'crl']);
    const removed = await store.remove(first.anchors[0].id);
    expect(removed.id).toBe(first.anchors[0].id);
    expect(await store.list()).toHaveLength(3);
    await expect(store.remove(first.anchors[0].id)).rejects.toThrow(FaceproofError);
    await expect(store.import(Buffer.from('nope'), 'x')).rejects.toThrow(/not a certificate/);
  });

  it('is what passive authentication chains to, and follows changes another process makes to the database (the CLI)', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-trust-')), 'faceproof.db');
    const server = new TrustStore(new SqliteTrustAnchorRepository(openDatabase(file)));
    const cli = new TrustStore(new SqliteTrustAnchorRepository(openDatabase(file)));
    const dataGroups = sampleDataGroups();
    const { sod } = makeSod({ dataGroups, ldsHash: 'sha256', dsc: signer, signature: ecSig });
    const check = () => verifyPassiveAuthentication({ sod, dataGroups, anchors: server });
    expect(await check()).toMatchObject({ chain: 'untrusted', failure: 'signer_not_trusted' });
    const imported = await cli.import(cscaA.der, 'a.der');
    expect(await check()).toMatchObject({ valid: true, chain: 'valid', csca: { anchor_id: imported.anchors[0].id } });
    await cli.import(crl, 'a.crl');
    expect(await check()).toMatchObject({ chain: 'revoked', failure: 'signer_certificate_revoked' });
    await cli.remove(imported.anchors[0].id);
    expect(await check()).toMatchObject({ chain: 'untrusted' });
  });
});

const dataDir = sharedDataDir();
const anchorsDir = dataDir && path.join(dataDir, 'documents', 'chips', 'csca');
describe.skipIf(!anchorsDir || !fs.existsSync(anchorsDir))('the published trust files (FACEPROOF_TEST_DATA)', () => {
  it('imports the German and Dutch master lists (signatures checked), the 720-CSCA PEM bundle and single CSCAs; twice adds nothing', async () => {
    const store = memoryStore();
    const de = await store.import(fs.readFileSync(path.join(anchorsDir!, 'DE_ML_2026-05-28-08-28-45.ml')), 'DE_ML.ml');
    expect(de).toMatchObject({ kind: 'master_list', skipped: 0, master_list: { signature: 'valid', signer: { country: 'DE' } } });
    expect(de.added).toBeGreaterThan(400);
    const nl = await store.import(fs.readFileSync(path.join(anchorsDir!, 'NL_ML_2026-07-22.ml')), 'NL_ML.ml');
    expect(nl).toMatchObject({ kind: 'master_list', master_list: { signature: 'valid', signer: { country: 'NL' } } });
    // Much of one list is in the other.
    expect(nl.already_present).toBeGreaterThan(100);
    const pemBundle = await store.import(fs.readFileSync(path.join(anchorsDir!, 'NFCPassportReader_masterList.pem')), 'bundle.pem');
    expect(pemBundle.kind).toBe('pem_bundle');
    expect(pemBundle.added + pemBundle.already_present).toBe(720);
    expect(await store.import(fs.readFileSync(path.join(anchorsDir!, 'DE_ML_2026-05-28-08-28-45.ml')), 'DE_ML.ml')).toMatchObject({ added: 0, already_present: de.added + de.already_present });
    expect(await store.import(fs.readFileSync(path.join(anchorsDir!, 'IDN', '2020-10_CSCA_LINK.cer')), 'link.cer')).toMatchObject({ kind: 'certificate' });
  });

  it('refuses a master list with one byte changed in its content', () => {
    const ml = new Uint8Array(fs.readFileSync(path.join(anchorsDir!, 'NL_ML_2026-07-22.ml')));
    // A byte inside the certificates (far from the signer info at the end): the signed digest no longer matches.
    ml[Math.floor(ml.length / 2)] ^= 0x01;
    expect(() => parseTrustFile(ml)).toThrow(/damaged or was altered|not a certificate|cannot/);
  });
});

describe('HTTP: /v1/admin/trust', () => {
  let app: FastifyInstance;
  let noAdminKey: string;
  beforeAll(async () => {
    ({ app } = await createTestApp());
    expect((await app.inject({ method: 'POST', url: '/v1/admin/clients', payload: { client_id: 'verifier' } })).statusCode).toBe(201);
    noAdminKey = (await app.inject({ method: 'POST', url: '/v1/admin/clients/verifier/keys', payload: { scopes: ['compare', 'detect'] } })).json().key.api_key;
  });
  afterAll(async () => { await app.close(); });

  const post = (body: Uint8Array | string, type: string, headers: Record<string, string> = {}, url = '/v1/admin/trust') => app.inject({ method: 'POST', url, payload: Buffer.from(body), headers: { 'content-type': type, ...headers } });

  it('imports a DER certificate (201), the same again (200, nothing added), a PEM bundle, a CRL; lists; removes; 404 for an unknown id', async () => {
    const first = await post(cscaA.der, 'application/pkix-cert', {}, '/v1/admin/trust?source=csca-a.der');
    expect(first.statusCode).toBe(201);
    expect(first.json()).toMatchObject({ kind: 'certificate', added: 1, already_present: 0, anchors: [{ subject: 'C=UT, CN=CSCA A', source: 'csca-a.der (certificate)' }] });
    expect(first.json().request_id).toBeTruthy();
    const again = await post(cscaA.der, 'application/octet-stream');
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ added: 0, already_present: 1 });
    expect((await post(bundle, 'application/x-pem-file')).json()).toMatchObject({ kind: 'pem_bundle', added: 2, already_present: 1 });
    expect((await post(crl, 'application/pkix-crl')).json()).toMatchObject({ kind: 'crl', added: 1 });
    const list = await app.inject({ url: '/v1/admin/trust' });
    expect(list.statusCode).toBe(200);
    expect(list.json().anchors).toHaveLength(4);
    const id = first.json().anchors[0].id as string;
    const removed = await app.inject({ method: 'DELETE', url: `/v1/admin/trust/${id}` });
    expect(removed.statusCode).toBe(200);
    expect(removed.json().anchor.id).toBe(id);
    const gone = await app.inject({ method: 'DELETE', url: `/v1/admin/trust/${id}` });
    expect({ status: gone.statusCode, code: gone.json().error.code }).toEqual({ status: 404, code: 'not_found' });
  });

  it('refuses a file that is no certificate (400 invalid_certificate), an empty body, JSON (415), and callers without the admin scope (403)', async () => {
    const bad = await post('not a certificate at all', 'application/octet-stream');
    expect({ status: bad.statusCode, code: bad.json().error.code }).toEqual({ status: 400, code: 'invalid_certificate' });
    const empty = await app.inject({ method: 'POST', url: '/v1/admin/trust', headers: { 'content-type': 'application/pkix-cert' } });
    expect(empty.statusCode).toBe(400);
    const json = await app.inject({ method: 'POST', url: '/v1/admin/trust', payload: { certificate: 'x' } });
    expect({ status: json.statusCode, code: json.json().error.code }).toEqual({ status: 415, code: 'unsupported_media_type' });
    for (const res of [await post(cscaB.der, 'application/pkix-cert', { 'x-api-key': noAdminKey }), await app.inject({ url: '/v1/admin/trust', headers: { 'x-api-key': noAdminKey } })]) {
      expect({ status: res.statusCode, code: res.json().error.code }).toEqual({ status: 403, code: 'insufficient_scope' });
    }
    const anonymous = await app.inject({ url: '/v1/admin/trust', anonymous: true } as never);
    expect(anonymous.statusCode).toBe(401);
  });

  it('leaves the rest of the API to its own body types: a certificate sent to another route is 415', async () => {
    const res = await post(cscaA.der, 'application/pkix-cert', {}, '/v1/admin/clients');
    expect({ status: res.statusCode, code: res.json().error.code }).toEqual({ status: 415, code: 'unsupported_media_type' });
  });

  it('takes a master list of a few megabytes', async () => {
    if (!anchorsDir || !fs.existsSync(anchorsDir)) return;
    const res = await post(fs.readFileSync(path.join(anchorsDir, 'DE_ML_2026-05-28-08-28-45.ml')), 'application/octet-stream');
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ kind: 'master_list', master_list: { signature: 'valid' } });
    const big = await post(Buffer.concat([fs.readFileSync(path.join(anchorsDir, 'NFCPassportReader_masterList.pem')), fs.readFileSync(path.join(anchorsDir, 'NFCPassportReader_masterList.pem'))]), 'application/x-pem-file');
    // Two copies of the 720-CSCA bundle (3 MB): each certificate once; those not in the German list are new.
    expect(big.statusCode).toBe(201);
    expect(big.json()).toMatchObject({ kind: 'pem_bundle' });
    expect(big.json().added + big.json().already_present).toBe(720);
  });
});
