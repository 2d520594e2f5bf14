import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  advanceSimilarity, farOfAdvanceSimilarity, farOfIdemiaScore, farOfIdenfaceNormalizedScore, farOfSenseIdScore,
  idemiaFarPercent, idemiaScore, idenfaceNormalizedScore, senseIdScore,
} from '../src/core/vendor-scores.ts';

describe('vendor score scales', () => {
  it("put each manual's thresholds at the FAR the manual gives them", () => {
    // IDEMIA's table: FAR % 1 / 0.1 / 0.01 / 0.001 / 0.0001 ↔ 2500 / 3000 / 3500 / 4000 / 4500.
    expect([1e-2, 1e-3, 1e-4, 1e-5, 1e-6].map((f) => Math.round(idemiaScore(f)))).toEqual([2500, 3000, 3500, 4000, 4500]);
    expect(idemiaFarPercent(1e-4)).toBeCloseTo(0.01, 12);
    // ADVANCE: 70 pass (our match at FAR 1e-4), 55 manual check (our uncertain at 1e-2).
    expect(advanceSimilarity(1e-4)).toBeCloseTo(70, 9);
    expect(advanceSimilarity(1e-2)).toBeCloseTo(55, 9);
    // SenseID's table: 0.4 … 0.9 ↔ 1/10 … 1/1,000,000.
    expect([1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6].map((f) => +senseIdScore(f).toFixed(6))).toEqual([0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
    expect(idenfaceNormalizedScore(1e-4)).toBeCloseTo(0.7, 9);
  });

  it('stay within each range, never decrease as the FAR falls, and invert', () => {
    const scales = [
      { score: idemiaScore, far: farOfIdemiaScore, min: 0, max: Infinity },
      { score: advanceSimilarity, far: farOfAdvanceSimilarity, min: 0, max: 100 },
      { score: senseIdScore, far: farOfSenseIdScore, min: 0, max: 1 },
      { score: idenfaceNormalizedScore, far: farOfIdenfaceNormalizedScore, min: 0, max: 1 },
    ];
    fc.assert(fc.property(fc.double({ min: -12, max: 0, noNaN: true }), fc.double({ min: -12, max: 0, noNaN: true }), (a, b) => {
      const [hi, lo] = [10 ** Math.max(a, b), 10 ** Math.min(a, b)];
      for (const s of scales) {
        const x = s.score(hi), y = s.score(lo);
        expect(x).toBeGreaterThanOrEqual(s.min);
        expect(y).toBeLessThanOrEqual(s.max);
        expect(y).toBeGreaterThanOrEqual(x);
        if (y > s.min && y < s.max) expect(Math.log10(s.far(y))).toBeCloseTo(Math.log10(lo), 6);
      }
    }));
  });
});

describe('FAR past the calibration table', () => {
  it('follows the measured table where it is backed, keeps falling past its floor, and never rises', async () => {
    const { Calibrator } = await import('../src/core/calibration.ts');
    const { loadConfig } = await import('../src/config.ts');
    const config = loadConfig({});
    const calibrator = Calibrator.fromFile(config.calibrationFile, config.thresholds);
    expect(calibrator.farAtTail(calibrator.similarityAt(1e-2))).toBeCloseTo(1e-2, 6);
    const top = calibrator.table.points[calibrator.table.points.length - 1][0];
    expect(calibrator.far(Math.min(1, top + 0.1))).toBe(calibrator.farFloor);
    expect(calibrator.farAtTail(Math.min(1, top + 0.1))).toBeLessThan(calibrator.farFloor);
    let last = 1;
    for (let s = 0; s <= 1; s += 0.01) {
      const far = calibrator.farAtTail(s);
      expect(far).toBeLessThanOrEqual(last);
      last = far;
    }
  });
});
