import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createTestApp } from './helpers/app.ts';
import { b64, selfieCrop } from './helpers/images.ts';

// GET /v1/collections/{name}/inquiries: a watch-list's history (TrustVision's alert history made
// readable): each search that hit it, newest first, with when, which API client and which faces;
// paged; scoped like the collection reads; empty for a gallery. Real engine, real photographs.

let app: FastifyInstance;
let personA: Buffer; // the woman at x≈1077 in sample 3
let personAElsewhere: Buffer; // the same woman in sample 1
let personB: Buffer;
const keys: Record<string, string> = {};

beforeAll(async () => {
  ({ app } = await createTestApp());
  [personA, personAElsewhere, personB] = await Promise.all([selfieCrop(3, 830, 100), selfieCrop(1, 1250, 0), selfieCrop(3, 370, 200)]);
  // Two branches of one bank (one tenant), a client of that tenant without the collections scope, and another bank.
  for (const [client, tenant, scopes] of [['branch-1', 'default', ['collections']], ['branch-2', 'default', ['collections']], ['compare-only', 'default', ['compare']], ['other-bank', undefined, ['collections']]] as const) {
    expect((await post('/v1/admin/clients', { client_id: client, ...(tenant ? { tenant_id: tenant } : {}) })).statusCode).toBe(201);
    keys[client] = (await post(`/v1/admin/clients/${client}/keys`, { scopes })).json().key.api_key;
  }
});
afterAll(async () => { await app.close(); });

const post = (url: string, payload: object, headers: Record<string, string> = {}) => app.inject({ method: 'POST', url, payload, headers });
const get = (url: string, client?: string) => app.inject({ method: 'GET', url, headers: client ? { 'x-api-key': keys[client] } : {} });
type Page = { collection: string; kind: string; inquiries: Array<{ at: string; client_id: string; faces: Array<{ face_id: string; external_id: string | null; image_id: string | null }> }>; next_cursor: string | null };
const history = async (query = '', name = 'suspects'): Promise<Page> => {
  const res = await get(`/v1/collections/${name}/inquiries${query}`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
};

describe('GET /v1/collections/{name}/inquiries', () => {
  let template: string;
  let fraudster: string;

  it('lists the searches that hit a watch-list, newest first: when, which client, which faces', async () => {
    expect((await post('/v1/collections', { name: 'suspects', kind: 'watchlist' })).statusCode).toBe(201);
    fraudster = (await post('/v1/collections/suspects/faces', { image: { base64: b64(personA) }, external_id: 'fraudster-1' })).json().faces[0].face_id;
    expect(await history()).toMatchObject({ collection: 'suspects', kind: 'watchlist', inquiries: [], next_cursor: null });

    const search = (client: string, image: Buffer) => post('/v1/collections/suspects/search', { image: { base64: b64(image) }, all_faces: false }, { 'x-api-key': keys[client] });
    const before = new Date().toISOString();
    expect((await search('branch-1', personAElsewhere)).json().results[0][0].external_id).toBe('fraudster-1');
    expect((await search('branch-2', personAElsewhere)).json().results[0][0].external_id).toBe('fraudster-1');
    // A search that finds no one here is not an inquiry of this watch-list.
    expect((await search('branch-2', personB)).json().results[0]).toEqual([]);

    const page = await history();
    expect(page.inquiries.map((i) => i.client_id)).toEqual(['branch-2', 'branch-1']);
    for (const i of page.inquiries) {
      expect(i.faces).toEqual([{ face_id: fraudster, external_id: 'fraudster-1', image_id: null }]);
      expect(i.at >= before && i.at <= new Date().toISOString()).toBe(true);
    }
    expect(page.inquiries[0].at >= page.inquiries[1].at).toBe(true);
    expect(page.next_cursor).toBeNull();
  });

  it('names every face one search matched, and counts /v1/search over several collections too', async () => {
    const detect = (await post('/v1/detect', { image: { base64: b64(personAElsewhere) }, return_templates: true })).json();
    template = detect.faces[0].template;
    // The same woman a second time, from another photograph: one search now matches both faces.
    const again = (await post('/v1/collections/suspects/faces', { template, external_id: 'fraudster-1-again' })).json().faces[0].face_id;
    await post('/v1/collections', { name: 'customers' });
    await post('/v1/collections/customers/faces', { template, external_id: 'customer-9' });
    const res = await post('/v1/search', { collections: ['customers', 'suspects'], template }, { 'x-api-key': keys['branch-1'] });
    expect(res.json().results[0].map((h: { external_id: string }) => h.external_id).sort()).toEqual(['customer-9', 'fraudster-1', 'fraudster-1-again']);
    const newest = (await history()).inquiries[0];
    expect(newest.client_id).toBe('branch-1');
    // Only the watch-list's own faces: the gallery's hit is no part of its history.
    expect(newest.faces.map((f) => f.face_id).sort()).toEqual([fraudster, again].sort());
    // A gallery records no inquiries: its list is empty, and says why.
    expect(await history('', 'customers')).toMatchObject({ kind: 'gallery', inquiries: [], next_cursor: null });
  });

  it('pages newest first with next_cursor, each inquiry once', async () => {
    for (let i = 0; i < 6; i++) {
      const client = i % 2 ? 'branch-1' : 'branch-2';
      expect((await post('/v1/collections/suspects/search', { template, max_results: 3 }, { 'x-api-key': keys[client] })).statusCode).toBe(200);
    }
    const all = (await history('?limit=500')).inquiries;
    expect(all).toHaveLength(9);
    const walked: Page['inquiries'] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Page = await history(`?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      walked.push(...page.inquiries);
      cursor = page.next_cursor;
      pages++;
    } while (cursor);
    expect(walked).toEqual(all);
    expect(pages).toBe(5); // 2+2+2+2+1
    const order = all.map((i) => `${i.at} ${i.client_id}`);
    expect(order).toEqual([...order].sort().reverse());
  });

  it('is scoped like the collection reads, and refuses what is not a cursor', async () => {
    expect((await get('/v1/collections/suspects/inquiries', 'branch-2')).statusCode).toBe(200);
    const refused = await get('/v1/collections/suspects/inquiries', 'compare-only');
    expect([refused.statusCode, refused.json().error.code]).toEqual([403, 'insufficient_scope']);
    // Another tenant does not see this tenant's watch-list.
    expect((await get('/v1/collections/suspects/inquiries', 'other-bank')).statusCode).toBe(404);
    expect((await get('/v1/collections/nope/inquiries')).json().error.code).toBe('not_found');
    const notOurs = await get(`/v1/collections/suspects/inquiries?cursor=${Buffer.from('not json').toString('base64url')}`);
    expect([notOurs.statusCode, notOurs.json().error]).toEqual([400, expect.objectContaining({ code: 'invalid_parameter', field: 'cursor' })]);
    expect((await get('/v1/collections/suspects/inquiries?cursor=a%20b')).statusCode).toBe(400);
    expect((await get('/v1/collections/suspects/inquiries?limit=0')).statusCode).toBe(400);
    expect((await get('/v1/collections/suspects/inquiries?limit=501')).statusCode).toBe(400);
  });

  it('forgets a deleted face\'s part of the history', async () => {
    const before = (await history('?limit=500')).inquiries;
    expect(before.some((i) => i.faces.some((f) => f.external_id === 'fraudster-1'))).toBe(true);
    expect((await post('/v1/collections/suspects/faces/delete', { external_ids: ['fraudster-1'] })).json().deleted).toBe(1);
    const after = (await history('?limit=500')).inquiries;
    // The first two searches matched that face only: they are gone; the others keep their other face.
    expect(after).toHaveLength(before.length - 2);
    expect(after.every((i) => i.faces.every((f) => f.external_id === 'fraudster-1-again'))).toBe(true);
  });
});
