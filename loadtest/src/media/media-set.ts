import type { ProducerSource } from '@concord/protocol';
import type { Codec } from '../client/capabilities';
import type { MediaFor } from '../client/participant';
import { CAMERA, CAMERA_LOW, micClip, SCREEN, videoClip, type VideoCodec } from './clips';
import type { Clip } from './frames';
import { packetizerFor } from './packetizer';

/** The clips of a run, and what a receiver should get of each source. */
export interface MediaSet {
  media: MediaFor;
  /** Payload bits per second a subscriber receives of one track of this source (the best layer). */
  expectedBitrate(source: ProducerSource): number;
}

/** Encodes (or takes from the cache) the clips a run needs; video only if it publishes any. */
export async function loadMediaSet(options: { codec: VideoCodec; simulcast: boolean; camera: boolean; screen: boolean }): Promise<MediaSet> {
  const mic = await micClip();
  const cameraLayers = options.camera ? (options.simulcast ? [CAMERA_LOW, CAMERA] : [CAMERA]) : [];
  const camera: Clip[] = [];
  for (const spec of cameraLayers) camera.push(await videoClip(options.codec, spec));
  const screen = options.screen ? [await videoClip(options.codec, SCREEN)] : [];
  const bySource: Record<ProducerSource, { codec: Codec; clips: Clip[] }> = {
    mic: { codec: 'opus', clips: [mic] },
    'screen-audio': { codec: 'opus', clips: [mic] },
    camera: { codec: options.codec, clips: camera },
    screen: { codec: options.codec, clips: screen },
  };
  const expected = new Map<ProducerSource, number>();
  return {
    media: (source) => {
      const entry = bySource[source];
      if (entry.clips.length === 0) throw new Error(`no clip was prepared for ${source}`);
      return entry;
    },
    expectedBitrate: (source) => {
      let bitrate = expected.get(source);
      if (bitrate === undefined) {
        const best = bySource[source].clips.at(-1);
        bitrate = best ? payloadBitrate(best) : 0;
        expected.set(source, bitrate);
      }
      return bitrate;
    },
  };
}

/** Bits per second of RTP payload the clip becomes once packetized (payload headers included). */
function payloadBitrate(clip: Clip): number {
  const packetizer = packetizerFor(clip);
  const bytes = clip.frames.reduce((sum, frame) => sum + packetizer.packetize(frame).reduce((size, payload) => size + payload.length, 0), 0);
  return (bytes * 8 * clip.clockRate) / clip.duration;
}
