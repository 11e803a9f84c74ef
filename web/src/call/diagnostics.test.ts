import { describe, expect, it } from '@jest/globals';
import { summarizeRecvStats } from './diagnostics';

describe('summarizeRecvStats', () => {
  it('sums inbound RTP per kind and finds the selected pair (and whether it relays) through the transport stat', () => {
    const summary = summarizeRecvStats([
      { id: 'a1', type: 'inbound-rtp', kind: 'audio', packetsReceived: 10, totalSamplesReceived: 4800 },
      { id: 'a2', type: 'inbound-rtp', kind: 'audio', packetsReceived: 5, totalSamplesReceived: 2400 },
      { id: 'v1', type: 'inbound-rtp', kind: 'video', packetsReceived: 40, framesDecoded: 12 },
      { id: 'o1', type: 'outbound-rtp', kind: 'video', packetsSent: 99 },
      { id: 't', type: 'transport', selectedCandidatePairId: 'p2' },
      { id: 'p1', type: 'candidate-pair', remoteCandidateId: 'r1' },
      { id: 'p2', type: 'candidate-pair', localCandidateId: 'l2', remoteCandidateId: 'r2' },
      { id: 'l2', type: 'local-candidate', candidateType: 'relay', address: '127.0.0.1', port: 50000 },
      { id: 'r1', type: 'remote-candidate', address: '10.0.0.9', port: 1, protocol: 'udp' },
      { id: 'r2', type: 'remote-candidate', address: '127.0.0.1', port: 40001, protocol: 'udp' },
    ]);
    expect(summary).toEqual({
      audio: { packetsReceived: 15, totalSamplesReceived: 7200 },
      video: { packetsReceived: 40, framesDecoded: 12 },
      selectedCandidatePair: { remoteAddress: '127.0.0.1', remotePort: 40001, protocol: 'udp', localCandidateType: 'relay' },
    });
  });

  it('falls back to the nominated, succeeded pair, and to null without one', () => {
    const pair = summarizeRecvStats([
      { id: 'p', type: 'candidate-pair', nominated: true, state: 'succeeded', remoteCandidateId: 'r' },
      { id: 'r', type: 'remote-candidate', ip: '127.0.0.1', port: 5000, protocol: 'tcp' },
    ]).selectedCandidatePair;
    expect(pair).toEqual({ remoteAddress: '127.0.0.1', remotePort: 5000, protocol: 'tcp', localCandidateType: '' });
    expect(summarizeRecvStats([]).selectedCandidatePair).toBeNull();
  });
});
