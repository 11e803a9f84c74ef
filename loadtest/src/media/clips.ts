import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseAnnexB } from './annexb';
import type { Clip } from './frames';
import { parseIvf } from './ivf';
import { parseOggOpus } from './ogg';

/**
 * The media the synthetic clients publish: short clips encoded once with ffmpeg from its test
 * sources (moving test pattern with noise, so the encoder must spend its bitrate; a sine tone)
 * and cached, since encoding takes seconds and the load test should not pay it on every run.
 */

export type VideoCodec = 'vp8' | 'h264';

export interface VideoSpec {
  width: number;
  height: number;
  fps: number;
  kbps: number;
  /** Frames between keyframes: short, so a keyframe request is answered within this many frames at worst. */
  gop: number;
}

/** A camera as browsers send it at 360p; the simulcast layers halve the resolution down from it. */
export const CAMERA: VideoSpec = { width: 640, height: 360, fps: 30, kbps: 600, gop: 30 };
export const CAMERA_LOW: VideoSpec = { width: 320, height: 180, fps: 30, kbps: 150, gop: 30 };
/** A shared screen: larger, fewer frames per second. */
export const SCREEN: VideoSpec = { width: 1280, height: 720, fps: 15, kbps: 1_000, gop: 30 };
const MIC_KBPS = 32;

const CLIP_SECONDS = 10;
const FFMPEG = process.env.FFMPEG ?? 'ffmpeg';
/** Bump when the encoding arguments change meaningfully, so stale cached clips are not reused. */
const CACHE_VERSION = 1;

function mediaCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache');
  return path.join(base, 'concord', 'loadtest-media');
}

export async function videoClip(codec: VideoCodec, spec: VideoSpec): Promise<Clip> {
  const source = `testsrc2=size=${spec.width}x${spec.height}:rate=${spec.fps},noise=alls=10:allf=t`;
  const rate = [`-b:v`, `${spec.kbps}k`, '-minrate', `${spec.kbps}k`, '-maxrate', `${spec.kbps}k`, '-bufsize', `${spec.kbps}k`];
  const gop = ['-g', String(spec.gop), '-keyint_min', String(spec.gop)];
  if (codec === 'vp8') {
    const args = ['-f', 'lavfi', '-i', source, '-t', String(CLIP_SECONDS), '-c:v', 'libvpx', ...rate, ...gop,
      // Real-time settings as a browser encoder uses them: no alternate reference or lookahead frames.
      '-deadline', 'realtime', '-cpu-used', '8', '-auto-alt-ref', '0', '-lag-in-frames', '0', '-error-resilient', '1', '-f', 'ivf'];
    return parseIvf(await encoded(`video-vp8-${spec.width}x${spec.height}`, 'ivf', args));
  }
  const args = ['-f', 'lavfi', '-i', source, '-t', String(CLIP_SECONDS), '-c:v', 'libx264', ...rate, ...gop,
    // Constrained baseline 3.1 (profile-level-id 42e01f, which the SFU's router offers), parameter
    // sets before every keyframe so a receiver can start at any of them, an AUD to delimit frames.
    '-profile:v', 'baseline', '-level', '3.1', '-pix_fmt', 'yuv420p', '-tune', 'zerolatency', '-preset', 'veryfast',
    '-x264-params', 'repeat-headers=1', '-bsf:v', 'h264_metadata=aud=insert', '-f', 'h264'];
  return parseAnnexB(await encoded(`video-h264-${spec.width}x${spec.height}`, 'h264', args), spec.fps);
}

export async function micClip(): Promise<Clip> {
  const args = ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', String(CLIP_SECONDS),
    // Constant bitrate, 20 ms frames: what a WebRTC voice stream looks like on the wire.
    '-c:a', 'libopus', '-b:a', `${MIC_KBPS}k`, '-vbr', 'off', '-application', 'voip', '-frame_duration', '20', '-ac', '1', '-f', 'ogg'];
  return parseOggOpus(await encoded('mic-opus', 'ogg', args));
}

/** The file ffmpeg makes with `args` (output appended), from the cache when it is there. */
async function encoded(name: string, extension: string, args: string[]): Promise<Buffer> {
  const key = createHash('sha256').update(JSON.stringify({ CACHE_VERSION, args })).digest('hex').slice(0, 12);
  const dir = mediaCacheDir();
  const file = path.join(dir, `${name}-${key}.${extension}`);
  if (!existsSync(file)) {
    await mkdir(dir, { recursive: true });
    // Written aside and renamed, so a run killed mid-encode leaves no truncated clip behind.
    const partial = `${file}.${process.pid}.partial`;
    try {
      await runFfmpeg([...args, partial]);
      await rename(partial, file);
    } finally {
      await rm(partial, { force: true });
    }
  }
  return readFile(file);
}

const FFMPEG_TIMEOUT_MS = 120_000;

function runFfmpeg(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(FFMPEG, ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), FFMPEG_TIMEOUT_MS);
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const missing = error.code === 'ENOENT' ? `${FFMPEG} is not installed` : `could not run ${FFMPEG} (${error.message})`;
      reject(new Error(`${missing}: the load tester encodes its media clips with it. Install Debian's ffmpeg package (npm run setup -- --test does, or as root: apt-get install ffmpeg)`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`ffmpeg failed (${signal ?? `exit ${code}`}): ${stderr.trim().slice(-2000)}`));
    });
  });
}
