import sharp from 'sharp';

/** Longest side of a shrunk image, in pixels. */
export const SHRUNK_SIDE = 480;

/**
 * A smaller copy of a stored image for display (iDenFace's `shrunk_image`): JPEG, upright by its
 * EXIF orientation, fitted within SHRUNK_SIDE × SHRUNK_SIDE; an image already that small is
 * re-encoded at its size, never enlarged.
 */
export async function shrinkImage(bytes: Uint8Array, side = SHRUNK_SIDE): Promise<Buffer> {
  return sharp(bytes, { failOn: 'none' }).rotate().resize(side, side, { fit: 'inside', withoutEnlargement: true }).jpeg({ quality: 85 }).toBuffer();
}
