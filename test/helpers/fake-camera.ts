import { spawn } from 'node:child_process';
import { ffmpegPath } from '../../src/engine/video/video-frames.ts';

/** JPEG frames → a Y4M (4:2:0, 640 × 480) for Chromium's --use-file-for-fake-video-capture, with the npm ffmpeg. */
export function y4m(file: string, jpegs: Buffer[], fps: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpegPath(), ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'image2pipe', '-framerate', String(fps), '-c:v', 'mjpeg', '-i', 'pipe:0',
      '-vf', 'scale=640:480', '-pix_fmt', 'yuv420p', '-f', 'yuv4mpegpipe', file], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(file) : reject(new Error(`ffmpeg: ${err}`))));
    for (const f of jpegs) child.stdin.write(f);
    child.stdin.end();
  });
}
