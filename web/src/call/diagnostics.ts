import type { CallRoom } from './room';

/** What the recv transport has received so far, summed per kind over all inbound RTP streams. */
export interface RecvStatsSummary {
  audio: { packetsReceived: number; totalSamplesReceived: number };
  video: { packetsReceived: number; framesDecoded: number };
  /**
   * The ICE pair media flows over; its remote end is the SFU, never another browser. The local
   * end's type is `relay` when the media goes through a TURN server (`host`, `srflx` otherwise).
   */
  selectedCandidatePair: { remoteAddress: string; remotePort: number; protocol: string; localCandidateType: string } | null;
}

/**
 * Test and diagnostic hook: `window.__concord.stats()` resolves with a RecvStatsSummary of the
 * current call, or null when no call is live. Browser tests use it to prove media arrives and
 * that it comes through the SFU. Not an API for the app itself.
 */
export interface ConcordDebugHook {
  stats(): Promise<RecvStatsSummary | null>;
}

declare global {
  interface Window {
    __concord?: ConcordDebugHook;
  }
}

export function exposeDebugHook(currentRoom: () => CallRoom | null): void {
  window.__concord = {
    async stats() {
      const report = await currentRoom()?.recvStats();
      return report ? summarizeRecvStats([...report.values()]) : null;
    },
  };
}

type Stat = Record<string, unknown>;
const num = (value: unknown): number => (typeof value === 'number' ? value : 0);

export function summarizeRecvStats(stats: readonly Stat[]): RecvStatsSummary {
  const summary: RecvStatsSummary = {
    audio: { packetsReceived: 0, totalSamplesReceived: 0 },
    video: { packetsReceived: 0, framesDecoded: 0 },
    selectedCandidatePair: null,
  };
  const byId = new Map(stats.map((stat) => [stat.id, stat]));
  for (const stat of stats) {
    if (stat.type !== 'inbound-rtp') continue;
    if (stat.kind === 'audio') {
      summary.audio.packetsReceived += num(stat.packetsReceived);
      summary.audio.totalSamplesReceived += num(stat.totalSamplesReceived);
    } else if (stat.kind === 'video') {
      summary.video.packetsReceived += num(stat.packetsReceived);
      summary.video.framesDecoded += num(stat.framesDecoded);
    }
  }
  // Chromium names the pair on the transport stat; others flag it on the pair itself.
  const transport = stats.find((stat) => stat.type === 'transport' && stat.selectedCandidatePairId);
  const pair = transport
    ? byId.get(transport.selectedCandidatePairId)
    : stats.find((stat) => stat.type === 'candidate-pair' && (stat.selected === true || (stat.nominated === true && stat.state === 'succeeded')));
  const remote = pair && byId.get(pair.remoteCandidateId);
  if (remote) {
    summary.selectedCandidatePair = {
      remoteAddress: String(remote.address ?? remote.ip ?? ''),
      remotePort: num(remote.port),
      protocol: String(remote.protocol ?? ''),
      localCandidateType: String(byId.get(pair.localCandidateId)?.candidateType ?? ''),
    };
  }
  return summary;
}
