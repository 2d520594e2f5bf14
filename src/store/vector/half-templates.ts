/**
 * A collection's templates in memory at half precision, for re-ranking the index's candidates without
 * a database read per candidate. A million 640-D templates take 1.28 GB here (float32 would take
 * twice that); the rounding moves a cosine by about 1e-6, far below the gaps the ranking decides on,
 * and the results a search returns are scored again on the exact stored templates.
 *
 * Only memory: it is filled from the database when the index opens, so no unsealed copy of a
 * template reaches the disk.
 */
export class HalfPrecisionTemplates {
  private readonly chunks: Uint16Array[] = [];
  private readonly slotOf = new Map<number, number>();
  private readonly free: number[] = [];
  private used = 0;

  constructor(readonly dimension: number) {}

  get size(): number {
    return this.slotOf.size;
  }

  set(key: number, vector: Float32Array): void {
    let slot = this.slotOf.get(key);
    if (slot === undefined) {
      slot = this.free.pop() ?? this.used++;
      this.slotOf.set(key, slot);
    }
    const { chunk, offset } = this.locate(slot, true);
    for (let i = 0; i < this.dimension; i++) chunk[offset + i] = toHalf(vector[i]);
  }

  delete(key: number): void {
    const slot = this.slotOf.get(key);
    if (slot === undefined) return;
    this.slotOf.delete(key);
    this.free.push(slot);
  }

  has(key: number): boolean {
    return this.slotOf.has(key);
  }

  /** Inner product of `query` with the template kept under `key` (the cosine, both being unit length); NaN if absent. */
  dot(query: Float32Array, key: number): number {
    const slot = this.slotOf.get(key);
    if (slot === undefined) return Number.NaN;
    const { chunk, offset } = this.locate(slot, false);
    let s = 0;
    for (let i = 0; i < this.dimension; i++) s += query[i] * HALF_TO_FLOAT[chunk[offset + i]];
    return s;
  }

  private locate(slot: number, grow: boolean): { chunk: Uint16Array; offset: number } {
    const c = Math.floor(slot / CHUNK_VECTORS);
    const offset = (slot % CHUNK_VECTORS) * this.dimension;
    if (grow) {
      // The first chunk starts small and doubles (a collection of a few faces should not reserve
      // 80 MiB); slots are handed out in order, so it is whole before a second one is needed, and
      // from then on growth never copies.
      if (this.chunks.length === 0) this.chunks.push(new Uint16Array(FIRST_CHUNK_VECTORS * this.dimension));
      const first = this.chunks[0];
      if (c === 0 && offset >= first.length) {
        let vectors = first.length / this.dimension;
        while (vectors * this.dimension <= offset) vectors *= 2;
        const bigger = new Uint16Array(Math.min(vectors, CHUNK_VECTORS) * this.dimension);
        bigger.set(first);
        this.chunks[0] = bigger;
      }
      while (this.chunks.length <= c) this.chunks.push(new Uint16Array(CHUNK_VECTORS * this.dimension));
    }
    return { chunk: this.chunks[c], offset };
  }
}

/** Vectors per allocation: 64 Ki × 640-D is 80 MiB, so growth never copies what is already there. */
const CHUNK_VECTORS = 65_536;
/** The first chunk's first size, in vectors: 1 Ki × 640-D is 1.25 MiB. */
const FIRST_CHUNK_VECTORS = 1_024;

const HALF_TO_FLOAT = (() => {
  const table = new Float32Array(65_536);
  for (let h = 0; h < 65_536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    table[h] = exponent === 0 ? sign * 2 ** -14 * (mantissa / 1024)
      : exponent === 31 ? (mantissa ? Number.NaN : sign * Infinity)
        : sign * 2 ** (exponent - 15) * (1 + mantissa / 1024);
  }
  return table;
})();

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 binary16 bits of `value`, rounded to nearest even. */
export function toHalf(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  let e = exponent - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    const half = mantissa >> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    return sign | (half + (rest > midpoint || (rest === midpoint && (half & 1)) ? 1 : 0));
  }
  let half = (e << 10) | (mantissa >> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1))) half++;
  e = half >> 10;
  return sign | (e >= 31 ? 0x7c00 : half);
}

export function fromHalf(bits: number): number {
  return HALF_TO_FLOAT[bits & 0xffff];
}
