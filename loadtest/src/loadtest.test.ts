import dgram from 'node:dgram';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { BareSfu } from './baseline';
import type { ConnectControl } from './client/control';
import { signalingConnector } from './client/signaling-control';
import { PacingClock } from './media/clock';
import { loadMediaSet, type MediaSet } from './media/media-set';
import { DEFAULT_THRESHOLDS } from './metrics';
import { LoadDriver, type LoadDriverOptions } from './runner';
import { resolveScenario } from './scenario';
import { PlatformSetup } from './setup';
import { startStandalone, type SfuProcesses } from './target/platform';

/*
 * The load test measured against known truths, in seconds: a small meeting on the real platform
 * must show every expected track at the clips' bitrate, and a broken SFU — consumers closed or
 * paused behind the clients' backs, packets dropped on the way — must show as missing tracks and
 * loss. The broken cases use the bare-mediasoup baseline, whose mediasoup objects are in reach.
 */

const scenario = resolveScenario({ preset: 'meeting', size: 3 }, { rooms: 1, rampPerSecond: 20, durationSeconds: 4 });
let media: MediaSet;
const clock = new PacingClock();

beforeAll(async () => {
  // Encodes the clips on the first run (~20 s), then reads them from ~/.cache/concord/loadtest-media.
  media = await loadMediaSet({ codec: 'vp8', simulcast: false, camera: true, screen: false });
}, 120_000);

afterAll(() => clock.stop());

function driverFor(connect: ConnectControl, processes: () => SfuProcesses, prepare?: LoadDriverOptions['prepare']): LoadDriver {
  return new LoadDriver({ scenario, runId: Math.random().toString(36).slice(2, 6), connect, prepare, processes, media, clock, verifyEvery: 5, thresholds: DEFAULT_THRESHOLDS });
}

test('a small meeting on the platform: every expected track arrives at the clips’ bitrate, without loss', async () => {
  const target = await startStandalone({ workers: 1 });
  const setup = new PlatformSetup(target.url);
  const driver = driverFor(signalingConnector(target.url, setup), () => target.processes(), (plans) => setup.prepare(plans));
  try {
    await driver.addRooms(1);
    const stage = await driver.measure(4);
    // 3 participants, each receiving the 2 others' mic and camera.
    expect(stage.join).toMatchObject({ failures: 0, errors: [] });
    expect(stage.join.transportsMs.count).toBe(3);
    expect(stage.receive).toMatchObject({ expectedTracks: 12, receivedTracks: 12, missingTracks: 0, srtpFailures: 0 });
    expect(stage.consumers).toBe(12);
    expect(stage.producers).toBe(6);
    const perSubscriber = 2 * (media.expectedBitrate('mic') + media.expectedBitrate('camera')) / 1000;
    expect(stage.receive.perSubscriberKbps.min).toBeGreaterThan(0.8 * perSubscriber);
    expect(stage.receive.perSubscriberKbps.max).toBeLessThan(1.25 * perSubscriber);
    expect(stage.receive.lossPct).toBeLessThan(1);
    expect(stage.receive.srtpVerified).toBeGreaterThan(0);
    expect(stage.sfu.workers).toHaveLength(1);
    expect(stage.sfu.workers[0]!.cpu).toBeGreaterThan(0);
    expect(stage.sfu.node?.rssBytes).toBeGreaterThan(0);
    // Join time is the one threshold a busy shared machine may break without anything being wrong.
    expect(stage.breaches.filter((breach) => !breach.startsWith('join'))).toEqual([]);
  } finally {
    await driver.stop();
    await target.stop();
  }
}, 90_000);

describe('a broken SFU is detected', () => {
  const consumers: types.Consumer[] = [];
  const watchConsumers = (worker: types.Worker) =>
    worker.observer.on('newrouter', (router) => router.observer.on('newtransport', (transport) => transport.observer.on('newconsumer', (consumer) => consumers.push(consumer))));
  beforeAll(() => mediasoup.observer.on('newworker', watchConsumers));
  afterAll(() => mediasoup.observer.off('newworker', watchConsumers));
  beforeEach(() => void consumers.splice(0));

  test('consumers closed or paused server-side show as missing tracks and missing bitrate', async () => {
    const bare = await BareSfu.start();
    const driver = driverFor(bare.connect, () => bare.processes());
    try {
      await driver.addRooms(1);
      const healthy = await driver.measure(2);
      expect(healthy.receive).toMatchObject({ expectedTracks: 12, receivedTracks: 12 });
      const [closed, paused] = consumers.filter((consumer) => consumer.kind === 'video');
      closed!.close();
      await paused!.pause();
      const broken = await driver.measure(2);
      expect(broken.receive).toMatchObject({ expectedTracks: 12, receivedTracks: 10, missingTracks: 2 });
      expect(broken.breaches).toContain('2 of 12 tracks missing');
      expect(broken.receive.receivedKbps).toBeLessThan(0.8 * healthy.receive.receivedKbps);
      expect(broken.receive.perSubscriberKbps.min).toBeLessThan(0.7 * healthy.receive.perSubscriberKbps.min);
    } finally {
      await driver.stop();
      await bare.stop();
    }
  }, 60_000);

  test('packets lost between SFU and subscriber show as loss, and the clients ask for them again', async () => {
    const bare = await BareSfu.start();
    const relay = await LossyRelay.start(bare.port, 10);
    const driver = driverFor(relay.wrap(bare.connect), () => bare.processes());
    try {
      await driver.addRooms(1);
      const stage = await driver.measure(3);
      expect(relay.dropped).toBeGreaterThan(0);
      // Every 10th packet dropped: video is mostly repaired by the SFU's retransmissions (unless the
      // retransmission is dropped too), audio (no NACK, like browsers' opus) not at all.
      expect(stage.receive.nacksSent).toBeGreaterThan(0);
      expect(stage.receive.lossPct).toBeGreaterThan(DEFAULT_THRESHOLDS.maxLossPct);
      expect(stage.receive.lossPct).toBeLessThan(10);
      expect(stage.breaches.some((breach) => breach.startsWith('loss'))).toBe(true);
      // The publishers saw none of it: the loss was after the SFU.
      expect(stage.publish.nacksReceived).toBe(0);
    } finally {
      await driver.stop();
      await bare.stop();
      relay.close();
    }
  }, 60_000);
});

/**
 * A UDP relay in front of the SFU that drops every n-th RTP packet on its way to the client, as a
 * faulty SFU or network would. Clients are pointed at it by rewriting the ICE candidates they get.
 */
class LossyRelay {
  dropped = 0;
  readonly #front: dgram.Socket;
  readonly #upstreams = new Map<string, dgram.Socket>();
  readonly #every: number;
  #count = 0;

  private constructor(front: dgram.Socket, sfuPort: number, every: number) {
    this.#front = front;
    this.#every = every;
    front.on('message', (message, from) => this.#upstream(from).send(message, sfuPort, '127.0.0.1'));
  }

  static async start(sfuPort: number, every: number): Promise<LossyRelay> {
    const front = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => front.bind(0, '127.0.0.1', resolve));
    return new LossyRelay(front, sfuPort, every);
  }

  wrap(connect: ConnectControl): ConnectControl {
    const port = this.#front.address().port;
    return async (userName, roomId) => {
      const control = await connect(userName, roomId);
      const request = control.request.bind(control);
      control.request = (async (name, data) => {
        const response = await request(name, data);
        if (name !== 'voice:createTransport') return response;
        const options = response as Awaited<ReturnType<typeof request<'voice:createTransport'>>>;
        return { ...options, iceCandidates: options.iceCandidates.map((candidate) => ({ ...candidate, port })) };
      }) as typeof control.request;
      return control;
    };
  }

  close(): void {
    this.#front.close();
    for (const socket of this.#upstreams.values()) socket.close();
  }

  /** One socket toward the SFU per client, so the SFU tells the clients apart as it would without us. */
  #upstream(client: dgram.RemoteInfo): dgram.Socket {
    const key = `${client.address}:${client.port}`;
    let socket = this.#upstreams.get(key);
    if (!socket) {
      const created = dgram.createSocket('udp4');
      created.bind(0, '127.0.0.1');
      created.on('message', (message) => {
        const rtp = message[0]! >= 128 && message[0]! < 192 && !(message[1]! >= 192 && message[1]! <= 223);
        if (rtp && ++this.#count % this.#every === 0) {
          this.dropped++;
          return;
        }
        this.#front.send(message, client.port, client.address);
      });
      this.#upstreams.set(key, created);
      socket = created;
    }
    return socket;
  }
}
