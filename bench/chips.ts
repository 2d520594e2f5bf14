/**
 * Chip verification (passive authentication) on the real chips of the evaluation data:
 *   npm run bench:chips -- --data ../shared/data [--rounds 30]
 * Every EF.SOD of documents/chips (14 countries' passports, the German test chip, the BSI and ETSI
 * test chips) with the data groups beside it, verified against a trust store over SQLite holding
 * every trust file of the data (each country's CSCA file, the German and Dutch master lists, the
 * 720-CSCA PEM bundle, the Indonesian CSCAs), as the server holds them. Prints, per chip, what
 * verifies and which chains lack a CSCA (and which chain with the published lists alone, without
 * the per-country CSCA files), then the time of one verification: p50 and p95 over every chip and
 * round, after one warm-up round.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase } from '../src/store/sqlite/database.ts';
import { SqliteTrustAnchorRepository } from '../src/store/sqlite/trust-anchor-repository.ts';
import { TrustStore } from '../src/core/documents/trust-store.ts';
import { verifyPassiveAuthentication } from '../src/core/documents/passive-authentication.ts';

const { values } = parseArgs({ options: { data: { type: 'string' }, rounds: { type: 'string' } } });
if (!values.data) {
  process.stderr.write('usage: npm run bench:chips -- --data ../shared/data [--rounds 30]\n');
  process.exit(2);
}
const chipsDir = path.resolve(values.data, 'documents', 'chips');
const rounds = Number(values.rounds ?? 30);

interface Chip { name: string; sod: Uint8Array; dataGroups: Record<number, Uint8Array>; cscaFile?: string }
const chips: Chip[] = [];
const addChip = (name: string, dir: string) => {
  const dataGroups: Record<number, Uint8Array> = {};
  for (const f of fs.readdirSync(dir)) {
    const m = /^EF_DG(\d+)\.bin$/.exec(f);
    if (m) dataGroups[Number(m[1])] = fs.readFileSync(path.join(dir, f));
  }
  const csca = path.join(dir, 'CSCA.der');
  chips.push({ name, sod: fs.readFileSync(path.join(dir, 'EF_SOD.bin')), dataGroups, cscaFile: fs.existsSync(csca) ? csca : undefined });
};
for (const cc of fs.readdirSync(path.join(chipsDir, 'gmrtd')).sort()) {
  if (fs.existsSync(path.join(chipsDir, 'gmrtd', cc, 'EF_SOD.bin'))) addChip(`gmrtd/${cc}`, path.join(chipsDir, 'gmrtd', cc));
}
addChip('tsemrtd', path.join(chipsDir, 'tsemrtd'));
for (const d of fs.readdirSync(path.join(chipsDir, 'pymrtd')).sort()) {
  if (fs.existsSync(path.join(chipsDir, 'pymrtd', d, 'EF_SOD.bin'))) addChip(`pymrtd/${d}`, path.join(chipsDir, 'pymrtd', d));
}

const published = [
  'csca/DE_ML_2026-05-28-08-28-45.ml', 'csca/NL_ML_2026-07-22.ml', 'csca/NFCPassportReader_masterList.pem',
  ...fs.readdirSync(path.join(chipsDir, 'csca', 'IDN')).sort().map((f) => `csca/IDN/${f}`),
].map((f) => path.join(chipsDir, f));

async function storeOf(files: string[]): Promise<{ store: TrustStore; anchors: number; seconds: number }> {
  const store = new TrustStore(new SqliteTrustAnchorRepository(openDatabase(':memory:')));
  const started = performance.now();
  for (const f of files) await store.import(fs.readFileSync(f), path.basename(f));
  return { store, anchors: (await store.list()).length, seconds: (performance.now() - started) / 1000 };
}

const publishedOnly = await storeOf(published);
const full = await storeOf([...published, ...chips.flatMap((c) => (c.cscaFile ? [c.cscaFile] : []))]);
console.log(`trust store: ${full.anchors} anchors (imported in ${full.seconds.toFixed(1)} s); published lists alone: ${publishedOnly.anchors}`);

// Timing, each verification alone. First each chip once before anything else ran (its document
// signer's signature not yet checked, its CSCA not yet parsed: the first passport of a document
// signer a server sees), then `rounds` rounds over every chip (a document signer seen before, the
// usual case: one document signer signs the passports of weeks or months).
const now = new Date();
const first: number[] = [];
for (const chip of chips) {
  const started = performance.now();
  await verifyPassiveAuthentication({ sod: chip.sod, dataGroups: chip.dataGroups, anchors: full.store, now });
  first.push(performance.now() - started);
}

const rows: string[] = [];
const lacking: string[] = [];
for (const chip of chips) {
  const r = await verifyPassiveAuthentication({ sod: chip.sod, dataGroups: chip.dataGroups, anchors: full.store, now });
  const alone = await verifyPassiveAuthentication({ sod: chip.sod, dataGroups: chip.dataGroups, anchors: publishedOnly.store, now });
  const notListed = Object.keys(chip.dataGroups).filter((n) => r.details.includes(`data group ${n} was supplied but the SOD does not list it`));
  const checked = Object.entries(r.hashes).filter(([n, v]) => v !== 'absent' && !notListed.includes(n));
  if (r.chain === 'untrusted') lacking.push(chip.name);
  rows.push([
    chip.name.padEnd(27),
    r.signature_algorithm.padEnd(40),
    `hash ${r.hash_algorithm}`.padEnd(12),
    `DGs checked ${checked.length ? checked.map(([n, v]) => `${n}:${v}`).join(' ') : '-'}${notListed.length ? ` (files not in the SOD: ${notListed.join(' ')})` : ''}`.padEnd(72),
    `signature ${r.signature}`.padEnd(16),
    `chain ${r.chain}`.padEnd(16),
    `published lists alone: ${alone.chain}`,
  ].join(' '));
}
console.log(rows.join('\n'));
console.log(`no CSCA available for: ${lacking.join(', ') || 'none'}`);

const times: number[] = [];
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const pct = (xs: number[], p: number) => sorted(xs)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
for (let round = 0; round < rounds; round++) {
  for (const chip of chips) {
    const started = performance.now();
    await verifyPassiveAuthentication({ sod: chip.sod, dataGroups: chip.dataGroups, anchors: full.store, now });
    times.push(performance.now() - started);
  }
}
const line = (xs: number[]) => `p50 ${pct(xs, 50).toFixed(1)} ms, p95 ${pct(xs, 95).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms`;
console.log(`first verification of each chip (${first.length}): ${line(first)}`);
console.log(`verification time over ${times.length} runs (${chips.length} chips × ${rounds} rounds): ${line(times)}`);
