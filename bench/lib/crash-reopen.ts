/**
 * One key-by-key reopen for `npm run bench:crash`, in a process of its own (a native crash while
 * opening an index is then a finding, not the end of the run): copies the data folder's database
 * and index files, opens every collection's index as the server does at its start (newest snapshot,
 * the faces stored and the removals logged after it), and prints, as JSON, how each compares with
 * its rows. Run with the server's environment; the argument is the data folder.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { loadProjection, templateCodec } from '../../src/bootstrap.ts';
import { openDatabase } from '../../src/store/sqlite/database.ts';
import { SqliteCollectionRepository } from '../../src/store/sqlite/collection-repository.ts';
import { UsearchIndexProvider } from '../../src/store/vector/usearch-indexes.ts';

export interface ReopenResult {
  collections: Array<{ name: string; rows: number; graph: number; copies: number; missing: number }>;
  logs: string[];
}

const dataDir = process.argv[2];
const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-crash-copy-'));
try {
  for (const f of ['faceproof.db', 'faceproof.db-wal']) {
    if (fs.existsSync(path.join(dataDir, f))) fs.copyFileSync(path.join(dataDir, f), path.join(copy, f));
  }
  fs.cpSync(path.join(dataDir, 'indexes'), path.join(copy, 'indexes'), { recursive: true });
  // The master key stays where the server keeps it (FACEPROOF_MASTER_KEY_FILE of the environment).
  const config = loadConfig({ ...process.env, FACEPROOF_DATA_DIR: copy });
  const db = openDatabase(path.join(copy, 'faceproof.db'));
  const result: ReopenResult = { collections: [], logs: [] };
  try {
    const repository = new SqliteCollectionRepository(db, templateCodec(config));
    let provider: UsearchIndexProvider | undefined;
    for (const record of await repository.list('default')) {
      if (!provider) {
        const projection = loadProjection(config, { templateModelId: record.model.modelId, templateVersion: record.model.version, dimension: record.model.dimension });
        provider = new UsearchIndexProvider(repository, { dir: path.join(copy, 'indexes'), ...config.index, projection, log: (m) => result.logs.push(m) });
      }
      const index = provider.open(record) as unknown as { native: { contains(k: bigint): boolean; size(): number }; templates: { size: number; has(k: number): boolean } };
      const keys = db.prepare('SELECT key FROM faces WHERE collection_id = ?').pluck().all(record.id) as number[];
      const missing = keys.filter((k) => !index.native.contains(BigInt(k)) || !index.templates.has(k)).length;
      result.collections.push({ name: record.name, rows: keys.length, graph: index.native.size(), copies: index.templates.size, missing });
    }
  } finally {
    db.close();
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  fs.rmSync(copy, { recursive: true, force: true });
}
