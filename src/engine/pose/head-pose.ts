import type { Point } from '../geometry.ts';

export interface HeadPose {
  /** Degrees; positive when the face turns towards the image's right. */
  yaw: number;
  /** Degrees; positive when the face tilts up. */
  pitch: number;
  /** Degrees; positive when the face rolls clockwise in the image. */
  roll: number;
}

/**
 * A generic 3-D head (millimetre-like units, x to the image right, y up, z towards the camera) at six
 * landmarks of the 68-point scheme: nose tip 30, chin 8, outer eye corners 36/45, mouth corners 48/54.
 */
const MODEL: Array<{ index: number; xyz: [number, number, number] }> = [
  { index: 30, xyz: [0, 0, 0] },
  { index: 8, xyz: [0, -330, -65] },
  { index: 36, xyz: [-225, 170, -135] },
  { index: 45, xyz: [225, 170, -135] },
  { index: 48, xyz: [-150, -150, -125] },
  { index: 54, xyz: [150, -150, -125] },
];

/**
 * Head pose from 68 landmarks with a weak-perspective (scaled orthographic) fit of the generic head:
 * least squares gives the 2×4 projection, whose first two rows, orthonormalised, are the rotation.
 * Faces are small in the frame at verification distances, so the affine camera is accurate enough
 * and, unlike PnP, needs no focal length.
 */
export function estimateHeadPose(landmarks: readonly Point[]): HeadPose {
  // Normal equations AᵀA p = Aᵀb for rows [X Y Z 1], solved once per image axis.
  const ata = Array.from({ length: 4 }, () => new Array<number>(4).fill(0));
  const atbx = new Array<number>(4).fill(0);
  const atby = new Array<number>(4).fill(0);
  for (const { index, xyz } of MODEL) {
    const row = [xyz[0], xyz[1], xyz[2], 1];
    const [u, v] = landmarks[index];
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 4; j++) ata[i][j] += row[i] * row[j];
      atbx[i] += row[i] * u;
      atby[i] += row[i] * -v; // image y points down, the model's up
    }
  }
  const px = solve4(ata, atbx);
  const py = solve4(ata, atby);
  const r1 = normalise([px[0], px[1], px[2]]);
  let r2 = normalise([py[0], py[1], py[2]]);
  const r3 = normalise(cross(r1, r2));
  r2 = cross(r3, r1);
  // Rows of R are the camera axes in model coordinates, so column 3 is the face's forward direction
  // and column 2 its up direction, both in camera coordinates (x right, y up, z towards the viewer).
  const forward: Vec3 = [r1[2], r2[2], r3[2]];
  const up: Vec3 = [r1[1], r2[1], r3[1]];
  const yaw = Math.atan2(forward[0], forward[2]);
  const pitch = Math.asin(clamp(forward[1], -1, 1));
  const roll = Math.atan2(up[0], up[1]);
  const deg = 180 / Math.PI;
  return { yaw: round1(yaw * deg), pitch: round1(pitch * deg), roll: round1(roll * deg) };
}

function solve4(a: number[][], b: number[]): number[] {
  const m = a.map((row, i) => [...row, b[i]]);
  for (let col = 0; col < 4; col++) {
    let pivot = col;
    for (let r = col + 1; r < 4; r++) if (Math.abs(m[r][col]) > Math.abs(m[pivot][col])) pivot = r;
    [m[col], m[pivot]] = [m[pivot], m[col]];
    const p = m[col][col] || 1e-12;
    for (let r = 0; r < 4; r++) {
      if (r === col) continue;
      const f = m[r][col] / p;
      for (let c = col; c < 5; c++) m[r][c] -= f * m[col][c];
    }
  }
  return m.map((row, i) => row[4] / (row[i] || 1e-12));
}

type Vec3 = [number, number, number];
const cross = (a: Vec3, b: Vec3): Vec3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const normalise = (a: Vec3): Vec3 => {
  const n = Math.hypot(a[0], a[1], a[2]) || 1;
  return [a[0] / n, a[1] / n, a[2] / n];
};
const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));
const round1 = (v: number): number => Math.round(v * 10) / 10;
