import { connect } from 'node:net';
import type { SfuNodeInfo } from '@concord/protocol';
import type { RoomRegistry } from '@concord/registry';
import type { Logger } from 'pino';

/** What a probe of a node's control port says: something listens, nothing does, or no answer in time. */
export type ProbeResult = 'listening' | 'refused' | 'silent';

/**
 * One TCP connection attempt to the node's control port. 'refused' is the node's host itself
 * answering that nothing listens there (ECONNREFUSED: a reset to our SYN), never a lost packet.
 */
export function probeControlPort(controlUrl: string, timeoutMs: number): Promise<ProbeResult> {
  const url = new URL(controlUrl);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  return new Promise((resolve) => {
    const socket = connect({ host: url.hostname.replace(/^\[|\]$/g, ''), port, timeout: timeoutMs });
    const done = (result: ProbeResult) => {
      socket.destroy();
      resolve(result);
    };
    socket.once('connect', () => done('listening'));
    socket.once('timeout', () => done('silent'));
    socket.once('error', (error: NodeJS.ErrnoException) => done(error.code === 'ECONNREFUSED' ? 'refused' : 'silent'));
  });
}

export interface NodeLivenessOptions {
  /** How long a probe waits for the node's host to answer. */
  probeTimeoutMs: number;
  probe?: typeof probeControlPort;
}

/**
 * Decides whether an SFU node this signaling process lost its control connection to (or could not
 * open one to) is dead, and if so removes it from the room registry at once: placement then stops
 * choosing it and its rooms are free to be placed anew, instead of both waiting for its heartbeat
 * entry to lapse (SFU_HEARTBEAT_TTL_MS, 10 s) while rejoins sent to it wait out request timeouts.
 *
 * Why a probe, and why only a refusal evicts: the registry is shared, so one process's view must
 * not be able to evict a healthy node for every process. A dropped connection alone proves nothing
 * (this process's network may have blipped, a proxy may have cut it). A fresh connection attempt
 * settles it: 'listening' means the node is up, whatever happened to our old connection; 'refused'
 * means the node's own host answered that no process listens on the control port — a killed or
 * crashed node, which is what a connection drop at once (rather than after a ping timeout) is in
 * practice; a network blip of ours makes the probe time out ('silent'), it cannot forge a refusal.
 * 'silent' (host down or unreachable, partitioned from us) evicts nothing: the heartbeat TTL still
 * covers it, as the node may well be serving everyone else. An eviction that was wrong anyway (a
 * node restarting on the same address) heals itself: the node's next heartbeat registers it again
 * with its rooms, and the registry's split-room rule reconciles any room placed elsewhere meanwhile.
 */
export class NodeLiveness {
  /** Probes under way, by node id: every caller about one node shares one probe. */
  private readonly checks = new Map<string, Promise<boolean>>();
  private readonly probe: typeof probeControlPort;

  constructor(
    private readonly registry: RoomRegistry,
    private readonly options: NodeLivenessOptions,
    private readonly log: Logger,
  ) {
    this.probe = options.probe ?? probeControlPort;
  }

  /**
   * Probes the node (once for concurrent callers); true when it was found dead and has been evicted.
   * Nothing is remembered afterwards: an evicted node that heartbeats again was alive after all.
   */
  check(node: SfuNodeInfo): Promise<boolean> {
    let check = this.checks.get(node.id);
    if (!check) {
      check = this.run(node).finally(() => this.checks.delete(node.id));
      this.checks.set(node.id, check);
    }
    return check;
  }

  /** The probe of the node under way, if any. */
  probing(nodeId: string): Promise<boolean> | undefined {
    return this.checks.get(nodeId);
  }

  private async run(node: SfuNodeInfo): Promise<boolean> {
    const startedAt = performance.now();
    const result = await this.probe(node.controlUrl, this.options.probeTimeoutMs);
    const probeMs = Math.round(performance.now() - startedAt);
    if (result !== 'refused') {
      this.log.info({ nodeId: node.id, probe: result, probeMs }, `SFU node ${node.id} probed after losing its connection: ${result}; left in the registry`);
      return false;
    }
    // A node restarted under the same id is another incarnation: leave its fresh entry alone.
    const listed = (await this.registry.liveNodes().catch(() => [])).find((live) => live.id === node.id);
    if (listed && listed.startedAt !== node.startedAt) return true;
    try {
      await this.registry.deregister(node.id);
      this.log.warn({ nodeId: node.id, probeMs }, `SFU node ${node.id} refuses connections: removed from the registry, its rooms are free to be placed again`);
    } catch (error) {
      this.log.warn({ err: error, nodeId: node.id }, `SFU node ${node.id} is dead but could not be removed from the registry; its entry lapses with its heartbeat`);
    }
    return true;
  }
}
