/** One coded frame of a pre-encoded clip, as the packetizers and the looping source see it. */
export interface Frame {
  data: Buffer;
  /** Decodable on its own: where a source may jump to answer a keyframe request. */
  keyframe: boolean;
  /** Presentation time from the clip's start, in units of the codec's RTP clock. */
  rtpTime: number;
}

/** A whole clip in memory: short (seconds), looped by the track source. */
export interface Clip {
  codec: 'vp8' | 'h264' | 'opus';
  clockRate: number;
  frames: Frame[];
  /** RTP clock units from the clip's start to where the next loop begins (last frame's time + its duration). */
  duration: number;
}
