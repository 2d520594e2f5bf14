import { spawn } from 'node:child_process';
import sharp from 'sharp';
import { ffmpegPath } from '../../src/engine/video/video-frames.ts';

/** Encodes JPEG frames into an H.264 MP4 with the ffmpeg binary from npm, `fps` frames a second. */
export function encodeClip(frames: Buffer[], fps: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const args = ['-hide_banner', '-loglevel', 'error', '-f', 'image2pipe', '-framerate', String(fps), '-c:v', 'mjpeg', '-i', 'pipe:0',
      '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-vf', 'scale=trunc(iw/2)*2:trunc(ih/2)*2', '-movflags', 'frag_keyframe+empty_moov', '-f', 'mp4', 'pipe:1'];
    const child = spawn(ffmpegPath(), args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`ffmpeg failed: ${err}`))));
    for (const f of frames) child.stdin.write(f);
    child.stdin.end();
  });
}

/** Frames of one real photo drifting a few pixels, as a hand-held phone would. */
export async function drift(image: Buffer, frames: number): Promise<Buffer[]> {
  const meta = await sharp(image).metadata();
  return Promise.all(Array.from({ length: frames }, (_, i) => sharp(image)
    .extract({ left: 8 + Math.round(6 * Math.sin(i / 2)), top: 8 + (i % 3), width: meta.width! - 24, height: meta.height! - 24 }).jpeg({ quality: 90 }).toBuffer()));
}
