import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Calibrator, parseThresholdPolicy, type CalibrationTable } from '../src/core/calibration.ts';
import { calibrationPoints, genuineNonMatches } from '../bench/lib/calibration-builder.ts';
import { fmtFnmr, fnmrAtFar } from '../src/api/console/web/det-curve.ts';
import { loadConfig } from '../src/config.ts';
import { createTestApp } from './helpers/app.ts';

// The genuine side of the calibration table (the DET curve shipped with it): built by
// `npm run calibrate`, read by the Calibrator, served by GET /v1/capabilities and drawn by the
// console's Compare page, whose interpolation must agree with the server's.

const policy = parseThresholdPolicy(undefined, { matchFar: 1e-4, uncertainFar: 1e-2 });

/** A table from synthetic scores: impostors uniform on [-0.2, 0.6), genuine pairs uniform on [0.3, 1). */
function syntheticTable(): { table: CalibrationTable; genuine: Float32Array } {
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const impostors = Float32Array.from({ length: 200_000 }, () => -0.2 + 0.8 * rand()).sort();
  const genuine = Float32Array.from({ length: 1500 }, (_, i) => (i < 3 ? -1 : 0.3 + 0.7 * rand())).sort();
  const points = calibrationPoints(impostors);
  const table: CalibrationTable = {
    format: 1, pipelineId: 'p', templateModelId: 'm', templateVersion: 1, built: 'd', command: 'c',
    dataset: { name: 'synthetic', images: 1, identities: 1, impostorPairs: impostors.length, genuinePairs: genuine.length },
    points,
    genuine: { built: 'd', command: 'c', noFace: 3, nonMatches: genuineNonMatches(genuine, points) },
  };
  return { table, genuine };
}

describe('the genuine side of the calibration table', () => {
  const { table, genuine } = syntheticTable();
  const cal = new Calibrator(table, policy);

  it('counts, per point, the genuine pairs a threshold at its similarity rejects (similarity below it)', () => {
    table.points.forEach(([similarity], i) => {
      expect(table.genuine!.nonMatches[i]).toBe(genuine.filter((g) => g < similarity).length);
    });
    // The pairs without a face (−1) are rejected at every point.
    expect(Math.min(...table.genuine!.nonMatches)).toBeGreaterThanOrEqual(3);
  });

  it('gives the DET curve at the table points: FAR falls while FNMR rises, in steps of one pair', () => {
    const det = cal.det()!;
    expect(det).toHaveLength(table.points.length);
    det.forEach((p, i) => {
      expect([p.similarity, p.far]).toEqual(table.points[i]);
      expect(Number.isInteger(Math.round(p.fnmr * 1500 * 1e6) / 1e6)).toBe(true);
      if (i) expect(p.fnmr).toBeGreaterThanOrEqual(det[i - 1].fnmr);
    });
  });

  it('interpolates the FNMR of any threshold between the points around it, exact at the points', () => {
    table.points.forEach(([similarity], i) => expect(cal.fnmr(similarity)).toBeCloseTo(table.genuine!.nonMatches[i] / 1500, 12));
    fc.assert(fc.property(fc.double({ min: -1, max: 1, noNaN: true }), fc.double({ min: -1, max: 1, noNaN: true }), (a, b) => {
      const [lo, hi] = a < b ? [a, b] : [b, a];
      expect(cal.fnmr(hi)!).toBeGreaterThanOrEqual(cal.fnmr(lo)!);
      // Between two points the estimate stays between their measured rates.
      const rate = genuine.filter((g) => g < hi).length / 1500;
      const i = table.points.findIndex(([s]) => s >= hi);
      if (i > 0) expect(rate).toBeGreaterThanOrEqual(table.genuine!.nonMatches[i - 1] / 1500 - 1e-12);
    }));
  });

  it('agrees with the console plot: fnmrAtFar on the served curve = Calibrator.fnmr at the threshold of that FAR', () => {
    const det = cal.det()!;
    fc.assert(fc.property(fc.double({ min: -Math.log10(200_000), max: 0, noNaN: true }), (e) => {
      const far = 10 ** e;
      expect(fnmrAtFar(det, far)).toBeCloseTo(cal.fnmr(cal.similarityAt(far))!, 9);
    }));
  });

  it('is told in the console as a percentage and the pairs it stands for, whole pairs where the served (rounded) rate is one', () => {
    expect(fmtFnmr(Number((25 / 1500).toFixed(6)), 1500)).toBe('1.67 % (25 of 1,500 genuine pairs)');
    expect(fmtFnmr(0.55, 1500)).toBe('55.0 % (825 of 1,500 genuine pairs)');
    expect(fmtFnmr(0.0449, 1500)).toBe('4.49 % (≈ 67 of 1,500 genuine pairs)');
    expect(fmtFnmr(0, 1500)).toBe('0 % (none of 1,500 genuine pairs)');
  });

  it('is optional: a table built before it reads as before, without a DET curve', () => {
    const { genuine: _, ...old } = table;
    const before = new Calibrator(old, policy);
    expect([before.det(), before.fnmr(0.5)]).toEqual([undefined, undefined]);
    expect(before.far(0.5)).toBe(cal.far(0.5));
  });

  it('refuses a genuine side that does not fit its table', () => {
    const bad = (genuineSide: object) => () => new Calibrator({ ...table, genuine: { built: 'd', command: 'c', ...genuineSide } as CalibrationTable['genuine'] }, policy);
    expect(bad({ noFace: 0, nonMatches: table.genuine!.nonMatches.slice(1) })).toThrow(/one nonMatches count per point/);
    expect(bad({ noFace: 0, nonMatches: [...table.genuine!.nonMatches].reverse() })).toThrow(/non-decreasing/);
    expect(bad({ noFace: 0, nonMatches: table.genuine!.nonMatches.map((v) => v + 1500) })).toThrow(/at most dataset.genuinePairs/);
    expect(bad({ noFace: -1, nonMatches: table.genuine!.nonMatches })).toThrow(/noFace/);
  });
});

describe('the shipped calibration tables', () => {
  for (const file of fs.readdirSync('calibration').filter((f) => f.startsWith('rfb') && f.endsWith('.json'))) {
    it(`${file}: carries its genuine side, consistent with its dataset`, () => {
      const table = JSON.parse(fs.readFileSync(path.join('calibration', file), 'utf8')) as CalibrationTable;
      const det = new Calibrator(table, policy).det();
      expect(det, 'rebuild it with npm run calibrate').toBeDefined();
      expect(table.genuine!.nonMatches.at(-1)).toBeLessThanOrEqual(table.dataset.genuinePairs);
      expect(table.genuine!.nonMatches[0]).toBeGreaterThanOrEqual(table.genuine!.noFace);
    });
  }
});

describe('GET /v1/capabilities: the DET curve and the thresholds in force', () => {
  let app: FastifyInstance;
  let oldApp: FastifyInstance;
  let scratch: string;
  const shipped = loadConfig({}).calibrationFile;
  const env = { FACEPROOF_THRESHOLDS: '{"ID_DOCUMENT+SELFIE": {"match_far": 0.001, "uncertain_far": 0.05}}' };
  beforeAll(async () => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-det-'));
    const { genuine: _, ...old } = JSON.parse(fs.readFileSync(shipped, 'utf8')) as CalibrationTable;
    fs.writeFileSync(path.join(scratch, 'old.json'), JSON.stringify(old));
    ({ app } = await createTestApp(env));
    ({ app: oldApp } = await createTestApp({ ...env, FACEPROOF_CALIBRATION_FILE: path.join(scratch, 'old.json') }));
  });
  afterAll(async () => {
    await app?.close();
    await oldApp?.close();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('serves the shipped curve at every table point and each threshold with its FNMR', async () => {
    const body = (await app.inject('/v1/capabilities')).json();
    const cal = Calibrator.fromFile(shipped, parseThresholdPolicy(env.FACEPROOF_THRESHOLDS, { matchFar: 1e-4, uncertainFar: 1e-2 }));
    expect(body.calibration.genuine_pairs).toBe(cal.table.dataset.genuinePairs);
    expect(body.calibration.det).toHaveLength(cal.table.points.length);
    expect(body.calibration.det.map((p: { similarity: number; far: number }) => [p.similarity, p.far])).toEqual(cal.table.points);
    body.calibration.det.forEach((p: { fnmr: number }, i: number) => expect(p.fnmr).toBeCloseTo(cal.table.genuine!.nonMatches[i] / cal.table.dataset.genuinePairs, 6));
    expect(body.calibration.thresholds.map((t: { pair: string; decision: string; far: number }) => [t.pair, t.decision, t.far])).toEqual([
      ['default', 'match', 1e-4], ['default', 'uncertain', 1e-2], ['ID_DOCUMENT+SELFIE', 'match', 1e-3], ['ID_DOCUMENT+SELFIE', 'uncertain', 0.05],
    ]);
    for (const t of body.calibration.thresholds) {
      expect(t.similarity).toBeCloseTo(cal.similarityAt(t.far), 4);
      expect(t.fnmr).toBeCloseTo(cal.fnmr(cal.similarityAt(t.far))!, 6);
      // What the console computes from the served curve is what the server says.
      expect(fnmrAtFar(body.calibration.det, t.far)).toBeCloseTo(t.fnmr, 5);
    }
    // A stricter threshold rejects at least as many genuine pairs.
    const [match, uncertain] = body.calibration.thresholds;
    expect(match.fnmr).toBeGreaterThanOrEqual(uncertain.fnmr);
  });

  it('serves a table built without its genuine side as before: no curve, thresholds without FNMR', async () => {
    const body = (await oldApp.inject('/v1/capabilities')).json();
    expect(body.calibration.det).toBeUndefined();
    expect(body.calibration.table.length).toBeGreaterThan(5);
    expect(body.calibration.thresholds).toHaveLength(4);
    for (const t of body.calibration.thresholds) expect(t).not.toHaveProperty('fnmr');
  });
});
