/** Shared pieces of the console: the signed-in client, images with their faces drawn, inputs, errors. */
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { apiKey, createFaceproofClient, FaceproofApiError, ok, type FaceproofClient } from '@faceproof/client';

const KEY = 'faceproof.apiKey';

/** The API key of this tab (sessionStorage: gone when the tab closes, never in a URL). */
export const storedKey = () => sessionStorage.getItem(KEY);
export const storeKey = (key: string | null) => (key ? sessionStorage.setItem(KEY, key) : sessionStorage.removeItem(KEY));

export const clientFor = (key: string): FaceproofClient => createFaceproofClient({ baseUrl: location.origin, auth: apiKey(key) });

/** A File as base64 (for JSON bodies). */
export async function base64Of(file: Blob): Promise<string> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export const errorText = (err: unknown) => (err instanceof FaceproofApiError ? `${err.message}${err.field ? ` (field: ${err.field})` : ''}` : err instanceof Error ? err.message : String(err));

export const ErrorBox = ({ error }: { error: unknown }) => (error ? html`<p class="error" role="alert">${errorText(error)}</p>` : null);

export const fmtFar = (far: number) => (far === 0 ? '0' : far < 0.001 ? far.toExponential(2) : far.toPrecision(3));

export interface Box { x: number; y: number; width: number; height: number }
export interface DrawnFace { box: Box; landmarks?: Record<string, number[]>; highlight?: boolean; label?: string; bad?: boolean }

/** An image with each face boxed (the highlighted ones thicker), landmarks as dots, in image pixels. */
export function FaceImage({ file, faces, alt }: { file: Blob; faces: DrawnFace[]; alt: string }) {
  const [url, setUrl] = useState<string>();
  const [size, setSize] = useState<{ w: number; h: number }>();
  useEffect(() => {
    const u = URL.createObjectURL(file);
    setUrl(u);
    return () => URL.revokeObjectURL(u);
  }, [file]);
  if (!url) return null;
  return html`<figure class="face-image">
    <img src=${url} alt=${alt} onLoad=${(e: Event) => { const i = e.target as HTMLImageElement; setSize({ w: i.naturalWidth, h: i.naturalHeight }); }} />
    ${size && html`<svg viewBox=${`0 0 ${size.w} ${size.h}`} preserveAspectRatio="xMidYMid meet" aria-hidden="true">
      ${faces.map((f) => html`<g class=${`face${f.highlight ? ' chosen' : ''}${f.bad ? ' bad' : ''}`}>
        <rect x=${f.box.x} y=${f.box.y} width=${f.box.width} height=${f.box.height} style=${`stroke-width:${Math.max(2, size.w / (f.highlight ? 150 : 300))}px`} />
        ${Object.values(f.landmarks ?? {}).map(([x, y]) => html`<circle cx=${x} cy=${y} r=${Math.max(2, size.w / 250)} />`)}
        ${f.label && html`<text x=${f.box.x} y=${Math.max(f.box.y - size.w / 100, size.w / 40)} style=${`font-size:${Math.max(12, size.w / 35)}px`}>${f.label}</text>`}
      </g>`)}
    </svg>`}
    <figcaption>${faces.length} face${faces.length === 1 ? '' : 's'}${faces.some((f) => f.highlight) ? ', the compared one outlined thicker' : ''}</figcaption>
  </figure>`;
}

/** A labelled photo picker that also takes a dropped file. */
export function PhotoInput({ id, label, multiple, onFiles }: { id: string; label: string; multiple?: boolean; onFiles: (files: File[]) => void }) {
  const [over, setOver] = useState(false);
  return html`<div class=${`drop${over ? ' over' : ''}`}
      onDragOver=${(e: DragEvent) => { e.preventDefault(); setOver(true); }} onDragLeave=${() => setOver(false)}
      onDrop=${(e: DragEvent) => { e.preventDefault(); setOver(false); const fs = [...(e.dataTransfer?.files ?? [])]; if (fs.length) onFiles(fs); }}>
    <label for=${id}>${label}</label>
    <input id=${id} type="file" accept="image/jpeg,image/png,image/webp" multiple=${multiple} onChange=${(e: Event) => onFiles([...((e.target as HTMLInputElement).files ?? [])])} />
  </div>`;
}

/** Where a score sits between 0 and 1, with the uncertain and match thresholds marked. */
export function ScoreScale({ score, uncertain, match }: { score: number; uncertain: number; match: number }) {
  const pct = (v: number) => `${(Math.min(1, Math.max(0, v)) * 100).toFixed(1)}%`;
  return html`<figure class="scale" aria-label=${`score ${score.toFixed(4)} on a scale from 0 to 1; uncertain from ${uncertain.toFixed(3)}, match from ${match.toFixed(3)}`}>
    <svg viewBox="0 0 100 14" preserveAspectRatio="none" aria-hidden="true">
      <rect class="no_match" x="0" y="4" width=${uncertain * 100} height="6" />
      <rect class="uncertain" x=${uncertain * 100} y="4" width=${(match - uncertain) * 100} height="6" />
      <rect class="match" x=${match * 100} y="4" width=${(1 - match) * 100} height="6" />
    </svg>
    <span class="marker" style=${`left:${pct(score)}`}></span>
    <figcaption><span>0</span><span style=${`left:${pct(uncertain)}`}>uncertain ${uncertain.toFixed(3)}</span><span style=${`left:${pct(match)}`}>match ${match.toFixed(3)}</span><span>1</span></figcaption>
  </figure>`;
}

/** A definition list of a record's fields. */
export const Facts = ({ items }: { items: Array<[string, unknown]> }) => html`<dl class="facts">${items.filter(([, v]) => v !== undefined).map(([k, v]) => html`<dt>${k}</dt><dd>${typeof v === 'object' ? html`<pre>${JSON.stringify(v, null, 2)}</pre>` : String(v)}</dd>`)}</dl>`;

/**
 * The shipped calibration curve (similarity → false-accept rate, from GET /v1/capabilities' table, FAR
 * on a log scale), the two thresholds, and where one result sits on it. Similarity, not score, on
 * the x axis: the score is −log10(FAR)/6 by construction, so against it the curve is a straight line.
 */
export function FarCurve({ table, similarity, far, match, uncertain }: { table: Array<{ similarity: number; far: number }>; similarity: number; far: number; match: number; uncertain: number }) {
  const W = 320, H = 180, L = 44, B = 28, T = 8, R = 8;
  const minLog = -6.5;
  const sims = [...table.map((p) => p.similarity), similarity];
  const lo = Math.max(-1, Math.floor((Math.min(...sims) - 0.1) * 10) / 10), hi = Math.min(1, Math.ceil((Math.max(...sims) + 0.05) * 10) / 10);
  const x = (v: number) => L + ((Math.min(hi, Math.max(lo, v)) - lo) / (hi - lo)) * (W - L - R);
  const y = (f: number) => T + (Math.max(minLog, Math.log10(Math.max(f, 10 ** minLog))) / minLog) * (H - T - B);
  const line = [...table].sort((a, b) => a.similarity - b.similarity).map((p) => `${x(p.similarity).toFixed(1)},${y(p.far).toFixed(1)}`).join(' ');
  const ticks = Array.from({ length: Math.round((hi - lo) * 10) + 1 }, (_, i) => Number((lo + i * 0.1).toFixed(1))).filter((_, i, all) => all.length <= 6 || i % 2 === 0);
  return html`<figure class="far-curve">
    <svg viewBox=${`0 0 ${W} ${H}`} role="img" aria-label=${`Calibration curve: false-accept rate against similarity. This pair: similarity ${similarity.toFixed(3)}, FAR ${fmtFar(far)}; uncertain from similarity ${uncertain.toFixed(3)}, match from ${match.toFixed(3)}.`}>
      ${[0, -1, -2, -3, -4, -5, -6].map((e) => html`<g class="grid"><line x1=${L} x2=${W - R} y1=${y(10 ** e)} y2=${y(10 ** e)} /><text x=${L - 4} y=${y(10 ** e) + 4} text-anchor="end">${e === 0 ? '1' : `1e${e}`}</text></g>`)}
      ${ticks.map((v) => html`<text class="tick" x=${x(v)} y=${H - B + 14} text-anchor="middle">${v}</text>`)}
      <text class="axis" x=${(L + W - R) / 2} y=${H - 2} text-anchor="middle">similarity</text>
      <line class="thr uncertain" x1=${x(uncertain)} x2=${x(uncertain)} y1=${T} y2=${H - B} />
      <line class="thr match" x1=${x(match)} x2=${x(match)} y1=${T} y2=${H - B} />
      <polyline class="curve" points=${line} />
      <circle class="here" cx=${x(similarity)} cy=${y(far)} r="5" />
    </svg>
    <figcaption>False-accept rate (log scale) against similarity, from the shipped calibration table (impostor pairs); amber: uncertain threshold, green: match threshold; the dot: this pair.</figcaption>
  </figure>`;
}

/**
 * The webcam as a photo source: *Use the webcam* opens it (getUserMedia, front camera), the preview
 * is mirrored like a mirror, and *Take photo* hands one unmirrored frame (JPEG, ≤ 1280 px wide) to
 * `onFrame` as a File, which then goes to the same routes as a picked photo. The camera is closed
 * after the shot, on *Close camera* and when the page leaves.
 */
export function WebcamShot({ id, onFrame }: { id: string; onFrame: (file: File) => void }) {
  const [stream, setStream] = useState<MediaStream>();
  const [error, setError] = useState<string>();
  const [video, setVideo] = useState<HTMLVideoElement | null>(null);
  const stop = (s = stream) => { s?.getTracks().forEach((t) => t.stop()); setStream(undefined); };
  useEffect(() => () => stream?.getTracks().forEach((t) => t.stop()), [stream]);
  useEffect(() => { if (video && stream) { video.srcObject = stream; void video.play().catch(() => undefined); } }, [video, stream]);
  const open = async () => {
    setError(undefined);
    try {
      if (!navigator.mediaDevices?.getUserMedia) throw new Error('this browser offers no camera (getUserMedia)');
      setStream(await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'user', width: { ideal: 1280 }, height: { ideal: 720 } }, audio: false }));
    } catch (err) { setError(`No camera: ${err instanceof Error ? err.message : String(err)}. Pick a photo instead.`); }
  };
  const take = async () => {
    if (!video || !video.videoWidth) { setError('The camera shows no picture yet'); return; }
    const scale = Math.min(1, 1280 / video.videoWidth);
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    canvas.getContext('2d')!.drawImage(video, 0, 0, canvas.width, canvas.height);
    const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.9));
    if (!blob) { setError('The camera gave no frame'); return; }
    stop();
    onFrame(new File([blob], `webcam-${new Date().toISOString().replace(/[:.]/g, '-')}.jpg`, { type: 'image/jpeg' }));
  };
  return html`<div class="webcam">
    ${stream
      ? html`<video id=${id} class="webcam-preview" ref=${setVideo} muted playsinline aria-label="Webcam preview (mirrored)"></video>
        <div class="buttons"><button type="button" onClick=${take}>Take photo</button><button type="button" onClick=${() => stop()}>Close camera</button></div>`
      : html`<button type="button" onClick=${open}>Use the webcam</button>`}
    ${error && html`<p class="error" role="alert">${error}</p>`}
  </div>`;
}

/** A small picture of a photo (a blob), its object URL revoked when it goes. */
export function Thumb({ file, alt }: { file: Blob; alt: string }) {
  const [url, setUrl] = useState<string>();
  useEffect(() => { const u = URL.createObjectURL(file); setUrl(u); return () => URL.revokeObjectURL(u); }, [file]);
  return url ? html`<figure class="shot"><img src=${url} alt=${alt} /></figure>` : null;
}

const storedImages = new Map<string, Promise<ImageBitmap>>();
/** Face records by collection and face id, read once per page load: a watch-list's history names the same face in many rows. */
const faceRecords = new Map<string, Promise<{ box?: Box | null }>>();

/**
 * A search candidate's face, cut from the stored image it was indexed from (GET /v1/images/{id},
 * the face's box from GET /v1/collections/{name}/faces/{face_id}, a margin of a third around it), or,
 * for a face indexed from a photo that was not kept (no image_id) or an image gone since, a
 * placeholder with its initials and external id. Each stored image is fetched once per page load.
 */
export function CandidateThumb({ fp, hit }: { fp: FaceproofClient; hit: { face_id: string; external_id?: string | null; collection?: string; image_id?: string | null } }) {
  const [src, setSrc] = useState<string | null>();
  const name = hit.external_id ?? hit.face_id;
  useEffect(() => {
    let live = true;
    if (!hit.image_id || !hit.collection) { setSrc(null); return; }
    const id = hit.image_id;
    if (!storedImages.has(id)) {
      storedImages.set(id, fp.GET('/v1/images/{id}', { params: { path: { id } }, parseAs: 'blob' })
        .then((r) => { if (!r.data) throw new Error(`image ${id}: ${r.response.status}`); return createImageBitmap(r.data as Blob); }));
      storedImages.get(id)!.catch(() => storedImages.delete(id));
    }
    const faceKey = JSON.stringify([hit.collection, hit.face_id]);
    if (!faceRecords.has(faceKey)) {
      faceRecords.set(faceKey, fp.GET('/v1/collections/{name}/faces/{face_id}', { params: { path: { name: hit.collection, face_id: hit.face_id } } }).then(ok));
      faceRecords.get(faceKey)!.catch(() => faceRecords.delete(faceKey));
    }
    Promise.all([storedImages.get(id)!, faceRecords.get(faceKey)!])
      .then(([bitmap, face]) => {
        const b = (face as { box?: Box | null }).box ?? { x: 0, y: 0, width: bitmap.width, height: bitmap.height };
        const side = Math.max(b.width, b.height) * 1.33;
        const sx = Math.max(0, b.x + b.width / 2 - side / 2), sy = Math.max(0, b.y + b.height / 2 - side / 2);
        const canvas = document.createElement('canvas');
        canvas.width = canvas.height = 96;
        canvas.getContext('2d')!.drawImage(bitmap, sx, sy, Math.min(side, bitmap.width - sx), Math.min(side, bitmap.height - sy), 0, 0, 96, 96);
        if (live) setSrc(canvas.toDataURL('image/jpeg', 0.85));
      }, () => { if (live) setSrc(null); });
    return () => { live = false; };
  }, [hit.face_id, hit.image_id]);
  if (src) return html`<img class="thumb" src=${src} width="48" height="48" alt=${`Face of ${name}, from its stored image`} />`;
  const initials = name.replace(/[^A-Za-z0-9]+/g, ' ').trim().split(' ').slice(0, 2).map((w) => w[0]?.toUpperCase()).join('') || '?';
  return html`<span class="thumb placeholder" role="img" aria-label=${src === null ? `No stored image of ${name}` : `Loading the face of ${name}`} title=${name}>${src === null ? initials : '…'}</span>`;
}
