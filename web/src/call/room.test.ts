import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { Device, FakeHandler, testFakeParameters } from 'mediasoup-client';
import { NODE_DRAINING_REASON, ProtocolError } from '@concord/protocol';
import type { PeerInfo, Result, VoicePermissions } from '@concord/protocol';
import { DefaultReconnectPolicy } from './reconnect-policy';
import { CallRoom } from './room';
import type { CallSnapshot } from './room';
import type { SignalingSocket } from './signaling-client';

type Ack = (err: Error | null, result?: Result<unknown>) => void;
type Handler = (data: Record<string, unknown>) => Result<unknown>;

/**
 * A signaling socket with the server folded in: it answers every request at once (override per
 * test with `handle`), records them, and pushes server events with `push`.
 */
class FakeSignaling extends EventEmitter {
  connected = false;
  readonly requests: Array<{ name: string; data: Record<string, unknown> }> = [];
  readonly handle: Record<string, Handler> = {};
  permissions: VoicePermissions = { speak: true, video: true, screen: true };
  peers: PeerInfo[] = [{ peerId: 'alice', displayName: 'Alice', producers: [] }];
  private produced = 0;

  timeout() {
    return {
      emit: (name: string, data: Record<string, unknown>, ack: Ack) => {
        this.requests.push({ name, data });
        queueMicrotask(() => ack(null, (this.handle[name] ?? ((d) => this.answer(name, d)))(data)));
      },
    };
  }
  connect() {
    setTimeout(() => {
      this.connected = true;
      this.emit('connect');
    }, 0);
  }
  disconnect() {
    if (!this.connected) return;
    this.connected = false;
    this.emit('disconnect', 'io client disconnect');
  }
  /** The server drops the connection. */
  drop() {
    this.connected = false;
    this.emit('disconnect', 'transport close');
  }
  push(event: string, data: unknown) {
    this.emit(event, data);
  }
  names() {
    return this.requests.map((r) => (r.name === 'voice:createTransport' ? `${r.name}:${r.data.direction}` : r.name));
  }

  private answer(name: string, data: Record<string, unknown>): Result<unknown> {
    switch (name) {
      case 'voice:join':
        return ok({
          roomId: 'lounge',
          peerId: 'me',
          routerRtpCapabilities: testFakeParameters.generateRouterRtpCapabilities(),
          peers: this.peers,
          permissions: this.permissions,
        });
      case 'voice:createTransport': {
        const { id, ...rest } = testFakeParameters.generateTransportRemoteParameters();
        return ok({ transportId: id, direction: data.direction, ...rest });
      }
      case 'voice:restartIce':
        return ok({ iceParameters: testFakeParameters.generateTransportRemoteParameters().iceParameters });
      case 'voice:produce':
        return ok({ producerId: `producer-${++this.produced}` });
      default:
        return ok({});
    }
  }
}

const ok = (data: unknown): Result<unknown> => ({ ok: true, data });

/** As much of a MediaStreamTrack as LocalMedia and mediasoup-client use. */
class FakeTrack extends EventTarget {
  static count = 0;
  readonly id = `track-${++FakeTrack.count}`;
  enabled = true;
  readyState: MediaStreamTrackState = 'live';
  constructor(readonly kind: 'audio' | 'video') {
    super();
  }
  stop() {
    this.readyState = 'ended';
  }
  /** What the browser does when the device goes away or the user stops a share. */
  end() {
    this.readyState = 'ended';
    this.dispatchEvent(new Event('ended'));
  }
}

/** Capture hands out fake tracks; the ones handed out are kept to check they get stopped. */
const captured: FakeTrack[] = [];
function fakeCapture(kind: 'audio' | 'video') {
  const track = new FakeTrack(kind);
  captured.push(track);
  return { getAudioTracks: () => (kind === 'audio' ? [track] : []), getVideoTracks: () => (kind === 'video' ? [track] : []) };
}
Object.assign(globalThis, {
  navigator: {
    mediaDevices: {
      getUserMedia: async (c: MediaStreamConstraints) => fakeCapture(c.audio ? 'audio' : 'video'),
      getDisplayMedia: async () => fakeCapture('video'),
    },
  },
});

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('CallRoom', () => {
  let socket: FakeSignaling;
  let room: CallRoom;
  let grants: number;
  let grantError: Error | null;
  let errors: Error[];
  /** The fake handlers of the transports, in order of creation: send, recv (then per rejoin). */
  let handlers: FakeHandler[];
  const snap = (): CallSnapshot => room.snapshot();
  const tileIds = () => snap().participants.map((p) => p.id);

  beforeEach(() => {
    socket = new FakeSignaling();
    grants = 0;
    grantError = null;
    errors = [];
    captured.length = 0;
    handlers = [];
    const fake = FakeHandler.createFactory(testFakeParameters);
    const handlerFactory = { ...fake, factory: (o: Parameters<typeof fake.factory>[0]) => track(fake.factory(o) as FakeHandler) };
    const track = (handler: FakeHandler) => (handlers.push(handler), handler);
    room = new CallRoom({
      socket: socket as unknown as SignalingSocket,
      displayName: 'Me',
      fetchGrant: async () => {
        grants++;
        if (grantError) throw grantError;
        return { grant: `grant-${grants}` };
      },
      policy: new DefaultReconnectPolicy({ baseDelayMs: 1, jitter: 0, maxAttempts: 3, iceRestartTimeoutMs: 250 }),
      createDevice: () => new Device({ handlerFactory }),
    });
    room.on('error', (e) => errors.push(e));
  });
  afterEach(() => room.leave());

  async function joined() {
    await room.join('lounge');
    expect(snap().state).toBe('connected');
  }

  it('joins: transports, then consumption, then mic and camera', async () => {
    await joined();
    expect(socket.names()).toEqual([
      'voice:join',
      'voice:createTransport:send',
      'voice:createTransport:recv',
      'voice:setRtpCapabilities',
      'voice:connectTransport',
      'voice:produce',
      'voice:produce',
    ]);
    expect(socket.requests[0]!.data).toEqual({ grant: 'grant-1' });
    expect(socket.requests.filter((r) => r.name === 'voice:produce').map((r) => r.data.source)).toEqual(['mic', 'camera']);
    expect(tileIds()).toEqual(['me', 'alice']);
    expect(snap().media).toEqual({ mic: true, camera: true, screen: false, deafened: false });
    expect(errors).toEqual([]);
  });

  it('joins without the media the grant does not allow', async () => {
    socket.permissions = { speak: true, video: false, screen: false };
    await joined();
    expect(socket.requests.filter((r) => r.name === 'voice:produce').map((r) => r.data.source)).toEqual(['mic']);
    await room.toggleCamera();
    expect(errors.map((e) => e.message)).toEqual(['You are not allowed to use your camera in this room.']);
  });

  it('fails a join the server refuses, in plain words', async () => {
    socket.handle['voice:join'] = () => ({ ok: false, error: { code: 'GRANT_INVALID', message: 'Your voice grant has expired.' } });
    await room.join('lounge');
    expect(snap().state).toBe('disconnected');
    expect(errors.map((e) => e.message)).toEqual(['Your voice grant has expired.']);
    expect(socket.connected).toBe(false);
  });

  it('receives, pauses and drops remote media, and tracks who speaks', async () => {
    await joined();
    const { id, producerId, kind, rtpParameters } = testFakeParameters.generateConsumerRemoteParameters({ codecMimeType: 'video/VP8' });
    socket.push('voice:newConsumer', { consumerId: id, producerId, peerId: 'alice', kind, source: 'camera', rtpParameters, producerPaused: false });
    await until(() => !!snap().participants[1]?.tracks.camera, 'the remote camera');
    await until(() => socket.names().includes('voice:resumeConsumer'), 'the consumer to be resumed');

    socket.push('voice:consumerPaused', { consumerId: id, producerId });
    expect(snap().participants[1]!.tracks.camera!.paused).toBe(true);

    socket.push('voice:speaking', { peerIds: ['alice', 'me'] });
    expect(snap().participants.map((p) => p.speaking)).toEqual([true, true]);

    socket.push('voice:consumerClosed', { consumerId: id, producerId });
    expect(snap().participants[1]!.tracks.camera).toBeUndefined();

    socket.push('voice:peerJoined', { peer: { peerId: 'bob', displayName: 'Bob', producers: [] } });
    socket.push('voice:peerLeft', { peerId: 'alice' });
    expect(snap().participants.map((p) => p.displayName)).toEqual(['Me', 'Bob']);
  });

  it('mutes by pausing the producer, and turns the camera off by closing it', async () => {
    await joined();
    const [mic, camera] = captured;
    await room.toggleMic();
    expect(socket.requests.at(-1)).toEqual({ name: 'voice:pauseProducer', data: { producerId: 'producer-1' } });
    expect(mic!.enabled).toBe(false);
    expect(snap().media.mic).toBe(false);

    await room.toggleCamera();
    expect(socket.requests.at(-1)).toEqual({ name: 'voice:closeProducer', data: { producerId: 'producer-2' } });
    expect(camera!.readyState).toBe('ended');

    await room.toggleCamera();
    expect(socket.requests.at(-1)).toMatchObject({ name: 'voice:produce', data: { source: 'camera' } });
    expect(snap().media).toEqual({ mic: false, camera: true, screen: false, deafened: false });
  });

  it('pauses remote video that is out of sight, and leaves it paused when it arrives unseen', async () => {
    await joined();
    const camera = testFakeParameters.generateConsumerRemoteParameters({ codecMimeType: 'video/VP8' });
    socket.push('voice:newConsumer', { consumerId: camera.id, producerId: camera.producerId, peerId: 'alice', kind: 'video', source: 'camera', rtpParameters: camera.rtpParameters, producerPaused: false });
    await until(() => socket.names().includes('voice:resumeConsumer'), 'the consumer to be resumed');

    room.setReceiving('alice', 'camera', false);
    await until(() => socket.names().at(-1) === 'voice:pauseConsumer', 'the pause');
    expect(socket.requests.at(-1)!.data).toEqual({ consumerId: camera.id });
    room.setReceiving('alice', 'camera', false); // already paused: no request
    room.setReceiving('alice', 'camera', true);
    await until(() => socket.names().at(-1) === 'voice:resumeConsumer', 'the resume');
    expect(socket.names().filter((n) => n === 'voice:pauseConsumer')).toHaveLength(1);

    // A screen that starts while its tile cannot be seen is not resumed at all.
    room.setReceiving('alice', 'screen', false);
    const resumes = socket.names().filter((n) => n === 'voice:resumeConsumer').length;
    const screen = testFakeParameters.generateConsumerRemoteParameters({ codecMimeType: 'video/VP8' });
    socket.push('voice:newConsumer', { consumerId: screen.id, producerId: screen.producerId, peerId: 'alice', kind: 'video', source: 'screen', rtpParameters: screen.rtpParameters, producerPaused: false });
    await until(() => !!snap().participants[1]?.tracks.screen, 'the remote screen');
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(socket.names().filter((n) => n === 'voice:resumeConsumer')).toHaveLength(resumes);
  });

  it('deafens: no remote sound is received, the mic is muted, and both come back', async () => {
    await joined();
    const mic = testFakeParameters.generateConsumerRemoteParameters({ codecMimeType: 'audio/opus' });
    socket.push('voice:newConsumer', { consumerId: mic.id, producerId: mic.producerId, peerId: 'alice', kind: 'audio', source: 'mic', rtpParameters: mic.rtpParameters, producerPaused: false });
    await until(() => socket.names().includes('voice:resumeConsumer'), 'the consumer to be resumed');

    await room.toggleDeafen();
    expect(snap().media).toMatchObject({ deafened: true, mic: false });
    expect(socket.requests.filter((r) => r.name === 'voice:pauseConsumer').map((r) => r.data)).toEqual([{ consumerId: mic.id }]);
    expect(socket.requests.some((r) => r.name === 'voice:pauseProducer')).toBe(true);

    await room.toggleDeafen();
    expect(snap().media).toMatchObject({ deafened: false, mic: true });
    expect(socket.names().filter((n) => n === 'voice:resumeConsumer')).toHaveLength(2);
    expect(socket.names()).toContain('voice:resumeProducer');

    // Unmuting while deafened undeafens too.
    await room.toggleDeafen();
    await room.toggleMic();
    expect(snap().media).toMatchObject({ deafened: false, mic: true });
  });

  it('switches the camera to another device on the same producer', async () => {
    await joined();
    const produced = socket.names().filter((n) => n === 'voice:produce').length;
    const before = captured.length;
    await room.useDevice('camera', 'usb-camera');
    expect(captured).toHaveLength(before + 1);
    expect(captured[before - 1]!.readyState).toBe('ended');
    expect(snap().participants[0]!.tracks.camera!.track).toBe(captured.at(-1));
    expect(socket.names().filter((n) => n === 'voice:produce')).toHaveLength(produced);
    expect(socket.names()).not.toContain('voice:closeProducer');
    expect(errors).toEqual([]);
  });

  it('stops sharing when the browser ends the screen track', async () => {
    await joined();
    await room.toggleScreen();
    expect(snap().media.screen).toBe(true);
    captured.at(-1)!.end();
    await until(() => socket.names().at(-1) === 'voice:closeProducer', 'the screen producer to close');
    expect(snap().media.screen).toBe(false);
  });

  it('rejoins a closed room with a fresh grant and republishes what was on', async () => {
    await joined();
    await room.toggleMic(); // muted: must come back muted
    socket.requests.length = 0;
    socket.push('voice:roomClosed', { roomId: 'lounge', reason: 'node lost' });
    expect(snap().state).toBe('reconnecting');
    await until(() => snap().state === 'connected', 'the rejoin');
    expect(grants).toBe(2);
    expect(socket.names().slice(0, 2)).toEqual(['voice:leave', 'voice:join']);
    expect(socket.requests.find((r) => r.name === 'voice:join')!.data).toEqual({ grant: 'grant-2' });
    const republished = socket.requests.filter((r) => r.name === 'voice:produce').map((r) => [r.data.source, r.data.paused]);
    expect(republished).toEqual([
      ['mic', true],
      ['camera', false],
    ]);
    expect(captured.every((t) => t.readyState === 'live')).toBe(true);
  });

  it("moves to another node when the call's node drains: stays connected, the last frames stay until the new session replaces them", async () => {
    await joined();
    const camera = (consumerId?: string) => {
      const params = testFakeParameters.generateConsumerRemoteParameters({ codecMimeType: 'video/VP8' });
      const id = consumerId ?? params.id;
      socket.push('voice:newConsumer', { ...params, consumerId: id, peerId: 'alice', source: 'camera', producerPaused: false });
      return id;
    };
    camera();
    await until(() => !!snap().participants[1]?.tracks.camera, 'the remote camera');
    const before = snap().participants[1]!.tracks.camera!.track;
    const states: string[] = [];
    room.on('changed', () => states.push(snap().state));
    socket.requests.length = 0;

    socket.push('voice:roomClosed', { roomId: 'lounge', reason: NODE_DRAINING_REASON });
    expect(snap().participants[1]!.tracks.camera!.track).toBe(before);
    await until(() => socket.names().includes('voice:setRtpCapabilities'), 'the rejoin');
    expect(snap().participants[1]!.tracks.camera!.track).toBe(before);
    camera();
    await until(() => snap().participants[1]!.tracks.camera!.track !== before, 'the new session to bring the camera back');
    expect(grants).toBe(2);
    expect(states.every((state) => state === 'connected')).toBe(true);
  });

  it('ends the call for good when the server removes us, and says why', async () => {
    await joined();
    socket.push('voice:removed', { roomId: 'elsewhere', reason: 'kicked' });
    expect(snap().state).toBe('connected');
    socket.push('voice:removed', { roomId: 'lounge', reason: 'banned' });
    expect(snap()).toMatchObject({ state: 'disconnected', participants: [] });
    expect(errors.map((e) => e.message)).toEqual(['You were banned from this server, so you left the call.']);
    expect(captured.every((t) => t.readyState === 'ended')).toBe(true);
    expect(socket.connected).toBe(false);
    // No rejoin: no second grant, however long we wait.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(grants).toBe(1);
  });

  it('reconnects the socket after a drop, and gives up on an error a retry cannot fix', async () => {
    await joined();
    socket.drop();
    expect(snap().state).toBe('reconnecting');
    await until(() => snap().state === 'connected', 'the rejoin');
    expect(grants).toBe(2);

    grantError = new ProtocolError('UNAUTHENTICATED', 'Please sign in again.');
    socket.drop();
    await until(() => snap().state === 'disconnected', 'giving up');
    expect(grants).toBe(3);
    expect(errors.map((e) => e.message)).toEqual(['Please sign in again.']);
    expect(captured.every((t) => t.readyState === 'ended')).toBe(true);
  });

  it('restarts ICE when a transport fails, and is connected again once it recovers', async () => {
    await joined();
    const [send] = handlers;
    send!.setConnectionState('connected');
    send!.setConnectionState('failed');
    expect(snap().state).toBe('reconnecting');
    await until(() => socket.names().at(-1) === 'voice:restartIce', 'the ICE restart');
    expect(socket.requests.at(-1)!.data).toEqual({ transportId: socket.requests.find((r) => r.name === 'voice:produce')!.data.transportId });
    await new Promise((resolve) => setTimeout(resolve, 5));
    send!.setConnectionState('connected');
    await until(() => snap().state === 'connected', 'recovery');
    expect(grants).toBe(1);
  });

  it('rejoins when ICE does not come back in time', async () => {
    await joined();
    handlers[1]!.setConnectionState('disconnected');
    await until(() => grants === 2 && snap().state === 'connected', 'the rejoin');
    expect(socket.names()).toContain('voice:restartIce');
    expect(handlers).toHaveLength(4);
  });

  it('leaves: tells the server, removes every tile and stops every track', async () => {
    await joined();
    await room.leave();
    expect(socket.names()).toContain('voice:leave');
    expect(snap()).toMatchObject({ state: 'disconnected', participants: [] });
    expect(captured.every((t) => t.readyState === 'ended')).toBe(true);
    expect(socket.connected).toBe(false);
  });
});
