/**
 * The Audit page's record detail, for a server that keeps raw inputs (FACEPROOF_AUDIT_KEEP_INPUTS):
 * each image the request sent, fetched from the archive by its digest (GET /v1/audit/inputs/{sha256}),
 * its bytes rehashed here against the record, with the faces the answer found (the record's
 * `result.boxes`) drawn over it as the Compare page draws them.
 */
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import type { FaceproofClient } from '@faceproof/client';
import { errorText, FaceImage, type Box } from './ui.ts';

/** One input the record marks kept (`{"sha256", "bytes", "kept": true}`) and where it sat in the request. */
export interface KeptInput {
  /** As in the record: `body.source`, `body.faces[0].image`. */
  path: string;
  /** The named field it was sent in (`source`, `image`), which the answer's fields are named after (`source_face`). */
  field: string;
  sha256: string;
  bytes: number;
}

/** Every kept input of a record's `inputs`, in the order they appear. */
export function keptInputs(value: unknown, path = '', field = ''): KeptInput[] {
  if (!value || typeof value !== 'object') return [];
  if (Array.isArray(value)) return value.flatMap((v, i) => keptInputs(v, `${path}[${i}]`, field));
  const o = value as Record<string, unknown>;
  if (o.kept === true && typeof o.sha256 === 'string') return [{ path, field, sha256: o.sha256, bytes: Number(o.bytes) || 0 }];
  return Object.entries(o).flatMap(([k, v]) => keptInputs(v, path ? `${path}.${k}` : k, k));
}

/**
 * The boxes that belong to one kept input: those of the answer's field named after it (`source` →
 * `source_face`), else, when the request sent one image only, every box of the answer (`faces`,
 * `query_faces`); undefined when several images were sent and the answer does not say which face
 * is in which (a user enrolled with several photos).
 */
export function boxesFor(input: KeptInput, all: KeptInput[], boxes: Record<string, Box[]>): Box[] | undefined {
  const own = boxes[`${input.field}_face`] ?? boxes[`${input.field}_faces`];
  if (own) return own;
  return all.length === 1 ? Object.values(boxes).flat() : undefined;
}

const hex = (buffer: ArrayBuffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, '0')).join('');

function KeptImage({ fp, input, boxes, unplaced }: { fp: FaceproofClient; input: KeptInput; boxes: Box[] | undefined; unplaced: string }) {
  // undefined: loading; null: kept but not a picture (a video, a document page the browser cannot decode).
  const [blob, setBlob] = useState<Blob | null>();
  const [digest, setDigest] = useState<string>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    let live = true;
    setBlob(undefined); setError(undefined); setDigest(undefined);
    fp.GET('/v1/audit/inputs/{sha256}', { params: { path: { sha256: input.sha256 } }, parseAs: 'blob' }).then(async (r) => {
      if (!r.data) throw new Error(`${r.response.status} ${(r.error as { error?: { code?: string } } | undefined)?.error?.code ?? ''}`.trim());
      const data = r.data as Blob;
      // The record names exactly the bytes that were judged: rehashed here, so what is shown is them.
      const sum = hex(await crypto.subtle.digest('SHA-256', await data.arrayBuffer()));
      const picture = await createImageBitmap(data).then((b) => { b.close(); return true; }, () => false);
      if (!live) return;
      setDigest(sum === input.sha256 ? 'the bytes hash to the record\'s SHA-256' : `MISMATCH: the bytes hash to ${sum}`);
      setBlob(picture ? data : null);
    }).catch((err: unknown) => { if (live) setError(errorText(err)); });
    return () => { live = false; };
  }, [input.sha256]);
  const what = `${input.path} (${input.bytes.toLocaleString('en')} bytes)`;
  return html`<div class="kept-input" data-sha256=${input.sha256}>
    <p><strong>${input.path}</strong> — ${error ? html`<span class="error">not available: ${error}</span>` : digest ?? 'loading…'}</p>
    ${blob && html`<${FaceImage} file=${blob} faces=${(boxes ?? []).map((box) => ({ box }))} alt=${`${what}: the kept image, with the faces its answer found boxed`} />`}
    ${blob && !boxes && html`<p class="help">${unplaced}</p>`}
    ${blob === null && html`<p class="help">Kept, but not a picture this browser can show (a video or another file).</p>`}
  </div>`;
}

/** The kept images of one record, each with its faces boxed; nothing when the record has none. */
export function KeptInputs({ fp, record }: { fp: FaceproofClient; record: { inputs: unknown; result: Record<string, unknown> } }) {
  const inputs = keptInputs(record.inputs);
  if (!inputs.length) return null;
  // A record without `boxes` found no face, or was written before answers' boxes were recorded: its faces cannot be drawn.
  const boxes = record.result.boxes as Record<string, Box[]> | undefined;
  const unplaced = !boxes ? 'The record holds no face boxes (no face was found, or it was written before boxes were recorded).'
    : 'The answer\'s faces are not placed on this image: the request sent several, and the answer does not say which face is in which.';
  return html`<section class="kept-inputs" aria-label="Kept inputs">
    <h4>Kept input${inputs.length === 1 ? '' : 's'}, as the server received ${inputs.length === 1 ? 'it' : 'them'}</h4>
    <div class="pair-images">${inputs.map((input) => html`<${KeptImage} key=${`${input.path}:${input.sha256}`} fp=${fp} input=${input} boxes=${boxes && boxesFor(input, inputs, boxes)} unplaced=${unplaced} />`)}</div>
  </section>`;
}
