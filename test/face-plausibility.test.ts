import { describe, expect, it } from 'vitest';
import type { Point } from '../src/engine/geometry.ts';
import { faceGeometry, implausibility, uprightness, MIN_EYE_SPAN_TO_BOX } from '../src/engine/detect/face-plausibility.ts';

/** A drawn upright 68-point face (iBUG order) filling the unit square: eyes 0.4 apart, mouth below. */
function drawnFace(): Point[] {
  const p: Point[] = [];
  for (let k = 0; k <= 16; k++) { const t = Math.PI * (1 - k / 16); p.push([0.5 + 0.45 * Math.cos(t), 0.45 + 0.5 * Math.sin(t)]); }
  for (let k = 0; k < 5; k++) p.push([0.15 + 0.065 * k, 0.3]);
  for (let k = 0; k < 5; k++) p.push([0.59 + 0.065 * k, 0.3]);
  for (let k = 0; k < 4; k++) p.push([0.5, 0.4 + 0.07 * k]);
  for (let k = 0; k < 5; k++) p.push([0.42 + 0.04 * k, 0.65]);
  const ring = (cx: number, cy: number, rx: number, ry: number, n: number) => {
    for (let k = 0; k < n; k++) { const t = Math.PI + (2 * Math.PI * k) / n; p.push([cx + rx * Math.cos(t), cy + ry * Math.sin(t)]); }
  };
  ring(0.3, 0.42, 0.07, 0.03, 6);
  ring(0.7, 0.42, 0.07, 0.03, 6);
  ring(0.5, 0.78, 0.15, 0.05, 12);
  ring(0.5, 0.78, 0.1, 0.02, 8);
  return p;
}

/** The face drawn into a box (x, y, side), turned by `degrees` clockwise about the box centre and shrunk by `scale`. */
function placed(box: { x: number; y: number; width: number; height: number }, degrees = 0, scale = 1): Point[] {
  const a = (degrees * Math.PI) / 180;
  return drawnFace().map(([u, v]) => {
    const dx = (u - 0.5) * scale * box.width, dy = (v - 0.5) * scale * box.height;
    return [box.x + box.width / 2 + dx * Math.cos(a) - dy * Math.sin(a), box.y + box.height / 2 + dx * Math.sin(a) + dy * Math.cos(a)];
  });
}

const box = { x: 100, y: 50, width: 80, height: 80 };

describe('face plausibility', () => {
  it('takes an upright face, and faces rolled as far as people roll them, for faces', () => {
    const g = faceGeometry(box, placed(box));
    expect(g.eyeSpanToBox).toBeCloseTo(0.4, 2);
    expect(Math.abs(g.roll)).toBeLessThan(3);
    expect(g.outside).toBe(0);
    expect(implausibility(g)).toBeUndefined();
    for (const degrees of [-90, -60, -30, 30, 60, 90, 120]) {
      const rolled = faceGeometry(box, placed(box, degrees, 0.8));
      expect(rolled.roll).toBeCloseTo(degrees, -1);
      expect(implausibility(rolled)).toBeUndefined();
    }
  });

  it('drops eyes far closer than the box implies (the hand of issue 14: 2.6 px apart in a 17 px box)', () => {
    const hand = { x: 102, y: 56, width: 17, height: 25 };
    const shape = placed(hand, 0, 0.36);
    const g = faceGeometry(hand, shape);
    expect(g.eyeSpanToBox).toBeLessThan(MIN_EYE_SPAN_TO_BOX);
    expect(g.eyeSpanToBox * hand.width).toBeCloseTo(2.6, 0);
    expect(implausibility(g)).toBe('eyes_collapsed');
  });

  it('drops a shape lying mostly outside its box, and one upside down', () => {
    const beside = placed({ ...box, x: box.x + 60 });
    expect(implausibility(faceGeometry(box, beside))).toBe('landmarks_outside_box');
    expect(implausibility(faceGeometry(box, placed(box, 180)))).toBe('upside_down');
    expect(implausibility(faceGeometry(box, placed(box, -150)))).toBe('upside_down');
  });

  it('measures the same whatever quarter turn the box and landmarks are seen at', () => {
    const turned = (p: Point): Point => [1000 - p[1], p[0]];
    const shape = placed(box, 20);
    const corners = [turned([box.x, box.y]), turned([box.x + box.width, box.y + box.height])];
    const turnedBox = { x: Math.min(corners[0][0], corners[1][0]), y: Math.min(corners[0][1], corners[1][1]), width: box.height, height: box.width };
    const a = faceGeometry(box, shape), b = faceGeometry(turnedBox, shape.map(turned));
    expect(b.eyeSpanToBox).toBeCloseTo(a.eyeSpanToBox, 6);
    expect(b.spread).toBeCloseTo(a.spread, 6);
    expect(b.roll).toBeCloseTo(a.roll + 90, -1);
  });

  it('scores a well-spread shape above a shrunken one at the same confidence, and caps the confidence', () => {
    const upright = faceGeometry(box, placed(box));
    const shrunken = faceGeometry(box, placed(box, 0, 0.6));
    expect(uprightness(0.999, upright)).toBeGreaterThan(uprightness(0.999, shrunken));
    expect(uprightness(0.99, upright)).toBeGreaterThan(uprightness(0.99999, shrunken));
    expect(uprightness(1, upright)).toBe(uprightness(0.99999, upright));
  });
});
