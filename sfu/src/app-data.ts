import type { ProducerSource, TransportDirection } from '@concord/protocol';

/*
 * What Concord attaches to each mediasoup object, so an object met in an event (a producer in an
 * audio-level report, a router of a dead worker) says whose it is without a lookup table.
 */

export type RouterAppData = { roomId: string };
export type TransportAppData = { peerId: string; direction: TransportDirection };
export type ProducerAppData = { peerId: string; source: ProducerSource };
/** `peerId` is the consuming peer; `producerPeerId` the peer whose media it carries. */
export type ConsumerAppData = { peerId: string; producerPeerId: string; source: ProducerSource };
