import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { ConfigError, loadConfig, type Config } from '../config.ts';
import type { MasterKeyring } from '../store/crypto/master-keyring.ts';
import type { Db } from '../store/sqlite/database.ts';
import type { ResealCount, SealingStatus } from '../store/sqlite/template-reseal.ts';

/**
 * `faceproof encryption status | rotate | reseal`: the master keys that seal face templates (and API
 * key secrets) at rest. They open the database only, not the models. `rotate` and `reseal` write
 * every sealed row: run them while the server is stopped (a running server keeps the keys it
 * started with; see docs/configuration.md, "Templates at rest").
 */
export function registerEncryptionCommands(program: Command): void {
  const encryption = program.command('encryption')
    .description('master keys that seal templates at rest: status, rotate, reseal (run rotate and reseal while the server is stopped)');

  encryption.command('status')
    .description('the keys of the ring and how many templates are unsealed or sealed under each key; prints JSON')
    .action(async () => {
      const config = loadConfig();
      await withDatabase(config, async (db) => {
        const { sealedColumns, sealingStatus } = await import('../store/sqlite/template-reseal.ts');
        const source = keySource(config);
        // Reading the status never creates a key file.
        const ring = source.kind === 'file' && !fs.existsSync(config.masterKey.file) ? undefined : await openKeyring(config);
        const held = new Set(ring?.list().map((k) => k.id) ?? []);
        const tables = sealingStatus(db, sealedColumns(db));
        const unknown = [...new Set(tables.flatMap((t) => Object.keys(t.sealed)))].filter((id) => !held.has(Number(id)));
        print({
          encrypt_templates: config.encryptTemplates,
          keys: { source: source.kind, ...(source.file ? { file: source.file } : {}), active: ring?.activeKeyId ?? null, list: ring?.list() ?? [] },
          tables: tables.map(tableStatus),
          ...(unknown.length ? { warning: `values sealed under key(s) ${unknown.join(', ')}, which the ring does not hold, cannot be opened` } : {}),
        });
      });
    });

  encryption.command('reseal')
    .description('seal every template under the active key: unsealed ones (when FACEPROOF_ENCRYPT_TEMPLATES is on) and those sealed under older keys; safe to interrupt and to run again; prints JSON')
    .option('--retire-old-keys', 'afterwards, drop the keys no value is sealed under any more (key file only)')
    .action(async (opts: { retireOldKeys?: boolean }) => {
      const config = loadConfig();
      const ring = await openExistingKeyring(config);
      await withDatabase(config, async (db) => {
        const resealed = await reseal(db, ring, config);
        const after = await status(db);
        const retire = opts.retireOldKeys ? await retireIfDone(ring, config, after) : undefined;
        print({ active_key: ring.activeKeyId, tables: resealed.map(countJson), ...(retire ?? {}) });
        if (resealed.some((t) => t.unreadable.length)) process.exitCode = 1;
      });
    });

  encryption.command('rotate')
    .description('key file: add a new active key, re-seal every template under it, then retire the old keys; with FACEPROOF_MASTER_KEY: explains the steps; prints JSON')
    .option('--keep-old-keys', 'keep the old keys in the ring after re-sealing')
    .action(async (opts: { keepOldKeys?: boolean }) => {
      const config = loadConfig();
      if (keySource(config).kind === 'environment') {
        print({
          rotated: false,
          reason: 'the master keys come from FACEPROOF_MASTER_KEY, which this command cannot change',
          steps: [
            'generate a key: openssl rand -base64 32',
            'put it first in FACEPROOF_MASTER_KEY, keeping the old keys after it (comma-separated): the first key seals, every key opens',
            'restart the server with the new variable',
            'run `faceproof encryption reseal` with the same variable: every template is sealed again under the new key',
            'when `faceproof encryption status` shows nothing sealed under the old keys, remove them from the variable and restart',
          ],
        });
        process.exitCode = 1;
        return;
      }
      const ring = await openExistingKeyring(config);
      await withDatabase(config, async (db) => {
        const previous = ring.activeKeyId;
        // The new key is saved before anything is sealed under it: an interruption leaves every row readable.
        const active = ring.rotate();
        const resealed = await reseal(db, ring, config);
        const after = await status(db);
        const retire = opts.keepOldKeys ? { retired_keys: 0, kept_keys: ring.list().length - 1 } : await retireIfDone(ring, config, after);
        print({ rotated: true, previous_key: previous, active_key: active, tables: resealed.map(countJson), ...retire });
        if (resealed.some((t) => t.unreadable.length)) process.exitCode = 1;
      });
    });
}

function keySource(config: Config): { kind: 'environment' | 'file'; file?: string } {
  return config.masterKey.value ? { kind: 'environment' } : { kind: 'file', file: config.masterKey.file };
}

async function openKeyring(config: Config): Promise<MasterKeyring> {
  return (await import('../bootstrap.ts')).openMasterKeyring(config);
}

/**
 * The ring `reseal` and `rotate` work with, which must exist already: a missing key file most often
 * means the server's FACEPROOF_MASTER_KEY (or FACEPROOF_MASTER_KEY_FILE) was left out, and sealing
 * every template under a key made up here would lock the server out of them.
 */
async function openExistingKeyring(config: Config): Promise<MasterKeyring> {
  const source = keySource(config);
  if (source.kind === 'file' && !fs.existsSync(source.file!)) {
    const { FaceproofError } = await import('../core/errors.ts');
    throw new FaceproofError('not_found', `no master key: FACEPROOF_MASTER_KEY is unset and ${source.file} does not exist; run with the server's FACEPROOF_MASTER_KEY or FACEPROOF_MASTER_KEY_FILE (a server started on this data folder creates the key file)`);
  }
  return openKeyring(config);
}

async function withDatabase(config: Config, use: (db: Db) => Promise<void>): Promise<void> {
  if (config.databaseUrl) {
    // Resealing walks SQLite's sealed columns in place; on PostgreSQL it is not built yet.
    throw new ConfigError('`faceproof encryption` works on the embedded SQLite store; with FACEPROOF_DATABASE_URL set it is not available yet (docs/deployment.md)');
  }
  const { openDatabase } = await import('../store/sqlite/database.ts');
  const db = openDatabase(path.join(config.dataDir, 'faceproof.db'));
  try {
    await use(db);
  } finally {
    db.close();
  }
}

async function reseal(db: Db, ring: MasterKeyring, config: Config): Promise<ResealCount[]> {
  const { resealColumns, sealedColumns } = await import('../store/sqlite/template-reseal.ts');
  const { TEMPLATE_PURPOSE } = await import('../store/sqlite/template-codec.ts');
  return resealColumns(db, ring, sealedColumns(db), {
    // Unsealed templates are sealed only when sealing is on; other sealed columns are always sealed.
    sealRaw: (c) => c.purpose !== TEMPLATE_PURPOSE || config.encryptTemplates,
    progress: (table, rows) => { if (rows % 100_000 === 0) process.stderr.write(`${table}: ${rows} rows\n`); },
  });
}

async function status(db: Db): Promise<SealingStatus[]> {
  const { sealedColumns, sealingStatus } = await import('../store/sqlite/template-reseal.ts');
  return sealingStatus(db, sealedColumns(db));
}

/** Retires the old keys of a key file once no value is sealed under them any more. */
async function retireIfDone(ring: MasterKeyring, config: Config, after: SealingStatus[]): Promise<Record<string, unknown>> {
  if (keySource(config).kind === 'environment') {
    return { retired_keys: 0, note: 'keys given in FACEPROOF_MASTER_KEY are retired by removing them from the variable' };
  }
  const old = new Set(ring.list().filter((k) => !k.active).map((k) => String(k.id)));
  const left = after.reduce((n, t) => n + Object.entries(t.sealed).filter(([id]) => old.has(id)).reduce((m, [, c]) => m + c, 0), 0);
  if (left > 0) {
    // Unreadable rows (listed per table), or rows sealed after their batch was visited by a server still running with the old keys.
    return {
      retired_keys: 0, kept_keys: old.size,
      note: `${left} value(s) are still sealed under an old key: delete the unreadable ones listed, or stop the server that wrote them, then run \`faceproof encryption reseal --retire-old-keys\``,
    };
  }
  return { retired_keys: ring.retireOldKeys() };
}

function tableStatus(t: SealingStatus) {
  return { table: t.table, column: t.column, rows: t.rows, raw: t.raw, sealed_by_key: t.sealed };
}

function countJson(t: ResealCount) {
  return {
    table: t.table, column: t.column, rows: t.rows, already_current: t.current, resealed: t.resealed, sealed_from_raw: t.sealed, left_raw: t.leftRaw,
    unreadable: t.unreadable.length, ...(t.unreadable.length ? { unreadable_rowids: t.unreadable } : {}),
  };
}

function print(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
