import { beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { README, checkOutputs, differences, extractBlocks, layout, merge, runExamples, runProblems, type Run } from '../scripts/readme-examples.ts';

/**
 * The README's examples, run as a reader runs them: every ```sh block (but those marked
 * `<!-- not run: … -->`) in one bash session against a live server with a fresh data folder, the
 * photos they name in the working folder. Each command must exit 0, each request answer the status
 * its line says (2xx when it says none), and each ```json block after an example must still be what
 * the example prints. When the server's answers change, `npm run readme:examples` rewrites them.
 */
const blocks = extractBlocks(fs.readFileSync(README, 'utf8'));
const runnable = blocks.filter((b) => !b.notRun);
let run: Run;

beforeAll(async () => {
  run = await runExamples(blocks);
  console.log(`README examples: ${run.results.length} blocks, ${run.results.reduce((n, r) => n + r.requests.length, 0)} requests, ${(run.ms / 1000).toFixed(1)} s with the server's start`);
}, 180_000);

describe('the README', () => {
  it('has its examples in ```sh blocks, and says why of each it does not run', () => {
    expect(runnable.length).toBeGreaterThanOrEqual(20);
    expect(runnable.filter((b) => b.output).length).toBeGreaterThanOrEqual(18);
    const skipped = blocks.filter((b) => b.notRun);
    expect(skipped.map((b) => b.code.split('\n')[0])).toEqual([
      expect.stringMatching(/^npm ci/),
      expect.stringMatching(/^export FACEPROOF_BOOTSTRAP_KEY=/),
      expect.stringMatching(/^npm test/),
      expect.stringMatching(/^# read a passport page/),
      expect.stringMatching(/^npx faceproof serve/),
    ]);
  });

  describe.each(runnable.map((b) => [`line ${b.line}: ${b.code.split('\n').find((l) => l.trim() && !l.startsWith('#'))!.slice(0, 70)}`, b.index]))('%s', (_, index) => {
    it('runs: every command exits 0, every request answers the status its line says', () => {
      const result = run.results.find((r) => r.block.index === index)!;
      expect(runProblems(result)).toEqual([]);
    });

    const block = blocks[index as number];
    if (block.output) {
      it(`prints what the README shows after it (line ${block.output.line})`, () => {
        const result = run.results.find((r) => r.block.index === index)!;
        expect(checkOutputs([result])[0].problems).toEqual([]);
      });
    }
  });
});

describe('the comparison of shown and real output', () => {
  const real = { request_id: '0d9e1a52-4b8c-4c1e-9d0a-2f4c8b1e7a90', decision: 'match', score: 0.9887, face_id: 'face_838d0a1b2c3d4e5f60718293a4b5c6d7', template: 'RlBUMRVmdXNlZC1mcjUxMi1yZXNuZXQxMjgBAIACIGzsPIxPDL3PjBU9', box: { x: 240.6, y: 68.1 } };
  const shown = merge({}, real) as Record<string, unknown>;

  it('shortens volatile values and long strings, and matches what it shortened', () => {
    expect(shown).toEqual({ request_id: '0d9e1a52-…', decision: 'match', score: 0.9887, face_id: 'face_838d…', template: 'RlBUMRVmdXNlZC1mcjUxMi1yZXNuZXQx…', box: { x: 240.6, y: 68.1 } });
    expect(differences(shown, real)).toEqual([]);
    expect(differences(shown, { ...real, request_id: 'e4c1f0d4-0000-4000-8000-000000000000', face_id: 'face_ffffffffffffffffffffffffffffffff' })).toEqual([]);
  });

  it('fails on another decision, a missing or an extra key, a number beyond tolerance, another template', () => {
    expect(differences(shown, { ...real, decision: 'no_match' })).toHaveLength(1);
    expect(differences(shown, { ...real, extra: 1 })).toHaveLength(1);
    const { score: _, ...withoutScore } = real;
    expect(differences(shown, withoutScore)).toHaveLength(1);
    expect(differences(shown, { ...real, score: 0.95 })).toHaveLength(1);
    expect(differences(shown, { ...real, score: 0.989 })).toEqual([]);
    expect(differences(shown, { ...real, template: 'RlBUMRxmYWNlYXBpLXJlc25ldDEyOC1kbGliY2hpcDIw' })).toHaveLength(1);
    expect(differences(shown, { ...real, face_id: 'img_838d0a1b2c3d4e5f60718293a4b5c6d7' })).toHaveLength(1);
  });

  it('keeps what the README leaves out ("…") when it rewrites, and accepts it', () => {
    const elided = { ...shown, box: ELLIPSIS_VALUE, list: [1, ELLIPSIS_VALUE] };
    const withList = { ...real, list: [1, 2, 3] };
    expect(merge(elided, withList)).toEqual(elided);
    expect(differences(elided, withList)).toEqual([]);
    expect(differences(elided, { ...withList, list: [2, 3] })).toHaveLength(1);
  });

  it('lays JSON out within 100 columns', () => {
    const text = layout({ faces: Array.from({ length: 6 }, (_, i) => ({ index: i, box: { x: 1000.5, y: 200.25, width: 300.75, height: 400.5 } })) });
    expect(Math.max(...text.split('\n').map((l) => l.length))).toBeLessThanOrEqual(100);
    expect(JSON.parse(text)).toHaveProperty('faces.5.index', 5);
  });
});

const ELLIPSIS_VALUE = '…';
