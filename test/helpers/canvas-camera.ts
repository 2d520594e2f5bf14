/**
 * A camera made of real frames, for browsers that cannot play a file as their fake camera.
 * Chromium can (--use-file-for-fake-video-capture, test/helpers/fake-camera.ts); Firefox cannot:
 * its fake device (media.navigator.streams.fake) shows a synthetic pattern, no face. Run before the
 * page's own scripts (an init script: puppeteer's evaluateOnNewDocument), this replaces
 * navigator.mediaDevices.getUserMedia only: a request for video gets the stream of a canvas that
 * shows `framesBase64` (JPEGs) in a loop at `fps` frames a second. Everything after getUserMedia —
 * the page's <video>, its frame grabs, MediaRecorder and its encoder — is the browser's own.
 *
 * The function is serialised into the page, so it uses nothing from outside its body.
 */
export function installCanvasCamera(framesBase64: string[], fps: number): void {
  const media = navigator.mediaDevices;
  if (!media || framesBase64.length === 0) return; // not a secure context: the page has no camera API to replace
  let decoded: Promise<ImageBitmap[]> | undefined;
  media.getUserMedia = async function getUserMedia(constraints?: MediaStreamConstraints): Promise<MediaStream> {
    // Like a device with a camera and no microphone.
    if (!constraints?.video || constraints.audio) throw new DOMException('The canvas camera has video only', 'NotFoundError');
    decoded ??= Promise.all(framesBase64.map((b64) => createImageBitmap(new Blob([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], { type: 'image/jpeg' }))));
    const images = await decoded;
    const canvas = document.createElement('canvas');
    canvas.width = images[0].width;
    canvas.height = images[0].height;
    const context = canvas.getContext('2d')!;
    let shown = 0;
    function next() { context.drawImage(images[shown++ % images.length], 0, 0); }
    next();
    const timer = setInterval(next, 1000 / fps);
    const stream = canvas.captureStream(fps);
    for (const track of stream.getTracks()) {
      // Stopping the camera's track (the page does, when it is done) also stops the drawing.
      const stop = track.stop.bind(track);
      track.stop = () => { clearInterval(timer); stop(); };
    }
    return stream;
  };
}
