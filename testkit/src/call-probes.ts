import type { Person } from './browser';
import { waitUntil } from './wait';

/*
 * What a call looks like from inside a page: its participant tiles (read from the DOM through the
 * ui-contract hooks) and its receive statistics (window.__concord.stats()).
 */

// Page callbacks run in the browser; the server tsconfig has no DOM lib, so name what they use.
interface DomElement {
  readonly dataset: Record<string, string | undefined>;
  querySelector(selector: string): DomElement | null;
}
interface DomVideo extends DomElement {
  readonly videoWidth: number;
  readonly srcObject: unknown;
  getVideoPlaybackQuality(): { totalVideoFrames: number };
}
interface DomAudio extends DomElement {
  readonly paused: boolean;
  readonly muted: boolean;
  readonly srcObject: { getAudioTracks(): Array<{ readyState: string; muted: boolean }> } | null;
}
declare const document: { querySelectorAll(selector: string): ArrayLike<DomElement> };
declare const window: { __concord?: { stats(): Promise<RecvStats | null> } };

export interface RecvStats {
  audio: { packetsReceived: number; totalSamplesReceived: number };
  video: { packetsReceived: number; framesDecoded: number };
  selectedCandidatePair: { remoteAddress: string; remotePort: number; protocol: string; localCandidateType: string } | null;
}

/** What a participant-tile shows. */
export interface Tile {
  user: string;
  source: string;
  local: boolean;
  speaking: boolean;
  focused: boolean;
  /** Frames the <video> has presented so far (rises while video plays). */
  frames: number;
  width: number;
  /** The placeholder shown instead of video. */
  avatar: boolean;
  micOff: boolean;
  /** The tile's <audio> (remote sound): playing a live track whose RTP has arrived (not muted). */
  audio: 'none' | 'waiting' | 'live';
}

export function tiles(p: Person): Promise<Tile[]> {
  return p.page.evaluate(() =>
    Array.from(document.querySelectorAll('[data-testid=participant-tile]'), (el): Tile => {
      const video = el.querySelector('video') as DomVideo | null;
      const audio = el.querySelector('audio') as DomAudio | null;
      const track = audio?.srcObject?.getAudioTracks()[0];
      return {
        user: el.dataset.userId ?? '',
        source: el.dataset.source ?? '',
        local: el.dataset.local === 'true',
        speaking: el.dataset.speaking === 'true',
        focused: el.dataset.focused === 'true',
        frames: video?.getVideoPlaybackQuality().totalVideoFrames ?? 0,
        width: video?.srcObject ? video.videoWidth : 0,
        avatar: el.querySelector('.avatar') !== null,
        micOff: el.querySelector('.muted-mic') !== null,
        audio: !audio ? 'none' : track && track.readyState === 'live' && !track.muted && !audio.paused && !audio.muted ? 'live' : 'waiting',
      };
    }),
  );
}

export const tileOf = (ts: Tile[], who: Person, source: 'camera' | 'screen'): Tile | undefined => ts.find((t) => t.user === who.userId && t.source === source);

/** Each of `senders`' `source` tiles in `p`'s view shows video whose frame count keeps rising. */
export async function expectVideoPlaying(p: Person, senders: Person[], source: 'camera' | 'screen', timeoutMs = 15_000): Promise<void> {
  const what = `${p.name} plays ${senders.map((s) => s.name).join(' and ')}'s ${source}`;
  const first = await waitUntil(
    `${what} (a decoded frame)`,
    () => tiles(p),
    (ts) =>
      senders.every((s) => {
        const tile = tileOf(ts, s, source);
        return !!tile && !tile.local && tile.width > 0 && tile.frames > 0;
      }),
    timeoutMs,
  );
  await waitUntil(`${what} (frames keep coming)`, () => tiles(p), (ts) =>
    senders.every((s) => (tileOf(ts, s, source)?.frames ?? 0) >= (tileOf(first, s, source)?.frames ?? 0) + 10),
  );
}

/** Each sender's microphone plays in `p`'s camera tile of them. */
export function expectAudioPlaying(p: Person, senders: Person[], timeoutMs = 15_000): Promise<Tile[]> {
  return waitUntil(`${p.name} plays ${senders.map((s) => s.name).join(' and ')}'s microphone`, () => tiles(p), (ts) => senders.every((s) => tileOf(ts, s, 'camera')?.audio === 'live'), timeoutMs);
}

export async function stats(p: Person): Promise<RecvStats> {
  const summary = await p.page.evaluate(() => window.__concord?.stats() ?? null);
  if (!summary) throw new Error(`${p.name} has no live call to take stats of`);
  return summary;
}
