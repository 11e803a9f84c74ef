import type { Clip } from './frames';
import { packetizerFor, type Packetizer } from './packetizer';

/** One RTP packet as the source emits it; the publisher adds SSRC, payload type and extensions. */
export interface OutgoingPacket {
  payload: Buffer;
  sequenceNumber: number;
  timestamp: number;
  marker: boolean;
}

/**
 * A clip played in a loop as one RTP stream, the way an encoder would produce it: sequence numbers
 * and timestamps start at random values and continue across loops, frames are due at their
 * presentation time. A keyframe request makes the next frame sent the clip's next keyframe while
 * timestamps go on as if the encoder had produced it now.
 */
export class TrackSource {
  readonly clip: Clip;
  readonly #packetizer: Packetizer;
  /** When media time 0 was due (the first call of `due`), in ms of performance.now(). */
  #startMs: number | undefined;
  readonly #timestampBase = Math.floor(Math.random() * 0x1_0000_0000);
  #sequenceNumber = Math.floor(Math.random() * 0x1_0000);
  /** Media time of the next frame, in RTP clock units since the start. */
  #mediaTime = 0;
  /** Index into the clip of the next frame. */
  #cursor = 0;
  #keyframeRequested = false;

  constructor(clip: Clip) {
    this.clip = clip;
    this.#packetizer = packetizerFor(clip);
  }

  /** The next frame sent is a keyframe (several requests before it is sent make one). */
  requestKeyframe(): void {
    this.#keyframeRequested = true;
  }

  /**
   * The packets of every frame due by `nowMs`, in order. Capped so that a stalled event loop
   * catches up over a few calls instead of flooding the network at once.
   */
  due(nowMs: number, maxFrames = 8): OutgoingPacket[] {
    const packets: OutgoingPacket[] = [];
    const { clip } = this;
    const startMs = (this.#startMs ??= nowMs);
    for (let sent = 0; sent < maxFrames && startMs + this.#mediaTimeMs() <= nowMs; sent++) {
      if (this.#keyframeRequested) {
        this.#cursor = this.#nextKeyframe();
        this.#keyframeRequested = false;
      }
      const frame = clip.frames[this.#cursor]!;
      const timestamp = (this.#timestampBase + this.#mediaTime) % 0x1_0000_0000;
      const payloads = this.#packetizer.packetize(frame);
      payloads.forEach((payload, index) => {
        packets.push({ payload, sequenceNumber: this.#sequenceNumber, timestamp, marker: clip.codec !== 'opus' && index === payloads.length - 1 });
        this.#sequenceNumber = (this.#sequenceNumber + 1) & 0xffff;
      });
      this.#mediaTime += this.#frameDuration(this.#cursor);
      this.#cursor = (this.#cursor + 1) % clip.frames.length;
    }
    return packets;
  }

  #mediaTimeMs(): number {
    return (this.#mediaTime * 1000) / this.clip.clockRate;
  }

  #frameDuration(index: number): number {
    const { frames, duration } = this.clip;
    const next = frames[index + 1]?.rtpTime ?? duration;
    return next - frames[index]!.rtpTime;
  }

  #nextKeyframe(): number {
    const { frames } = this.clip;
    for (let step = 0; step < frames.length; step++) {
      const index = (this.#cursor + step) % frames.length;
      if (frames[index]!.keyframe) return index;
    }
    return this.#cursor;
  }
}
