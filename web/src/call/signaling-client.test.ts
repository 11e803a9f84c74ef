import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { ProtocolError } from '@concord/protocol';
import type { Result } from '@concord/protocol';
import { SignalingClient } from './signaling-client';
import type { SignalingSocket } from './signaling-client';

type Ack = (err: Error | null, result?: Result<unknown>) => void;

/** Just what SignalingClient uses of a socket.io socket; acks are answered by the test. */
class FakeSocket extends EventEmitter {
  connected = true;
  readonly sent: Array<{ event: string; data: unknown; ack: Ack }> = [];
  timeout(ms: number) {
    return {
      emit: (event: string, data: unknown, ack: Ack) => {
        this.sent.push({ event, data, ack });
        setTimeout(() => ack(new Error('operation has timed out')), ms);
      },
    };
  }
  connect() {
    setTimeout(() => {
      this.connected = true;
      this.emit('connect');
    }, 0);
  }
}

describe('SignalingClient', () => {
  let socket: FakeSocket;
  let client: SignalingClient;

  beforeEach(() => {
    jest.useFakeTimers();
    socket = new FakeSocket();
    client = new SignalingClient(socket as unknown as SignalingSocket, 1000);
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('resolves with the data of an ok ack', async () => {
    const pending = client.request('voice:pauseProducer', { producerId: 'p1' });
    expect(socket.sent[0]).toMatchObject({ event: 'voice:pauseProducer', data: { producerId: 'p1' } });
    socket.sent[0]!.ack(null, { ok: true, data: {} });
    await expect(pending).resolves.toEqual({});
  });

  it('rejects with the typed error of a failed ack', async () => {
    const pending = client.request('voice:resumeConsumer', { consumerId: 'c1' });
    socket.sent[0]!.ack(null, { ok: false, error: { code: 'NOT_FOUND', message: 'no such consumer' } });
    await expect(pending).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'no such consumer' });
  });

  it('rejects with TIMEOUT when no ack comes', async () => {
    const pending = client.request('voice:leave', {});
    jest.advanceTimersByTime(1000);
    await expect(pending).rejects.toMatchObject({ code: 'TIMEOUT' });
  });

  it('rejects pending requests at once when the socket drops, and new ones while it is down', async () => {
    const pending = client.request('voice:leave', {});
    socket.connected = false;
    socket.emit('disconnect', 'transport close');
    await expect(pending).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    jest.advanceTimersByTime(1000); // the late timeout of the same request changes nothing
    await expect(client.request('voice:leave', {})).rejects.toBeInstanceOf(ProtocolError);
    expect(socket.sent).toHaveLength(1);
  });

  it('connects, and turns a refused handshake into the server error', async () => {
    socket.connected = false;
    const connected = client.connect();
    jest.advanceTimersByTime(0);
    await expect(connected).resolves.toBeUndefined();

    socket.connected = false;
    socket.connect = () => socket.emit('connect_error', Object.assign(new Error('refused'), { data: { code: 'UNAUTHENTICATED', message: 'bad token' } }));
    await expect(client.connect()).rejects.toMatchObject({ code: 'UNAUTHENTICATED', message: 'bad token' });
  });

  it('subscribes to server events and unsubscribes', () => {
    const seen: string[] = [];
    const off = client.on('voice:peerLeft', ({ peerId }) => seen.push(peerId));
    socket.emit('voice:peerLeft', { peerId: 'a' });
    off();
    socket.emit('voice:peerLeft', { peerId: 'b' });
    expect(seen).toEqual(['a']);
  });
});
