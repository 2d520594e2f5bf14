import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);

/** Real group photographs shipped with @vladmandic/face-api, so the speed benchmark runs anywhere. */
export function samplePhotoPath(n: 1 | 2 | 3 | 4 | 5 | 6): string {
  return path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo', `sample${n}.jpg`);
}
