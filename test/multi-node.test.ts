import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeTemplate } from '../src/core/template.ts';
import { startServer, type RunningServer } from './helpers/server.ts';
import { testDatabase, type TestDatabase } from './helpers/postgres.ts';
import { rfc3339, TrustVisionClient } from './helpers/trustvision-client.ts';

// Three server processes on one PostgreSQL database, requests spread round-robin, as behind a load
// balancer (issue 20's acceptance). Enrolments and searches run concurrently for
// FACEPROOF_MULTINODE_SECONDS (see below); one node is killed with SIGKILL half-way and started
// again. Every acknowledged face must be found by every live node, deleted ones by none; the audit
// chain verifies; a replayed HMAC signature and a revoked key are refused by every node.

// In `npm test` for 20 s; `npm run test:multinode` runs the acceptance's 60 s
// (FACEPROOF_MULTINODE_SECONDS overrides either). It was opt-in for a while: now and then a face
// every node had found was missing from the restarted node's index. The cause was usearch's
// concurrent insertion (unum-cloud/USearch#735), which the rebuild used; it can leave a face stored
// but unreachable by any search. Inserts are single-threaded now (src/store/vector/usearch-indexes.ts,
// bench/experiments/concurrent-insert.ts), and the final check still tells an approximate-search
// miss (found with a wide search) from a face missing from a node's index.
const SECONDS = Number(process.env.FACEPROOF_MULTINODE_SECONDS ?? 20);
const BOOTSTRAP = 'multi-node-bootstrap-key-0123456789';
// Every node must seal and open with the same master key (docs/deployment.md).
const MASTER_KEY = randomBytes(32).toString('base64');
const NODES = 3;

let database: TestDatabase;
const nodes: Array<RunningServer | undefined> = [];
let model: { model_id: string; version: number; dimension: number };

// The templates here are random unit vectors, not faces: the index's projection (learnt on faces)
// and int8 graph would blur them, and an approximate search could miss one now and then. Full
// float templates make every miss a propagation failure, which is what this test is about.
const env = () => ({
  FACEPROOF_DATABASE_URL: database.url, FACEPROOF_MASTER_KEY: MASTER_KEY,
  FACEPROOF_RATE_LIMIT_PER_SECOND: '0', FACEPROOF_INFERENCE_THREADS: '1',
  FACEPROOF_INDEX_DIMENSIONS: '0', FACEPROOF_INDEX_QUANTIZATION: 'f32',
});

async function call(node: RunningServer, method: string, url: string, body?: unknown, key = BOOTSTRAP): Promise<{ status: number; body: any }> {
  const res = await fetch(`${node.base}${url}`, {
    method, headers: { 'x-api-key': key, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** A random unit vector of the servers' template model, as a template string. */
function template(): string {
  const v = new Float32Array(model.dimension);
  let norm = 0;
  for (let i = 0; i < v.length; i++) { v[i] = Math.random() - 0.5; norm += v[i] * v[i]; }
  for (let i = 0; i < v.length; i++) v[i] /= Math.sqrt(norm);
  return encodeTemplate({ modelId: model.model_id, version: model.version, vector: v });
}

const percentile = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]; };
const live = () => nodes.filter((n): n is RunningServer => n !== undefined);

beforeAll(async () => {
  database = await testDatabase('multinode');
  // One after the other: the first applies the migrations and makes the signing key, the others find them.
  for (let i = 0; i < NODES; i++) nodes[i] = await startServer(`node${i}`, BOOTSTRAP, env());
  const created = await call(nodes[0]!, 'POST', '/v1/collections', { name: 'people' });
  expect(created.status).toBe(201);
  model = created.body.template;
}, 240_000);

afterAll(async () => {
  for (const n of nodes) n?.stop();
  await database?.drop();
});

describe(`${NODES} nodes on one PostgreSQL`, () => {
  it(`enrol and search concurrently for ${SECONDS} s, round-robin, one node killed with SIGKILL half-way: nothing acknowledged is lost, every node finds every face within 1 s, deleted faces vanish everywhere`, async () => {
    const acked = new Map<string, string>(); // face id → template
    const origin = new Map<string, string>(); // face id → which node acknowledged it, and when (for a failure's message)
    let killedAt = Infinity;
    let restartedAt = Infinity;
    const deleted = new Set<string>();
    const uncertain = new Set<string>();
    const checked: string[] = []; // faces every node was seen to find: the deleter takes from these
    const lags: number[] = [];
    const lost: string[] = [];
    let searches = 0;
    let refused = 0;
    let inFlightAcked = 0;
    let turn = 0;
    const next = () => { for (;;) { const n = nodes[turn++ % NODES]; if (n) return n; } };
    const end = Date.now() + SECONDS * 1000;

    /** Polls every other live node until a search by the template finds the face (or 5 s pass); the lag after the acknowledgement. */
    const seenEverywhere = async (faceId: string, tpl: string, by: RunningServer, ackedAt: number) => {
      for (const other of live().filter((n) => n !== by)) {
        for (;;) {
          const found = await call(other, 'POST', '/v1/collections/people/search', { template: tpl, max_results: 1 }).catch(() => undefined);
          if (!found) break; // that node was just killed
          searches++;
          if (found.body?.results?.[0]?.[0]?.face_id === faceId) break;
          if (performance.now() - ackedAt > 5000) { lost.push(`${faceId}, written on ${by.base}, not found on ${other.base} ${((performance.now() - ackedAt) / 1000).toFixed(1)} s after its acknowledgement`); break; }
          await new Promise((r) => setTimeout(r, 20));
        }
        lags.push(performance.now() - ackedAt);
      }
    };

    const writer = async () => {
      while (Date.now() < end) {
        const node = next();
        const tpl = template();
        const res = await call(node, 'POST', '/v1/collections/people/faces/batch', { faces: [{ template: tpl }] }).catch(() => undefined);
        if (!res || res.status !== 201) { refused++; continue; } // the killed node: not acknowledged
        const ackedAt = performance.now();
        const faceId: string = res.body.faces[0].face_id;
        acked.set(faceId, tpl);
        origin.set(faceId, `acknowledged by node ${nodes.indexOf(node)} at ${Math.round(ackedAt)} ms`);
        await seenEverywhere(faceId, tpl, node, ackedAt);
        checked.push(faceId);
      }
    };
    const deleter = async () => {
      while (Date.now() < end) {
        await new Promise((r) => setTimeout(r, 500));
        const victim = checked.shift();
        if (!victim) continue;
        const res = await call(next(), 'POST', '/v1/collections/people/faces/delete', { face_ids: [victim] }).catch(() => undefined);
        if (res?.status === 200) deleted.add(victim);
        else uncertain.add(victim); // cut by the SIGKILL: it may or may not have been deleted
      }
    };
    const killer = async () => {
      await new Promise((r) => setTimeout(r, (SECONDS * 1000) / 2));
      const victim = nodes[2]!;
      nodes[2] = undefined;
      // Killed with writes in flight on it: those it acknowledged must survive, the others were never acknowledged.
      let firstAnswer: () => void = () => {};
      const answered = new Promise<void>((r) => { firstAnswer = r; });
      const inFlight = Array.from({ length: 20 }, async () => {
        const tpl = template();
        const res = await call(victim, 'POST', '/v1/collections/people/faces/batch', { faces: [{ template: tpl }] }).catch(() => undefined);
        if (res?.status === 201) { acked.set(res.body.faces[0].face_id, tpl); inFlightAcked++; firstAnswer(); } else refused++;
      });
      // And deletions: one the node answers, the others cut. A cut one may have been committed or not;
      // either way every node must agree on it afterwards.
      const deletions = checked.splice(0, 5).map(async (victimFace) => {
        const res = await call(victim, 'POST', '/v1/collections/people/faces/delete', { face_ids: [victimFace] }).catch(() => undefined);
        if (res?.status === 200) deleted.add(victimFace); else uncertain.add(victimFace);
      });
      // Killed as soon as it acknowledged one of them (2 s at most): the rest are mid-way.
      await Promise.race([answered, new Promise((r) => setTimeout(r, 2000))]);
      killedAt = performance.now();
      victim.process.kill('SIGKILL');
      await Promise.all([...inFlight, ...deletions]);
      await new Promise((r) => { if (victim.process.exitCode !== null || victim.process.signalCode !== null) r(undefined); else victim.process.once('exit', r); });
      // The node comes back (a fresh data folder: no snapshot) and rebuilds its index from the database.
      nodes[2] = await startServer('node2-again', BOOTSTRAP, env());
      restartedAt = performance.now();
    };

    await Promise.all([writer(), writer(), writer(), deleter(), killer()]);
    expect(lost).toEqual([]);
    expect(acked.size).toBeGreaterThan(50);

    // Afterwards every node (the restarted one included) holds the acknowledged faces but the deleted
    // ones: every deleted face and 300 others drawn at random are searched for on each (the count covers the rest).
    // A face whose deletion the SIGKILL cut is in neither: the node may have committed the deletion
    // and died before answering, so the face may be gone everywhere, rightly.
    const known = [...acked].filter(([id]) => !uncertain.has(id));
    const sample = known.filter(([id]) => deleted.has(id)).concat(known.filter(([id]) => !deleted.has(id)).sort(() => Math.random() - 0.5).slice(0, 300));
    // The index is approximate (HNSW): random 512-d vectors are its hardest case, so a face the
    // index holds may now and then not come first. A top-1 miss is searched again with a wide beam
    // (100 results): found there, the face did propagate and the graph's search missed it (counted
    // and reported); not found there either, it is missing from that node.
    let graphMisses = 0;
    for (const node of live()) {
      for (const [faceId, tpl] of sample) {
        const res = await call(node, 'POST', '/v1/collections/people/search', { template: tpl, max_results: 1 });
        let found = res.body.results?.[0]?.[0]?.face_id === faceId;
        if (!found && !deleted.has(faceId)) {
          const wide = await call(node, 'POST', '/v1/collections/people/search', { template: tpl, max_results: 100 });
          found = (wide.body.results?.[0] ?? []).some((r: { face_id: string }) => r.face_id === faceId);
          if (found) { graphMisses++; console.log(`${faceId} on ${node.base}: not first in a top-1 search, found with 100 results (an approximate-search miss, not a lost face)`); }
        }
        expect(found, `${faceId} (${origin.get(faceId) ?? 'acknowledged in flight by node 2'}; node 2 killed at ${Math.round(killedAt)} ms, back at ${Math.round(restartedAt)} ms) on node ${nodes.indexOf(node)}`).toBe(!deleted.has(faceId));
      }
    }
    // A deletion the SIGKILL cut: deleted everywhere or nowhere.
    let cutButDone = 0;
    for (const faceId of uncertain) {
      const found = await Promise.all(live().map(async (node) => (await call(node, 'POST', '/v1/collections/people/search', { template: acked.get(faceId), max_results: 1 })).body.results?.[0]?.[0]?.face_id === faceId));
      expect(new Set(found).size, `${faceId}, whose deletion the SIGKILL cut, is found on some nodes only: ${found}`).toBe(1);
      if (!found[0]) cutButDone++;
    }
    // Writes cut by the SIGKILL were not acknowledged: each may or may not have been committed.
    const counted = (await call(nodes[0]!, 'GET', '/v1/collections/people')).body.face_count as number;
    expect(counted).toBeGreaterThanOrEqual(acked.size - deleted.size - uncertain.size);
    expect(counted).toBeLessThanOrEqual(acked.size - deleted.size + refused);
    console.log(`multi-node: ${SECONDS} s, ${acked.size} faces acknowledged, ${deleted.size} deleted (${uncertain.size} deletions cut by the SIGKILL, ${cutButDone} of those committed all the same), ${graphMisses} approximate-search misses in the final check, ${searches} searches, ${refused} requests cut by the SIGKILL (${inFlightAcked} of those in flight acknowledged before it, all found afterwards); ` +
      `lag acknowledgement → found on another node: p50 ${percentile(lags, 50).toFixed(1)} ms, p99 ${percentile(lags, 99).toFixed(1)} ms, max ${Math.max(...lags).toFixed(1)} ms (${lags.length} checks)`);
    expect(percentile(lags, 99)).toBeLessThan(1000);
  }, (SECONDS + 240) * 1000);

  it('keeps one audit chain that verifies, written by every node', async () => {
    for (const node of live()) {
      const verified = await call(node, 'GET', '/v1/audit/verify');
      expect(verified.status).toBe(200);
      expect(verified.body).toMatchObject({ valid: true });
      expect(verified.body.records).toBeGreaterThan(100);
    }
  });

  it('refuses on every node a revoked key (within 1 s) and an HMAC signature replayed on another node', async () => {
    const [a, b, c] = live();
    const issued = (await call(a, 'POST', '/v1/admin/clients', { client_id: 'bank', name: 'bank' })).status;
    expect([201, 409]).toContain(issued);
    const key = (await call(a, 'POST', '/v1/admin/clients/bank/keys', { scopes: ['*'], signing: true })).body.key as { key_id: string; secret: string; api_key: string };
    for (const node of live()) expect((await call(node, 'GET', '/v1/collections', undefined, key.api_key)).status).toBe(200);

    // A request signed as TrustVision's HMAC scheme signs it, on a native route (TrustVision's own
    // routes accept a repeated signature within their time window, as its manual allows): sent to b,
    // then the same bytes to c and a.
    const tv = new TrustVisionClient(b.base, key.key_id, key.secret);
    const timestamp = rfc3339();
    const signature = tv.sign('GET', '/v1/collections', timestamp);
    const send = (node: RunningServer) => fetch(`${node.base}/v1/collections`, { headers: { Authorization: `TV ${key.key_id}:${signature}`, 'X-TV-Timestamp': timestamp } });
    const first = await send(b);
    expect(first.status).toBe(200);
    for (const node of [c, a]) {
      const again = await send(node);
      expect(again.status).toBe(401);
      expect(JSON.stringify(await again.json())).toMatch(/replay/);
    }

    const revoked = await call(a, 'DELETE', `/v1/admin/keys/${key.key_id}`);
    expect(revoked.status).toBe(200);
    const t0 = performance.now();
    for (const node of live()) {
      for (;;) {
        const res = await call(node, 'GET', '/v1/collections', undefined, key.api_key);
        if (res.status === 401) break;
        expect(performance.now() - t0).toBeLessThan(1000);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  });

  it('signs on every node with a key every node publishes', async () => {
    const sets = await Promise.all(live().map(async (n) => (await fetch(`${n.base}/.well-known/jwks.json`)).json() as Promise<{ keys: Array<{ kid: string }> }>));
    const kids = sets.map((s) => s.keys.map((k) => k.kid).sort().join(','));
    expect(new Set(kids).size).toBe(1);
    expect(sets[0].keys.length).toBeGreaterThan(0);
  });
});
