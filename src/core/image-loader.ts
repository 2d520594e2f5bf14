import type { DecodeLimits, DecodedImage } from '../engine/image/decode.ts';
import { loadImage, type ImageSource } from './image-input.ts';
import type { ImageStore } from './image-store.ts';

/** Pixels of an inline or stored image; a stored one must belong to the tenant. */
export class ImageLoader {
  constructor(private readonly limits: DecodeLimits, private readonly images: ImageStore) {}

  async load(source: ImageSource, tenantId: string, field: string): Promise<DecodedImage> {
    if (source.kind !== 'stored') return loadImage(source, this.limits, field);
    const { bytes } = await this.images.read(tenantId, source.imageId, `${field}.image_id`);
    return loadImage({ kind: 'bytes', data: bytes }, this.limits, field);
  }
}
