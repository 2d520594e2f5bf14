/**
 * <faceproof-capture>: browser capture with the server's challenge–response liveness.
 *
 * Opens the front camera, guides the user into the oval with the server's quality verdicts
 * (POST /v1/quality), draws a challenge (POST /v1/liveness/challenges) unless the page gives one,
 * shows each gesture while recording the camera (MediaRecorder), sends the recording
 * (POST /v1/liveness/challenges/{id}/verify) and hands the server's signed outcome to the page as a
 * `faceproof-result` event. Without a camera (none, refused, or no getUserMedia) it offers a video
 * file instead (on a phone, `capture="user"` opens the camera app).
 *
 * Credentials: set the `token` property (never an attribute, so it is not in the DOM or a URL) to a
 * short-lived bearer token your backend mints with POST /v1/auth/token and only the `liveness`
 * (and, for the guidance, `quality`) scopes. No dependency, no network other than the server.
 */
import type { paths } from '@faceproof/client';

type Json<P extends keyof paths, M extends 'post'> = paths[P][M] extends { responses: { 200: { content: { 'application/json': infer R } } } } ? R
  : paths[P][M] extends { responses: { 201: { content: { 'application/json': infer R } } } } ? R : never;
export type ChallengeOutcome = Json<'/v1/liveness/challenges/{challenge_id}/verify', 'post'>;
export type Challenge = Pick<Json<'/v1/liveness/challenges', 'post'>, 'challenge_id' | 'nonce' | 'gestures'> & { expires_at?: string };
type QualityReport = Json<'/v1/quality', 'post'>;

export type CaptureState = 'idle' | 'starting' | 'guiding' | 'challenge' | 'recording' | 'verifying' | 'done' | 'fallback' | 'error';

/** What each quality verdict asks of the user. */
export const GUIDANCE: Record<string, string> = {
  image_has_no_faces: 'Put your face in the oval',
  image_has_multiple_faces: 'Only one face in the picture, please',
  face_too_small: 'Come closer to the camera',
  face_too_big: 'Move back a little',
  image_too_dark: 'Too dark: find more light',
  face_too_dark: 'Your face is too dark: face the light',
  image_too_bright: 'Too bright: move away from the light',
  face_too_bright: 'Your face is too bright: avoid direct light',
  image_compressed: 'Hold still',
  image_too_blur: 'The picture is blurred: hold still',
  face_tilted: 'Hold your head straight',
  left: 'Look straight at the camera',
  right: 'Look straight at the camera',
  up: 'Look straight at the camera',
  down: 'Look straight at the camera',
  sunglasses: 'Take off your sunglasses',
  closed_eye: 'Open your eyes',
  face_occluded: 'Uncover your face',
  off_centre: 'Move your face into the oval',
  good: 'Hold still…',
};

/** Each gesture in the subject's own directions (the preview is mirrored, so "left" is on screen left). */
export const GESTURES: Record<string, { text: string; arrow: string }> = {
  turn_left: { text: 'Turn your head to your left', arrow: '←' },
  turn_right: { text: 'Turn your head to your right', arrow: '→' },
  look_up: { text: 'Look up', arrow: '↑' },
  look_down: { text: 'Look down', arrow: '↓' },
  blink: { text: 'Blink slowly', arrow: '◉' },
};

const STYLE = `
:host { display: block; max-width: 480px; font: 16px/1.5 system-ui, sans-serif; color: var(--faceproof-fg, #1b1f24); }
.stage { position: relative; background: #000; border-radius: 12px; overflow: hidden; aspect-ratio: 4 / 3; }
.stage[hidden] { display: none; }
video { width: 100%; height: 100%; object-fit: cover; transform: scaleX(-1); display: block; }
.oval { position: absolute; left: 30%; top: 11.7%; width: 40%; height: 73.3%; border-radius: 50%; border: 3px solid #fff; box-shadow: 0 0 0 100vmax rgba(0, 0, 0, .5); }
.oval.ok { border-color: #2ecc71; }
.prompt { position: absolute; left: 0; right: 0; bottom: 0; margin: 0; padding: 10px 12px; background: rgba(0, 0, 0, .7); color: #fff; font-size: 1.15rem; font-weight: 600; text-align: center; }
.arrow { position: absolute; top: 4%; left: 0; right: 0; text-align: center; font-size: 4rem; color: #fff; text-shadow: 0 0 8px #000; margin: 0; }
.arrow:empty { display: none; }
.steps { display: flex; gap: 6px; list-style: none; padding: 0; margin: 8px 0; flex-wrap: wrap; }
.steps li { padding: 2px 8px; border-radius: 10px; background: var(--faceproof-panel, #eef1f4); font-size: .9rem; }
.steps li.now { background: var(--faceproof-accent, #0b57d0); color: #fff; } .steps li.done { text-decoration: line-through; }
button { font: inherit; padding: 8px 16px; min-height: 44px; border-radius: 6px; border: 1px solid var(--faceproof-accent, #0b57d0); background: var(--faceproof-accent, #0b57d0); color: #fff; cursor: pointer; margin: 8px 8px 0 0; }
button:disabled { background: #8a96a3; border-color: #8a96a3; cursor: not-allowed; }
button:focus-visible, input:focus-visible { outline: 3px solid var(--faceproof-accent, #0b57d0); outline-offset: 2px; }
.status { margin: 8px 0; min-height: 1.5em; }
.status.ok { color: #116329; font-weight: 600; } .status.bad { color: #b3261e; font-weight: 600; }
.fallback[hidden] { display: none; }
label { display: block; font-weight: 600; margin: 8px 0 4px; }
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function blobToBase64(blob: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ''));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

/** An error from the server or the browser, with a code the page can act on. */
export class CaptureError extends Error {
  constructor(public readonly code: string, message: string, public readonly status?: number) { super(message); }
}

export class FaceproofCapture extends HTMLElement {
  static observedAttributes = ['server'];

  /** A bearer token (or API key) for the server; set by the page, never an attribute. */
  token?: string;
  /** A challenge drawn by the integrator's backend (challenge_id, nonce, gestures); else the element draws one. */
  challenge?: Challenge;
  /** The last outcome (also the detail of `faceproof-result`). */
  result?: ChallengeOutcome;
  state: CaptureState = 'idle';

  private readonly root: ShadowRoot;
  private readonly video: HTMLVideoElement;
  private readonly stage: HTMLDivElement;
  private readonly ovalEl: HTMLDivElement;
  private readonly promptEl: HTMLParagraphElement;
  private readonly arrowEl: HTMLParagraphElement;
  private readonly stepsEl: HTMLOListElement;
  private readonly statusEl: HTMLParagraphElement;
  private readonly startButton: HTMLButtonElement;
  private readonly fallbackEl: HTMLDivElement;
  private readonly fileInput: HTMLInputElement;
  private stream?: MediaStream;
  private aborted = false;

  constructor() {
    super();
    this.root = this.attachShadow({ mode: 'open' });
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(STYLE);
    this.root.adoptedStyleSheets = [sheet];
    const el = <K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> & Record<string, unknown> = {}, parent: Node = this.root) => {
      const e = document.createElement(tag);
      Object.assign(e, props);
      parent.appendChild(e);
      return e;
    };
    this.stage = el('div', { className: 'stage', hidden: true });
    this.stage.setAttribute('part', 'stage');
    this.video = el('video', { muted: true, autoplay: true, playsInline: true }, this.stage);
    this.video.setAttribute('aria-label', 'Your camera');
    this.ovalEl = el('div', { className: 'oval' }, this.stage);
    this.ovalEl.setAttribute('aria-hidden', 'true');
    this.arrowEl = el('p', { className: 'arrow' }, this.stage);
    this.arrowEl.setAttribute('aria-hidden', 'true');
    this.promptEl = el('p', { className: 'prompt' }, this.stage);
    this.promptEl.setAttribute('aria-live', 'assertive');
    this.stepsEl = el('ol', { className: 'steps' });
    this.stepsEl.setAttribute('aria-label', 'Gestures to perform');
    this.statusEl = el('p', { className: 'status', role: 'status' });
    this.statusEl.setAttribute('aria-live', 'polite');
    this.startButton = el('button', { type: 'button', textContent: 'Start face check' });
    this.startButton.setAttribute('part', 'start');
    this.startButton.addEventListener('click', () => { void this.start(); });
    this.fallbackEl = el('div', { className: 'fallback', hidden: true });
    el('label', { htmlFor: 'fp-video-file', textContent: 'Record or choose a short video of yourself doing the gestures above' }, this.fallbackEl);
    this.fileInput = el('input', { type: 'file', id: 'fp-video-file', accept: 'video/*', disabled: true }, this.fallbackEl);
    this.fileInput.setAttribute('capture', 'user');
    this.fileInput.addEventListener('change', () => { const f = this.fileInput.files?.[0]; if (f) void this.sendFile(f); });
  }

  /** The server's origin: the `server` attribute, else the origin of the page. */
  get server(): string {
    return (this.getAttribute('server') ?? location.origin).replace(/\/+$/, '');
  }
  private get securityLevel() { return this.getAttribute('security-level') ?? undefined; }
  private get qualityProfile() { return this.getAttribute('quality-profile') ?? 'selfie_mobile'; }
  private get gestureMs() { return Math.max(1, Number(this.getAttribute('gesture-seconds') ?? 2)) * 1000; }

  disconnectedCallback(): void { this.stop(); }

  /** Stops the camera and any check in progress. */
  stop(): void {
    this.aborted = true;
    this.stream?.getTracks().forEach((t) => t.stop());
    this.stream = undefined;
  }

  private setState(state: CaptureState, message?: string, tone?: 'ok' | 'bad') {
    this.state = state;
    if (message !== undefined) { this.statusEl.textContent = message; this.statusEl.className = `status${tone ? ` ${tone}` : ''}`; }
    this.dispatchEvent(new CustomEvent('faceproof-state', { detail: { state, message }, bubbles: true, composed: true }));
  }

  private async api<T>(path: string, body: unknown): Promise<T> {
    if (!this.token) throw new CaptureError('no_token', 'No access token: the page must set the element\'s token property');
    let res: Response;
    try {
      res = await fetch(`${this.server}${path}`, { method: 'POST', headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    } catch (err) {
      throw new CaptureError('network', `The server cannot be reached: ${(err as Error).message}`);
    }
    const json = await res.json().catch(() => ({}));
    if (!res.ok) throw new CaptureError(json?.error?.code ?? `http_${res.status}`, json?.error?.message ?? `HTTP ${res.status}`, res.status);
    return json as T;
  }

  private fail(err: unknown) {
    const e = err instanceof CaptureError ? err : new CaptureError('error', err instanceof Error ? err.message : String(err));
    this.stop();
    this.stage.hidden = true;
    this.startButton.disabled = false;
    this.startButton.textContent = 'Try again';
    this.setState('error', `Something went wrong: ${e.message}`, 'bad');
    this.dispatchEvent(new CustomEvent('faceproof-error', { detail: { code: e.code, message: e.message, status: e.status }, bubbles: true, composed: true }));
  }

  private showSteps(gestures: string[], current = -1) {
    this.stepsEl.replaceChildren(...gestures.map((g, i) => {
      const li = document.createElement('li');
      li.textContent = GESTURES[g]?.text ?? g;
      if (i === current) { li.className = 'now'; li.setAttribute('aria-current', 'step'); } else if (i < current) li.className = 'done';
      return li;
    }));
  }

  /** Runs the whole check: camera, guidance, challenge, recording, verification. */
  async start(): Promise<void> {
    this.aborted = false;
    this.result = undefined;
    this.startButton.disabled = true;
    this.setState('starting', 'Opening the camera…');
    try {
      if (!this.token) throw new CaptureError('no_token', 'No access token: the page must set the element\'s token property');
      try {
        if (!navigator.mediaDevices?.getUserMedia) throw new Error('no getUserMedia');
        this.stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'user', width: { ideal: 1280 }, height: { ideal: 720 } }, audio: false });
      } catch (err) {
        return await this.fallback(`No camera available (${(err as Error).name || (err as Error).message}).`);
      }
      this.video.srcObject = this.stream;
      this.stage.hidden = false;
      await this.video.play().catch(() => undefined);
      await this.whenVideoReady();
      await this.guide();
      const challenge = this.challenge ?? await this.api<Challenge>('/v1/liveness/challenges', {});
      this.challenge = undefined; // a challenge is answered once
      const recording = await this.record(challenge.gestures);
      await this.verify(challenge, recording);
    } catch (err) {
      if (!this.aborted || err instanceof CaptureError) this.fail(err);
    }
  }

  private async whenVideoReady() {
    for (let i = 0; i < 100 && !(this.video.videoWidth > 0 && this.video.readyState >= 2); i++) await sleep(50);
    if (!this.video.videoWidth) throw new CaptureError('camera_error', 'The camera gives no picture');
  }

  private frameBlob(maxWidth = 960): Promise<Blob> {
    const scale = Math.min(1, maxWidth / this.video.videoWidth);
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(this.video.videoWidth * scale);
    canvas.height = Math.round(this.video.videoHeight * scale);
    canvas.getContext('2d')!.drawImage(this.video, 0, 0, canvas.width, canvas.height);
    return new Promise((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new CaptureError('camera_error', 'No frame'))), 'image/jpeg', 0.88));
  }

  /** Asks the server's quality verdict on camera frames until one is good with the face in the oval. */
  private async guide() {
    this.setState('guiding', 'Position your face in the oval');
    for (;;) {
      if (this.aborted) throw new CaptureError('aborted', 'Stopped');
      const started = performance.now();
      const blob = await this.frameBlob();
      let report: QualityReport;
      try {
        report = await this.api<QualityReport>('/v1/quality', { image: { base64: await blobToBase64(blob) }, profile: this.qualityProfile });
      } catch (err) {
        if (err instanceof CaptureError && err.status === 403) { this.promptEl.textContent = 'Look straight at the camera'; await sleep(1000); return; } // no quality scope: no guidance
        throw err;
      }
      const face = report.faces[0];
      let verdict: string = report.verdict;
      if (face && verdict === 'good') {
        // The face's centre within the oval (the oval spans 40 % of the width and 73 % of the height, centred).
        const { width, height } = report.image as { width: number; height: number };
        const cx = (face.box.x + face.box.width / 2) / width - 0.5;
        const cy = (face.box.y + face.box.height / 2) / height - 0.483;
        if ((cx / 0.2) ** 2 + (cy / 0.367) ** 2 > 0.5) verdict = 'off_centre';
      }
      const ok = verdict === 'good';
      this.ovalEl.setAttribute('class', ok ? 'oval ok' : 'oval');
      this.promptEl.textContent = GUIDANCE[verdict] ?? verdict.replace(/_/g, ' ');
      this.dispatchEvent(new CustomEvent('faceproof-guidance', { detail: { verdict, reasons: face?.reasons ?? [report.verdict] }, bubbles: true, composed: true }));
      if (ok) return;
      await sleep(Math.max(0, 400 - (performance.now() - started)));
    }
  }

  /** Records the camera while each gesture is shown in turn; resolves with the recording. */
  private async record(gestures: string[]): Promise<Blob> {
    const type = ['video/webm;codecs=vp8', 'video/webm', 'video/mp4'].find((t) => MediaRecorder.isTypeSupported(t));
    const recorder = new MediaRecorder(this.stream!, type ? { mimeType: type, videoBitsPerSecond: 2_500_000 } : undefined);
    const chunks: Blob[] = [];
    recorder.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
    const stopped = new Promise<void>((resolve) => { recorder.onstop = () => resolve(); });
    this.showSteps(gestures);
    this.setState('recording', 'Follow the instructions on the picture');
    recorder.start(250);
    this.promptEl.textContent = 'Look straight at the camera';
    await sleep(1000);
    for (let i = 0; i < gestures.length; i++) {
      if (this.aborted) break;
      const g = GESTURES[gestures[i]] ?? { text: gestures[i], arrow: '' };
      this.showSteps(gestures, i);
      this.promptEl.textContent = `${g.text} — then back`;
      this.arrowEl.textContent = g.arrow;
      await sleep(this.gestureMs);
    }
    this.arrowEl.textContent = '';
    this.showSteps(gestures, gestures.length);
    recorder.stop();
    await stopped;
    this.stop();
    this.aborted = false;
    return new Blob(chunks, { type: recorder.mimeType || type || 'video/webm' });
  }

  private async verify(challenge: Challenge, recording: Blob) {
    this.promptEl.textContent = 'Checking…';
    this.setState('verifying', 'Checking…');
    const outcome = await this.api<ChallengeOutcome>(`/v1/liveness/challenges/${encodeURIComponent(challenge.challenge_id)}/verify`, {
      nonce: challenge.nonce, video: { base64: await blobToBase64(recording) }, ...(this.securityLevel ? { security_level: this.securityLevel } : {}),
    });
    this.result = outcome;
    this.stage.hidden = true;
    this.startButton.disabled = false;
    this.startButton.textContent = 'Start again';
    const passed = outcome.status === 'SUCCESS';
    this.setState('done', passed ? 'Done: the check passed' : `The check did not pass (${outcome.status}${outcome.reason ? `: ${outcome.reason.replace(/_/g, ' ')}` : ''})`, passed ? 'ok' : 'bad');
    this.dispatchEvent(new CustomEvent('faceproof-result', { detail: outcome, bubbles: true, composed: true }));
  }

  /** Without a camera: draw the challenge, show its gestures, and take a video file instead. */
  private async fallback(why: string) {
    const challenge = this.challenge ?? await this.api<Challenge>('/v1/liveness/challenges', {});
    this.challenge = challenge;
    this.showSteps(challenge.gestures);
    this.fallbackEl.hidden = false;
    this.fileInput.disabled = false;
    this.startButton.disabled = false;
    this.setState('fallback', `${why} Record a short video (2 to 9 s): look at the camera, then ${challenge.gestures.map((g) => (GESTURES[g]?.text ?? g).toLowerCase()).join(', then ')}.`);
  }

  private async sendFile(file: File) {
    const challenge = this.challenge;
    if (!challenge) return;
    this.challenge = undefined;
    this.fallbackEl.hidden = true;
    this.fileInput.disabled = true;
    this.fileInput.value = '';
    try {
      if (!file.type.startsWith('video/')) throw new CaptureError('not_a_video', 'A video is needed: photos cannot show the gestures');
      await this.verify(challenge, file);
    } catch (err) { this.fail(err); }
  }
}

if (!customElements.get('faceproof-capture')) customElements.define('faceproof-capture', FaceproofCapture);
