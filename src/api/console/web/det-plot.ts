/**
 * The Compare page's DET plot: the shipped calibration's DET curve (false non-match rate against
 * false match rate, both on log scales, as DET curves are drawn), the decision thresholds the
 * comparison was decided with, and where its score sits. The curve comes from GET /v1/capabilities
 * (`calibration.det`: FAR and FNMR at every point of the calibration table).
 */
import { html } from 'htm/preact';
import type { paths } from '@faceproof/client';
import { fmtFar } from './ui.ts';
import { fmtFnmr, fnmrAtFar, type DetCurvePoint } from './det-curve.ts';

/** GET /v1/capabilities' `calibration`: the table, the DET curve (when shipped) and the thresholds in force. */
export type Calibration = paths['/v1/capabilities']['get']['responses'][200]['content']['application/json']['calibration'];

export interface DetPlotProps {
  det: DetCurvePoint[];
  genuinePairs: number;
  impostorPairs: number;
  dataset: string;
  /** The thresholds this comparison was decided with (compare's `thresholds`). */
  thresholds: { match: { far: number }; uncertain: { far: number } };
  /** This comparison's estimated FAR (compare's `far`). */
  far: number;
}

/**
 * The plot, with a text alternative: the svg is one image whose name says what it shows (each
 * threshold's FAR and FNMR, and this pair's), and the caption says it in full for everyone.
 */
export function DetPlot({ det, genuinePairs, impostorPairs, dataset, thresholds, far }: DetPlotProps) {
  const W = 320, H = 196, L = 44, B = 30, T = 10, R = 10;
  // FNMR below one genuine pair is not measured: the y axis ends at the decade under 1 / pairs, and a
  // rate of 0 sits on that bottom edge.
  const yMin = Math.floor(Math.log10(1 / genuinePairs));
  const xMin = Math.min(-1, Math.floor(Math.log10(Math.min(...det.map((p) => p.far), far))));
  const x = (f: number) => L + ((Math.log10(Math.max(f, 10 ** xMin)) - xMin) / -xMin) * (W - L - R);
  const y = (r: number) => T + (Math.log10(Math.max(r, 10 ** yMin)) / yMin) * (H - T - B);
  const line = det.map((p) => `${x(p.far).toFixed(1)},${y(p.fnmr).toFixed(1)}`).join(' ');
  const marks = [
    { name: 'uncertain', far: thresholds.uncertain.far, fnmr: fnmrAtFar(det, thresholds.uncertain.far) },
    { name: 'match', far: thresholds.match.far, fnmr: fnmrAtFar(det, thresholds.match.far) },
  ];
  const here = { far, fnmr: fnmrAtFar(det, far) };
  const xTicks = Array.from({ length: -xMin + 1 }, (_, i) => xMin + i).filter((e) => -xMin <= 4 || (e - xMin) % 2 === 0 || e === 0);
  const yTicks = Array.from({ length: -yMin + 1 }, (_, i) => yMin + i);
  const pow = (e: number) => (e === 0 ? '1' : `1e${e}`);
  const summary = `${marks.map((m) => `${m.name} threshold: FAR ${fmtFar(m.far)}, FNMR ${fmtFnmr(m.fnmr, genuinePairs)}`).join('; ')}; `
    + `this pair: FAR ${fmtFar(here.far)}; a threshold at its score would reject ${fmtFnmr(here.fnmr, genuinePairs)}`;
  // Where fewer than 100 impostor pairs back the FAR (as the server's tail line takes it), the curve is a few pairs' noise.
  const thin = here.far < 100 / impostorPairs;
  return html`<figure class="det-plot" data-testid="det-plot">
    <svg viewBox=${`0 0 ${W} ${H}`} role="img" aria-label=${`DET curve of the shipped calibration, false non-match rate against false match rate. ${summary}.`}>
      ${xTicks.map((e) => html`<g class="grid"><line x1=${x(10 ** e)} x2=${x(10 ** e)} y1=${T} y2=${H - B} /><text x=${x(10 ** e)} y=${H - B + 13} text-anchor="middle">${pow(e)}</text></g>`)}
      ${yTicks.map((e) => html`<g class="grid"><line x1=${L} x2=${W - R} y1=${y(10 ** e)} y2=${y(10 ** e)} /><text x=${L - 4} y=${y(10 ** e) + 3.5} text-anchor="end">${pow(e)}</text></g>`)}
      <text class="axis" x=${(L + W - R) / 2} y=${H - 3} text-anchor="middle">false match rate (FAR)</text>
      <text class="axis" transform=${`translate(10 ${(T + H - B) / 2}) rotate(-90)`} text-anchor="middle">false non-match rate</text>
      <line class="resolution" x1=${L} x2=${W - R} y1=${y(1 / genuinePairs)} y2=${y(1 / genuinePairs)} />
      <polyline class="curve" points=${line} />
      ${marks.map((m) => html`<g class=${`thr ${m.name}`} data-far=${m.far} data-fnmr=${m.fnmr}>
        <line x1=${x(m.far)} x2=${x(m.far)} y1=${T} y2=${H - B} />
        <circle cx=${x(m.far)} cy=${y(m.fnmr)} r="3.5" />
        <text x=${x(m.far) + 3} y=${T + 9}>${m.name}</text>
      </g>`)}
      <g class="here" data-testid="det-here" data-far=${here.far} data-fnmr=${here.fnmr}>
        <line x1=${x(here.far)} x2=${x(here.far)} y1=${y(here.fnmr)} y2=${H - B} />
        <circle cx=${x(here.far)} cy=${y(here.fnmr)} r="5" />
      </g>
    </svg>
    <figcaption>
      ${`DET curve of the shipped calibration (${dataset}: ${impostorPairs.toLocaleString('en')} impostor and ${genuinePairs.toLocaleString('en')} genuine pairs), both axes logarithmic. `}
      ${'Amber: the uncertain threshold; green: the match threshold; the black dot: this pair, at its FAR and the false non-match rate a threshold at its score would have. '}
      <span data-testid="det-summary">${summary[0].toUpperCase()}${summary.slice(1)}.</span>
      ${thin ? ` Below FAR ${fmtFar(100 / impostorPairs)} fewer than 100 impostor pairs back the curve: there it is a rough estimate.` : ''}
      ${` The false non-match rate is measured to one pair in ${genuinePairs.toLocaleString('en')} (the dotted line); 0 is drawn on the bottom edge.`}
    </figcaption>
  </figure>`;
}
