import type { Command } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig } from '../config.ts';
import type { TrustStore } from '../core/documents/trust-store.ts';

/**
 * `faceproof trust import|list|remove`: the trust anchors chip verification chains to, on the data
 * folder's database directly (a running server uses the change from its next verification).
 */
export function registerTrustCommands(program: Command, print: (value: unknown) => void): void {
  const trust = program.command('trust').description('trust anchors for chip verification: import (CSCA certificates, PEM bundles, master lists, CRLs), list, remove');
  trust.command('import')
    .argument('<file>', 'a DER or PEM certificate, a PEM bundle, a CSCA master list (.ml, CMS) or a CRL; the kind is recognised from the bytes')
    .description('add the file\'s anchors; importing a file twice adds nothing')
    .action((file: string) => withTrustStore(async (store) => print(await store.import(fs.readFileSync(file), path.basename(file))), { mayCreate: true }));
  trust.command('list').action(() => withTrustStore(async (store) => print(await store.list())));
  trust.command('remove').argument('<id>', 'an anchor id from `trust list`').action((id: string) => withTrustStore(async (store) => print(await store.remove(id))));
}

/**
 * Runs a trust command on the configured data folder. Only `import` may start a database where
 * there is none (an operator may load the anchors before the first start); the others, pointed at
 * a folder without one, say so instead of leaving an empty database there.
 */
async function withTrustStore(work: (store: TrustStore) => void | Promise<void>, options: { mayCreate?: boolean } = {}): Promise<void> {
  const [{ openStore }, { TrustStore }, { TemplateCodec }] = await Promise.all([
    import('../store/open-store.ts'), import('../core/documents/trust-store.ts'), import('../store/sqlite/template-codec.ts'),
  ]);
  const config = loadConfig();
  const database = path.join(config.dataDir, 'faceproof.db');
  if (!config.databaseUrl && !options.mayCreate && !fs.existsSync(database)) {
    throw new ConfigError(`no Faceproof database in ${config.dataDir} (FACEPROOF_DATA_DIR): start the server there once, or import a trust file first`);
  }
  const store = await openStore(config, { applicationName: 'faceproof trust' });
  try {
    await work(new TrustStore(store.repositories(TemplateCodec.plain()).trustAnchors));
  } finally {
    await store.close();
  }
}
