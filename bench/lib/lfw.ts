import fs from 'node:fs';
import path from 'node:path';

export interface LfwPair {
  fold: number;
  same: boolean;
  a: string;
  b: string;
}

export interface LfwProtocol {
  pairs: LfwPair[];
  /** Every image named by the pairs, relative to the image folder, with its identity. */
  images: Array<{ file: string; identity: string }>;
  folds: number;
}

const imageName = (name: string, index: string) => `${name}/${name}_${index.padStart(4, '0')}.jpg`;

/** Parses LFW View 2 `pairs.txt`: "folds perFold", then per fold `perFold` same and `perFold` different lines. */
export function parsePairs(text: string): LfwProtocol {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  const [folds, perFold] = lines[0].split(/\s+/).map(Number);
  const pairs: LfwPair[] = [];
  let i = 1;
  for (let fold = 0; fold < folds; fold++) {
    for (let k = 0; k < 2 * perFold; k++, i++) {
      const f = lines[i].split(/\s+/);
      if (f.length === 3) pairs.push({ fold, same: true, a: imageName(f[0], f[1]), b: imageName(f[0], f[2]) });
      else pairs.push({ fold, same: false, a: imageName(f[0], f[1]), b: imageName(f[2], f[3]) });
    }
  }
  const seen = new Map<string, string>();
  for (const p of pairs) for (const f of [p.a, p.b]) if (!seen.has(f)) seen.set(f, f.split('/')[0]);
  return { pairs, folds, images: [...seen].map(([file, identity]) => ({ file, identity })) };
}

export function loadLfw(dataDir: string): { protocol: LfwProtocol; imageDir: string } {
  const pairsFile = path.join(dataDir, 'meta/lfw/pairs.txt');
  const imageDir = path.join(dataDir, 'verify/lfw_original150_pairs');
  if (!fs.existsSync(pairsFile) || !fs.existsSync(imageDir)) {
    throw new Error(`no LFW data under ${dataDir} (expected meta/lfw/pairs.txt and verify/lfw_original150_pairs/)`);
  }
  return { protocol: parsePairs(fs.readFileSync(pairsFile, 'utf8')), imageDir };
}
