/** Standardised L2-regularised logistic regression by full-batch gradient descent (small data). */
export interface LogisticFit { mean: number[]; std: number[]; weights: number[]; bias: number }

export function fitLogistic(x: number[][], y: number[], l2 = 0.001, iterations = 20000, rate = 0.5): LogisticFit {
  const d = x[0].length, n = x.length;
  const mean = Array.from({ length: d }, (_, j) => x.reduce((s, r) => s + r[j], 0) / n);
  const std = Array.from({ length: d }, (_, j) => Math.sqrt(x.reduce((s, r) => s + (r[j] - mean[j]) ** 2, 0) / n) || 1);
  const z = x.map((r) => r.map((v, j) => (v - mean[j]) / std[j]));
  // Classes weighted equally, whatever their counts: APCER and BPCER matter alike.
  const pos = y.filter((v) => v === 1).length;
  const weightOf = (label: number) => (label === 1 ? n / (2 * pos) : n / (2 * (n - pos)));
  const w = new Array<number>(d).fill(0);
  let b = 0;
  for (let it = 0; it < iterations; it++) {
    const gw = new Array<number>(d).fill(0);
    let gb = 0;
    for (let i = 0; i < n; i++) {
      let s = b;
      for (let j = 0; j < d; j++) s += w[j] * z[i][j];
      const err = (1 / (1 + Math.exp(-s)) - y[i]) * weightOf(y[i]);
      for (let j = 0; j < d; j++) gw[j] += err * z[i][j];
      gb += err;
    }
    for (let j = 0; j < d; j++) w[j] -= rate * (gw[j] / n + l2 * w[j]);
    b -= rate * (gb / n);
  }
  return { mean, std, weights: w, bias: b };
}

export function predictLogistic(fit: LogisticFit, x: number[]): number {
  let s = fit.bias;
  for (let j = 0; j < x.length; j++) s += fit.weights[j] * ((x[j] - fit.mean[j]) / fit.std[j]);
  return 1 / (1 + Math.exp(-s));
}
