import { covariance } from './pca.ts';

/**
 * A multivariate normal fitted to real embeddings, for synthetic distractor faces that share the
 * model's statistics (mean, covariance, hence its impostor-similarity distribution) without being
 * anybody's face.
 */
export class GaussianSampler {
  private constructor(private readonly mean: Float64Array, private readonly chol: Float64Array, readonly dim: number, private seed: number) {}

  static fit(vectors: Float32Array[], seed = 12345): GaussianSampler {
    const dim = vectors[0].length;
    const { mean, cov } = covariance(vectors);
    for (let i = 0; i < dim; i++) cov[i * dim + i] += 1e-6; // n ≈ 6 × dim: keep it positive definite
    return new GaussianSampler(mean, cholesky(cov, dim), dim, seed);
  }

  /** Writes `count` unit-length samples into `out` from `offset` (in vectors). */
  sample(out: Float32Array, offset: number, count: number): void {
    const { dim, chol, mean } = this;
    const z = new Float64Array(dim);
    for (let s = 0; s < count; s++) {
      for (let i = 0; i < dim; i++) z[i] = this.normal();
      const o = (offset + s) * dim;
      let norm = 0;
      for (let i = 0; i < dim; i++) {
        let x = mean[i];
        const row = i * dim;
        for (let j = 0; j <= i; j++) x += chol[row + j] * z[j];
        out[o + i] = x;
        norm += x * x;
      }
      const inv = 1 / Math.sqrt(norm);
      for (let i = 0; i < dim; i++) out[o + i] *= inv;
    }
  }

  /** Standard normal from a seeded xorshift generator (Box–Muller), so runs are repeatable. */
  private spare: number | null = null;
  private normal(): number {
    if (this.spare !== null) { const v = this.spare; this.spare = null; return v; }
    const u = (this.uniform() + 1e-12), v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  private uniform(): number {
    let s = this.seed;
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    this.seed = s >>> 0;
    return this.seed / 2 ** 32;
  }
}

function cholesky(a: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = a[i * n + j];
      for (let k = 0; k < j; k++) sum -= l[i * n + k] * l[j * n + k];
      if (i === j) {
        if (sum <= 0) throw new Error('covariance is not positive definite');
        l[i * n + i] = Math.sqrt(sum);
      } else {
        l[i * n + j] = sum / l[j * n + j];
      }
    }
  }
  return l;
}
