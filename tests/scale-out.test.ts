import { produceRequest, VoiceClient } from '@concord/testkit/src/voice-client';
import { Cluster, failureReporter } from '@concord/testkit/src/cluster';
import { eventually } from '@concord/testkit/src/wait';

/*
 * A room larger than a node, on a cluster as deployed (API, two SFU nodes and two signaling
 * processes, each a real process, sharing Redis): the case of four people with camera and
 * microphone at SFU_CAPACITY=8, which used to put all 32 streams on one node and leave the other
 * idle. Now the room's first node takes two of them (8 streams), refuses the next, and the room
 * continues on the other node, the two nodes piping each other's media between their processes.
 */

let cluster: Cluster;
const clients: VoiceClient[] = [];
const { reporting, failed } = failureReporter();
let ssrc = 31_000;
/** The call of the first test, for the second. */
let shared: { people: { client: VoiceClient; node: string; producerIds: string[] }[] } | undefined;

beforeAll(
  reporting(async () => {
    cluster = await Cluster.start({ sfuNodes: 2, signaling: 2, sfuEnv: { SFU_CAPACITY: '8', SFU_HEARTBEAT_INTERVAL_MS: '500' } });
  }),
  60_000,
);

afterAll(async () => {
  for (const client of clients) client.close();
  await cluster?.stop(failed());
}, 30_000);

test(
  'four people with camera and microphone at SFU_CAPACITY=8 spread over both nodes, each receiving the other three',
  reporting(async () => {
    const users = [];
    for (let i = 0; i < 4; i++) users.push(await cluster.signUp());
    const roomId = await cluster.voiceRoom(users[0]!, users.slice(1));
    const people: { client: VoiceClient; node: string; producerIds: string[] }[] = [];
    for (const [i, user] of users.entries()) {
      const client = new VoiceClient(user, cluster.signalingUrls[i % 2]!);
      clients.push(client);
      await client.connected();
      const joined = await client.request('voice:join', { grant: await cluster.grant(user, roomId) });
      const send = await client.request('voice:createTransport', { direction: 'send' });
      const recv = await client.request('voice:createTransport', { direction: 'recv' });
      await client.request('voice:setRtpCapabilities', { rtpCapabilities: joined.routerRtpCapabilities });
      const producerIds: string[] = [];
      for (const source of ['mic', 'camera'] as const) producerIds.push((await client.request('voice:produce', produceRequest(send.transportId, source, ++ssrc))).producerId);
      people.push({ client, node: cluster.nodeOf(recv), producerIds });
      expect(cluster.nodeOf(send)).toBe(people[i]!.node);
    }
    const nodes = people.map((person) => person.node);
    expect(nodes[1]).toBe(nodes[0]);
    expect(nodes[2]).not.toBe(nodes[0]);
    expect(nodes[3]).toBe(nodes[2]);
    expect((await cluster.registry.roomNodes(roomId)).map((node) => node.id).sort()).toEqual(cluster.sfus.map((sfu) => sfu.id).sort());

    shared = { people };
    for (const [i, person] of people.entries()) {
      const others = people.filter((other) => other !== person);
      // Everyone's camera and microphone, from either node.
      for (const producerId of others.flatMap((other) => other.producerIds)) await person.client.waitFor('voice:newConsumer', (c) => c.producerId === producerId, 15_000);
      // Everyone else known by name: in the join response or arriving later.
      await eventually(() => {
        const told = person.client.received('voice:peerJoined').map((e) => e.peer.peerId);
        return others.every((other) => told.includes(other.client.user.id) || i > people.indexOf(other));
      }, 10_000);
    }
  }),
  120_000,
);

test(
  'SIGKILL of one of the two nodes: the half of the call on the other node loses only the killed half, its own call goes on',
  reporting(async () => {
    const people = shared!.people;
    const victim = cluster.sfus.find((sfu) => sfu.id === people[0]!.node)!;
    const [lost, kept] = [people.filter((p) => p.node === victim.id), people.filter((p) => p.node !== victim.id)];
    victim.process.crash();
    for (const person of kept) {
      // The pipe to the dead node is torn down at once: its producers and peers are gone for this half.
      for (const producerId of lost.flatMap((p) => p.producerIds)) await person.client.waitFor('voice:consumerClosed', (c) => c.producerId === producerId, 10_000);
      for (const gone of lost) await person.client.waitFor('voice:peerLeft', (e) => e.peerId === gone.client.user.id, 10_000);
    }
    // Nobody on the surviving node was sent away, and their media between them is untouched.
    for (const person of kept) expect(person.client.received('voice:roomClosed')).toEqual([]);
    for (const person of kept) {
      const other = kept.find((p) => p !== person)!;
      const closed = person.client.received('voice:consumerClosed').map((c) => c.producerId);
      for (const producerId of other.producerIds) expect(closed).not.toContain(producerId);
    }
  }),
  60_000,
);
