import type { FaceEngine, FaceAnalysis } from '../engine/face-engine.ts';
import type { ImageLoader } from './image-loader.ts';
import type { ImageSource } from './image-input.ts';
import { FaceproofError } from './errors.ts';

export interface AgedFace { face: FaceAnalysis; age: number; aboveThreshold?: boolean }

export interface AgeConsistency {
  documentAge: number;
  selfieAge: number;
  /** Selfie minus document age, years. */
  difference: number;
  maxDifference: number;
  verdict: 'age_match' | 'age_not_match';
}

/** Default for the largest tolerated gap between the two estimates: about twice the measured MAE (5 years) on each. */
export const DEFAULT_MAX_AGE_DIFFERENCE = 15;

/** Apparent age (IDEMIA's age assurance) and the age check between an ID photo and a selfie (TrustVision). */
export class AgeService {
  constructor(private readonly engine: FaceEngine, private readonly loader: ImageLoader) {}

  /** Every face, largest first, with its estimated age and, given a threshold, whether it is above. */
  async estimate(source: ImageSource, tenantId: string, threshold?: number, field = 'image', autoRotate = false): Promise<AgedFace[]> {
    const image = await this.loader.load(source, tenantId, field);
    const found = await this.engine.analyze(image, { autoRotate });
    return Promise.all(found.map(async (face) => {
      const age = round1(await this.engine.estimateAge(image, face));
      return threshold === undefined ? { face, age } : { face, age, aboveThreshold: age >= threshold };
    }));
  }

  async consistency(document: ImageSource, selfie: ImageSource, tenantId: string, maxDifference = DEFAULT_MAX_AGE_DIFFERENCE): Promise<AgeConsistency> {
    const [doc, self] = await Promise.all([this.estimate(document, tenantId, undefined, 'document'), this.estimate(selfie, tenantId, undefined, 'selfie')]);
    if (doc.length === 0) throw new FaceproofError('no_face_detected', 'no face was found in the document image', 'document');
    if (self.length === 0) throw new FaceproofError('no_face_detected', 'no face was found in the selfie image', 'selfie');
    const difference = round1(self[0].age - doc[0].age);
    return { documentAge: doc[0].age, selfieAge: self[0].age, difference, maxDifference, verdict: Math.abs(difference) <= maxDifference ? 'age_match' : 'age_not_match' };
  }
}

const round1 = (v: number) => Math.round(v * 10) / 10;
