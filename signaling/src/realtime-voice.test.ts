import type { VoicePermissions } from '@concord/protocol';
import { opusRtpParameters } from '@concord/sfu/src/test-support';
import { QUIET_MS, sleep, startRealtime, type RealtimeClient, type RealtimeSetup } from './realtime-test-support';

const ALL: VoicePermissions = { speak: true, video: true, screen: true };
const MUTED: VoicePermissions = { speak: false, video: true, screen: true };
let ssrc = 41_000;

describe.each([
  ['through Redis, to the instance holding the session', 'redis' as const],
  ['in one process', 'in-process' as const],
])('voice permissions set by the API %s', (_name, mode) => {
  let rt: RealtimeSetup;
  beforeAll(async () => {
    rt = await startRealtime({ mode, sfu: true });
  });
  afterAll(async () => {
    await rt?.close();
  });

  /** A client of `userId` on the last instance, in `room` with its mic on; answers the producer. */
  async function speaking(userId: string, room: string): Promise<{ client: RealtimeClient; producerId: string }> {
    const client = await rt.connect(rt.signalings.length - 1, userId);
    await client.ok('voice:join', { grant: await rt.grantFor(userId, room, ALL) });
    return { client, producerId: await produceMic(client) };
  }

  async function produceMic(client: RealtimeClient): Promise<string> {
    const { transportId } = await client.ok<{ transportId: string }>('voice:createTransport', { direction: 'send' });
    const produce = { transportId, kind: 'audio', source: 'mic', rtpParameters: opusRtpParameters(++ssrc) };
    return (await client.ok<{ producerId: string }>('voice:produce', produce)).producerId;
  }

  test('revoking speak closes the mic on the SFU and tells the client; the mic stays refused', async () => {
    const room = `perm-revoke-${mode}`;
    // Another socket of the same user, on the other instance and in no room, must not matter.
    await rt.connect(0, 'alice');
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
});
