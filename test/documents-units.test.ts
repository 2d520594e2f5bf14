import { describe, expect, it } from 'vitest';
import { ageOn, isExpired, parseMrzDate } from '../src/core/documents/mrz-dates.ts';
import { ActiveAuthenticationChallenges } from '../src/core/documents/active-authentication-challenges.ts';
import { FaceproofError } from '../src/core/errors.ts';
import { parseMrzLines } from '../src/core/documents/mrz.ts';

const today = new Date('2026-12-01T10:00:00Z');

describe('MRZ dates', () => {
  it('puts a birth year in the past and an expiry within 50 years ahead', () => {
    expect(parseMrzDate('740812', 'birth', today)).toEqual({ year: 1974, month: 8, day: 12 });
    expect(parseMrzDate('260101', 'birth', today)?.year).toBe(2026);
    expect(parseMrzDate('270101', 'birth', today)?.year).toBe(1927);
    expect(parseMrzDate('340412', 'expiry', today)?.year).toBe(2034);
    expect(parseMrzDate('990101', 'expiry', today)?.year).toBe(1999);
    expect(parseMrzDate('12<<<<', 'birth', today)).toEqual({ year: 2012, month: null, day: null });
    expect(parseMrzDate('1974-08-12', 'birth', today)).toEqual({ year: 1974, month: 8, day: 12 });
    expect(parseMrzDate('7408', 'birth', today)).toBeNull();
  });

  it('calls a document expired from the day after its expiry date', () => {
    expect(isExpired('261130', today)).toBe(true);
    expect(isExpired('261201', today)).toBe(false);
    expect(isExpired('120415', today)).toBe(true);
    expect(isExpired('<<<<<<', today)).toBe(false);
  });

  it('counts whole years of age, birthday included', () => {
    expect(ageOn('741201', today)).toBe(52);
    expect(ageOn('741202', today)).toBe(51);
    expect(ageOn('74<<<<', today)).toBeNull();
  });
});

describe('active-authentication challenges', () => {
  it('gives 8 random bytes once, to the tenant they were issued to, within their lifetime', async () => {
    let now = 1_000_000;
    const challenges = new ActiveAuthenticationChallenges(300_000, 3, () => now);
    const a = await challenges.issue('t1');
    expect(Buffer.from(a.challenge, 'base64')).toHaveLength(8);
    await expect(challenges.take('t2', a.challenge_id)).rejects.toThrow(FaceproofError);
    expect((await challenges.take('t1', a.challenge_id)).toString('base64')).toBe(a.challenge);
    await expect(challenges.take('t1', a.challenge_id)).rejects.toThrow(/already used/);
    const b = await challenges.issue('t1');
    now += 300_001;
    await expect(challenges.take('t1', b.challenge_id)).rejects.toThrow(/expired/);
  });

  it('stays bounded: the oldest outstanding challenge gives way', async () => {
    const challenges = new ActiveAuthenticationChallenges(300_000, 2);
    const [a, b, c] = [await challenges.issue('t'), await challenges.issue('t'), await challenges.issue('t')];
    await expect(challenges.take('t', a.challenge_id)).rejects.toThrow(FaceproofError);
    expect(await challenges.take('t', b.challenge_id)).toHaveLength(8);
    expect(await challenges.take('t', c.challenge_id)).toHaveLength(8);
  });
});

describe('MRZ corrections of doubted characters', () => {
  const line1 = 'P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<';
  const truth = 'L898902C36UTO7408122F1204159ZE184226B<<<<<10';
  const misread = truth.replace('159ZE', '1597E');
  const at = misread.indexOf('7E18');
  const confidences = (doubt: number) => [Array(44).fill(0.99), Array.from({ length: 44 }, (_, i) => (i === at ? doubt : 0.99))];

  it('turns a doubted 7 into the Z the personal number\'s check digit asks for', () => {
    const parsed = parseMrzLines([line1, misread], { correct: true, confidences: confidences(0.5) });
    expect(parsed.lines[1]).toBe(truth);
    expect(parsed.valid).toBe(true);
  });

  it('leaves a 7 the OCR was sure of, reporting the check digit that fails', () => {
    const parsed = parseMrzLines([line1, misread], { correct: true, confidences: confidences(0.99) });
    expect(parsed.lines[1]).toBe(misread);
    expect(parsed.valid).toBe(false);
  });
});
