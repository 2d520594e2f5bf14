/** Float32 vectors as little-endian BLOBs (the platform's order on every supported CPU). */
export function vectorToBlob(vector: Float32Array): Buffer {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
}

export function blobToVector(blob: Buffer): Float32Array {
  // A copy: SQLite's buffer need not be 4-byte aligned.
  const out = new Float32Array(blob.byteLength / 4);
  new Uint8Array(out.buffer).set(blob);
  return out;
}

export const jsonOrNull = (value: unknown): string | null => (value === null || value === undefined ? null : JSON.stringify(value));
export const parseOrNull = <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T));
