import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { Command } from 'commander';
import { ConfigError, loadConfig, PROJECT_ROOT } from '../config.ts';
import { VERSION } from '../version.ts';
import { FaceproofError } from '../core/errors.ts';
import { IMAGE_TYPES, type ImageType } from '../core/calibration.ts';
import { registerEncryptionCommands } from './encryption-commands.ts';
import { registerAdminCommands } from './admin-commands.ts';
import { registerDocumentCommands } from './document-commands.ts';
import { registerTrustCommands } from './trust-commands.ts';
import type { Services } from '../bootstrap.ts';

const program = new Command()
  .name('faceproof')
  .description('Self-hosted face verification server and tools')
  .version(VERSION);

// Only `serve` owns the data folder's keys: it syncs the bootstrap key from FACEPROOF_BOOTSTRAP_KEY
// and creates missing keys. Every other command reads keys and changes only those it is asked to.
program.command('serve')
  .description('run the HTTP server (configured by FACEPROOF_* environment variables); sets or revokes the bootstrap key from FACEPROOF_BOOTSTRAP_KEY')
  .action(async () => {
    const { startServer } = await import('../api/server.ts');
    await startServer(loadConfig());
  });

program.command('detect')
  .description('find the faces in an image; prints JSON')
  .argument('<image>', 'JPEG, PNG or WebP file')
  .option('--templates', 'include face templates')
  .option('--auto-rotate', 'also try the image turned by 90°, 180° and 270°')
  .action(async (image: string, opts: { templates?: boolean; autoRotate?: boolean }) => {
    const bytes = fs.readFileSync(image);
    await withScratchService(async (service) => {
      const result = await service.detect({ kind: 'bytes', data: bytes }, {
        autoRotate: !!opts.autoRotate, returnTemplates: !!opts.templates, returnFaceImages: false,
      });
      const { summarizeFace } = await import('../core/face-summary.ts');
      print({ image: result.image, faces: result.faces.map((f) => summarizeFace(f.face, { template: f.template })) });
    });
  });

program.command('compare')
  .description('compare the largest face of two images; prints JSON')
  .argument('<a>', 'source image')
  .argument('<b>', 'target image')
  .option('--source-type <type>', `one of ${IMAGE_TYPES.join(', ')}`, 'SELFIE')
  .option('--target-type <type>', `one of ${IMAGE_TYPES.join(', ')}`, 'SELFIE')
  .action(async (a: string, b: string, opts: { sourceType: string; targetType: string }) => {
    for (const t of [opts.sourceType, opts.targetType]) {
      if (!(IMAGE_TYPES as readonly string[]).includes(t)) throw new FaceproofError('invalid_parameter', `unknown image type ${t}`);
    }
    const [source, target] = [fs.readFileSync(a), fs.readFileSync(b)];
    await withScratchService(async (service) => {
      const r = await service.compare({
        source: { kind: 'image', source: { kind: 'bytes', data: source } },
        target: { kind: 'image', source: { kind: 'bytes', data: target } },
        sourceType: opts.sourceType as ImageType,
        targetType: opts.targetType as ImageType,
        allFaces: false,
        autoRotate: false,
      });
      print({ score: r.score, similarity: r.similarity, far: r.far, decision: r.decision, threshold: r.threshold });
    });
  });

program.command('index')
  .description('bulk-index a folder of images into a collection (one identity per sub-folder, or file names as external ids); a running server on the same data folder searches the new faces at once')
  .argument('<dir>', 'folder of JPEG, PNG or WebP images')
  .requiredOption('--collection <name>', 'collection to index into (created if missing)')
  .option('--watchlist', 'create the collection as a watch-list')
  .option('--all-faces', 'index every face of each image, not only the largest')
  .option('--concurrency <n>', 'images in flight', '2')
  .action(async (dir: string, opts: { collection: string; watchlist?: boolean; allFaces?: boolean; concurrency: string }) => {
    if (!fs.statSync(dir).isDirectory()) throw new FaceproofError('invalid_parameter', `${dir} is not a folder`);
    const services = await loadServices();
    const { indexFolder } = await import('./index-folder.ts');
    try {
      print(await indexFolder(services.collections, dir, {
        collection: opts.collection, kind: opts.watchlist ? 'watchlist' : 'gallery', allFaces: !!opts.allFaces, concurrency: Number(opts.concurrency) || 2,
      }));
    } finally {
      await services.close();
    }
  });

program.command('verify')
  .description('check the signature of a saved response, offline; exit 0 when it holds, 1 when not')
  .argument('<response>', 'a JSON file holding a signed response body')
  .option('--jwks <file>', 'public keys (a saved GET /.well-known/jwks.json); default: this server\'s keys in the data folder, read only')
  .action(async (response: string, opts: { jwks?: string }) => {
    const { verifySignedResponse } = await import('../core/result-signing.ts');
    const body = JSON.parse(fs.readFileSync(response, 'utf8')) as Record<string, unknown>;
    const keys = opts.jwks ? JSON.parse(fs.readFileSync(opts.jwks, 'utf8')) : await dataFolderPublicKeys();
    const check = await verifySignedResponse(body, keys);
    print(check);
    process.exit(check.valid ? 0 : 1);
  });

program.command('signing-keys')
  .description('list the result-signing keys, or rotate: a new key signs from the next start, older ones keep verifying')
  .argument('<action>', 'list | rotate')
  .action(async (action: string) => {
    if (!['list', 'rotate'].includes(action)) throw new FaceproofError('invalid_parameter', 'signing-keys takes list or rotate');
    // Listing reads; rotating adds one key (the first one, on a data folder that has none).
    const keys = await openSigningKeys();
    try {
      if (action === 'rotate') await keys.rotate();
      print(keys.list());
    } finally {
      await keys.close?.();
    }
  });

program.command('audit')
  .description('verify: check the audit trail\'s hash chain (exit 1 when a record was modified, removed or reordered)')
  .argument('<action>', 'verify')
  .action(async (action: string) => {
    if (action !== 'verify') throw new FaceproofError('invalid_parameter', 'audit takes verify');
    const { openAuditTrail } = await import('../bootstrap.ts');
    const trail = await openAuditTrail(loadConfig());
    try {
      const result = await trail.audit.verify();
      print(result);
      process.exitCode = result.valid ? 0 : 1;
    } finally {
      await trail.close();
    }
  });

program.command('bench')
  .description('run a benchmark: accuracy (LFW, needs --data DIR), speed (latency and throughput) or search (1:N index, open set)')
  .argument('<which>', 'accuracy | speed | search')
  .allowUnknownOption()
  .argument('[args...]', 'arguments passed to the benchmark, e.g. --data ../shared/data')
  .action((which: string, args: string[]) => {
    if (!['accuracy', 'speed', 'search'].includes(which)) throw new FaceproofError('invalid_parameter', 'bench takes accuracy, speed or search');
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'bench', `${which}.ts`), ...args], { stdio: 'inherit' });
    child.on('exit', (code) => process.exit(code ?? 1));
  });

registerEncryptionCommands(program);
registerAdminCommands(program, print);
registerDocumentCommands(program, print);
registerTrustCommands(program, print);

/** The data folder's signing keys, read only (never created here). */
async function openSigningKeys() {
  return (await import('../bootstrap.ts')).openSigningKeys(loadConfig(), { create: false });
}

/** The public keys `verify` checks against by default; refuses when the data folder has none. */
async function dataFolderPublicKeys() {
  const opened = await openSigningKeys();
  const keys = opened.publicKeys();
  await opened.close?.();
  if (keys.keys.length === 0) {
    const { signingKeysDir } = await import('../bootstrap.ts');
    throw new FaceproofError('not_found', `no signing keys in ${signingKeysDir(loadConfig())}; pass --jwks FILE (a saved GET /.well-known/jwks.json)`, 'jwks');
  }
  return keys;
}

/** The services on the configured data folder, as a tool: no key is created, replaced or revoked (see ServicesMode). */
async function loadServices() {
  const { createServices } = await import('../bootstrap.ts');
  return createServices({ ...loadConfig(), logLevel: 'silent' }, { mode: 'tool' });
}

/**
 * `detect` and `compare` keep nothing: they run on a scratch data folder, removed afterwards, so
 * they neither read nor write the configured one.
 */
async function withScratchService(work: (service: Services['service']) => Promise<void>): Promise<void> {
  const { withServices } = await import('./tool-services.ts');
  await withServices(true, (services) => work(services.service));
}

function print(value: unknown) {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

program.parseAsync().catch((err: unknown) => {
  if (err instanceof FaceproofError) {
    process.stderr.write(JSON.stringify({ error: { code: err.code, message: err.message, field: err.field } }) + '\n');
    process.exit(2);
  }
  const errno = err as NodeJS.ErrnoException;
  if (err instanceof ConfigError || errno.code === 'ENOENT' || errno.code === 'EISDIR' || errno.code === 'EACCES') {
    process.stderr.write(`faceproof: ${errno.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
