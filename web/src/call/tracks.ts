import type { ProducerSource } from '@concord/protocol';

/** Modest capture: enough for a grid of tiles, light on CPU and uplink. */
export const CAMERA_CONSTRAINTS: MediaTrackConstraints = {
  width: { ideal: 640 },
  height: { ideal: 360 },
  frameRate: { ideal: 24, max: 24 },
};
const MIC_CONSTRAINTS: MediaTrackConstraints = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
const SCREEN_CONSTRAINTS: MediaTrackConstraints = { frameRate: { ideal: 15, max: 30 } };

/**
 * The user's own media: which tracks exist and whether the mic is muted. It outlives a signaling
 * session, so a rejoin republishes exactly what the user had (the session only mirrors it into
 * producers). Tracks are stopped here and nowhere else.
 */
export class LocalMedia {
  private readonly tracks = new Map<ProducerSource, MediaStreamTrack>();
  private muted = false;
  private closed = false;

  /** onEnded: a track ended by itself (device unplugged, the browser's "stop sharing" button). */
  constructor(private readonly onEnded: (source: ProducerSource) => void) {}

  track(source: ProducerSource): MediaStreamTrack | undefined {
    return this.tracks.get(source);
  }

  get micMuted(): boolean {
    return this.muted;
  }

  /** Microphone live: captured and not muted. */
  get micOn(): boolean {
    return this.tracks.has('mic') && !this.muted;
  }

  async startMic(): Promise<void> {
    if (this.tracks.has('mic')) return;
    const stream = await navigator.mediaDevices.getUserMedia({ audio: MIC_CONSTRAINTS });
    this.muted = false;
    this.adopt('mic', stream.getAudioTracks()[0]);
  }

  setMicMuted(muted: boolean): void {
    this.muted = muted;
    const mic = this.tracks.get('mic');
    if (mic) mic.enabled = !muted;
  }

  async startCamera(): Promise<void> {
    if (this.tracks.has('camera')) return;
    const stream = await navigator.mediaDevices.getUserMedia({ video: CAMERA_CONSTRAINTS });
    this.adopt('camera', stream.getVideoTracks()[0]);
  }

  /** Shares a screen, window or tab, with its audio when the browser offers it. */
  async startScreen(): Promise<void> {
    if (this.tracks.has('screen')) return;
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: SCREEN_CONSTRAINTS, audio: true });
    this.adopt('screen', stream.getVideoTracks()[0]);
    this.adopt('screen-audio', stream.getAudioTracks()[0]);
  }

  /** Stops and forgets a source; stopping the screen also stops its audio. */
  stop(source: ProducerSource): void {
    this.tracks.get(source)?.stop();
    this.tracks.delete(source);
    if (source === 'screen') this.stop('screen-audio');
  }

  /** Stops everything, including captures still starting: their tracks are stopped on arrival. */
  close(): void {
    this.closed = true;
    for (const source of [...this.tracks.keys()]) this.stop(source);
  }

  private adopt(source: ProducerSource, track: MediaStreamTrack | undefined): void {
    if (!track) return;
    if (this.closed) return track.stop();
    if (source === 'mic') track.enabled = !this.muted;
    this.tracks.set(source, track);
    // stop() does not fire 'ended': this only sees tracks that ended by themselves.
    track.addEventListener('ended', () => {
      if (this.tracks.get(source) !== track) return;
      this.stop(source);
      this.onEnded(source);
    });
  }
}
