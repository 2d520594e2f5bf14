import type { DecodeLimits, DecodedImage, ImageHeader } from '../engine/image/decode.ts';
import { decodeBase64, inspectImage, loadImage, type ImageSource } from './image-input.ts';
import type { ImageStore } from './image-store.ts';

/** Pixels of an inline or stored image; a stored one must belong to the tenant. */
export class ImageLoader {
  constructor(private readonly limits: DecodeLimits, private readonly images: ImageStore) {}

  async load(source: ImageSource, tenantId: string, field: string): Promise<DecodedImage> {
    if (source.kind !== 'stored') return loadImage(source, this.limits, field);
    const { bytes } = await this.images.read(tenantId, source.imageId, `${field}.image_id`);
    return loadImage({ kind: 'bytes', data: bytes }, this.limits, field);
  }

  /** The image's bytes once its header has passed the server's limits (for readers that decode it their own way). */
  async bytesOf(source: ImageSource, tenantId: string, field: string): Promise<Buffer> {
    const bytes = source.kind === 'stored' ? (await this.images.read(tenantId, source.imageId, `${field}.image_id`)).bytes
      : source.kind === 'base64' ? decodeBase64(source.data, field) : source.data;
    await inspectImage({ kind: 'bytes', data: bytes }, this.limits, field);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** What the image's header says (container, size, bytes), for an API whose own limits are narrower than the server's. */
  async inspect(source: ImageSource, tenantId: string, field: string): Promise<ImageHeader> {
    if (source.kind !== 'stored') return inspectImage(source, this.limits, field);
    const { bytes } = await this.images.read(tenantId, source.imageId, `${field}.image_id`);
    return inspectImage({ kind: 'bytes', data: bytes }, this.limits, field);
  }
}
