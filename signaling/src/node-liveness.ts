import { request } from 'node:http';
import type { SfuNodeInfo } from '@concord/protocol';
import type { RoomRegistry } from '@concord/registry';
import type { Logger } from 'pino';

/** What a probe of a node's control port says: the node answers, it is gone, or no answer in time. */
export type ProbeResult = 'listening' | 'refused' | 'silent';

/**
 * One fresh request to the node's control server (the engine.io handshake, which any live control
 * server answers). 'refused': the node's host refused the connection (ECONNREFUSED), or accepted it
 * and closed it without an answer — a process dying under SIGKILL can still accept for an instant,
 * so an accepted connection alone proves nothing. 'silent': no answer within `timeoutMs`.
 */
export function probeControlPort(controlUrl: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const req = request(new URL('/socket.io/?EIO=4&transport=polling', controlUrl), { timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      done('listening');
    });
    const done = (result: ProbeResult) => {
      req.destroy();
      resolve(result);
    };
    req.once('timeout', () => done('silent'));
    req.once('error', (error: NodeJS.ErrnoException) => done(['ECONNREFUSED', 'ECONNRESET', 'EPIPE'].includes(error.code ?? '') ? 'refused' : 'silent'));
    req.end();
  });
}

const incarnation = (node: SfuNodeInfo): string => `${node.id}@${node.startedAt}`;

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
 * settles it: an answer means the node is up, whatever happened to our old connection; 'refused'
 * means the node's own host answered that no process serves the control port — a killed or
 * crashed node, which is what a connection drop at once (rather than after a ping timeout) is in
 * practice; a network blip of ours makes the probe time out ('silent'), it cannot forge a refusal.
 * 'silent' (host down or unreachable, partitioned from us) evicts nothing: the heartbeat TTL still
 * covers it, as the node may well be serving everyone else. An eviction that was wrong anyway (a
 * node restarting on the same address) heals itself: the node's next heartbeat registers it again
 * with its rooms, and the registry's split-room rule reconciles any room placed elsewhere meanwhile.
 */
export class NodeLiveness {
  /**
   * Probes under way, by node incarnation (id and start time): every caller about one shares one
   * probe, and a verdict on a node that died never applies to the same id started again.
   */
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
    const key = incarnation(node);
    let check = this.checks.get(key);
    if (!check) {
      check = this.run(node).finally(() => this.checks.delete(key));
      this.checks.set(key, check);
    }
    return check;
  }

  /** The probe of this incarnation of the node under way, if any. */
  probing(node: SfuNodeInfo): Promise<boolean> | undefined {
    return this.checks.get(incarnation(node));
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
