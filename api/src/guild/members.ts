import { z } from 'zod';
import { Ban, BanRequest, canManageMember, ListMembersQuery, Member, Permission } from '@concord/protocol';
import { membershipKeys, type ServerContext } from '../access';
import { NoContent, type RouteTable } from '../http/route-table';
import type { GuildModule } from './deps';
import { MemberParams, ServerParams } from './params';
import { badRequest, conflict, forbidden, notFound, requirePermission } from './views';

interface MemberRow {
  user_id: string;
  username: string | null;
  display_name: string;
  avatar_url: string | null;
  nickname: string | null;
  joined_at: Date;
  role_ids: string[];
}

const MEMBER_SELECT = `
  SELECT m.user_id, u.username, u.display_name, u.avatar_url, m.nickname, m.joined_at,
         array(SELECT r.role_id::text FROM member_roles r WHERE r.server_id = m.server_id AND r.user_id = m.user_id ORDER BY r.role_id) AS role_ids
    FROM members m JOIN users u ON u.id = m.user_id`;

const toMemberView = (serverId: string, row: MemberRow): Member => ({
  serverId,
  user: { id: row.user_id, username: row.username, displayName: row.display_name, avatarUrl: row.avatar_url },
  nickname: row.nickname,
  roleIds: row.role_ids,
  joinedAt: row.joined_at.toISOString(),
});

export function memberRoutes(table: RouteTable, { deps, effects, voice }: GuildModule): void {
  const { db, data, access, presence, logger } = deps;

  async function withPresence(members: Member[]): Promise<Member[]> {
    if (!presence || members.length === 0) return members;
    try {
      const statuses = await presence.statusOf(members.map((member) => member.user.id));
      return members.map((member) => ({ ...member, presence: statuses.get(member.user.id) ?? 'offline' }));
    } catch (error) {
      // A presence store that is away costs the list its presence, not the list itself.
      logger.warn({ err: error }, 'presence unavailable for the member list');
      return members;
    }
  }

  /**
   * Removes `userId` from the server (leave, kick or ban: `write` deletes the member row, and for a
   * ban records the ban), then tells every member it had, the one removed included.
   */
  async function removeMember(serverId: string, userId: string, reason: 'left' | 'kicked' | 'banned', write: () => Promise<boolean>): Promise<void> {
    const [audience, voiceBefore] = await Promise.all([access.serverAudience(serverId), voice.snapshot(serverId, { userIds: [userId] })]);
    const wasMember = await write();
    await effects.invalidate(membershipKeys(serverId, userId));
    if (!wasMember) return;
    await effects.publish([...audience, userId], 'member:left', { serverId, userId, reason });
    await effects.leaveServerRoom([userId], serverId);
    await voice.publishChanges(serverId, voiceBefore, { userIds: [userId] }, reason === 'left' ? 'left-server' : reason);
  }

  /** The target, a member the actor may moderate with `permission` (and ranks above). */
  async function moderate(context: ServerContext, targetId: string, permission: number): Promise<{ isMember: boolean }> {
    requirePermission(context.permissions, permission, context.withheld);
    if (targetId === context.actor.userId) throw badRequest('you cannot do this to yourself');
    if (targetId === context.server.ownerId) throw forbidden('the owner cannot be removed');
    const target = await data.membership(context.server.id, targetId);
    if (target && !canManageMember(context.actor, { userId: targetId, memberRoleIds: target.roleIds })) {
      throw forbidden('you can only moderate members whose highest role is below yours');
    }
    return { isMember: target !== null };
  }

  table.add(
    {
      method: 'get',
      path: '/servers/:serverId/members',
      summary: 'Members of a server with their roles (and presence when known), by user id',
      tag: 'members',
      params: ServerParams,
      query: ListMembersQuery,
      response: z.array(Member),
    },
    async ({ user, params, query }) => {
      await access.serverContext(user.userId, params.serverId);
      const { rows } = await db.query<MemberRow>(`${MEMBER_SELECT} WHERE m.server_id = $1 AND ($2::uuid IS NULL OR m.user_id > $2::uuid) ORDER BY m.user_id LIMIT $3`, [
        params.serverId,
        query.after ?? null,
        query.limit,
      ]);
      return withPresence(rows.map((row) => toMemberView(params.serverId, row)));
    },
  );

  table.add(
    { method: 'get', path: '/servers/:serverId/members/:userId', summary: 'One member of a server', tag: 'members', params: MemberParams, response: Member },
    async ({ user, params }) => {
      await access.serverContext(user.userId, params.serverId);
      const row = await db.maybeOne<MemberRow>(`${MEMBER_SELECT} WHERE m.server_id = $1 AND m.user_id = $2`, [params.serverId, params.userId]);
      if (!row) throw notFound('member');
      return (await withPresence([toMemberView(params.serverId, row)]))[0]!;
    },
  );

  // Before /members/:userId, which would otherwise take "@me" as an id (and refuse it).
  table.add(
    { method: 'delete', path: '/servers/:serverId/members/@me', summary: 'Leave a server (the owner cannot: delete it instead)', tag: 'members', params: ServerParams, response: NoContent, status: 204 },
    async ({ user, params }) => {
      const context = await access.serverContext(user.userId, params.serverId);
      if (context.server.ownerId === user.userId) throw conflict('the owner cannot leave their server; delete it instead');
      await removeMember(params.serverId, user.userId, 'left', async () => {
        const { rowCount } = await db.query('DELETE FROM members WHERE server_id = $1 AND user_id = $2', [params.serverId, user.userId]);
        return rowCount > 0;
      });
      return undefined;
    },
  );

  table.add(
    { method: 'delete', path: '/servers/:serverId/members/:userId', summary: 'Kick a member (KICK_MEMBERS, a member below my highest role)', tag: 'members', params: MemberParams, response: NoContent, status: 204 },
    async ({ user, params }) => {
      const context = await access.serverContext(user.userId, params.serverId);
      const { isMember } = await moderate(context, params.userId, Permission.KICK_MEMBERS);
      if (!isMember) throw notFound('member');
      await removeMember(params.serverId, params.userId, 'kicked', async () => {
        const { rowCount } = await db.query('DELETE FROM members WHERE server_id = $1 AND user_id = $2', [params.serverId, params.userId]);
        if (rowCount === 0) throw notFound('member');
        return true;
      });
      return undefined;
    },
  );

  table.add(
    {
      method: 'put',
      path: '/servers/:serverId/bans/:userId',
      summary: 'Ban a user, removing them if a member (BAN_MEMBERS, a member below my highest role); banning again updates the reason',
      tag: 'members',
      params: MemberParams,
      body: BanRequest,
      response: NoContent,
      status: 204,
    },
    async ({ user, params, body }) => {
      const context = await access.serverContext(user.userId, params.serverId);
      await moderate(context, params.userId, Permission.BAN_MEMBERS);
      if (!(await data.user(params.userId))) throw notFound('user');
      await removeMember(params.serverId, params.userId, 'banned', () =>
        db.transaction(async (tx) => {
          await tx.query(
            `INSERT INTO bans (server_id, user_id, reason, banned_by) VALUES ($1, $2, $3, $4)
             ON CONFLICT (server_id, user_id) DO UPDATE SET reason = excluded.reason, banned_by = excluded.banned_by`,
            [params.serverId, params.userId, body.reason || null, user.userId],
          );
          const { rowCount } = await tx.query('DELETE FROM members WHERE server_id = $1 AND user_id = $2', [params.serverId, params.userId]);
          return rowCount > 0;
        }),
      );
      return undefined;
    },
  );

  table.add(
    { method: 'delete', path: '/servers/:serverId/bans/:userId', summary: 'Lift a ban (BAN_MEMBERS)', tag: 'members', params: MemberParams, response: NoContent, status: 204 },
    async ({ user, params }) => {
      const context = await access.serverContext(user.userId, params.serverId);
      requirePermission(context.permissions, Permission.BAN_MEMBERS, context.withheld);
      const { rowCount } = await db.query('DELETE FROM bans WHERE server_id = $1 AND user_id = $2', [params.serverId, params.userId]);
      if (rowCount === 0) throw notFound('ban');
      await effects.invalidate(membershipKeys(params.serverId, params.userId));
      return undefined;
    },
  );

  table.add(
    { method: 'get', path: '/servers/:serverId/bans', summary: 'The bans of a server (BAN_MEMBERS)', tag: 'members', params: ServerParams, response: z.array(Ban) },
    async ({ user, params }) => {
      const context = await access.serverContext(user.userId, params.serverId);
      requirePermission(context.permissions, Permission.BAN_MEMBERS, context.withheld);
      const { rows } = await db.query<{ user_id: string; username: string | null; display_name: string; avatar_url: string | null; reason: string | null; banned_by: string | null; created_at: Date }>(
        `SELECT b.user_id, u.username, u.display_name, u.avatar_url, b.reason, b.banned_by, b.created_at
           FROM bans b JOIN users u ON u.id = b.user_id WHERE b.server_id = $1 ORDER BY b.created_at, b.user_id`,
        [params.serverId],
      );
      return rows.map((row) => ({
        serverId: params.serverId,
        user: { id: row.user_id, username: row.username, displayName: row.display_name, avatarUrl: row.avatar_url },
        reason: row.reason,
        bannedBy: row.banned_by,
        createdAt: row.created_at.toISOString(),
      }));
    },
  );
}
