import Database from 'better-sqlite3';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drift, encodeClip } from '../bench/lib/video-clip.ts';
import { blankImage, selfieCrop } from './helpers/images.ts';
import { startServer, type RunningServer } from './helpers/server.ts';
import { rfc3339, TrustVisionClient, type TrustVisionAnswer, expectTrustVisionError } from './helpers/trustvision-client.ts';

/**
 * TrustVision (seeds/002), media and records: upload / download / metadata of images, files,
 * delete_files, convert_pdf_sync, transactions, requests_by_req_id / requests_by_x_req_id and
 * client_settings, against a real server process, by a client written from the manual alone.
 * Every request example of the manual for these operations is sent as printed (real photos, only
 * the host changed); its answer is checked field by field. Counted as the tests go.
 */
let server: RunningServer;
let client: TrustVisionClient;
let apiKey: string;
const KEY = 'trustvision-media-bootstrap-key';
/** The server's image limit here (FACEPROOF_MAX_IMAGE_BYTES), so that 413 is cheap to provoke. */
const MAX_BYTES = 3_000_000;
const examples = new Set<string>();
const codes = new Set<string>();

let portrait: Buffer; // person A
let portraitElsewhere: Buffer; // person A, another photo
let stranger: Buffer; // person B
let video: Buffer;

beforeAll(async () => {
  server = await startServer('trustvision-media', KEY, { FACEPROOF_MAX_IMAGE_BYTES: String(MAX_BYTES) });
  expect((await server.admin('/v1/admin/clients', { client_id: 'tv-media' })).status).toBe(201);
  const key = (await (await server.admin('/v1/admin/clients/tv-media/keys', { scopes: ['images', 'compare', 'audit'], signing: true })).json()).key;
  client = new TrustVisionClient(`${server.base}/trustvision/api`, key.key_id, key.secret);
  apiKey = key.api_key;
  [portrait, portraitElsewhere, stranger] = await Promise.all([selfieCrop(3, 830, 100), selfieCrop(1, 1250, 0), selfieCrop(3, 370, 200)]);
  video = await encodeClip(await drift(portrait, 10), 5);
}, 120_000);
afterAll(() => {
  server?.stop();
  console.log(`TrustVision media: ${examples.size} manual examples checked, ${codes.size} error/failure codes provoked: ${[...codes].sort().join(', ')}`);
});

/** The manual's error envelope: empty data, one error with code, message and detail. */
function expectError(answer: TrustVisionAnswer, status: number, code: string, field?: string) {
  expectTrustVisionError(answer, status, code, field);
  codes.add(`${status} ${code}`);
}

/** 200 with the envelope: `data` holding exactly `keys`, no `errors`. */
function expectData(answer: TrustVisionAnswer, keys: string[]) {
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  expect(answer.headers.get('content-type')).toContain('application/json');
  expect(answer.body.errors).toBeUndefined();
  expect(Object.keys(answer.body.data).sort()).toEqual([...keys].sort());
  return answer.body.data;
}

/** `-F 'file=@"…"' -F 'label="…"'`, as curl sends it. */
function form(fields: Record<string, string | { bytes: Buffer; name: string; type: string }>): FormData {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) {
    if (typeof v === 'string') f.append(k, v);
    else f.append(k, new Blob([new Uint8Array(v.bytes)], { type: v.type }), v.name);
  }
  return f;
}

const jpegFile = (bytes: Buffer, name = 'portrait.jpg') => ({ bytes, name, type: 'image/jpeg' });

async function upload(bytes: Buffer, label = 'portrait', headers: Record<string, string> = {}): Promise<string> {
  const answer = await client.send('POST', '/v1/images', { form: form({ file: jpegFile(bytes), label }), headers });
  return expectData(answer, ['image_id']).image_id;
}

/** A PDF whose pages each show one JPEG full-page (what a scanner writes), written by hand from the PDF 1.4 reference. */
function pdfOf(jpegs: Array<{ bytes: Buffer; width: number; height: number }>): Buffer {
  const objects: Array<string | Buffer[]> = ['<< /Type /Catalog /Pages 2 0 R >>', ''];
  const kids: string[] = [];
  jpegs.forEach((j, i) => {
    const page = 3 + i * 3;
    kids.push(`${page} 0 R`);
    const content = `q ${j.width} 0 0 ${j.height} 0 0 cm /Im Do Q`;
    objects.push(`<< /Type /Page /Parent 2 0 R /MediaBox [0 0 ${j.width} ${j.height}] /Resources << /XObject << /Im ${page + 1} 0 R >> >> /Contents ${page + 2} 0 R >>`);
    objects.push([Buffer.from(`<< /Type /XObject /Subtype /Image /Width ${j.width} /Height ${j.height} /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode /Length ${j.bytes.length} >>\nstream\n`), j.bytes, Buffer.from('\nendstream')]);
    objects.push(`<< /Length ${content.length} >>\nstream\n${content}\nendstream`);
  });
  objects[1] = `<< /Type /Pages /Kids [${kids.join(' ')}] /Count ${jpegs.length} >>`;
  const parts: Buffer[] = [Buffer.from('%PDF-1.4\n')];
  let length = parts[0].length;
  const offsets: number[] = [];
  const push = (b: Buffer) => { parts.push(b); length += b.length; };
  objects.forEach((o, i) => {
    offsets.push(length);
    push(Buffer.from(`${i + 1} 0 obj\n`));
    for (const b of typeof o === 'string' ? [Buffer.from(o)] : o) push(b);
    push(Buffer.from('\nendobj\n'));
  });
  const xref = length;
  push(Buffer.from(`xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`));
  return Buffer.concat(parts);
}

/** Faceproof's own comparison of two stored images, for the decisions the dialect's flow should agree with. */
async function nativeCompare(a: string, b: string): Promise<{ decision: string; score: number }> {
  const res = await fetch(`${server.base}/v1/compare`, { method: 'POST', headers: { 'x-api-key': apiKey, 'content-type': 'application/json' }, body: JSON.stringify({ source: { image_id: a }, target: { image_id: b } }) });
  expect(res.status).toBe(200);
  return res.json();
}

describe('TrustVision images: the manual\'s examples', () => {
  it('uploads an image as its curl example does (multipart file + label) and as JSON base64', async () => {
    const id = await upload(portrait);
    expect(id).toMatch(/^img_[0-9a-f]{32}$/);
    examples.add('POST /v1/images (multipart)');
    const json = await client.send('POST', '/v1/images', { json: { base64: portrait.toString('base64'), label: 'portrait', metadata: '{"id":"123456789", "type": 1}' } });
    expectData(json, ['image_id']);
    examples.add('POST /v1/images (JSON base64)');
  });

  it('downloads the original bytes, and with X-DOWNLOAD-BASE64 a data URL', async () => {
    const id = await upload(portrait);
    // As printed: GET with Content-Type: application/json and no body.
    const binary = await client.send('GET', `/v1/images/${id}`, { headers: { 'Content-Type': 'application/json' } });
    expect(binary.status).toBe(200);
    expect(binary.headers.get('content-type')).toBe('image/jpeg');
    expect(binary.raw.equals(portrait)).toBe(true);
    examples.add('GET /v1/images/{image_id}');
    const b64 = await client.send('GET', `/v1/images/${id}`, { headers: { 'Content-Type': 'application/json', 'X-DOWNLOAD-BASE64': 'true' } });
    expect(b64.status).toBe(200);
    const text = b64.raw.toString('utf8');
    expect(text.startsWith('data:image/jpeg;base64,')).toBe(true);
    expect(Buffer.from(text.slice(text.indexOf(',') + 1), 'base64').equals(portrait)).toBe(true);
    examples.add('GET /v1/images/{image_id} (X-DOWNLOAD-BASE64)');
  });

  it('adds metadata as the PATCH example does, and replaces it with override', async () => {
    const first = await client.send('POST', '/v1/images', { form: form({ file: jpegFile(portrait), label: 'portrait', metadata: '{"app_id":"5555"}' }) });
    const id = expectData(first, ['image_id']).image_id;
    const patched = await client.send('PATCH', `/v1/images/${id}`, { json: { metadata: { national_id: '123456789' } } });
    const data = expectData(patched, ['image_id', 'label', 'metadata']);
    expect(data).toEqual({ image_id: id, label: 'portrait', metadata: { app_id: '5555', national_id: '123456789' } });
    examples.add('PATCH /v1/images/{image_id}');
    const replaced = await client.send('PATCH', `/v1/images/${id}`, { json: { metadata: { national_id: '6666' }, label: 'id_card.vn.national_id.front', override: true } });
    expect(expectData(replaced, ['image_id', 'label', 'metadata'])).toEqual({ image_id: id, label: 'id_card.vn.national_id.front', metadata: { national_id: '6666' } });
  });
});

describe('TrustVision files and delete_files: the manual\'s examples', () => {
  it('uploads a video (multipart file + label) and frames (JSON), downloads them, and deletes files and images', async () => {
    const uploaded = await client.send('POST', '/v1/files', { form: form({ file: { bytes: video, name: 'frames.mp4', type: 'video/mp4' }, label: 'video' }) });
    const fileId = expectData(uploaded, ['file_id']).file_id;
    examples.add('POST /v1/files (multipart)');
    const down = await client.send('GET', `/v1/files/${fileId}`, { headers: { 'Content-Type': 'application/json' } });
    expect(down.status).toBe(200);
    expect(down.headers.get('content-type')).toBe('video/mp4');
    expect(down.raw.equals(video)).toBe(true);
    examples.add('GET /v1/files/{file_id}');
    const b64 = await client.send('GET', `/v1/files/${fileId}`, { headers: { 'X-DOWNLOAD-BASE64': 'true' } });
    expect(b64.raw.toString('utf8')).toBe(`data:video/mp4;base64,${video.toString('base64')}`);

    const frames = await client.send('POST', '/v1/files', {
      json: { frames: [{ base64: portrait.toString('base64'), label: 'portrait', index: 0, metadata: '{"id":"1"}' }, { base64: portraitElsewhere.toString('base64'), index: 1 }], metadata: { id: '123456789', type: 1 } },
    });
    const framesId = expectData(frames, ['file_id']).file_id;
    const listed = await client.send('GET', `/v1/files/${framesId}`);
    expect(listed.status).toBe(200);
    expect(listed.body.data.frames.map((f: { index: number }) => f.index)).toEqual([0, 1]);
    expect(Buffer.from(listed.body.data.frames[0].base64.split(',')[1], 'base64').equals(portrait)).toBe(true);
    expect(listed.body.data.frames[0]).toMatchObject({ label: 'portrait', metadata: { id: '1' } });

    const imageId = await upload(portrait);
    const deleted = await client.send('POST', '/v1/delete_files', { json: { file_ids: [fileId, imageId] } });
    expect(expectData(deleted, ['status'])).toEqual({ status: 'success' });
    examples.add('POST /v1/delete_files');
    expectError(await client.send('GET', `/v1/files/${fileId}`), 404, 'file_not_found_exception');
    expectError(await client.send('GET', `/v1/images/${imageId}`), 404, 'image_not_found_exception');
    // Ids not found: the others are deleted, and the answer is a failure naming them.
    const again = await client.send('POST', '/v1/delete_files', { json: { file_ids: [framesId, fileId] } });
    expect(again.status).toBe(200);
    expect(again.body.data).toEqual({ status: 'failure' });
    expect(again.body.errors).toEqual([{ code: 'file_not_found_exception', message: expect.any(String), detail: { field: 'file_ids', file_id: fileId } }]);
    codes.add('failure file_not_found_exception');
    expectError(await client.send('GET', `/v1/files/${framesId}`), 404, 'file_not_found_exception');
  });
});

describe('TrustVision convert_pdf_sync', () => {
  it('renders the pages asked for as stored images, as its curl example does; a page beyond the document is a failure', async () => {
    const meta = await Promise.all([portrait, stranger].map(async (b) => ({ bytes: b, width: 640, height: 480 })));
    const pdf = pdfOf(meta);
    const answer = await client.send('POST', '/v1/convert_pdf_sync', { form: form({ file: { bytes: pdf, name: 'portrait.pdf', type: 'application/pdf' }, pages: '[{"index":1, "label": "portrait"}]' }) });
    const data = expectData(answer, ['images', 'request_id', 'status']);
    expect(data.status).toBe('success');
    expect(data.request_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(data.images).toEqual([{ id: expect.stringMatching(/^img_/), page: 1, label: 'portrait' }]);
    examples.add('POST /v1/convert_pdf_sync');
    // The page is the photo: Faceproof's own comparison finds the same person, and not the other one.
    const original = await upload(portraitElsewhere);
    expect((await nativeCompare(data.images[0].id, original)).decision).toBe('match');
    const two = await client.send('POST', '/v1/convert_pdf_sync', { form: form({ file: { bytes: pdf, name: 'p.pdf', type: 'application/pdf' }, pages: JSON.stringify([{ index: 2, label: 'portrait', metadata: { side: 'b' } }]), metadata: '{"case":"7"}' }) });
    const page2 = expectData(two, ['images', 'request_id', 'status']).images[0];
    expect(page2.page).toBe(2);
    expect((await nativeCompare(page2.id, original)).decision).toBe('no_match');
    const patched = await client.send('PATCH', `/v1/images/${page2.id}`, { json: { metadata: {} } });
    expect(patched.body.data.metadata).toEqual({ case: '7', side: 'b' });

    const missing = await client.send('POST', '/v1/convert_pdf_sync', { form: form({ file: { bytes: pdf, name: 'p.pdf', type: 'application/pdf' }, pages: '[{"index":3, "label": "portrait"}]' }) });
    expect(missing.status).toBe(200);
    expect(missing.body.data).toEqual({ status: 'failure', request_id: expect.any(String) });
    expect(missing.body.errors).toEqual([{ code: 'page_does_not_exist', message: expect.any(String), detail: { field: 'pages', page: 3 } }]);
    codes.add('failure page_does_not_exist');

    expectError(await client.send('POST', '/v1/convert_pdf_sync', { form: form({ file: jpegFile(portrait), pages: '[{"index":1, "label": "portrait"}]' }) }), 415, 'invalid_file_format_exception', 'file');
    const damaged = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(400, 0x41)]);
    expectError(await client.send('POST', '/v1/convert_pdf_sync', { form: form({ file: { bytes: damaged, name: 'x.pdf', type: 'application/pdf' }, pages: '[{"index":1, "label": "portrait"}]' }) }), 415, 'invalid_file_format_exception', 'file');
    expectError(await client.send('POST', '/v1/convert_pdf_sync', { form: form({ file: { bytes: pdf, name: 'p.pdf', type: 'application/pdf' }, pages: 'page one' }) }), 400, 'invalid_parameter_exception', 'pages');
    expectError(await client.send('POST', '/v1/convert_pdf_sync', { form: form({ file: { bytes: pdf, name: 'p.pdf', type: 'application/pdf' }, pages: '[{"index":1, "label": "selfie"}]' }) }), 400, 'invalid_parameter_exception', 'pages[0].label');
    const big = Buffer.concat([pdf, Buffer.alloc(MAX_BYTES, 0x20)]);
    expectError(await client.send('POST', '/v1/convert_pdf_sync', { form: form({ file: { bytes: big, name: 'p.pdf', type: 'application/pdf' }, pages: '[{"index":1, "label": "portrait"}]' }) }), 413, 'file_too_large_exception');
  }, 60_000);
});

describe('TrustVision transactions and client settings: the manual\'s examples', () => {
  it('creates and finishes a transaction as the examples do', async () => {
    const made = await client.send('POST', '/v1/transactions', { json: { reference_id: '536d2457-bfc0-4249-85f2-8c4053bdec58' } });
    const data = expectData(made, ['id', 'channel_id']);
    expect(data.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(data.channel_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    examples.add('POST /v1/transactions');
    const finished = await client.send('POST', `/v1/transactions/${data.id}/finish`, { json: { vilcaf_number: 'CAF_123456789' } });
    expect(expectData(finished, ['id'])).toEqual({ id: data.id });
    examples.add('POST /v1/transactions/{transaction_id}/finish');
    // Finished once: again is a parameter that violates a constraint, as is an unknown transaction.
    expectError(await client.send('POST', `/v1/transactions/${data.id}/finish`, { json: {} }), 400, 'invalid_parameter_exception');
    expectError(await client.send('POST', '/v1/transactions/3b4bf7b6-088b-4931-9279-9259f5c34fe3/finish', { json: { vilcaf_number: 'CAF_123456789' } }), 400, 'invalid_parameter_exception', 'transaction_id');
    expectError(await client.send('POST', '/v1/transactions', { json: { reference_id: 'r'.repeat(129) } }), 400, 'invalid_parameter_exception');
    expectError(await client.send('POST', '/v1/transactions', { json: { channel: 'web' } }), 400, 'invalid_parameter_exception');
    const india = await client.send('POST', '/v1/transactions', { json: { channel_name: 'branch', metadata: { k: 1 }, agent_number: 'A1', customer_name: 'N' } });
    expect(expectData(india, ['id', 'channel_id']).channel_id).not.toBe(data.channel_id);
  });

  it('answers client settings with the example\'s fields, and keeps what a client sets', async () => {
    const got = await client.send('GET', '/v1/client_settings', { headers: { 'Content-Type': 'application/json' } });
    const data = expectData(got, ['card_types', 'country', 'settings']);
    expect(typeof data.country).toBe('string');
    expect(Array.isArray(data.card_types)).toBe(true);
    for (const flag of ['enable_compare_faces', 'enable_convert_pdf', 'enable_encryption', 'enable_verify_face_liveness', 'enable_verify_portrait_sanity', 'selfie_enable_detect_multiple_face', 'support_transaction']) {
      expect(typeof data.settings[flag], flag).toBe('boolean');
    }
    expect(data.settings.enable_encryption).toBe(false);
    expect(data.settings.liveness_modes).toEqual(['active', 'passive']);
    expect(typeof data.settings.scan_qr).toBe('string');
    expect(typeof data.settings.web_ui.show_score).toBe('boolean');
    examples.add('GET /v1/client_settings');
    const cardTypes = [{ code: 'vn.national_id', name: 'CMND cũ / CMND mới / CCCD / Hộ chiếu', orientation: 'horizontal', has_back_side: true, front_qr: { exist: false }, back_qr: { exist: false } }];
    const set = await client.send('POST', '/v1/client_settings', { json: { card_types: cardTypes, settings: { scan_qr: 'with_card', utilities: { length_video_sec: 5 } } } });
    expect(expectData(set, ['card_types', 'country', 'settings']).settings).toMatchObject({ scan_qr: 'with_card', enable_compare_faces: true, utilities: { length_video_sec: 5 } });
    const again = await client.send('GET', '/v1/client_settings');
    expect(again.body.data.card_types).toEqual(cardTypes);
    expect(again.body.data.settings.scan_qr).toBe('with_card');
    // Per flow: a flow's own settings, the client's otherwise.
    await client.send('POST', '/v1/client_settings', { json: { flow_id: 'onboarding', settings: { scan_qr: 'separate_step' } } });
    expect((await client.send('GET', '/v1/client_settings?flow_id=onboarding')).body.data.settings.scan_qr).toBe('separate_step');
    expect((await client.send('GET', '/v1/client_settings?flow_id=other')).body.data.settings.scan_qr).toBe('with_card');
    expectError(await client.send('POST', '/v1/client_settings', { json: { settings: { enable_encryption: true } } }), 400, 'invalid_parameter_exception', 'settings.enable_encryption');
  });
});

describe('TrustVision requests_by_req_id and requests_by_x_req_id', () => {
  it('give back earlier answers by request id and by X-Request-Id, with final_result', async () => {
    const x = 'HpOapuk3jg';
    const selfie = await upload(portrait, 'portrait', { 'X-Request-Id': x });
    const card = await upload(portraitElsewhere, 'id_card.vn.national_id.front', { 'X-Request-Id': x });
    const pdf = pdfOf([{ bytes: portrait, width: 640, height: 480 }]);
    const converted = await client.send('POST', '/v1/convert_pdf_sync', { form: form({ file: { bytes: pdf, name: 'p.pdf', type: 'application/pdf' }, pages: '[{"index":1, "label": "portrait"}]' }), headers: { 'X-Request-Id': x } });
    expect(converted.status).toBe(200);

    const byId = await client.send('GET', `/v1/requests_by_req_id/${converted.body.data.request_id}`, { headers: { 'Content-Type': 'application/json' } });
    expect(byId.status).toBe(200);
    expect(byId.body.data).toEqual({ ...converted.body.data, service: 'convert_pdf' });
    examples.add('GET /v1/requests_by_req_id/{request_id}');
    // An upload answers no request_id in its body: its X-Request-Id header is the one to look up.
    const uploadAnswer = await client.send('POST', '/v1/images', { form: form({ file: jpegFile(stranger), label: 'portrait' }) });
    const uploadLookup = await client.send('GET', `/v1/requests_by_req_id/${uploadAnswer.headers.get('x-request-id')}`);
    expect(uploadLookup.body.data).toEqual({ image_id: uploadAnswer.body.data.image_id, request_id: uploadAnswer.headers.get('x-request-id'), service: 'images' });

    const byX = await client.send('GET', `/v1/requests_by_x_req_id/${x}`, { headers: { 'Content-Type': 'application/json' } });
    expect(byX.status).toBe(200);
    const data = byX.body.data;
    expect(Object.keys(data).sort()).toEqual(['convert_pdf', 'file_ids', 'final_result', 'images']);
    const pageId = converted.body.data.images[0].id;
    expect(data.file_ids).toEqual([{ id: selfie, label: 'portrait' }, { id: card, label: 'id_card.vn.national_id.front' }, { id: pageId, label: 'portrait' }]);
    expect(data.images).toHaveLength(2);
    expect(data.images[0].data).toEqual({ image_id: selfie, request_id: expect.any(String), x_request_id: x, access_key_id: client.accessKey, file_ids: [{ id: selfie, label: 'portrait' }] });
    expect(data.convert_pdf[0].data).toMatchObject({ status: 'success', request_id: converted.body.data.request_id, x_request_id: x, access_key_id: client.accessKey });
    expect(data.final_result.full_input_file).toEqual({ id_card_front_id: card, main_selfie_id: selfie, selfies: [{ id: selfie, label: 'portrait' }, { id: pageId, label: 'portrait' }] });
    examples.add('GET /v1/requests_by_x_req_id/{x_request_id}');
    const limited = await client.send('GET', `/v1/requests_by_x_req_id/${x}?max_results=1`);
    expect(Object.keys(limited.body.data).sort()).toEqual(['file_ids', 'final_result', 'images']);

    expectError(await client.send('GET', '/v1/requests_by_req_id/a4facba3-334b-41fb-97e3-4766cb70ae29'), 404, 'request_not_found_exception');
    expectError(await client.send('GET', '/v1/requests_by_x_req_id/never-sent'), 404, 'request_not_found_exception');
    expectError(await client.send('GET', `/v1/requests_by_x_req_id/${x}?max_results=0`), 400, 'invalid_parameter_exception');

    // Sealed at rest: the kept answer's ids are not in the database file in clear.
    const db = new Database(path.join(server.dataDir, 'faceproof.db'), { readonly: true });
    try {
      const rows = db.prepare('SELECT sealed FROM request_records WHERE x_request_id = ?').all(x) as Array<{ sealed: Buffer }>;
      expect(rows).toHaveLength(3);
      for (const r of rows) expect(r.sealed.includes(Buffer.from(selfie))).toBe(false);
    } finally {
      db.close();
    }
  }, 60_000);
});

describe('TrustVision media and records: the end-to-end flow', () => {
  it('upload → download (binary, base64) → patch → delete, inside a transaction, read back by request id and X-Request-Id, then finish', async () => {
    const x = `journey-${Date.now()}`;
    const t = expectData(await client.send('POST', '/v1/transactions', { json: { reference_id: 'loan-42', channel_name: 'mobile' }, headers: { 'X-Request-Id': x } }), ['id', 'channel_id']);
    const inT = { 'X-Request-Id': x, 'X-Transaction-Id': t.id };
    const selfie = await upload(portrait, 'portrait', inT);
    const card = await upload(portraitElsewhere, 'id_card.vn.national_id.front', inT);
    const other = await upload(stranger, 'portrait', inT);

    const binary = await client.send('GET', `/v1/images/${card}`, { headers: inT });
    const b64 = await client.send('GET', `/v1/images/${card}`, { headers: { ...inT, 'X-DOWNLOAD-BASE64': 'true' } });
    expect(binary.raw.equals(portraitElsewhere)).toBe(true);
    expect(Buffer.from(b64.raw.toString().split(',')[1], 'base64').equals(binary.raw)).toBe(true);
    // The same images judged by /v1: the card holder is the selfie's person, the stranger is not.
    expect((await nativeCompare(selfie, card)).decision).toBe('match');
    expect((await nativeCompare(selfie, other)).decision).toBe('no_match');

    const patched = await client.send('PATCH', `/v1/images/${card}`, { json: { metadata: { national_id: '123456789' } }, headers: inT });
    expect(patched.body.data.metadata).toEqual({ national_id: '123456789' });

    const journey = (await client.send('GET', `/v1/requests_by_x_req_id/${x}`)).body.data;
    expect(journey.transactions).toHaveLength(1);
    expect(journey.images.map((r: { data: { image_id: string } }) => r.data.image_id)).toEqual([selfie, card, other, card]);
    expect(journey.final_result.full_input_file).toMatchObject({ id_card_front_id: card, main_selfie_id: selfie });
    const patchRecord = journey.images[3].data;
    const byId = await client.send('GET', `/v1/requests_by_req_id/${patchRecord.request_id}`);
    expect(byId.body.data).toEqual({ image_id: card, label: 'id_card.vn.national_id.front', metadata: { national_id: '123456789' }, request_id: patchRecord.request_id, service: 'images' });

    const deleted = await client.send('POST', '/v1/delete_files', { json: { file_ids: [selfie, card, other] }, headers: inT });
    expect(deleted.body.data).toEqual({ status: 'success' });
    expectError(await client.send('GET', `/v1/images/${selfie}`), 404, 'image_not_found_exception');
    expect((await client.send('POST', `/v1/transactions/${t.id}/finish`, { json: {} })).body.data).toEqual({ id: t.id });
    // A finished transaction takes no more requests.
    expectError(await client.send('POST', '/v1/images', { form: form({ file: jpegFile(portrait), label: 'portrait' }), headers: inT }), 400, 'invalid_parameter_exception');

    // Audit and usage: each request recorded under its route with the descriptor's service, in the transaction.
    const audit = await (await fetch(`${server.base}/v1/audit/records?client_request_id=${x}&limit=100`, { headers: { 'x-api-key': apiKey } })).json();
    const uploads = audit.records.filter((r: { route: string; method: string }) => r.route === '/trustvision/api/v1/images' && r.method === 'POST');
    expect(uploads.length).toBeGreaterThanOrEqual(3);
    expect(uploads.every((r: { service: string; transaction_id?: string }) => r.service === 'images')).toBe(true);
    expect(uploads.filter((r: { transaction_id?: string }) => r.transaction_id === t.id)).toHaveLength(3);
    const usage = await (await fetch(`${server.base}/v1/usage?client_id=tv-media`, { headers: { 'x-api-key': apiKey } })).json();
    expect(usage.usage.some((u: { service: string; outcome: string }) => u.service === 'images' && u.outcome === 'processed')).toBe(true);
  }, 60_000);
});

describe('TrustVision media: the error codes of the tables', () => {
  it('answers each provokable HTTP-level code in the envelope', async () => {
    const id = await upload(portrait);
    // 400 invalid_parameter_exception
    expectError(await client.send('POST', '/v1/images', { form: form({ file: jpegFile(portrait) }) }), 400, 'invalid_parameter_exception');
    expectError(await client.send('POST', '/v1/images', { form: form({ file: jpegFile(portrait), label: 'selfie' }) }), 400, 'invalid_parameter_exception', 'label');
    expectError(await client.send('POST', '/v1/images', { form: form({ file: jpegFile(portrait), label: 'portrait', metadata: '{"id":' }) }), 400, 'invalid_parameter_exception', 'metadata');
    expectError(await client.send('POST', '/v1/images', { json: { base64: portrait.toString('base64'), label: 'portrait', metadata: { nested: { no: 1 } } } }), 400, 'invalid_parameter_exception');
    expectError(await client.send('POST', '/v1/images', { json: { base64: '***', label: 'portrait' } }), 400, 'invalid_parameter_exception');
    expectError(await client.send('PATCH', `/v1/images/${id}`, { json: { label: 'portrait' } }), 400, 'invalid_parameter_exception');
    expectError(await client.send('POST', '/v1/delete_files', { json: { file_ids: Array.from({ length: 101 }, (_, i) => `img_${i}`) } }), 400, 'invalid_parameter_exception');
    expectError(await client.send('POST', '/v1/files', { form: form({ file: { bytes: video, name: 'v.mp4', type: 'video/mp4' }, label: 'audio' }) }), 400, 'invalid_parameter_exception', 'label');
    // 400 request_time_too_skewed
    expectError(await client.send('POST', '/v1/images', { form: form({ file: jpegFile(portrait), label: 'portrait' }), timestamp: rfc3339(new Date(Date.now() - 20 * 60_000)) }), 400, 'request_time_too_skewed');
    expectError(await client.send('GET', `/v1/images/${id}`, { timestamp: rfc3339(new Date(Date.now() + 20 * 60_000)) }), 400, 'request_time_too_skewed');
    // 401 access_denied_exception: a wrong secret, and a key without the images service
    expectError(await new TrustVisionClient(client.baseUrl, client.accessKey, 'wrong').send('GET', `/v1/images/${id}`), 401, 'access_denied_exception');
    const narrow = (await (await server.admin('/v1/admin/clients/tv-media/keys', { scopes: ['compare'], signing: true })).json()).key;
    expectError(await new TrustVisionClient(client.baseUrl, narrow.key_id, narrow.secret).send('POST', '/v1/delete_files', { json: { file_ids: [id] } }), 401, 'access_denied_exception');
    // 404 image_not_found_exception: unknown, and another tenant's
    expectError(await client.send('GET', '/v1/images/7db00808-0416-45cf-a5cb-3b6dfbd7bb74'), 404, 'image_not_found_exception');
    expectError(await client.send('PATCH', '/v1/images/a4facba3-334b-41fb-97e3-4766cb70ae29', { json: { metadata: { national_id: '123456789' } } }), 404, 'image_not_found_exception');
    expect((await server.admin('/v1/admin/clients', { client_id: 'tv-elsewhere' })).status).toBe(201);
    const elsewhere = (await (await server.admin('/v1/admin/clients/tv-elsewhere/keys', { scopes: ['images', 'audit'], signing: true })).json()).key;
    const outsider = new TrustVisionClient(client.baseUrl, elsewhere.key_id, elsewhere.secret);
    expectError(await outsider.send('GET', `/v1/images/${id}`), 404, 'image_not_found_exception');
    expect((await outsider.send('POST', '/v1/delete_files', { json: { file_ids: [id] } })).body.data.status).toBe('failure');
    expect((await client.send('GET', `/v1/images/${id}`)).status).toBe(200);
    // 404 file_not_found_exception
    expectError(await client.send('GET', '/v1/files/7db00808-0416-45cf-a5cb-3b6dfbd7bb74'), 404, 'file_not_found_exception');
    // 413: an image (image_too_large_exception) or a file (file_too_large_exception) over the limit
    const huge = Buffer.concat([portrait, Buffer.alloc(MAX_BYTES, 0)]);
    expectError(await client.send('POST', '/v1/images', { form: form({ file: jpegFile(huge), label: 'portrait' }) }), 413, 'image_too_large_exception');
    expectError(await client.send('POST', '/v1/files', { form: form({ file: { bytes: Buffer.concat([video, Buffer.alloc(MAX_BYTES, 0)]), name: 'v.mp4', type: 'video/mp4' }, label: 'video' }) }), 413, 'file_too_large_exception');
    // 415 invalid_image_format_exception: not a JPEG or PNG
    expectError(await client.send('POST', '/v1/images', { form: form({ file: { bytes: Buffer.from('GIF89a not really'), name: 'a.gif', type: 'image/gif' }, label: 'portrait' }) }), 415, 'invalid_image_format_exception');
    expectError(await client.send('POST', '/v1/files', { form: form({ file: { bytes: await blankImage(64, 64), name: 'v.mp4', type: 'video/mp4' }, label: 'video' }) }), 415, 'invalid_file_format_exception');
  }, 60_000);

  it('answers 408 request_timeout_exception when a conversion outlasts the server\'s request timeout', async () => {
    const slowServer = await startServer('trustvision-media-timeout', KEY, { FACEPROOF_REQUEST_TIMEOUT_MS: '500' });
    try {
      expect((await slowServer.admin('/v1/admin/clients', { client_id: 'tv-timeout' })).status).toBe(201);
      const key = (await (await slowServer.admin('/v1/admin/clients/tv-timeout/keys', { scopes: ['images'], signing: true })).json()).key;
      const timed = new TrustVisionClient(`${slowServer.base}/trustvision/api`, key.key_id, key.secret);
      const pdf = pdfOf(Array.from({ length: 8 }, () => ({ bytes: portrait, width: 640, height: 480 })));
      const pages = JSON.stringify(Array.from({ length: 8 }, (_, i) => ({ index: i + 1, label: 'portrait' })));
      expectError(await timed.send('POST', '/v1/convert_pdf_sync', { form: form({ file: { bytes: pdf, name: 'p.pdf', type: 'application/pdf' }, pages }) }), 408, 'request_timeout_exception');
    } finally {
      slowServer.stop();
    }
  }, 60_000);

  it('answers 429 rate_limit_exception to a client over its throughput', async () => {
    expect((await server.admin('/v1/admin/clients', { client_id: 'tv-slow', rate_per_second: 0.01, burst: 2 })).status).toBe(201);
    const key = (await (await server.admin('/v1/admin/clients/tv-slow/keys', { scopes: ['images'], signing: true })).json()).key;
    const slow = new TrustVisionClient(client.baseUrl, key.key_id, key.secret);
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await slow.send('GET', '/v1/images/img_0'));
    expectError(answers[2], 429, 'rate_limit_exception');
  });
});
