import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { quoted } from './helpers/child-output.ts';

/**
 * Two usearch 2.25 faults found while measuring `npm run bench:crash`, both fixed by 2.26: removing a
 * key once every slot of the key table had held one spun forever (unum-cloud/USearch#753; a
 * collection of a few hundred faces hung after about 700 adds and 450 removals), and loading a
 * snapshot that held many removed faces, then adding to it, corrupted the heap (the server's next
 * start would crash). The churn runs in a child process, so that a hang or a crash fails the test
 * instead of stopping the test runner with it.
 */
const root = path.resolve(import.meta.dirname, '..');
const script = `
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from ${JSON.stringify(path.join(root, 'src/store/sqlite/database.ts'))};
import { SqliteCollectionRepository } from ${JSON.stringify(path.join(root, 'src/store/sqlite/collection-repository.ts'))};
import { UsearchIndexProvider } from ${JSON.stringify(path.join(root, 'src/store/vector/usearch-indexes.ts'))};

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-churn-'));
const db = openDatabase(path.join(dir, 'faceproof.db'));
const repository = new SqliteCollectionRepository(db);
const record = await repository.create({ tenantId: 'default', name: 'churn', kind: 'gallery', description: null, metadata: {},
  model: { modelId: 'test-model', version: 1, dimension: 8 }, createdAt: new Date().toISOString() });
let seed = 3;
const rand = () => { seed = (seed * 48271) % 2147483647; return seed / 2147483647; };
type Churned = { add(k: number[], v: Float32Array[]): void; remove(k: number[]): void; size: number; native: { contains(k: bigint): boolean } };
const live = new Map<number, string>();
/** Adds up to 100 faces a round and removes about a third of those held, in the database and the index. */
async function churn(index: Churned, from: number, to: number): Promise<void> {
  for (let round = from; round < to; round++) {
    const vectors = Array.from({ length: 1 + Math.floor(rand() * 100) }, () => Float32Array.from({ length: 8 }, () => rand() - 0.5));
    const added = await repository.addFaces('default', record.id, vectors.map((vector, i) => ({ id: 'f' + round + '_' + i, externalId: null, metadata: {}, imageId: null, box: null, vector, createdAt: '' })));
    index.add(added.map((f) => f.key), vectors);
    added.forEach((f) => live.set(f.key, f.id));
    const victims = [...live.keys()].filter(() => rand() < 0.35);
    index.remove(await repository.removeFaces(record.id, { faceIds: victims.map((k) => live.get(k)!) }));
    for (const k of victims) live.delete(k);
  }
}
const options = { dir: path.join(dir, 'indexes'), quantization: 'f32', connectivity: 16, expansionAdd: 64, expansionSearch: 64, snapshotEvery: 1_000_000, log: (m: string) => logged.push(m) } as const;
const logged: string[] = [];
const provider = new UsearchIndexProvider(repository, options);
await churn((await provider.open(record)) as unknown as Churned, 0, 150);
await provider.close();
// Reopened from the snapshot of the churned index (many removed faces), then churned again.
const reopened = new UsearchIndexProvider(repository, options);
const again = (await reopened.open(record)) as unknown as Churned;
await churn(again, 150, 200);
const held = [...live.keys()].filter((key) => again.native.contains(BigInt(key))).length;
await reopened.close();
console.log(JSON.stringify({ size: again.size, live: live.size, held, logged }));
db.close();
fs.rmSync(dir, { recursive: true, force: true });
`;

describe('vector index under churn', () => {
  it('removes faces after thousands of adds and removals without hanging, reopens from the churned snapshot, and still holds exactly the live ones', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-churn-script-')), 'churn.mts');
    fs.writeFileSync(file, script);
    const run = spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
    expect(run.signal, `the churn did not finish (hung in usearch's remove?):
${quoted(run.stderr)}`).toBeNull();
    expect(run.status, quoted(run.stderr)).toBe(0);
    const result = JSON.parse(run.stdout.trim().split('\n').pop()!) as { size: number; live: number; held: number; logged: string[] };
    expect(result.size).toBe(result.live);
    expect(result.held).toBe(result.live);
    expect(result.logged, 'the reopened index was rebuilt instead of loaded from its snapshot').toEqual([]);
  }, 90_000);
});
