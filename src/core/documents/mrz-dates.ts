/**
 * MRZ dates are YYMMDD with no century. A birth date is in the past (the century that puts it at or
 * before today); an expiry date is at most 50 years ahead of today (documents last 10 years; a
 * lapsed one from the last century reads as lapsed). `<` in a date is an unknown part (ICAO 9303
 * allows unknown day or month of birth).
 */
export interface MrzDate { year: number; month: number | null; day: number | null }

/** Accepts YYMMDD (as printed) or YYYY-MM-DD (as a parser may give it). */
export function parseMrzDate(text: string, kind: 'birth' | 'expiry', today: Date): MrzDate | null {
  const iso = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (iso) return { year: Number(iso[1]), month: Number(iso[2]), day: Number(iso[3]) };
  const m = /^(\d{2})([\d<]{2})([\d<]{2})$/.exec(text);
  if (!m) return null;
  const yy = Number(m[1]);
  const thisYear = today.getUTCFullYear();
  const century = Math.floor(thisYear / 100) * 100;
  let year = century + yy;
  if (kind === 'birth' && year > thisYear) year -= 100;
  if (kind === 'expiry' && year > thisYear + 50) year -= 100;
  const part = (s: string) => (s.includes('<') ? null : Number(s));
  return { year, month: part(m[2]), day: part(m[3]) };
}

/** A document is expired the day after its expiry date. An unreadable date is not called expired. */
export function isExpired(expiry: string, today: Date): boolean {
  const d = parseMrzDate(expiry, 'expiry', today);
  if (!d || d.month === null || d.day === null) return false;
  const end = Date.UTC(d.year, d.month - 1, d.day + 1);
  return today.getTime() >= end;
}

/** Whole years of age today, or null when the birth date lacks its month or day. */
export function ageOn(birth: string, today: Date): number | null {
  const d = parseMrzDate(birth, 'birth', today);
  if (!d || d.month === null || d.day === null) return null;
  const hadBirthday = today.getUTCMonth() + 1 > d.month || (today.getUTCMonth() + 1 === d.month && today.getUTCDate() >= d.day);
  return today.getUTCFullYear() - d.year - (hadBirthday ? 0 : 1);
}
