import { components, inkMask, type Component, type GreyImage } from './grey.ts';

/**
 * Finding the machine-readable zone without reading it: MRZ lines are rows of 30, 36 or 44
 * monospaced characters of one size at one pitch (the `<` fillers included, each its own blob),
 * two or three of them parallel, equally long and evenly spaced. Characters are found as ink
 * blobs, chained to their neighbours along the text's direction (any angle: the image may be
 * turned by quarter turns, skewed a little, seen a little in perspective), and chains that look
 * like MRZ lines are grouped. Reading direction is known only up to a half turn; the reader tries
 * both.
 */

export type Pt = [number, number];

export interface MrzLineGeometry {
  /** Centre of the line's first and last character cell (in reading order for `direction`). */
  from: Pt;
  to: Pt;
  /** Height of a capital, pixels. */
  charHeight: number;
  /** Centre-to-centre distance of neighbouring characters, pixels. */
  pitch: number;
  /** Character cells the line spans (length / pitch). */
  cells: number;
}

export interface MrzZone {
  /** Unit vector along the lines, in reading direction as first guessed. */
  along: Pt;
  /** Unit vector from the first line to the last (down the page). */
  down: Pt;
  lines: MrzLineGeometry[];
  /** Characters per line the geometry suggests: 30 (TD1), 36 (TD2/MRV-B) or 44 (TD3/MRV-A). */
  length: 30 | 36 | 44;
  score: number;
}

interface Blob { c: Component; size: number; x: number; y: number }

const LENGTHS = [30, 36, 44] as const;

/** MRZ zones found in a grey image, best first, each line listed top to bottom. */
export function locateMrz(img: GreyImage): MrzZone[] {
  const { width: w, height: h } = img;
  const radius = Math.max(6, Math.round(Math.max(w, h) / 60));
  const mask = inkMask(img, radius);
  const blobs: Blob[] = [];
  const maxSize = Math.max(w, h) / 12;
  for (const c of components(mask, w, h)) {
    const bw = c.maxX - c.minX + 1;
    const bh = c.maxY - c.minY + 1;
    const size = Math.max(bw, bh);
    if (size < 5 || size > maxSize || c.area < 8) continue;
    if (Math.min(bw, bh) * 4 < size) continue;
    const fill = c.area / (bw * bh);
    if (fill < 0.08 || fill > 0.95) continue;
    blobs.push({ c, size, x: c.cx, y: c.cy });
  }
  if (blobs.length < 40) return [];
  const zones: MrzZone[] = [];
  for (const angle of dominantAngles(blobs)) zones.push(...zonesAlong(blobs, angle));
  zones.sort((a, b) => b.score - a.score);
  return dedupe(zones);
}

/** A spatial hash of blob centres, for neighbour queries. */
class Grid {
  private readonly cells = new Map<number, number[]>();
  constructor(private readonly blobs: Blob[], private readonly cell: number) {
    blobs.forEach((b, i) => {
      const k = this.key(Math.floor(b.x / cell), Math.floor(b.y / cell));
      const list = this.cells.get(k);
      if (list) list.push(i);
      else this.cells.set(k, [i]);
    });
  }
  private key(cx: number, cy: number): number {
    return (cy + 1000) * 100000 + cx + 1000;
  }
  near(x: number, y: number, r: number): number[] {
    const out: number[] = [];
    const c0 = Math.floor((x - r) / this.cell), c1 = Math.floor((x + r) / this.cell);
    const r0 = Math.floor((y - r) / this.cell), r1 = Math.floor((y + r) / this.cell);
    for (let cy = r0; cy <= r1; cy++) for (let cx = c0; cx <= c1; cx++) out.push(...(this.cells.get(this.key(cx, cy)) ?? []));
    return out;
  }
}

/** Directions (radians, modulo π) in which blobs most often have a same-sized nearest neighbour. */
function dominantAngles(blobs: Blob[]): number[] {
  const sizes = blobs.map((b) => b.size).sort((a, b) => a - b);
  const grid = new Grid(blobs, Math.max(8, sizes[Math.floor(sizes.length / 2)] * 2));
  const bins = new Float64Array(180);
  blobs.forEach((b, i) => {
    let best = -1, bestD = Infinity;
    for (const j of grid.near(b.x, b.y, b.size * 2)) {
      if (j === i) continue;
      const o = blobs[j];
      const ratio = o.size / b.size;
      if (ratio < 0.5 || ratio > 2) continue;
      const d = Math.hypot(o.x - b.x, o.y - b.y);
      if (d < bestD && d < 2 * Math.max(b.size, o.size)) { bestD = d; best = j; }
    }
    if (best < 0) return;
    let a = Math.atan2(blobs[best].y - b.y, blobs[best].x - b.x) * 180 / Math.PI;
    a = ((a % 180) + 180) % 180;
    bins[Math.floor(a) % 180] += 1;
  });
  const smooth = new Float64Array(180);
  for (let i = 0; i < 180; i++) for (let d = -3; d <= 3; d++) smooth[i] += bins[(i + d + 180) % 180] * (4 - Math.abs(d));
  const peaks: { a: number; v: number }[] = [];
  for (let i = 0; i < 180; i++) {
    const v = smooth[i];
    if (v > 0 && v >= smooth[(i + 179) % 180] && v > smooth[(i + 1) % 180]) peaks.push({ a: i, v });
  }
  peaks.sort((p, q) => q.v - p.v);
  const out: number[] = [];
  for (const p of peaks) {
    if (out.length >= 3 || p.v < peaks[0].v * 0.25) break;
    if (out.some((a) => angleGap(a, p.a) < 8)) continue;
    out.push(p.a);
  }
  // Text lines are most often level or upright; always look there too, for pages whose other print
  // (guilloches, portraits) outvotes the text.
  for (const a of [0, 90]) if (!out.some((o) => angleGap(o, a) < 8)) out.push(a);
  return out.map((a) => a * Math.PI / 180);
}

function angleGap(a: number, b: number): number {
  const d = Math.abs(a - b) % 180;
  return Math.min(d, 180 - d);
}

interface Chain { pts: ChainPoint[]; u0: number; u1: number; v: number; slope: number; size: number; pitch: number }

/** Chains of evenly spaced blobs along `angle`, and the groups of 2–3 of them that look like an MRZ. */
function zonesAlong(blobs: Blob[], angle: number): MrzZone[] {
  const ax: Pt = [Math.cos(angle), Math.sin(angle)];
  const ay: Pt = [-ax[1], ax[0]];
  const pts = blobs.map((b) => ({ b, u: b.x * ax[0] + b.y * ax[1], v: b.x * ay[0] + b.y * ay[1], s: sizeAlong(b, ax) }));
  pts.sort((p, q) => p.u - q.u);
  const n = pts.length;
  const next = new Int32Array(n).fill(-1);
  const prev = new Int32Array(n).fill(-1);
  // Each blob's nearest successor along u within a character height or two, roughly on its row
  for (let i = 0; i < n; i++) {
    const p = pts[i];
    let best = -1, bestDu = Infinity;
    for (let j = i + 1; j < n; j++) {
      const q = pts[j];
      const du = q.u - p.u;
      const s = Math.max(p.s, q.s);
      if (du > 2.2 * s) break;
      if (du < 0.3 * Math.min(p.s, q.s)) continue;
      const ratio = q.s / p.s;
      if (ratio < 0.4 || ratio > 2.5) continue;
      if (Math.abs(q.v - p.v) > 0.3 * s) continue;
      if (du < bestDu) { bestDu = du; best = j; }
    }
    if (best >= 0 && (prev[best] < 0 || pts[prev[best]].u < p.u)) {
      if (prev[best] >= 0) next[prev[best]] = -1;
      next[i] = best;
      prev[best] = i;
    }
  }
  const chains: Chain[] = [];
  for (let i = 0; i < n; i++) {
    if (prev[i] >= 0) continue;
    const members: typeof pts = [];
    for (let k = i; k >= 0; k = next[k]) members.push(pts[k]);
    if (members.length < 8) continue;
    chains.push(chainOf(members));
  }
  const merged = mergeCollinear(chains);
  const lines = merged.filter((c) => c.pts.length >= 12 && (c.u1 - c.u0) / c.pitch >= 20);
  lines.sort((a, b) => a.v - b.v);
  const zones: MrzZone[] = [];
  for (let i = 0; i < lines.length; i++) {
    for (const count of [2, 3]) {
      const group = [lines[i]];
      for (let j = i + 1; j < lines.length && group.length < count; j++) {
        const last = group[group.length - 1];
        const gap = lines[j].v - last.v;
        if (gap < 1.1 * last.size) continue;
        if (gap > 2.8 * last.size) break;
        if (compatible(last, lines[j])) group.push(lines[j]);
      }
      if (group.length !== count) continue;
      const zone = zoneOf(group, ax, ay);
      if (zone) zones.push(zone);
    }
  }
  return zones;
}

/** A blob's extent along the text direction's normal: its character height whatever the angle. */
function sizeAlong(b: Blob, ax: Pt): number {
  const bw = b.c.maxX - b.c.minX + 1;
  const bh = b.c.maxY - b.c.minY + 1;
  return Math.abs(ax[0]) * bh + Math.abs(ax[1]) * bw;
}

type ChainPoint = { b: Blob; u: number; v: number; s: number };

function chainOf(members: ChainPoint[]): Chain {
  const m = members.length;
  let su = 0, sv = 0, suu = 0, suv = 0;
  for (const p of members) { su += p.u; sv += p.v; suu += p.u * p.u; suv += p.u * p.v; }
  const den = m * suu - su * su;
  const slope = den > 1e-9 ? (m * suv - su * sv) / den : 0;
  const sizes = members.map((p) => p.s).sort((a, b) => a - b);
  // Capitals and digits outnumber fillers, which are shorter: the upper quartile is a capital's height
  const size = sizes[Math.floor(sizes.length * 0.75)];
  const steps: number[] = [];
  for (let k = 1; k < m; k++) steps.push(members[k].u - members[k - 1].u);
  steps.sort((a, b) => a - b);
  const pitch = steps[Math.floor(steps.length / 2)];
  return { pts: members, u0: members[0].u, u1: members[m - 1].u, v: sv / m, slope, size, pitch };
}

/** Joins chains broken by a lost character: same row, same size, a gap of a few cells. */
function mergeCollinear(chains: Chain[]): Chain[] {
  const sorted = chains.slice().sort((a, b) => a.u0 - b.u0);
  const out: Chain[] = [];
  const used = new Set<Chain>();
  for (const c of sorted) {
    if (used.has(c)) continue;
    let cur = c;
    let grown = true;
    while (grown) {
      grown = false;
      for (const o of sorted) {
        if (o === cur || used.has(o) || o.u0 <= cur.u1) continue;
        const gap = o.u0 - cur.u1;
        if (gap > 4 * cur.pitch) continue;
        if (Math.abs(o.v - cur.v) > 0.4 * cur.size || Math.abs(o.size / cur.size - 1) > 0.3) continue;
        const pts = [...cur.pts, ...o.pts];
        used.add(o);
        cur = chainOf(pts);
        grown = true;
        break;
      }
    }
    used.add(c);
    out.push(cur);
  }
  return out;
}

function compatible(a: Chain, b: Chain): boolean {
  if (Math.abs(a.size / b.size - 1) > 0.35) return false;
  if (Math.abs(a.pitch / b.pitch - 1) > 0.25) return false;
  const pitch = (a.pitch + b.pitch) / 2;
  // MRZ lines start at one margin; their ends differ only by fillers lost to the background
  return Math.abs(a.u0 - b.u0) < 2.5 * pitch && Math.abs((a.u1 - a.u0) / (b.u1 - b.u0) - 1) < 0.3;
}

function zoneOf(group: Chain[], ax: Pt, ay: Pt): MrzZone | undefined {
  const size = median(group.map((c) => c.size));
  const all = group.flatMap((c) => c.pts.map((p) => p.u));
  const span = Math.max(...all) - Math.min(...all);
  const roughCells = span / median(group.map((c) => c.pitch)) + 1;
  const length = LENGTHS.reduce((best, l) => (Math.abs(l - roughCells) < Math.abs(best - roughCells) ? l : best), LENGTHS[0]);
  if (Math.abs(roughCells - length) > length * 0.18) return undefined;
  if (group.length === 3 && length !== 30) return undefined;
  if (group.length === 2 && length === 30) return undefined;
  const grid = cellGrid(group, length);
  if (!grid) return undefined;
  const { first, pitch } = grid;
  const u0 = first;
  const u1 = first + pitch * (length - 1);
  const lines = group.map((c): MrzLineGeometry => {
    const vAt = (u: number) => c.v + c.slope * (u - (c.u0 + c.u1) / 2);
    const toXY = (u: number, v: number): Pt => [u * ax[0] + v * ay[0], u * ax[1] + v * ay[1]];
    return { from: toXY(u0, vAt(u0)), to: toXY(u1, vAt(u1)), charHeight: c.size, pitch, cells: length };
  });
  const filled = group.reduce((a, c) => a + c.pts.length, 0) / (group.length * length);
  const evenness = group.reduce((a, c) => a + Math.abs(c.size - size) / size, 0) / group.length;
  const score = Math.min(1, filled) * 2 - grid.misfit - evenness + group.length * 0.2;
  // The fitted lines, not the histogram bin, give the exact direction
  const dx = lines.reduce((a, l) => a + l.to[0] - l.from[0], 0);
  const dy = lines.reduce((a, l) => a + l.to[1] - l.from[1], 0);
  const norm = Math.hypot(dx, dy);
  const along: Pt = [dx / norm, dy / norm];
  return { along, down: [-along[1], along[0]], lines, length, score };
}

/**
 * The zone's character grid: MRZ lines share their left margin and pitch, so every blob of every
 * line sits near first + k·pitch. Fitted by least squares on the blobs' cell indices; of the cells
 * the blobs cover, the run of `length` holding most blobs is the MRZ (a stray mark past either end
 * is left out).
 */
function cellGrid(group: Chain[], length: number): { first: number; pitch: number; misfit: number } | undefined {
  const us = group.flatMap((c) => c.pts.filter((p) => p.s > 0.5 * c.size).map((p) => p.u)).sort((a, b) => a - b);
  if (us.length < length) return undefined;
  let pitch = median(group.map((c) => c.pitch));
  let origin = us[0];
  for (let round = 0; round < 3; round++) {
    let n = 0, sk = 0, su = 0, skk = 0, sku = 0;
    for (const u of us) {
      const k = Math.round((u - origin) / pitch);
      n++; sk += k; su += u; skk += k * k; sku += k * u;
    }
    const den = n * skk - sk * sk;
    if (den <= 0) return undefined;
    pitch = (n * sku - sk * su) / den;
    origin = (su - pitch * sk) / n;
  }
  const counts = new Map<number, number>();
  let misfit = 0;
  for (const u of us) {
    const k = Math.round((u - origin) / pitch);
    counts.set(k, (counts.get(k) ?? 0) + 1);
    misfit += Math.abs((u - origin) / pitch - k);
  }
  const ks = [...counts.keys()];
  const kMin = Math.min(...ks), kMax = Math.max(...ks);
  let bestStart = kMin, bestCount = -1;
  for (let s = kMin; s <= Math.max(kMin, kMax - length + 1); s++) {
    let c = 0;
    for (let k = s; k < s + length; k++) c += counts.get(k) ?? 0;
    if (c > bestCount) { bestCount = c; bestStart = s; }
  }
  return { first: origin + pitch * bestStart, pitch, misfit: misfit / us.length };
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Drops zones that overlap a better one (the same MRZ found along two nearby angles). */
function dedupe(zones: MrzZone[]): MrzZone[] {
  const out: MrzZone[] = [];
  const centre = (z: MrzZone): Pt => {
    const all = z.lines.flatMap((l) => [l.from, l.to]);
    return [all.reduce((a, p) => a + p[0], 0) / all.length, all.reduce((a, p) => a + p[1], 0) / all.length];
  };
  for (const z of zones) {
    const c = centre(z);
    const h = z.lines[0].charHeight;
    if (out.some((o) => Math.hypot(centre(o)[0] - c[0], centre(o)[1] - c[1]) < 3 * h)) continue;
    out.push(z);
  }
  return out;
}
