import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { b64, selfieCrop, sharedDataDir } from './helpers/images.ts';
import { startServer, type RunningServer } from './helpers/server.ts';
import { TrustVisionClient, expectTrustVisionError, type TrustVisionAnswer } from './helpers/trustvision-client.ts';
import { buildTestPassport } from './helpers/test-passport.ts';
import { idNumberHash } from '../src/core/documents/verified-chips.ts';

/**
 * TrustVision (seeds/002), identity documents: read_id_card_info_sync, verify_id_card_sanity_sync,
 * detect_id_cards_sync, read_doc_info_sync, verify_nfc, check_nfc and ekyc onto Faceproof's document
 * service, against a real server process, by a client written from the manual; and iDenFace's card
 * enrolment from the document's portrait. Document images and chips come from the shared data
 * (FACEPROOF_TEST_DATA=…/shared/data: documents/); the cases that need none always run.
 */
const dataDir = sharedDataDir();
const docs = dataDir ? path.join(dataDir, 'documents') : undefined;
if (!docs) console.warn('TrustVision document tests on real documents skipped: set FACEPROOF_TEST_DATA to the shared data folder (../shared/data)');
const docFile = (p: string) => fs.readFileSync(path.join(docs!, p));

let server: RunningServer;
let client: TrustVisionClient;
let apiKey: string;
const KEY = 'trustvision-documents-bootstrap-key';
let selfie: Buffer;

beforeAll(async () => {
  server = await startServer('trustvision-documents', KEY);
  expect((await server.admin('/v1/admin/clients', { client_id: 'tv-docs' })).status).toBe(201);
  const key = (await (await server.admin('/v1/admin/clients/tv-docs/keys', { scopes: ['images', 'documents', 'users', 'liveness', 'compare', 'audit'], signing: true })).json()).key;
  client = new TrustVisionClient(`${server.base}/trustvision/api`, key.key_id, key.secret);
  apiKey = key.api_key;
  selfie = await selfieCrop(3, 830, 100);
}, 120_000);
afterAll(() => server?.stop());

const send = (operation: string, json: unknown) => client.send('POST', `/v1/${operation}`, { json });

function expectSuccess(answer: TrustVisionAnswer): any {
  expect(answer.status, JSON.stringify(answer.body).slice(0, 800)).toBe(200);
  expect(answer.body.errors, JSON.stringify(answer.body.errors)).toBeUndefined();
  expect(answer.body.data.status).toBe('success');
  expect(typeof answer.body.data.request_id).toBe('string');
  return answer.body.data;
}

function expectFailure(answer: TrustVisionAnswer, code: string): any {
  expect(answer.status, JSON.stringify(answer.body).slice(0, 800)).toBe(200);
  expect(answer.body.data.status).toBe('failure');
  expect(answer.body.errors).toHaveLength(1);
  expect(answer.body.errors[0].code).toBe(code);
  return answer.body.data;
}

/** The native reading of an image (POST /v1/documents/read): what the dialect's answers must agree with. */
async function nativeRead(image: Buffer): Promise<any> {
  const res = await fetch(`${server.base}/v1/documents/read`, { method: 'POST', headers: { 'x-api-key': apiKey, 'content-type': 'application/json' }, body: JSON.stringify({ image: { base64: b64(image) } }) });
  expect(res.status).toBe(200);
  const body = await res.json();
  expect(body.documents).toHaveLength(1);
  return body.documents[0];
}

const info = (list: Array<{ field: string; value: string }>) => Object.fromEntries(list.map((i) => [i.field, i.value]));

describe('TrustVision document operations: the manual\'s errors (no data needed)', () => {
  it('answers a missing or wrong field with 400 invalid_parameter_exception', async () => {
    const image = { base64: b64(selfie) };
    expectTrustVisionError(await send('read_id_card_info_sync', { image1: image }), 400, 'invalid_parameter_exception');
    expectTrustVisionError(await send('read_id_card_info_sync', { card_type: 'global.passport' }), 400, 'invalid_parameter_exception');
    expectTrustVisionError(await send('read_id_card_info_sync', { card_type: 'xx.unknown', image1: image }), 400, 'invalid_parameter_exception', 'card_type');
    expectTrustVisionError(await send('read_id_card_info_sync', { card_type: 'global.passport', image1: {} }), 400, 'invalid_parameter_exception', 'image1');
    expectTrustVisionError(await send('verify_id_card_sanity_sync', { card_type: 'global.passport' }), 400, 'invalid_parameter_exception');
    expectTrustVisionError(await send('detect_id_cards_sync', { card_type: 'global.passport' }), 400, 'invalid_parameter_exception');
    expectTrustVisionError(await send('read_doc_info_sync', { doc_type: 'global.passport', images: [] }), 400, 'invalid_parameter_exception');
    expectTrustVisionError(await send('read_doc_info_sync', { doc_type: 'invoice', images: [image] }), 400, 'invalid_parameter_exception', 'doc_type');
    expectTrustVisionError(await send('ekyc', { card_type: 'global.passport', image1: image, selfies: [] }), 400, 'invalid_parameter_exception');
    expectTrustVisionError(await send('ekyc', { card_type: 'global.passport', image1: image, selfies: [image, image, image, image] }), 400, 'invalid_parameter_exception');
    expectTrustVisionError(await send('check_nfc', {}), 400, 'invalid_parameter_exception');
    expectTrustVisionError(await send('check_nfc', { id_num: '123456789', issue_date: '2020-01-01' }), 400, 'invalid_parameter_exception', 'issue_date');
    expectTrustVisionError(await send('verify_nfc', {}), 400, 'invalid_parameter_exception');
    // The manual: dg13 or cccd must be provided.
    expectTrustVisionError(await send('verify_nfc', { sod: 'MIIB' }), 400, 'invalid_parameter_exception', 'cccd');
  });

  it('answers chip files that are not base64 of a chip file with 400 invalid_parameter_exception, naming the file', async () => {
    expectTrustVisionError(await send('verify_nfc', { sod: '!!not base64!!', cccd: 'L898902C3' }), 400, 'invalid_parameter_exception', 'sod');
    expectTrustVisionError(await send('verify_nfc', { sod: Buffer.from('garbage, not an EF.SOD').toString('base64'), cccd: 'L898902C3' }), 400, 'invalid_parameter_exception');
    expectTrustVisionError(await send('verify_nfc', { sod: Buffer.from([0x77, 0x82, 0xff, 0xff, 0x30]).toString('base64'), cccd: 'L898902C3' }), 400, 'invalid_parameter_exception');
  });

  it('says nocard_or_multicard_image for a face photo, and finds no card in it', async () => {
    const image = { base64: b64(selfie) };
    const read = expectFailure(await send('read_id_card_info_sync', { card_type: 'global.passport', image1: image }), 'nocard_or_multicard_image');
    expect(read.image1).toMatchObject({ id: '', card_box: null });
    expectFailure(await send('verify_id_card_sanity_sync', { card_type: 'global.passport', image1: image }), 'nocard_or_multicard_image');
    expectFailure(await send('read_doc_info_sync', { doc_type: 'global.passport', images: [image] }), 'nocard_or_multicard_image');
    expectFailure(await send('ekyc', { card_type: 'global.passport', image1: image, selfies: [image] }), 'nocard_or_multicard_image');
    const detected = expectSuccess(await send('detect_id_cards_sync', { card_type: 'global.passport', image }));
    expect(detected.image).toEqual({ id: '', cards: [] });
  }, 60_000);

  it('answers a stored image that is not there with 404 image_not_found_exception', async () => {
    expectTrustVisionError(await send('read_id_card_info_sync', { card_type: 'global.passport', image1: { id: 'no-such-image' } }), 404, 'image_not_found_exception');
  });

  it('does not serve business licences (read_doc_info) nor tampering: 401 access_denied_exception', async () => {
    expectTrustVisionError(await send('read_doc_info_sync', { doc_type: 'vn.business_license', images: [{ base64: b64(selfie) }] }), 401, 'access_denied_exception');
    expectTrustVisionError(await send('detect_id_card_tampering_sync', { card_type: 'global.passport', image1: { base64: b64(selfie) } }), 401, 'access_denied_exception');
  });

  it('check_nfc: a number never verified is not_verified', async () => {
    const data = expectSuccess(await send('check_nfc', { id_num: '001099012345', issue_date: '01/01/2021' }));
    expect(data.nfc_check).toEqual({ status: 'not_verified' });
  });
});

describe('TrustVision verify_nfc and check_nfc on a test passport of our own (own CSCA, document signer, SOD over DG1)', () => {
  it('verifies it once its CSCA is trusted, gives DG1 as card_information, and check_nfc then knows it (raw number or SHA-256)', async () => {
    const passport = await buildTestPassport({ mrz: ['P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<', 'L898902C36UTO7408122F1204159ZE184226B<<<<<10'] });
    const body = { sod: b64(passport.sod), dg1: b64(passport.dg1), cccd: 'L898902C3' };

    // Before its CSCA is trusted: the chip's data hold together but its signer chains to nothing trusted.
    const untrusted = expectSuccess(await send('verify_nfc', body));
    expect(untrusted.nfc_verification.integrity_status.verdict).toBe('alert');
    expect(untrusted.nfc_verification.integrity_status.details.chain).toBe('untrusted');
    expect(untrusted.nfc_verification.verdict).toBe('alert');
    expect(expectSuccess(await send('check_nfc', { id_num: 'L898902C3' })).nfc_check.status).toBe('not_verified');

    const trusted = await fetch(`${server.base}/v1/admin/trust`, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/pkix-cert' }, body: new Uint8Array(passport.csca) });
    expect(trusted.status, await trusted.clone().text()).toBeLessThan(300);

    const data = expectSuccess(await send('verify_nfc', body));
    expect(data.nfc_verification).toMatchObject({
      bca_status: { verdict: 'not_check' },
      integrity_status: { verdict: 'good', error_code: '', error_message: '' },
      clone_status: { verdict: '' },
      verdict: 'good',
    });
    expect(info(data.card_information)).toMatchObject({
      identity_number: 'L898902C3', last_name: 'ERIKSSON', first_name: 'ANNA MARIA', full_name: 'ANNA MARIA ERIKSSON',
      birth_date: '1974-08-12', gender: 'F', nationality: 'UTO', issuing_country: 'UTO', document_type: 'P', optional_data: 'ZE184226B',
    });
    expect(data.card_information.every((i: { confidence_verdict: string }) => i.confidence_verdict === 'SURE')).toBe(true);
    expect(data.image).toBeNull();

    const checked = expectSuccess(await send('check_nfc', { id_num: 'L898902C3', issue_date: '12/04/2012' }));
    expect(checked.nfc_check.status).toBe('verified');
    expect(checked.nfc_check.hash_sod).toMatch(/^[0-9a-f]{128}$/);
    expect(checked.nfc_check.input_fields).toEqual(['dg1', 'cccd']);
    expect(expectSuccess(await send('check_nfc', { id_num: idNumberHash('L898902C3').toUpperCase() })).nfc_check.status).toBe('verified');

    // A client's own clone verdict is echoed and lowers the overall one; an ID number the chip does not carry is an alert.
    expect(expectSuccess(await send('verify_nfc', { ...body, clone_status: 'alert' })).nfc_verification).toMatchObject({ clone_status: { verdict: 'alert' }, verdict: 'alert' });
    const other = expectSuccess(await send('verify_nfc', { ...body, cccd: '999999999' }));
    expect(other.nfc_verification.integrity_status).toMatchObject({ verdict: 'alert', error_code: 'id_number_mismatch' });

    // One byte of DG1 changed: its hash no longer holds.
    const tampered = Buffer.from(passport.dg1);
    tampered[tampered.length - 1] ^= 1; // the composite check digit: 0 → 1, still in the MRZ alphabet
    const broken = expectSuccess(await send('verify_nfc', { ...body, dg1: b64(tampered) }));
    expect(broken.nfc_verification.integrity_status.verdict).toBe('alert');
    expect(broken.nfc_verification.integrity_status.details.hashes['1']).toBe('invalid');
    expect(broken.card_information.every((i: { confidence_verdict: string }) => i.confidence_verdict === 'UNSURE')).toBe(true);
  }, 60_000);

  it('stores the verdict on a card image named by card_image_id; an unknown one is 404 image_not_found_exception', async () => {
    const passport = await buildTestPassport({ mrz: ['P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<', 'L898902C36UTO7408122F1204159ZE184226B<<<<<10'] });
    expectTrustVisionError(await send('verify_nfc', { sod: b64(passport.sod), dg1: b64(passport.dg1), cccd: 'L898902C3', card_image_id: 'no-such-image' }), 404, 'image_not_found_exception', 'card_image_id');
    const uploaded = await send('images', { base64: b64(selfie), label: 'id_card.global.passport.front' });
    const imageId = uploaded.body.data.image_id;
    const data = expectSuccess(await send('verify_nfc', { sod: b64(passport.sod), dg1: b64(passport.dg1), cccd: 'L898902C3', card_image_id: imageId }));
    const patched = await client.send('PATCH', `/v1/images/${imageId}`, { json: { metadata: {} } });
    expect(patched.body.data.metadata).toMatchObject({ nfc_request_id: data.request_id });
  }, 60_000);
});

describe.skipIf(!docs)('TrustVision document operations on real documents (FACEPROOF_TEST_DATA)', () => {
  it('read_id_card_info_sync reads the ICAO specimen passport: card_box, mrz, card_information', async () => {
    const data = expectSuccess(await send('read_id_card_info_sync', { card_type: 'global.passport', image1: { base64: b64(docFile('images/passporteye/passport-td3.jpg')) } }));
    expect(data.image1.id).toBe('');
    for (const corner of ['top_left', 'top_right', 'bottom_left', 'bottom_right']) expect(data.image1.card_box[corner]).toEqual({ x: expect.any(Number), y: expect.any(Number) });
    expect(data.image1.card_box.top_left.x).toBeLessThan(data.image1.card_box.top_right.x);
    expect(data.image1.card_box.top_left.y).toBeLessThan(data.image1.card_box.bottom_left.y);
    expect(data.image1.mrz.raw.map((r: { text: string }) => r.text)).toEqual(['P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<', 'L898902C36UTO7408122F1204159ZE184226B<<<<<10']);
    expect(info(data.image1.mrz.parsed)).toMatchObject({ document_number: 'L898902C3', birth_date: '740812', expiry_date: '120415' });
    expect(data.image1.ocr).toEqual({ parsed: null, raw: null });
    expect(data.image2).toBeNull();
    expect(info(data.card_information)).toMatchObject({
      identity_number: 'L898902C3', full_name: 'ANNA MARIA ERIKSSON', first_name: 'ANNA MARIA', last_name: 'ERIKSSON',
      birth_date: '1974-08-12', gender: 'F', nationality: 'UTO', expiry_date: '2012-04-15', issuing_country: 'UTO', document_type: 'P',
      card_type: 'global.passport', card_label: 'global.passport.front',
    });
    for (const item of data.card_information) expect(['SURE', 'UNSURE', '']).toContain(item.confidence_verdict);
  }, 60_000);

  it('read_id_card_info_sync reads a stored image by id, an ID card\'s MRZ as image2, and refuses a passport for an ID-card type', async () => {
    const uploaded = await send('images', { base64: b64(docFile('images/passporteye/53_id-d.jpg')), label: 'id_card.vn.national_id.back' });
    const imageId = uploaded.body.data.image_id;
    const data = expectSuccess(await send('read_id_card_info_sync', { card_type: 'vn.national_id', image1: { base64: b64(selfie) }, image2: { id: imageId } }));
    expect(data.image1.card_box).toBeNull();
    expect(data.image2.id).toBe(imageId);
    expect(info(data.card_information)).toMatchObject({ identity_number: 'T22000129', last_name: 'MUSTERMANN', first_name: 'ERIKA', birth_date: '1964-08-12', card_label: 'vn.national_id.back' });
    const wrong = expectFailure(await send('read_id_card_info_sync', { card_type: 'vn.national_id', image1: { base64: b64(docFile('images/passporteye/passport-td3.jpg')) } }), 'incorrect_card_type');
    expect(wrong.image1.card_box).not.toBeNull();
  }, 90_000);

  it('verify_id_card_sanity_sync: good exactly when the native reading finds no capture issue and the MRZ holds; not good for the specimen whose check digits fail', async () => {
    for (const file of ['images/passporteye/100_pass-bdr.jpg', 'images/passporteye/passport-td3.png']) {
      const native = await nativeRead(docFile(file));
      const data = expectSuccess(await send('verify_id_card_sanity_sync', { card_type: 'global.passport', image1: { base64: b64(docFile(file)) } }));
      expect(data.image1.card_box).not.toBeNull();
      const clean = native.capture.issues.length === 0 && native.mrz.valid;
      expect(data.card_sanity.verdict === 'good', `${file}: ${JSON.stringify(native.capture)}`).toBe(clean);
      if (clean) expect(data.card_sanity).toEqual({ verdict: 'good', score: 1 });
      else expect(['image_has_cut', 'image_too_blur', 'image_too_bright', 'mrz_check_digits_invalid']).toContain(data.card_sanity.verdict);
    }
    const esp = expectSuccess(await send('verify_id_card_sanity_sync', { card_type: 'in.national_id', image1: { base64: b64(docFile('images/passporteye/0_id-esp.png')) } }));
    expect(esp.card_sanity.verdict).not.toBe('good');
    expect(esp.card_sanity.score).toBeGreaterThan(0);
  }, 90_000);

  it('detect_id_cards_sync lists each document with its label and box', async () => {
    const data = expectSuccess(await send('detect_id_cards_sync', { card_type: 'vn.passport', image: { base64: b64(docFile('images/passporteye/100_pass-cze.jpg')) } }));
    expect(data.image.cards).toHaveLength(1);
    expect(data.image.cards[0].card_label).toBe('vn.passport.front');
    expect(Object.keys(data.image.cards[0].card_box).sort()).toEqual(['bottom_left', 'bottom_right', 'top_left', 'top_right']);
    const visa = expectSuccess(await send('detect_id_cards_sync', { card_type: 'global.passport', image: { base64: b64(docFile('images/passporteye/100_visa-polx.jpg')) } }));
    expect(visa.image.cards.map((c: { card_label: string }) => c.card_label)).toEqual(['global.visa.front']);
  }, 90_000);

  it('read_doc_info_sync reads a visa: doc_box, the MRZ lines, doc_information', async () => {
    const data = expectSuccess(await send('read_doc_info_sync', { doc_type: 'global.visa', images: [{ base64: b64(docFile('images/passporteye/100_visa-polx.jpg')) }] }));
    expect(data.images).toHaveLength(1);
    expect(data.images[0].doc_box).not.toBeNull();
    expect(data.images[0].ocr.raw.map((r: { text: string }) => r.text)).toEqual(['VCPOLKOWALSKA<KWIATKOWSKA<<BEATA<<<<', 'PL00000008POL6002084F0505011<<<<<<<0']);
    expect(info(data.doc_information)).toMatchObject({ identity_number: 'PL0000000', last_name: 'KOWALSKA KWIATKOWSKA', birth_date: '1960-02-08', document_type: 'VC', card_type: 'global.visa' });
  }, 60_000);

  it('ekyc: the document read, its portrait against each selfie, liveness, the decision', async () => {
    const card = docFile('pairs/erika_mustermann_DEU/doc_DEU_passport_specimen_scan.jpg');
    const chipFace = docFile('pairs/erika_mustermann_DEU/chip_DG2_face_BSI_testset_decoded.png');
    const answer = await send('ekyc', { card_type: 'global.passport', image1: { base64: b64(card) }, selfies: [{ base64: b64(chipFace) }, { base64: b64(selfie) }] });
    const data = answer.body.data;
    expect(answer.status, JSON.stringify(answer.body).slice(0, 500)).toBe(200);
    expect(info(data.card_information)).toMatchObject({ last_name: 'MUSTERMANN', first_name: 'ERIKA', card_type: 'global.passport' });
    expect(data.liveness_check).toEqual({ is_live: expect.any(Boolean), score: expect.any(Number) });
    expect(['accept', 'review', 'reject']).toContain(data.verification.decision);
    // The second selfie is a stranger: the verification cannot accept.
    expect(data.verification.decision).not.toBe('accept');
    if (data.verification.checks.portrait_present.result === 'pass') {
      expect(data.compare_faces).toHaveLength(2);
      expect(data.compare_faces[0].result).toBe('matched');
      expect(data.compare_faces[1].result).toBe('unmatched');
      expect(data.compare_faces[0].face1_id).toBe(data.compare_faces[1].face1_id);
    } else {
      // The reader found no portrait on this scan: the manual's image_has_no_faces, from the card.
      expectFailure(answer, 'image_has_no_faces');
      expect(answer.body.errors[0].detail).toMatchObject({ field: 'image1', sanity: 'id_card' });
    }
  }, 120_000);

  it('ekyc: a selfie without a face is the failure image_has_no_faces (sanity portrait)', async () => {
    const blank = await (await import('sharp')).default({ create: { width: 400, height: 400, channels: 3, background: { r: 200, g: 200, b: 200 } } }).jpeg().toBuffer();
    const answer = await send('ekyc', { card_type: 'global.passport', image1: { base64: b64(docFile('images/passporteye/passport-td3.png')) }, selfies: [{ base64: b64(blank) }] });
    expectFailure(answer, 'image_has_no_faces');
    expect(answer.body.errors[0].detail).toMatchObject({ field: 'selfies[0]', sanity: 'portrait' });
  }, 60_000);

  it('verify_nfc on the German test chip: DG1 as card_information, DG2\'s face stored as an image, the chain untrusted (its CSCA is not available)', async () => {
    const chip = (f: string) => b64(docFile(`chips/tsemrtd/${f}`));
    const data = expectSuccess(await send('verify_nfc', { sod: chip('EF_SOD.bin'), dg1: chip('EF_DG1.bin'), dg2: chip('EF_DG2.bin'), dg14: chip('EF_DG14.bin'), dg15: chip('EF_DG15.bin'), com: chip('EF_COM.bin'), cccd: 'C11T002JM' }));
    expect(info(data.card_information)).toMatchObject({ last_name: 'MUSTERMANN', first_name: 'ERIKA', issuing_country: 'D' });
    expect(data.image.id).toEqual(expect.any(String));
    const hashes = data.nfc_verification.integrity_status.details.hashes;
    for (const n of ['1', '2', '14']) expect(hashes[n]).toBe('valid');
    expect(data.nfc_verification.integrity_status.verdict).toBe('alert');
    const face = await client.send('GET', `/v1/images/${data.image.id}`);
    expect(face.status).toBe(200);
    expect(face.headers.get('content-type')).toBe('image/png');
  }, 60_000);
});

describe.skipIf(!docs)('iDenFace card enrolment from the document\'s portrait (FACEPROOF_TEST_DATA)', () => {
  it('enrols the document\'s portrait when the reader finds one (else the largest face, as before), with the same answer shape', async () => {
    const token = (await (await fetch(`${server.base}/idenface/api/controller/generate_token`, { method: 'POST', headers: { 'X-API-Key': apiKey, 'content-type': 'application/json' }, body: '{}' })).json()).responseBody.jwt;
    const call = (p: string, body: object) => fetch(`${server.base}/idenface/api/controller/${p}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json());
    const card = docFile('pairs/erika_mustermann_DEU/doc_DEU_passport_specimen_scan.jpg');
    const native = await nativeRead(card);
    const enrolled = await call('self_card_enroll', { user_id: 'erika-deu', image_info: b64(card), category: 'passport', parameter: { occlusion: false } });
    expect(enrolled.transaction_status, JSON.stringify(enrolled).slice(0, 500)).toBe(2);
    expect(Object.keys(enrolled.responseBody).sort()).toEqual(['face_feature_id', 'face_id', 'feature_extract_response', 'image_id', 'message', 'pk', 'status']);
    expect(enrolled.responseBody.feature_extract_response.result.face_bbox).toHaveLength(4);
    const stored = await client.send('PATCH', `/v1/images/${enrolled.responseBody.image_id}`, { json: { metadata: {} } });
    if (native.portrait?.template) {
      expect(stored.body.data.metadata.idenface).toMatchObject({ enrolled_from: 'document_portrait', portrait_image_id: expect.any(String) });
      const b = native.portrait.box;
      expect(enrolled.responseBody.feature_extract_response.result.face_bbox).toEqual([b.x, b.y, b.x + b.width, b.y + b.height].map(Math.round));
    } else {
      expect(stored.body.data.metadata.idenface.enrolled_from).toBeUndefined();
    }
    // The chip's face of the same person verifies against what was enrolled.
    const verified = await call('self_card_verify', { user_id: 'erika-deu', image_info: b64(docFile('pairs/erika_mustermann_DEU/chip_DG2_face_BSI_testset_decoded.png')), category: 'passport', parameter: { occlusion: false } });
    expect(verified.responseBody.face_verify_response.result.normalized_score, JSON.stringify(verified).slice(0, 500)).toBeGreaterThan(0.7);
  }, 120_000);
});
