/**
 * The top principal components of a set of vectors, by subspace iteration on their covariance
 * (enough for a few hundred dimensions; no linear-algebra dependency needed).
 */
/** Mean and full (symmetric) covariance matrix, row-major, of a set of vectors. */
export function covariance(vectors: Float32Array[]): { mean: Float64Array; cov: Float64Array } {
  const dim = vectors[0].length;
  const n = vectors.length;
  const mean = new Float64Array(dim);
  for (const v of vectors) for (let i = 0; i < dim; i++) mean[i] += v[i] / n;
  const cov = new Float64Array(dim * dim);
  const c = new Float64Array(dim);
  for (const v of vectors) {
    for (let i = 0; i < dim; i++) c[i] = v[i] - mean[i];
    for (let i = 0; i < dim; i++) {
      const ci = c[i] / (n - 1);
      for (let j = i; j < dim; j++) cov[i * dim + j] += ci * c[j];
    }
  }
  for (let i = 0; i < dim; i++) for (let j = 0; j < i; j++) cov[i * dim + j] = cov[j * dim + i];
  return { mean, cov };
}

export function principalComponents(vectors: Float32Array[], count: number, iterations = 40): { mean: Float32Array; components: Float32Array[]; explained: number[] } {
  const dim = vectors[0].length;
  const { mean, cov } = covariance(vectors);
  let total = 0;
  for (let i = 0; i < dim; i++) total += cov[i * dim + i];

  let seed = 7;
  const rand = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31 - 0.5; };
  let basis = Array.from({ length: count }, () => Float64Array.from({ length: dim }, rand));
  const multiply = (v: Float64Array) => {
    const out = new Float64Array(dim);
    for (let i = 0; i < dim; i++) { let s = 0; const row = i * dim; for (let j = 0; j < dim; j++) s += cov[row + j] * v[j]; out[i] = s; }
    return out;
  };
  for (let it = 0; it < iterations; it++) {
    basis = basis.map(multiply);
    orthonormalise(basis);
  }
  const explained = basis.map((v) => { const m = multiply(v); let s = 0; for (let i = 0; i < dim; i++) s += v[i] * m[i]; return s / total; });
  return { mean: Float32Array.from(mean), components: basis.map((v) => Float32Array.from(v)), explained };
}

function orthonormalise(basis: Float64Array[]): void {
  for (let k = 0; k < basis.length; k++) {
    const v = basis[k];
    for (let m = 0; m < k; m++) {
      const u = basis[m];
      let d = 0;
      for (let i = 0; i < v.length; i++) d += v[i] * u[i];
      for (let i = 0; i < v.length; i++) v[i] -= d * u[i];
    }
    let norm = 0;
    for (let i = 0; i < v.length; i++) norm += v[i] * v[i];
    norm = Math.sqrt(norm);
    for (let i = 0; i < v.length; i++) v[i] /= norm;
  }
}
