import type { FaceAnalysis } from '../engine/face-engine.ts';
import { FaceproofError } from './errors.ts';
import type { FaceInput } from './face-service.ts';
import type { FaceBox, TemplateModel } from './ports.ts';

/** What stored faces keep of where they came from. */
export function boxOf(face: FaceAnalysis | undefined): FaceBox | null {
  if (!face) return null;
  const r = (v: number) => Math.round(v * 10) / 10;
  return { x: r(face.box.x), y: r(face.box.y), width: r(face.box.width), height: r(face.box.height) };
}

export function storedImageIdOf(input: FaceInput): string | null {
  return input.kind === 'image' && input.source.kind === 'stored' ? input.source.imageId : null;
}

/** A face set holds one model's templates; after a model change it must be re-enrolled, not silently mixed. */
export function assertSameModel(stored: TemplateModel, current: TemplateModel, what: string): void {
  if (stored.modelId !== current.modelId || stored.version !== current.version || stored.dimension !== current.dimension) {
    throw new FaceproofError('template_version_mismatch',
      `this ${what} holds ${stored.modelId} v${stored.version} templates; the server now makes ${current.modelId} v${current.version}: re-enrol its faces`);
  }
}
