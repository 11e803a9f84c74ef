/**
 * The `npm start` default: the whole API on embedded PGlite, hit by many users at once. PGlite has
 * one backend session for every connection of the pool, so a request's statements must never
 * interleave with another's (a Bind meeting another request's Parse, a read inside someone else's
 * transaction). Every answer given under concurrency is checked against the answer the same
 * request gets alone, and every write against the state it must leave.
 */
import { Permission } from '@concord/protocol';
import { createServer, expectStatus, startGuildApi, type CreatedServer, type GuildTestApi, type TestUser } from '@concord/testkit/src/api';
import type { Reply } from '@concord/testkit/src/http';

jest.setTimeout(180_000);

let t: GuildTestApi;
let owner: TestUser;
let members: TestUser[];
let server: CreatedServer;
let secretChannelId: string;
let opsChannelId: string;
let inviteCode: string;
/** Roles made before the storm, each given an overwrite and a holder during it. */
let roleIds: string[];

beforeAll(async () => {
  t = await startGuildApi({ embedded: true, redis: false });
  owner = await t.signUp('owner');
  members = [];
  for (let i = 0; i < 4; i += 1) members.push(await t.signUp(`member${i}`));
  server = await createServer(t, owner, members);
  const hidden = async (name: string) => {
    const channel = expectStatus(await t.call('POST', `/api/servers/${server.id}/channels`, { token: owner.token, json: { name } }), 201);
    expectStatus(
      await t.call('PUT', `/api/channels/${channel.id}/overwrites/role/${server.everyoneRoleId}`, { token: owner.token, json: { allow: 0, deny: Permission.VIEW_CHANNEL } }),
      200,
    );
    return channel.id as string;
  };
  secretChannelId = await hidden('secret');
  opsChannelId = await hidden('ops');
  for (let i = 0; i < 5; i += 1) {
    expectStatus(await t.call('POST', `/api/channels/${secretChannelId}/messages`, { token: owner.token, json: { content: `secret-${i}` } }), 201);
    expectStatus(await t.call('POST', `/api/channels/${server.textChannelId}/messages`, { token: owner.token, json: { content: `seed-${i}` } }), 201);
  }
  inviteCode = expectStatus(await t.call('POST', `/api/servers/${server.id}/invites`, { token: owner.token, json: {} }), 201).code;
  roleIds = [];
  for (let i = 0; i < 8; i += 1) {
    roleIds.push(expectStatus(await t.call('POST', `/api/servers/${server.id}/roles`, { token: owner.token, json: { name: `crew-${i}`, permissions: 0 } }), 201).id);
  }
});

afterAll(async () => {
  await t?.close();
});

interface Operation {
  name: string;
  run(): Promise<Reply>;
  /** Throws (a jest expectation) when the answer is wrong. */
  check(reply: Reply): void;
}

/** A read whose answer no write of the storm changes: it must equal the answer it got alone. */
async function stableRead(name: string, user: TestUser, route: string): Promise<Operation> {
  const run = () => t.call('GET', route, { token: user.token });
  const truth = await run();
  expect(truth.status).toBeLessThan(500);
  return { name, run, check: (reply) => expect({ status: reply.status, body: reply.body }).toEqual({ status: truth.status, body: truth.body }) };
}

it('answers 50+ concurrent reads, writes and transactions of several users exactly as it answers them one at a time', async () => {
  const generalContent = new Set(Array.from({ length: 5 }, (_, i) => `seed-${i}`));
  const secretContent = new Set(Array.from({ length: 5 }, (_, i) => `secret-${i}`));
  const operations: Operation[] = [];

  // Reads, each with its serial truth taken now (members cannot see #secret: that answer is an error).
  for (const user of [owner, ...members]) {
    operations.push(await stableRead('channels', user, `/api/servers/${server.id}/channels`));
    operations.push(await stableRead('server', user, `/api/servers/${server.id}`));
    operations.push(await stableRead('profile', user, '/api/users/@me'));
    operations.push(await stableRead('secret history', user, `/api/channels/${secretChannelId}/messages`));
    operations.push(await stableRead('invite', user, `/api/invites/${inviteCode}`));
  }
  // History of #general while others post to it: only #general's messages, never #secret's.
  for (const user of [owner, ...members]) {
    for (let i = 0; i < 3; i += 1) {
      operations.push({
        name: 'general history',
        run: () => t.call('GET', `/api/channels/${server.textChannelId}/messages?limit=100`, { token: user.token }),
        check(reply) {
          expect(reply.status).toBe(200);
          for (const message of reply.body.messages) {
            expect(message.channelId).toBe(server.textChannelId);
            expect(secretContent.has(message.content)).toBe(false);
            expect(message.content).toMatch(/^(seed|post)-/);
          }
        },
      });
    }
  }
  // Writes: messages from every user.
  const posts: { user: TestUser; content: string }[] = [];
  for (const user of [owner, ...members]) {
    for (let i = 0; i < 6; i += 1) {
      const content = `post-${user.name}-${i}`;
      posts.push({ user, content });
      generalContent.add(content);
      operations.push({
        name: 'post',
        run: () => t.call('POST', `/api/channels/${server.textChannelId}/messages`, { token: user.token, json: { content, nonce: content } }),
        check(reply) {
          expect(reply.status).toBe(201);
          expect(reply.body).toMatchObject({ channelId: server.textChannelId, serverId: server.id, authorId: user.id, content, nonce: content });
        },
      });
    }
  }
  // Transactions: role creation, channel overwrites, member roles.
  const newRoles = Array.from({ length: 6 }, (_, i) => ({ name: `made-${i}`, permissions: i % 2 === 0 ? Permission.ADD_REACTIONS : 0 }));
  for (const role of newRoles) {
    operations.push({
      name: 'create role',
      run: () => t.call('POST', `/api/servers/${server.id}/roles`, { token: owner.token, json: role }),
      check(reply) {
        expect(reply.status).toBe(201);
        expect(reply.body).toMatchObject({ serverId: server.id, name: role.name, permissions: role.permissions });
      },
    });
  }
  const overwrites = roleIds.map((roleId, i) => ({ roleId, allow: i % 2 === 0 ? Permission.SEND_MESSAGES : 0, deny: i % 2 === 0 ? 0 : Permission.ADD_REACTIONS }));
  for (const overwrite of overwrites) {
    operations.push({
      name: 'set overwrite',
      run: () => t.call('PUT', `/api/channels/${opsChannelId}/overwrites/role/${overwrite.roleId}`, { token: owner.token, json: { allow: overwrite.allow, deny: overwrite.deny } }),
      check(reply) {
        expect(reply.status).toBe(200);
        expect(reply.body.id).toBe(opsChannelId);
        expect(reply.body.overwrites).toContainEqual({ targetType: 'role', targetId: overwrite.roleId, allow: overwrite.allow, deny: overwrite.deny });
      },
    });
  }
  const assignments = roleIds.map((roleId, i) => ({ roleId, user: members[i % members.length]! }));
  for (const assignment of assignments) {
    operations.push({
      name: 'give role',
      run: () => t.call('PUT', `/api/servers/${server.id}/members/${assignment.user.id}/roles/${assignment.roleId}`, { token: owner.token }),
      check: (reply) => expect(reply.status).toBe(204),
    });
  }
  expect(operations.length).toBeGreaterThanOrEqual(50);

  // Interleave the kinds, then fire everything at once.
  const order = operations.map((operation, i) => ({ operation, key: (i * 7919) % operations.length })).sort((a, b) => a.key - b.key);
  const replies = await Promise.all(order.map(({ operation }) => operation.run()));
  const wrong: string[] = [];
  order.forEach(({ operation }, i) => {
    try {
      operation.check(replies[i]!);
    } catch (error) {
      wrong.push(`${operation.name}: ${replies[i]!.status} ${JSON.stringify(replies[i]!.body).slice(0, 300)}\n${String(error).slice(0, 500)}`);
    }
  });
  expect(wrong).toEqual([]);

  // What the writes left, read alone.
  const history = expectStatus(await t.call('GET', `/api/channels/${server.textChannelId}/messages?limit=100`, { token: owner.token }), 200);
  const contents = history.messages.map((message: { content: string }) => message.content).sort();
  expect(contents).toEqual([...generalContent].sort());
  const roles = expectStatus(await t.call('GET', `/api/servers/${server.id}/roles`, { token: owner.token }), 200);
  for (const role of newRoles) expect(roles.filter((r: { name: string }) => r.name === role.name)).toEqual([expect.objectContaining({ permissions: role.permissions })]);
  expect(new Set(roles.map((r: { position: number }) => r.position)).size).toBe(roles.length);
  const ops = expectStatus(await t.call('GET', `/api/channels/${opsChannelId}`, { token: owner.token }), 200);
  for (const overwrite of overwrites) {
    expect(ops.overwrites).toContainEqual({ targetType: 'role', targetId: overwrite.roleId, allow: overwrite.allow, deny: overwrite.deny });
  }
  for (const assignment of assignments) {
    const member = expectStatus(await t.call('GET', `/api/servers/${server.id}/members/${assignment.user.id}`, { token: owner.token }), 200);
    expect(member.roleIds).toContain(assignment.roleId);
  }
});
