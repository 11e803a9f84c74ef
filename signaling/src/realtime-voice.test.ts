import { VOICE_NAMESPACE, type VoicePermissions, type VoiceRemoval, type VoiceRemovedReason } from '@concord/protocol';
import { QUIET_MS, startRealtime, type RealtimeClient, type RealtimeSetup } from '@concord/testkit/src/realtime';
import { opusRtpParameters } from '@concord/testkit/src/sfu';
import { sleep } from '@concord/testkit/src/wait';

const ALL: VoicePermissions = { speak: true, video: true, screen: true };
const MUTED: VoicePermissions = { speak: false, video: true, screen: true };
let ssrc = 41_000;

/** A mic producer of the client (on a send transport of its own); answers its id. */
async function produceMic(client: RealtimeClient): Promise<string> {
  const { transportId } = await client.ok<{ transportId: string }>('voice:createTransport', { direction: 'send' });
  const produce = { transportId, kind: 'audio', source: 'mic', rtpParameters: opusRtpParameters(++ssrc) };
  return (await client.ok<{ producerId: string }>('voice:produce', produce)).producerId;
}

describe.each([
  ['through Redis, to the instance holding the session', 'redis' as const],
  ['in one process', 'in-process' as const],
])('live voice sessions follow the API %s', (_name, mode) => {
  let rt: RealtimeSetup;
  beforeAll(async () => {
    // Long: a peer that leaves sooner was taken out, not lapsed.
    rt = await startRealtime({ mode, sfu: true, peerGraceMs: 20_000 });
  });
  afterAll(async () => {
    await rt?.close();
  });

  /** A client of `userId` on the last instance, in `room` with its mic on; answers the producer. */
  async function speaking(userId: string, room: string): Promise<{ client: RealtimeClient; producerId: string }> {
    const client = await rt.connect(rt.signalings.length - 1, userId, VOICE_NAMESPACE);
    await client.ok('voice:join', { grant: await rt.grantFor(userId, room, ALL) });
    return { client, producerId: await produceMic(client) };
  }

  test('revoking speak closes the mic on the SFU and tells the client; the mic stays refused', async () => {
    const room = `perm-revoke-${mode}`;
    // Another socket of the same user, on the other instance and in no room, must not matter.
    await rt.connect(0, 'alice', VOICE_NAMESPACE);
    const { client: alice, producerId } = await speaking('alice', room);

    await rt.publisher.setVoicePermissions('alice', room, MUTED);

    expect(await alice.nextOf('voice:producerClosed')).toEqual({ producerId, reason: 'permission revoked' });
    expect(await alice.nextOf('voice:permissionsChanged')).toEqual({ permissions: MUTED });
    const transport = await alice.ok<{ transportId: string }>('voice:createTransport', { direction: 'send' });
    const again = await alice.send('voice:produce', { transportId: transport.transportId, kind: 'audio', source: 'mic', rtpParameters: opusRtpParameters(++ssrc) });
    expect(again).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
  });

  test('a change for another room or another user leaves the session alone', async () => {
    const room = `perm-other-${mode}`;
    const { client: bob } = await speaking('bob', room);

    await rt.publisher.setVoicePermissions('bob', `${room}-elsewhere`, MUTED);
    await rt.publisher.setVoicePermissions('nobody', room, MUTED);
    await sleep(QUIET_MS);

    expect(bob.received.map((r) => r.event)).not.toContain('voice:producerClosed');
    expect(bob.received.map((r) => r.event)).not.toContain('voice:permissionsChanged');
    await produceMic(bob);
  });

  describe('removal from a voice room', () => {
    /** A client of `userId` (on instance `instance`) in `room`, receiving; answers the join. */
    async function receiving(instance: number, userId: string, room: string): Promise<{ client: RealtimeClient; joined: { routerRtpCapabilities: unknown } }> {
      const client = await rt.connect(instance, userId, VOICE_NAMESPACE);
      const joined = await client.ok<{ routerRtpCapabilities: unknown }>('voice:join', { grant: await rt.grantFor(userId, room, ALL) });
      await client.ok('voice:createTransport', { direction: 'recv' });
      await client.ok('voice:setRtpCapabilities', { rtpCapabilities: joined.routerRtpCapabilities });
      return { client, joined };
    }

    const removal = (roomId: string, userIds: string[] | undefined, reason: VoiceRemovedReason): VoiceRemoval => {
      const at = Date.now();
      return { roomId, ...(userIds && { userIds }), reason, at, until: at + 60_000 };
    };

    test('a removed user is out at once: told why, the others see them leave, no more media, and the old grant no longer admits', async () => {
      const room = `removed-${mode}`;
      const last = rt.signalings.length - 1;
      const { client: mallory } = await receiving(0, 'mallory', room);
      const { client: bob } = await receiving(last, 'bob', room);
      const bobMic = await produceMic(bob);
      const consumer = (await mallory.nextOf('voice:newConsumer', (c) => (c as { producerId: string }).producerId === bobMic)) as { consumerId: string };
      // Fetched before the kick, still within its lifetime.
      const oldGrant = await rt.grantFor('mallory', room, ALL);
      await sleep(2);

      await rt.publisher.removeFromVoice(removal(room, ['mallory'], 'kicked'));

      expect(await mallory.nextOf('voice:removed')).toEqual({ roomId: room, reason: 'kicked' });
      expect(await bob.nextOf('voice:peerLeft')).toEqual({ peerId: 'mallory' });
      // Nothing of the room works for mallory any more, and nothing more of it reaches her.
      expect(await mallory.send('voice:resumeConsumer', { consumerId: consumer.consumerId })).toMatchObject({ ok: false, error: { code: 'NOT_IN_ROOM' } });
      const carol = (await receiving(last, 'carol', room)).client;
      await produceMic(carol);
      await bob.nextOf('voice:newConsumer', (c) => (c as { peerId: string }).peerId === 'carol');
      await sleep(QUIET_MS);
      const afterRemoval = mallory.received.slice(mallory.received.findIndex((r) => r.event === 'voice:removed') + 1);
      expect(afterRemoval.filter((r) => r.event.startsWith('voice:'))).toEqual([]);
      // The grant fetched before the kick is refused, on any instance; one checked after the removal admits.
      expect(await mallory.send('voice:join', { grant: oldGrant })).toMatchObject({ ok: false, error: { code: 'GRANT_INVALID' } });
      const elsewhere = await rt.connect(last, 'mallory', VOICE_NAMESPACE);
      expect(await elsewhere.send('voice:join', { grant: oldGrant })).toMatchObject({ ok: false, error: { code: 'GRANT_INVALID' } });
      await sleep(2);
      await mallory.ok('voice:join', { grant: await rt.grantFor('mallory', room, ALL) });
    });

    test('a removed user whose socket had dropped leaves at once, not when the grace period ends', async () => {
      const room = `removed-dropped-${mode}`;
      const { client: oscar } = await receiving(0, 'oscar', room);
      const { client: peggy } = await receiving(rt.signalings.length - 1, 'peggy', room);
      await oscar.disconnect();
      await sleep(QUIET_MS);
      expect(peggy.received.map((r) => r.event)).not.toContain('voice:peerLeft');

      await rt.publisher.removeFromVoice(removal(room, ['oscar'], 'banned'));

      expect(await peggy.nextOf('voice:peerLeft', () => true, 3_000)).toEqual({ peerId: 'oscar' });
    });

    test('a removal names its users and its room: others, and the same user elsewhere, stay', async () => {
      const room = `removed-other-${mode}`;
      const { client: dave } = await receiving(0, 'dave', room);
      const { client: erin } = await receiving(0, 'erin', `${room}-elsewhere`);
      await rt.publisher.removeFromVoice(removal(room, ['erin'], 'banned'));
      await rt.publisher.removeFromVoice(removal(`${room}-elsewhere`, ['dave'], 'banned'));
      await sleep(QUIET_MS);
      for (const client of [dave, erin]) expect(client.received.map((r) => r.event)).not.toContain('voice:removed');
      await produceMic(dave);
      await produceMic(erin);
    });

    test('a removal of everyone (the channel was deleted) ends the call for all, and every older grant for the room', async () => {
      const room = `deleted-${mode}`;
      const { client: frank } = await receiving(0, 'frank', room);
      const { client: grace } = await receiving(rt.signalings.length - 1, 'grace', room);
      const heidiGrant = await rt.grantFor('heidi', room, ALL);
      await sleep(2);

      await rt.publisher.removeFromVoice(removal(room, undefined, 'channel-deleted'));

      for (const client of [frank, grace]) expect(await client.nextOf('voice:removed')).toEqual({ roomId: room, reason: 'channel-deleted' });
      const heidi = await rt.connect(0, 'heidi', VOICE_NAMESPACE);
      expect(await heidi.send('voice:join', { grant: heidiGrant })).toMatchObject({ ok: false, error: { code: 'GRANT_INVALID' } });
    });
  });
});
