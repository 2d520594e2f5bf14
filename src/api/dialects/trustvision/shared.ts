import { Type } from '@sinclair/typebox';
import { FaceproofError } from '../../../core/errors.ts';
import type { ImageSource } from '../../../core/image-input.ts';
import { TrustVisionErrorItem } from './descriptor.ts';

/** The `errors` a 200 answer with status "failure" carries (an operation's own failure codes). */
export const Failure = { errors: Type.Optional(Type.Array(TrustVisionErrorItem)) };

/** The manual's ImageData as core's image source: a stored image (`id`, which wins) or an inline one (`base64`). */
export function imageSourceOf(image: { id?: string; base64?: string } | undefined, field: string): ImageSource {
  if (image?.id !== undefined) return { kind: 'stored', imageId: image.id };
  if (image?.base64 !== undefined) return { kind: 'base64', data: image.base64 };
  throw FaceproofError.missing(`${field}.id or ${field}.base64 is required`, field);
}
