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
  /** The chosen capture devices (undefined: the browser's default). */
  readonly devices: { mic?: string; camera?: string } = {};

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
    const stream = await navigator.mediaDevices.getUserMedia({ audio: withDevice(MIC_CONSTRAINTS, this.devices.mic) });
    if (this.tracks.has('mic')) return stopAll(stream);
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
    const stream = await navigator.mediaDevices.getUserMedia({ video: withDevice(CAMERA_CONSTRAINTS, this.devices.camera) });
    if (this.tracks.has('camera')) return stopAll(stream);
    this.adopt('camera', stream.getVideoTracks()[0]);
  }

  /** Shares a screen, window or tab, with its audio when the browser offers it. */
  async startScreen(): Promise<void> {
    if (this.tracks.has('screen')) return;
    // With the tab's or the system's audio where the browser offers it.
    const options = { video: SCREEN_CONSTRAINTS, audio: true, systemAudio: 'include' } as DisplayMediaStreamOptions;
    const stream = await navigator.mediaDevices.getDisplayMedia(options);
    if (this.tracks.has('screen')) return stopAll(stream);
    this.adopt('screen', stream.getVideoTracks()[0]);
    this.adopt('screen-audio', stream.getAudioTracks()[0]);
  }

  /**
   * Captures from another device. A source that is live is captured again from the new device
   * (the old track stops); the caller republishes. Returns whether a track was replaced.
   */
  async useDevice(kind: 'mic' | 'camera', deviceId: string): Promise<boolean> {
    this.devices[kind] = deviceId;
    if (!this.tracks.has(kind)) return false;
    const constraints = kind === 'mic' ? { audio: withDevice(MIC_CONSTRAINTS, deviceId) } : { video: withDevice(CAMERA_CONSTRAINTS, deviceId) };
    const stream = await navigator.mediaDevices.getUserMedia(constraints);
    const track = kind === 'mic' ? stream.getAudioTracks()[0] : stream.getVideoTracks()[0];
    if (!track || this.closed || !this.tracks.has(kind)) {
      stopAll(stream);
      return false;
    }
    this.tracks.get(kind)?.stop();
    this.tracks.delete(kind);
    this.adopt(kind, track);
    return true;
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

function withDevice(constraints: MediaTrackConstraints, deviceId: string | undefined): MediaTrackConstraints {
  return deviceId ? { ...constraints, deviceId: { exact: deviceId } } : constraints;
}

/** A capture that is no longer wanted (it finished after the same source was captured or closed). */
function stopAll(stream: { getTracks?: () => MediaStreamTrack[] }): void {
  for (const track of stream.getTracks?.() ?? []) track.stop();
}
