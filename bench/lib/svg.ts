/** Minimal SVG charts for docs/benchmarks.md: no plotting dependency needed for two figures. */

const W = 640, H = 420, L = 70, R = 20, T = 30, B = 55;

function frame(title: string, xLabel: string, yLabel: string, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">${title}</text>
<text x="${W / 2}" y="${H - 10}" text-anchor="middle">${xLabel}</text>
<text transform="translate(16 ${H / 2}) rotate(-90)" text-anchor="middle">${yLabel}</text>
<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" fill="none" stroke="#444"/>
${body}
</svg>
`;
}

/** DET curve: false non-match rate against false match rate, both on log axes. */
export function detCurveSvg(points: Array<{ fmr: number; fnmr: number }>, title: string, markers: Array<{ fmr: number; fnmr: number; label: string }>): string {
  const xMin = -7, xMax = 0, yMin = -4, yMax = 0;
  const px = (fmr: number) => L + ((Math.log10(Math.max(fmr, 1e-7)) - xMin) / (xMax - xMin)) * (W - L - R);
  const py = (fnmr: number) => T + (1 - (Math.log10(Math.max(fnmr, 1e-4)) - yMin) / (yMax - yMin)) * (H - T - B);
  let body = '';
  for (let e = xMin; e <= xMax; e++) {
    body += `<line x1="${px(10 ** e)}" y1="${T}" x2="${px(10 ** e)}" y2="${H - B}" stroke="#ddd"/><text x="${px(10 ** e)}" y="${H - B + 16}" text-anchor="middle">1e${e}</text>\n`;
  }
  for (let e = yMin; e <= yMax; e++) {
    body += `<line x1="${L}" y1="${py(10 ** e)}" x2="${W - R}" y2="${py(10 ** e)}" stroke="#ddd"/><text x="${L - 6}" y="${py(10 ** e) + 4}" text-anchor="end">1e${e}</text>\n`;
  }
  const path = points.filter((p) => p.fmr > 0).map((p, i) => `${i ? 'L' : 'M'}${px(p.fmr).toFixed(1)},${py(p.fnmr).toFixed(1)}`).join(' ');
  body += `<path d="${path}" fill="none" stroke="#1f77b4" stroke-width="2"/>\n`;
  for (const m of markers) {
    body += `<circle cx="${px(m.fmr)}" cy="${py(m.fnmr)}" r="4" fill="#d62728"/><text x="${px(m.fmr) + 6}" y="${py(m.fnmr) - 6}" fill="#d62728">${m.label}</text>\n`;
  }
  return frame(title, 'false match rate (log)', 'false non-match rate (log)', body);
}

/** Genuine and impostor similarity histograms, each normalised to its own total. */
export function histogramSvg(genuine: ArrayLike<number>, impostor: ArrayLike<number>, title: string, thresholds: Array<{ value: number; label: string }>): string {
  // The x range starts just below the lowest score seen: recognisers differ in where their impostors sit.
  let min = 1;
  for (let i = 0; i < impostor.length; i++) if (impostor[i] < min) min = impostor[i];
  for (let i = 0; i < genuine.length; i++) if (genuine[i] < min) min = genuine[i];
  const bins = 80, lo = Math.max(-1, Math.floor(min * 20) / 20), hi = 1;
  const hist = (values: ArrayLike<number>) => {
    const h = new Array<number>(bins).fill(0);
    for (let i = 0; i < values.length; i++) {
      const b = Math.min(bins - 1, Math.max(0, Math.floor(((values[i] - lo) / (hi - lo)) * bins)));
      h[b]++;
    }
    return h.map((c) => c / values.length);
  };
  const g = hist(genuine), n = hist(impostor);
  const yMax = Math.max(...g, ...n) * 1.05;
  const px = (v: number) => L + ((v - lo) / (hi - lo)) * (W - L - R);
  const py = (f: number) => T + (1 - f / yMax) * (H - T - B);
  const bar = (h: number[], colour: string) => h.map((f, i) => {
    const x = px(lo + (i * (hi - lo)) / bins);
    const w = (W - L - R) / bins;
    return `<rect x="${x.toFixed(1)}" y="${py(f).toFixed(1)}" width="${w.toFixed(1)}" height="${(H - B - py(f)).toFixed(1)}" fill="${colour}" fill-opacity="0.55"/>`;
  }).join('\n');
  let body = bar(n, '#d62728') + '\n' + bar(g, '#2ca02c') + '\n';
  const step = (hi - lo) / 7;
  for (let k = 0; k <= 7; k++) body += `<text x="${px(lo + k * step)}" y="${H - B + 16}" text-anchor="middle">${(lo + k * step).toFixed(2)}</text>\n`;
  thresholds.forEach((t, i) => {
    body += `<line x1="${px(t.value)}" y1="${T}" x2="${px(t.value)}" y2="${H - B}" stroke="#000" stroke-dasharray="4 3"/><text x="${px(t.value) - 4}" y="${T + 14 + i * 16}" text-anchor="end">${t.label} ${t.value.toFixed(3)}</text>\n`;
  });
  body += `<rect x="${L + 10}" y="${T + 24}" width="12" height="12" fill="#2ca02c" fill-opacity="0.55"/><text x="${L + 28}" y="${T + 34}">genuine pairs (${genuine.length})</text>\n`;
  body += `<rect x="${L + 10}" y="${T + 42}" width="12" height="12" fill="#d62728" fill-opacity="0.55"/><text x="${L + 28}" y="${T + 52}">impostor pairs (${impostor.length})</text>\n`;
  return frame(title, 'cosine similarity', 'share of pairs', body);
}
