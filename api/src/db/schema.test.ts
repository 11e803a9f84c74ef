import { Database, type Queryable } from './database';
import { isCheckViolation, isForeignKeyViolation, isUniqueViolation } from './errors';
import { uuidv7 } from './ids';
import { migrate } from './migrate';
import { createTestDatabase, type TestDatabase } from '@concord/testkit/src/postgres';

let testDb: TestDatabase;
let db: Database;

beforeAll(async () => {
  testDb = await createTestDatabase();
  db = new Database({ connectionString: testDb.url, poolSize: 6 });
  await migrate(db);
});

afterAll(async () => {
  await db?.close();
  await testDb?.drop();
});

async function user(name = `u${Math.random().toString(36).slice(2, 10)}`): Promise<string> {
  const id = uuidv7();
  await db.query('INSERT INTO users (id, username, display_name, password_hash) VALUES ($1, $2, $2, $3)', [id, name, 'hash']);
  return id;
}

async function server(ownerId: string): Promise<string> {
  const id = uuidv7();
  await db.query('INSERT INTO servers (id, name, owner_id) VALUES ($1, $2, $3)', [id, 'guild', ownerId]);
  await db.query('INSERT INTO members (server_id, user_id) VALUES ($1, $2)', [id, ownerId]);
  await db.query('INSERT INTO roles (id, server_id, name, is_everyone) VALUES ($1, $2, $3, true)', [uuidv7(), id, '@everyone']);
  return id;
}

async function channel(serverId: string, kind = 'text', parentId: string | null = null): Promise<string> {
  const id = uuidv7();
  await db.query('INSERT INTO channels (id, server_id, kind, name, parent_id) VALUES ($1, $2, $3, $4, $5)', [id, serverId, kind, kind, parentId]);
  return id;
}

async function message(q: Queryable, channelId: string, authorId: string, extra: { nonce?: string; replyTo?: string } = {}): Promise<string> {
  const id = uuidv7();
  await q.query('INSERT INTO messages (id, channel_id, author_id, content, nonce, reply_to_id) VALUES ($1, $2, $3, $4, $5, $6)', [
    id,
    channelId,
    authorId,
    'hello',
    extra.nonce ?? null,
    extra.replyTo ?? null,
  ]);
  return id;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

const count = async (sql: string, params: unknown[] = []) => (await db.one<{ n: number }>(`SELECT count(*) AS n FROM ${sql}`, params)).n;

describe('schema: deletion', () => {
  it('deleting a channel takes its messages and their reactions; writes into it then fail with a foreign key error', async () => {
    const alice = await user();
    const guild = await server(alice);
    const general = await channel(guild);
    const other = await channel(guild);
    const first = await message(db, general, alice);
    await message(db, general, alice, { replyTo: first });
    const kept = await message(db, other, alice);
    await db.query('INSERT INTO reactions (channel_id, message_id, user_id, emoji) VALUES ($1, $2, $3, $4), ($5, $6, $3, $4)', [general, first, alice, '👍', other, kept]);

    await db.query('DELETE FROM channels WHERE id = $1', [general]);
    expect(await count('messages WHERE channel_id = $1', [general])).toBe(0);
    expect(await count('reactions WHERE message_id = $1', [first])).toBe(0);
    expect(await count('reactions WHERE message_id = $1', [kept])).toBe(1);

    const error = await rejection(message(db, general, alice));
    expect(isForeignKeyViolation(error, 'messages_channel_fk')).toBe(true);
    expect(isForeignKeyViolation(await rejection(db.query('INSERT INTO reactions (channel_id, message_id, user_id, emoji) VALUES ($1, $2, $3, $4)', [general, first, alice, '👍'])), 'reactions_message_fk')).toBe(true);
  });

  it('leaves no orphans when a channel is deleted while messages are being sent to it', async () => {
    const alice = await user();
    const guild = await server(alice);
    const doomed = await channel(guild);
    let sent = 0;
    let refused = 0;
    const senders = Array.from({ length: 4 }, async () => {
      for (let i = 0; i < 40; i += 1) {
        try {
          await db.transaction((tx) => message(tx, doomed, alice));
          sent += 1;
        } catch (error) {
          if (!isForeignKeyViolation(error, 'messages_channel_fk')) throw error;
          refused += 1;
        }
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    await db.query('DELETE FROM channels WHERE id = $1', [doomed]);
    await Promise.all(senders);
    expect(sent).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
    expect(await count('messages m WHERE NOT EXISTS (SELECT 1 FROM channels c WHERE c.id = m.channel_id)')).toBe(0);
  });

  it('deleting a server takes everything in it', async () => {
    const alice = await user();
    const bob = await user();
    const guild = await server(alice);
    await db.query('INSERT INTO members (server_id, user_id) VALUES ($1, $2)', [guild, bob]);
    const role = uuidv7();
    await db.query('INSERT INTO roles (id, server_id, name, position, permissions) VALUES ($1, $2, $3, 1, $4)', [role, guild, 'mods', 2 ** 40]);
    await db.query('INSERT INTO member_roles (server_id, user_id, role_id) VALUES ($1, $2, $3)', [guild, bob, role]);
    const category = await channel(guild, 'category');
    const text = await channel(guild, 'text', category);
    await db.query("INSERT INTO permission_overwrites (channel_id, target_type, target_id, allow, deny) VALUES ($1, 'role', $2, 1, 2)", [text, role]);
    const msg = await message(db, text, bob);
    await db.query('INSERT INTO reactions (channel_id, message_id, user_id, emoji) VALUES ($1, $2, $3, $4)', [text, msg, alice, 'x']);
    await db.query('INSERT INTO invites (code, server_id, creator_id) VALUES ($1, $2, $3)', [`inv${guild.slice(-8)}`, guild, alice]);
    await db.query('INSERT INTO bans (server_id, user_id, banned_by) VALUES ($1, $2, $3)', [guild, await user(), alice]);
    expect((await db.one<{ permissions: number }>('SELECT permissions FROM roles WHERE id = $1', [role])).permissions).toBe(2 ** 40);

    await db.query('DELETE FROM servers WHERE id = $1', [guild]);
    for (const table of ['members', 'roles', 'member_roles', 'channels', 'invites', 'bans']) expect(await count(`${table} WHERE server_id = $1`, [guild])).toBe(0);
    expect(await count('permission_overwrites WHERE channel_id = $1', [text])).toBe(0);
    expect(await count('messages WHERE id = $1', [msg])).toBe(0);
    expect(await count('reactions WHERE message_id = $1', [msg])).toBe(0);
    expect(await count('users WHERE id IN ($1, $2)', [alice, bob])).toBe(2);
  });

  it('deleting a role removes its overwrites and assignments; deleting a category keeps its channels', async () => {
    const alice = await user();
    const guild = await server(alice);
    const role = uuidv7();
    await db.query('INSERT INTO roles (id, server_id, name) VALUES ($1, $2, $3)', [role, guild, 'r']);
    await db.query('INSERT INTO member_roles (server_id, user_id, role_id) VALUES ($1, $2, $3)', [guild, alice, role]);
    const category = await channel(guild, 'category');
    const text = await channel(guild, 'text', category);
    await db.query("INSERT INTO permission_overwrites (channel_id, target_type, target_id, allow) VALUES ($1, 'role', $2, 1), ($1, 'member', $3, 1)", [text, role, alice]);

    await db.query('DELETE FROM roles WHERE id = $1', [role]);
    expect(await count('member_roles WHERE role_id = $1', [role])).toBe(0);
    expect(await count("permission_overwrites WHERE channel_id = $1 AND target_type = 'role'", [text])).toBe(0);
    expect(await count("permission_overwrites WHERE channel_id = $1 AND target_type = 'member'", [text])).toBe(1);

    await db.query('DELETE FROM channels WHERE id = $1', [category]);
    expect(await db.one('SELECT server_id, parent_id FROM channels WHERE id = $1', [text])).toEqual({ server_id: guild, parent_id: null });
  });

  it('deleting a message unlinks its replies; deleting an account keeps its messages', async () => {
    const alice = await user();
    const bob = await user();
    const guild = await server(alice);
    const text = await channel(guild);
    const original = await message(db, text, alice);
    const reply = await message(db, text, bob, { replyTo: original });
    await db.query('DELETE FROM messages WHERE channel_id = $1 AND id = $2', [text, original]);
    expect(await db.one('SELECT reply_to_id FROM messages WHERE id = $1', [reply])).toEqual({ reply_to_id: null });
    await db.query('DELETE FROM users WHERE id = $1', [bob]);
    expect(await db.one('SELECT author_id FROM messages WHERE id = $1', [reply])).toEqual({ author_id: null });
    // Alice owns a server: her account cannot go until ownership moves.
    expect(isForeignKeyViolation(await rejection(db.query('DELETE FROM users WHERE id = $1', [alice])), 'servers_owner_fk')).toBe(true);
  });
});

describe('schema: integrity', () => {
  it('makes a retried send with the same nonce idempotent', async () => {
    const alice = await user();
    const bob = await user();
    const text = await channel(await server(alice));
    const first = await message(db, text, alice, { nonce: 'n-1' });
    expect(isUniqueViolation(await rejection(message(db, text, alice, { nonce: 'n-1' })), 'messages_author_nonce_key')).toBe(true);

    const retry = await db.query(
      `INSERT INTO messages (id, channel_id, author_id, content, nonce) VALUES ($1, $2, $3, 'hello', 'n-1')
       ON CONFLICT (author_id, nonce) WHERE nonce IS NOT NULL DO NOTHING RETURNING id`,
      [uuidv7(), text, alice],
    );
    expect(retry.rowCount).toBe(0);
    expect(await db.one('SELECT id FROM messages WHERE author_id = $1 AND nonce = $2', [alice, 'n-1'])).toEqual({ id: first });

    await message(db, text, bob, { nonce: 'n-1' }); // another author
    await message(db, text, alice); // no nonce, twice
    await message(db, text, alice);
    expect(await count('messages WHERE channel_id = $1', [text])).toBe(4);
  });

  it('keeps user names unique regardless of case', async () => {
    await user('Alice_Case');
    expect(isUniqueViolation(await rejection(user('alice_case')), 'users_username_key')).toBe(true);
    await db.query('INSERT INTO users (id, firebase_uid, display_name) VALUES ($1, $2, $3), ($4, $5, $3)', [uuidv7(), 'fb-1', 'No Name', uuidv7(), 'fb-2']);
  });

  it('keeps roles, categories and replies within their server or channel', async () => {
    const alice = await user();
    const guildA = await server(alice);
    const guildB = await server(alice);
    const roleB = uuidv7();
    await db.query('INSERT INTO roles (id, server_id, name) VALUES ($1, $2, $3)', [roleB, guildB, 'b']);
    const cross = db.query('INSERT INTO member_roles (server_id, user_id, role_id) VALUES ($1, $2, $3)', [guildA, alice, roleB]);
    expect(isForeignKeyViolation(await rejection(cross), 'member_roles_role_fk')).toBe(true);
    expect(isUniqueViolation(await rejection(db.query('INSERT INTO roles (id, server_id, name, is_everyone) VALUES ($1, $2, $3, true)', [uuidv7(), guildA, 'x'])), 'roles_everyone_key')).toBe(true);

    const categoryB = await channel(guildB, 'category');
    expect(isForeignKeyViolation(await rejection(channel(guildA, 'text', categoryB)), 'channels_parent_fk')).toBe(true);
    expect(isCheckViolation(await rejection(channel(guildB, 'category', categoryB)), 'channels_category_top_level')).toBe(true);
    expect(isCheckViolation(await rejection(channel(guildB, 'forum')), 'channels_kind_check')).toBe(true);

    const textA = await channel(guildA);
    const textA2 = await channel(guildA);
    const original = await message(db, textA, alice);
    expect(isForeignKeyViolation(await rejection(message(db, textA2, alice, { replyTo: original })), 'messages_reply_fk')).toBe(true);
  });

  it('checks permission bits and invite uses', async () => {
    const alice = await user();
    const guild = await server(alice);
    const text = await channel(guild);
    const overwrite = "INSERT INTO permission_overwrites (channel_id, target_type, target_id, allow, deny) VALUES ($1, 'member', $2, $3, $4)";
    expect(isCheckViolation(await rejection(db.query(overwrite, [text, alice, 3, 1])), 'permission_overwrites_disjoint')).toBe(true);
    expect(isCheckViolation(await rejection(db.query(overwrite, [text, alice, '9007199254740992', 0])), 'permission_overwrites_bits_check')).toBe(true);

    await db.query('INSERT INTO invites (code, server_id, creator_id, max_uses) VALUES ($1, $2, $3, 1)', ['once-only', guild, alice]);
    const redeem = "UPDATE invites SET uses = uses + 1 WHERE code = 'once-only' AND (max_uses IS NULL OR uses < max_uses) AND (expires_at IS NULL OR expires_at > now())";
    expect((await db.query(redeem)).rowCount).toBe(1);
    expect((await db.query(redeem)).rowCount).toBe(0);
    expect(isCheckViolation(await rejection(db.query("UPDATE invites SET uses = 2 WHERE code = 'once-only'")), 'invites_uses_check')).toBe(true);
  });
});

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Index Cond'?: string;
  Plans?: PlanNode[];
}

const flatten = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(flatten)];

async function plan(q: Queryable, sql: string, params: unknown[]): Promise<PlanNode[]> {
  const row = await q.one<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (FORMAT JSON) ${sql}`, params);
  return flatten(row['QUERY PLAN'][0]!.Plan);
}

describe('schema: indexes for the hot reads', () => {
  let busiest: string;
  let someMessage: string;
  let alice: string;

  beforeAll(async () => {
    alice = await user();
    const guild = await server(alice);
    const channels = await Promise.all(Array.from({ length: 20 }, () => channel(guild)));
    busiest = channels[0]!;
    // 20 000 messages, interleaved in time over 20 channels as in a busy server.
    const ids = Array.from({ length: 20_000 }, () => uuidv7());
    await db.query(
      `INSERT INTO messages (id, channel_id, author_id, content)
       SELECT id, ($2::uuid[])[1 + (n - 1) % 20], $3, repeat('lorem ipsum ', 8) FROM unnest($1::uuid[]) WITH ORDINALITY AS t (id, n)`,
      [ids, channels, alice],
    );
    someMessage = (await db.one<{ id: string }>('SELECT id FROM messages WHERE channel_id = $1 ORDER BY id DESC OFFSET 500 LIMIT 1', [busiest])).id;
    await db.query('ANALYZE messages');
  });

  const LATEST = 'SELECT * FROM messages WHERE channel_id = $1 ORDER BY id DESC LIMIT 50';
  const BEFORE = 'SELECT * FROM messages WHERE channel_id = $1 AND id < $2 ORDER BY id DESC LIMIT 50';

  it('reads the latest 50 messages of a channel (and pages back) through messages_pkey, without sorting', async () => {
    for (const [sql, params] of [[LATEST, [busiest]], [BEFORE, [busiest, someMessage]]] as const) {
      const nodes = await plan(db, sql, [...params]);
      const types = nodes.map((node) => node['Node Type']);
      expect(types).not.toContain('Seq Scan');
      expect(types).not.toContain('Sort');
      const scan = nodes.find((node) => node['Node Type'].startsWith('Index'));
      expect(scan?.['Index Name']).toBe('messages_pkey');
      expect(scan?.['Index Cond']).toMatch(/channel_id = /); // a range of the index, not a filtered walk
    }
    const latest = await db.query<{ id: string }>(LATEST, [busiest]);
    const expected = (await db.query<{ id: string }>('SELECT id FROM messages WHERE channel_id = $1', [busiest])).rows.map((r) => r.id).sort().reverse().slice(0, 50);
    expect(latest.rows.map((r) => r.id)).toEqual(expected);
  });

  it.each([
    ['a user’s servers', 'SELECT server_id FROM members WHERE user_id = $1', 'members_user_idx'],
    ['members of a server', 'SELECT user_id FROM members WHERE server_id = $1', 'members_pkey'],
    ['roles of a server', 'SELECT * FROM roles WHERE server_id = $1', 'roles_server_id_key'],
    ['channels of a server', 'SELECT * FROM channels WHERE server_id = $1', 'channels_server_id_key'],
    ['overwrites of a channel', 'SELECT * FROM permission_overwrites WHERE channel_id = $1', 'permission_overwrites_pkey'],
    ['reactions of a message', 'SELECT emoji, count(*) FROM reactions WHERE message_id = $1 GROUP BY emoji', 'reactions_pkey'],
    ['roles of a member', 'SELECT role_id FROM member_roles WHERE server_id = $1 AND user_id = $1', 'member_roles_pkey'],
  ])('has an index for %s', async (_name, sql, index) => {
    // These tables are nearly empty here, so take sequential scans off the table to see which
    // index the planner would use once they are not.
    await db.transaction(async (tx) => {
      await tx.query('SET LOCAL enable_seqscan = off');
      const nodes = await plan(tx, sql, [alice]);
      expect(nodes.map((node) => node['Index Name']).filter(Boolean)).toContain(index);
    });
  });
});
