import pino from 'pino';
import type { JoinResponse, TransportOptions, VoicePermissions } from '@concord/protocol';
import { InProcessRegistry } from '@concord/registry';
import { opsHandler, Readiness, startOpsServer, type OpsServer } from '@concord/service-shell';
import type { SfuNode } from '@concord/sfu';
import { ControlClient, opusRtpParameters, sessionOf, startTestNode } from './sfu';
import { eventually } from './wait';

/*
 * SFU pods as a StatefulSet would run them, for the autoscaling simulation: real SFU nodes sharing
 * one room registry, each with its ops listener's real /metrics, carrying real calls (rooms of two
 * peers, each with send and receive transports, a microphone producer and a consumer of the other:
 * 4 streams a call). New calls are placed by the registry (least-loaded, non-draining node under
 * capacity). A pod is removed only through a drain: it takes no new rooms, its calls move to the
 * other pods (each call's peers leave and rejoin where placement now puts the room, as clients do
 * when a draining node hands their room on), and it stops once its /metrics shows no stream left.
 */

const SPEAKER: VoicePermissions = { speak: true, video: false, screen: false };
/** Producers + consumers of one call of two. */
export const STREAMS_PER_CALL = 4;

export interface SfuPod {
  readonly name: string;
  readonly node: SfuNode;
  readonly ops: OpsServer;
  readonly control: ControlClient;
}

export interface Call {
  readonly roomId: string;
  readonly peers: readonly [string, string];
  pod: SfuPod;
}

/** What one scrape of a pod's /metrics says. */
export interface PodSample {
  pod: string;
  loadRatio: number;
  streams: number;
  draining: boolean;
}

export class SfuFleet {
  readonly registry = new InProcessRegistry();
  readonly pods: SfuPod[] = [];
  readonly calls: Call[] = [];
  readonly #capacity: number;
  #ordinal = 0;
  #callCount = 0;
  #ssrc = 1000;

  /** `capacity`: SFU_CAPACITY of every node, in streams. */
  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** A new pod, named as the StatefulSet names them (sfu-0, sfu-1, …). */
  async addPod(): Promise<SfuPod> {
    const { node } = await startTestNode({ workers: 1, capacity: this.#capacity, nodeId: `sfu-${this.#ordinal++}` }, this.registry);
    const ops = await startOpsServer(opsHandler({ readiness: new Readiness(pino({ level: 'silent' })), metrics: node.metrics.registry }), 0, '127.0.0.1');
    const pod = { name: node.id, node, ops, control: await ControlClient.connect(node.controlUrl) };
    this.pods.push(pod);
    return pod;
  }

  /** A new call where the registry places it. */
  async startCall(): Promise<Call> {
    const roomId = `sim-call-${this.#callCount++}`;
    const call: Call = { roomId, peers: [`${roomId}-a`, `${roomId}-b`], pod: await this.#place(roomId) };
    await this.#open(call);
    this.calls.push(call);
    return call;
  }

  /** The oldest call hangs up: both peers leave, and its room closes empty. */
  async endCall(): Promise<void> {
    const call = this.calls.shift();
    if (call) await this.#leave(call);
  }

  /**
   * Scale-down of the highest ordinal, as the StatefulSet does it: drain (no new rooms), move its
   * calls, wait until its /metrics shows no stream, then stop it. Returns the calls moved.
   */
  async drainAndRemove(pod: SfuPod): Promise<number> {
    await pod.node.drain();
    const moving = this.calls.filter((call) => call.pod === pod);
    for (const call of moving) {
      await this.#leave(call);
      call.pod = await this.#place(call.roomId);
      await this.#open(call);
    }
    await eventually(async () => (await this.scrape(pod)).streams === 0, 5_000, `${pod.name} empty after its drain`);
    this.pods.splice(this.pods.indexOf(pod), 1);
    pod.control.close();
    await pod.ops.close();
    await pod.node.close();
    return moving.length;
  }

  /** The pod's real /metrics, read as Prometheus would. */
  async scrape(pod: SfuPod): Promise<PodSample> {
    const text = await (await fetch(`${pod.ops.url}/metrics`)).text();
    const sample = (name: string): number => {
      const match = new RegExp(`^${name}\\{node="${pod.name}"\\} (\\S+)$`, 'm').exec(text);
      if (!match) throw new Error(`${pod.name}: no ${name} in /metrics`);
      return Number(match[1]);
    };
    return { pod: pod.name, loadRatio: sample('concord_sfu_load_ratio'), streams: sample('concord_sfu_streams'), draining: sample('concord_sfu_draining') === 1 };
  }

  /** Until every pod carries exactly the streams of its calls (consumers appear after produce answers). */
  async settled(): Promise<void> {
    for (const pod of this.pods) {
      const expected = this.calls.filter((call) => call.pod === pod).length * STREAMS_PER_CALL;
      await eventually(async () => (await this.scrape(pod)).streams === expected, 5_000, `${pod.name} carrying ${expected} streams`);
    }
    // The registry's view of the load comes with the next heartbeat; placement reads it.
    await new Promise((resolve) => setTimeout(resolve, 2 * (this.pods[0]?.node.config.heartbeatIntervalMs ?? 0)));
  }

  /** Rooms the SFU closed on its own while peers were in them (each peer is told voice:roomClosed). */
  roomsClosedUnderPeers(): string[] {
    return this.pods.flatMap((pod) => pod.control.received.filter((envelope) => envelope.event === 'voice:roomClosed').map((envelope) => envelope.roomId));
  }

  async close(): Promise<void> {
    for (const pod of this.pods.splice(0)) {
      pod.control.close();
      await pod.ops.close();
      await pod.node.close();
    }
    await this.registry.close();
  }

  async #place(roomId: string): Promise<SfuPod> {
    const info = await this.registry.placePeer(roomId);
    const pod = this.pods.find((candidate) => candidate.name === info.id);
    if (!pod) throw new Error(`placement chose ${info.id}, which is no pod of the fleet`);
    return pod;
  }

  async #open({ roomId, peers, pod }: Call): Promise<void> {
    const { control } = pod;
    const joined: JoinResponse[] = [];
    for (const peerId of peers) {
      joined.push(await control.ok('peer.join', { roomId, peerId, sessionId: sessionOf(peerId), displayName: peerId, permissions: SPEAKER }));
      await control.room<TransportOptions>(roomId, peerId, 'voice:createTransport', { direction: 'recv' });
      await control.room(roomId, peerId, 'voice:setRtpCapabilities', { rtpCapabilities: joined.at(-1)!.routerRtpCapabilities });
    }
    for (const peerId of peers) {
      const send = await control.room<TransportOptions>(roomId, peerId, 'voice:createTransport', { direction: 'send' });
      await control.room(roomId, peerId, 'voice:produce', { transportId: send.transportId, kind: 'audio', source: 'mic', rtpParameters: opusRtpParameters(this.#ssrc++) });
    }
  }

  async #leave({ roomId, peers, pod }: Call): Promise<void> {
    for (const peerId of peers) await pod.control.ok('peer.leave', { roomId, peerId, sessionId: sessionOf(peerId) });
  }
}
