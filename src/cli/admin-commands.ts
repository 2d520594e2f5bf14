import type { Command } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig } from '../config.ts';
import { FaceproofError } from '../core/errors.ts';
import { parseScopes, SCOPES } from '../core/scopes.ts';
import { BOOTSTRAP_KEY_ID, type ClientAdministration } from '../core/api-clients.ts';
import { describeClient, describeIssued, describeKey } from '../core/api-client-views.ts';

/**
 * `faceproof clients …` and `faceproof keys …`: the administration the admin routes offer, on the
 * database directly (a running server sees the changes at its next request). They change only what
 * they are asked to: the bootstrap key is revoked by `keys revoke bootstrap` alone, never synced here.
 */
export function registerAdminCommands(program: Command, print: (value: unknown) => void): void {
  const clients = program.command('clients').description('API clients: create, list, disable, enable');
  clients.command('create')
    .argument('<client_id>', 'a–z, 0–9, _ . - (up to 64)')
    .option('--name <name>', 'a display name')
    .option('--tenant <tenant_id>', 'act on this tenant\'s data (default: a new tenant named like the client)')
    .option('--rate <per_second>', 'its own rate limit, requests per second')
    .option('--burst <n>', 'its own burst')
    .action((id: string, o: { name?: string; tenant?: string; rate?: string; burst?: string }) => withAdministration(async (a) =>
      print(describeClient(await a.createClient({ id, name: o.name, tenantId: o.tenant, ratePerSecond: optionalNumber(o.rate, '--rate'), burst: optionalNumber(o.burst, '--burst') }))), { mayCreate: true }));
  clients.command('list').action(() => withAdministration(async (a) => print((await a.listClients()).map(describeClient))));
  clients.command('disable').argument('<client_id>').description('refuse every request of the client (403 client_disabled) until enabled')
    .action((id: string) => withAdministration(async (a) => print(describeClient(await a.setStatus(id, 'disabled')))));
  clients.command('enable').argument('<client_id>').action((id: string) => withAdministration(async (a) => print(describeClient(await a.setStatus(id, 'active')))));

  const keys = program.command('keys').description('API keys: create (the secret is printed once), list, revoke');
  keys.command('create')
    .requiredOption('--client <client_id>', 'the client the key belongs to')
    .requiredOption('--scopes <list>', `comma-separated: ${SCOPES.join(',')} or *`)
    .option('--label <text>', 'what the key is for')
    .option('--signing', 'keep the secret sealed so the key can sign requests (TV HMAC, ADVANCE tokens)')
    .option('--expires-in <seconds>', 'expire the key after this many seconds')
    .action((o: { client: string; scopes: string; label?: string; signing?: boolean; expiresIn?: string }) => withAdministration(async (a) => {
      const issued = await a.createKey(o.client, { scopes: parseScopes(o.scopes.split(',').map((s) => s.trim()).filter(Boolean), '--scopes'), label: o.label, signing: !!o.signing, expiresInSeconds: optionalNumber(o.expiresIn, '--expires-in') });
      print(describeIssued(issued));
    }));
  keys.command('list').option('--client <client_id>', 'only this client\'s keys')
    .action((o: { client?: string }) => withAdministration(async (a) => print((await a.listKeys(o.client)).map(describeKey))));
  keys.command('revoke').argument('<key_id>').description('revoke a key, with its temporary credentials and tokens; `bootstrap`: the bootstrap key, until a server starts with FACEPROOF_BOOTSTRAP_KEY again')
    .action((id: string) => withAdministration(async (a) => print(describeKey(await (id === BOOTSTRAP_KEY_ID ? a.revokeBootstrapKey() : a.revokeKey(id))))));
}

function optionalNumber(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!(n > 0)) throw new FaceproofError('invalid_parameter', `${name} must be a positive number`);
  return n;
}

/**
 * Runs an administration command on the configured data folder. Only `clients create` may start a
 * database where there is none: the others, pointed at a folder that holds none (a typo in
 * FACEPROOF_DATA_DIR), say so instead of leaving an empty database there.
 */
async function withAdministration(work: (a: ClientAdministration) => void | Promise<void>, options: { mayCreate?: boolean } = {}): Promise<void> {
  const { openClientAdministration } = await import('../bootstrap.ts');
  const config = loadConfig();
  const database = path.join(config.dataDir, 'faceproof.db');
  if (!config.databaseUrl && !options.mayCreate && !fs.existsSync(database)) {
    throw new ConfigError(`no Faceproof database in ${config.dataDir} (FACEPROOF_DATA_DIR): start the server there once, or create a client first`);
  }
  const opened = await openClientAdministration(config);
  try {
    await work(opened.administration);
  } finally {
    await opened.close();
  }
}
