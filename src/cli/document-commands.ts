import type { Command } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config.ts';
import { withServices } from './tool-services.ts';
import { FaceproofError } from '../core/errors.ts';
import type { Services } from '../bootstrap.ts';
import type { ChipFiles } from '../core/documents/chip-verification.ts';

/** File names a chip reader writes: EF.SOD / EF_SOD.bin / sod, EF.DG1 / EF_DG1.bin / dg1.bin … */
const SOD_FILE = /^(?:ef[._-]?)?sod(?:\.bin|\.der)?$/i;
const DG_FILE = /^(?:ef[._-]?)?dg(\d{1,2})(?:\.bin|\.der)?$/i;

/** The SOD and data groups in a folder, by their usual file names. */
export function readChipFolder(dir: string): ChipFiles {
  if (!fs.statSync(dir).isDirectory()) throw new FaceproofError('invalid_parameter', `${dir} is not a folder`);
  let sod: Uint8Array | undefined;
  const dataGroups: Record<number, Uint8Array> = {};
  for (const name of fs.readdirSync(dir)) {
    if (SOD_FILE.test(name)) sod = fs.readFileSync(path.join(dir, name));
    const dg = DG_FILE.exec(name);
    if (dg && Number(dg[1]) >= 1 && Number(dg[1]) <= 16) dataGroups[Number(dg[1])] = fs.readFileSync(path.join(dir, name));
  }
  if (!sod) throw new FaceproofError('invalid_parameter', `no EF.SOD in ${dir} (looked for EF.SOD, EF_SOD.bin, sod.bin)`, 'sod');
  return { sod, dataGroups };
}

/**
 * `faceproof documents read IMG` and `faceproof documents verify-chip DIR`. Reading keeps nothing
 * (scratch folder); chip verification trusts the data folder's trust store, or only the files
 * given with --trust.
 */
export function registerDocumentCommands(program: Command, print: (value: unknown) => void): void {
  const documents = program.command('documents').description('identity documents: read an MRZ, verify a chip');
  documents.command('read')
    .description('find the documents in an image and read their MRZ; prints JSON')
    .argument('<image>', 'photo or scan (JPEG, PNG or WebP)')
    .option('--page <file>', 'also write the first document\'s straightened page (PNG) here')
    .action(async (image: string, o: { page?: string }) => {
      const bytes = fs.readFileSync(image);
      await withServices(true, async (services) => {
        const found = await documentsOf(services).read({ kind: 'bytes', data: bytes }, 'default');
        if (o.page && found[0]) fs.writeFileSync(o.page, found[0].page.image);
        print({ documents: found.map(({ page, ...d }) => ({ ...d, page: { width: page.width, height: page.height } })) });
      });
    });
  documents.command('verify-chip')
    .description('passive authentication of the files read from a chip (EF.SOD, EF.DG1 … in a folder); prints JSON, exit 1 when it fails')
    .argument('<dir>', 'folder holding EF.SOD and the data groups')
    .option('--mrz <text>', 'the printed MRZ to compare with DG1 (lines separated by spaces or newlines)')
    .option('--selfie <image>', 'compare the chip\'s face with this photo')
    .option('--trust <file...>', 'trust only these CSCA files (certificate, PEM bundle, master list) instead of the data folder\'s trust store')
    .action(async (dir: string, o: { mrz?: string; selfie?: string; trust?: string[] }) => {
      const files = readChipFolder(dir);
      const scratch = o.trust !== undefined || !fs.existsSync(path.join(loadConfig().dataDir, 'faceproof.db'));
      await withServices(scratch, async (services) => {
        for (const file of o.trust ?? []) await services.trust.import(fs.readFileSync(file), path.basename(file));
        const selfie = o.selfie ? { kind: 'bytes' as const, data: fs.readFileSync(o.selfie) } : undefined;
        const report = await documentsOf(services).verifyChip('default', files, { mrz: o.mrz, selfie });
        const { face, ...rest } = report;
        print({ ...rest, face: face ? { ...face, image: `${face.image.length} base64 characters` } : null });
        process.exitCode = report.passive_authentication.valid ? 0 : 1;
      });
    });
}

function documentsOf(services: Services) {
  if (!services.documents) throw new FaceproofError('service_unavailable', 'identity documents are not available in this build');
  return services.documents;
}
