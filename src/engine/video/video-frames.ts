import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);

export interface VideoSampling {
  /** Frames taken per second of video. */
  fps: number;
  maxFrames: number;
  /** Longest side of a sampled frame in pixels (larger frames are scaled down by ffmpeg). */
  maxSide: number;
  timeoutMs: number;
}

export interface SampledVideo {
  durationSeconds: number;
  /** PNG bytes of each sampled frame with its time in seconds. */
  frames: Array<{ timestamp: number; png: Uint8Array }>;
}

export class VideoDecodeError extends Error {}

/** The ffmpeg binary that ships inside @ffmpeg-installer's platform package. */
export function ffmpegPath(): string {
  return (require('@ffmpeg-installer/ffmpeg') as { path: string }).path;
}

/**
 * Samples a video (mp4, webm, mov…) into PNG frames with the ffmpeg binary from npm. The clip goes
 * through a temporary file because MP4's index may sit at its end, which a pipe cannot seek to.
 */
export async function sampleVideo(bytes: Uint8Array, sampling: VideoSampling): Promise<SampledVideo> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-video-'));
  const input = path.join(dir, 'clip');
  try {
    fs.writeFileSync(input, bytes);
    const scale = `scale='if(gt(iw,ih),min(${sampling.maxSide},iw),-2)':'if(gt(iw,ih),-2,min(${sampling.maxSide},ih))'`;
    const args = ['-hide_banner', '-nostdin', '-i', input, '-an', '-vf', `fps=${sampling.fps},${scale}`, '-frames:v', String(sampling.maxFrames), '-f', 'image2pipe', '-c:v', 'png', 'pipe:1'];
    const { stdout, stderr } = await run(ffmpegPath(), args, sampling.timeoutMs);
    const duration = /Duration: (\d+):(\d+):(\d+(?:\.\d+)?)/.exec(stderr);
    const pngs = splitPngs(stdout);
    if (pngs.length === 0) throw new VideoDecodeError(`the video could not be decoded: ${lastLine(stderr)}`);
    const durationSeconds = duration ? Number(duration[1]) * 3600 + Number(duration[2]) * 60 + Number(duration[3]) : pngs.length / sampling.fps;
    return { durationSeconds, frames: pngs.map((png, i) => ({ timestamp: i / sampling.fps, png })) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new VideoDecodeError(`decoding the video took longer than ${timeoutMs} ms`)); }, timeoutMs);
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-20_000); });
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', () => { clearTimeout(timer); resolve({ stdout: Buffer.concat(out), stderr: err }); });
  });
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Cuts a stream of concatenated PNG files at each file's IEND chunk. */
export function splitPngs(stream: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  while (start + 8 <= stream.length && stream.subarray(start, start + 8).equals(PNG_SIGNATURE)) {
    let pos = start + 8;
    let ended = false;
    while (pos + 12 <= stream.length) {
      const length = stream.readUInt32BE(pos);
      const type = stream.toString('latin1', pos + 4, pos + 8);
      pos += 12 + length;
      if (type === 'IEND') { ended = true; break; }
    }
    if (!ended) break;
    out.push(stream.subarray(start, pos));
    start = pos;
  }
  return out;
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}
