import { createHash } from 'node:crypto';
import fs from 'node:fs';

/**
 * A linear projection onto the principal components of a model's templates. The recognisers'
 * templates live in a subspace (for the default fused 640-D template, 192 components carry 99.3 %
 * of the variance): indexing their projections makes every distance the ANN graph computes several
 * times cheaper at little cost in ranking, since the final results are re-ranked on the templates.
 *
 * Templates and queries are both centred and projected: the Euclidean distance between projections
 * is the templates' distance up to the discarded components, and for unit templates that distance
 * ranks as the cosine does.
 */
export class VectorProjection {
  private constructor(
    readonly modelId: string,
    readonly modelVersion: number,
    readonly inDim: number,
    readonly outDim: number,
    private readonly mean: Float32Array,
    private readonly components: Float32Array,
    /** Short digest of the file: a snapshot made with another projection is not reused. */
    readonly id: string,
  ) {}

  static read(file: string): VectorProjection {
    const buf = fs.readFileSync(file);
    if (buf.toString('ascii', 0, 4) !== MAGIC) throw new Error(`${file} is not a Faceproof projection`);
    let o = 4;
    const idLength = buf.readUInt8(o); o += 1;
    const modelId = buf.toString('utf8', o, o + idLength); o += idLength;
    const version = buf.readUInt16LE(o); o += 2;
    const inDim = buf.readUInt16LE(o); o += 2;
    const outDim = buf.readUInt16LE(o); o += 2;
    if (buf.length !== o + 4 * (inDim + inDim * outDim)) throw new Error(`${file}: length does not match its dimensions`);
    const floats = new Float32Array(inDim + inDim * outDim);
    new Uint8Array(floats.buffer).set(buf.subarray(o));
    return new VectorProjection(modelId, version, inDim, outDim, floats.subarray(0, inDim), floats.subarray(inDim),
      createHash('sha256').update(buf).digest('hex').slice(0, 12));
  }

  static write(file: string, p: { modelId: string; modelVersion: number; mean: Float32Array; components: Float32Array[] }): void {
    const id = Buffer.from(p.modelId, 'utf8');
    const inDim = p.mean.length;
    const header = Buffer.alloc(4 + 1 + id.length + 6);
    let o = header.write(MAGIC, 0, 'ascii');
    o = header.writeUInt8(id.length, o);
    o += id.copy(header, o);
    o = header.writeUInt16LE(p.modelVersion, o);
    o = header.writeUInt16LE(inDim, o);
    header.writeUInt16LE(p.components.length, o);
    const body = new Float32Array(inDim * (1 + p.components.length));
    body.set(p.mean);
    p.components.forEach((c, k) => body.set(c, inDim * (1 + k)));
    fs.writeFileSync(file, Buffer.concat([header, Buffer.from(body.buffer)]));
  }

  /**
   * A projection as 8-bit integers for an i8 graph. usearch's own cast assumes values spanning
   * [−1, 1] and projections span far less, so all components are scaled by one factor (which keeps
   * the distances' order): 127 over how far a typical unit template lies from the mean,
   * √(1 − |mean|²) (its similarity to the mean being |mean|² on average). For the default pipeline
   * that is 0.76, and the largest component of any LFW template 0.39.
   */
  toInt8(projected: Float32Array): Int8Array {
    this.int8Scale ??= 127 / Math.sqrt(Math.max(1 - this.mean.reduce((sum, m) => sum + m * m, 0), 1e-6));
    const scale = this.int8Scale;
    return Int8Array.from(projected, (x) => Math.max(-127, Math.min(127, Math.round(x * scale))));
  }

  private int8Scale: number | undefined;

  /** The same projection onto its first `dimensions` components only. */
  truncated(dimensions: number): VectorProjection {
    if (dimensions >= this.outDim) return this;
    return new VectorProjection(this.modelId, this.modelVersion, this.inDim, dimensions, this.mean,
      this.components.subarray(0, dimensions * this.inDim), `${this.id}d${dimensions}`);
  }

  /** Where a template, stored or searched for, goes in the index: P (v − mean). */
  project(v: Float32Array): Float32Array {
    const { inDim, outDim, mean, components } = this;
    const out = new Float32Array(outDim);
    for (let k = 0; k < outDim; k++) {
      const row = k * inDim;
      let s = 0;
      for (let i = 0; i < inDim; i++) s += components[row + i] * (v[i] - mean[i]);
      out[k] = s;
    }
    return out;
  }
}

const MAGIC = 'FPPJ';
