/**
 * The DET curve's arithmetic for the Compare page's plot (det-plot.ts), apart from the component so
 * the server's tests can check it against the Calibrator without a browser.
 */

export interface DetCurvePoint { far: number; fnmr: number }

/**
 * The FNMR of a threshold at `far`, on the curve: linear in log10(FAR) between the two points around
 * it. The server's Calibrator.fnmr is linear in similarity between the same points and its FAR
 * log-linear there, so both give the same value; clamped to the curve's ends like the server's FAR.
 */
export function fnmrAtFar(det: DetCurvePoint[], far: number): number {
  // Points come similarity ascending: FAR falls, FNMR rises.
  if (far >= det[0].far) return det[0].fnmr;
  const last = det[det.length - 1];
  if (far <= last.far) return last.fnmr;
  let i = 1;
  while (det[i].far > far) i++;
  const [a, b] = [det[i - 1], det[i]];
  if (a.far === b.far) return b.fnmr;
  const t = (Math.log10(far) - Math.log10(a.far)) / (Math.log10(b.far) - Math.log10(a.far));
  return a.fnmr + t * (b.fnmr - a.fnmr);
}

/** An FNMR as a percentage, with the genuine pairs it stands for (the measure's resolution is one pair). */
export function fmtFnmr(fnmr: number, genuinePairs: number): string {
  const pairs = fnmr * genuinePairs;
  // Served rates are rounded to 6 decimals: a count within 0.01 of a whole number is that number.
  const count = Math.abs(pairs - Math.round(pairs)) < 0.01 ? Math.round(pairs).toLocaleString('en') : `≈ ${Math.round(pairs).toLocaleString('en')}`;
  const of = `of ${genuinePairs.toLocaleString('en')} genuine pairs`;
  if (fnmr === 0) return `0 % (none ${of})`;
  return `${(fnmr * 100).toFixed(fnmr < 0.1 ? 2 : 1)} % (${count} ${of})`;
}
