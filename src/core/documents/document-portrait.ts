import type { ReadDocumentView } from './document-reading.ts';

/**
 * The document's portrait cut from its straightened page, with a margin of half its size on every
 * side (the face engine needs some context around a face), as PNG; null when the document has no
 * portrait. What a caller enrols from when the face it wants is the document's and not the largest
 * face of the photo (a photo of someone holding their card shows two faces).
 */
export async function documentPortraitPng(d: ReadDocumentView): Promise<Buffer | null> {
  if (!d.portrait) return null;
  const { default: sharp } = await import('sharp');
  const box = d.portrait.page_box;
  const W = d.page.width, H = d.page.height;
  const left = Math.max(0, Math.floor(box.x - box.width / 2));
  const top = Math.max(0, Math.floor(box.y - box.height / 2));
  const width = Math.min(W - left, Math.ceil(box.width * 2));
  const height = Math.min(H - top, Math.ceil(box.height * 2));
  if (width < 8 || height < 8) return null;
  return sharp(d.page.image).extract({ left, top, width, height }).png().toBuffer();
}
