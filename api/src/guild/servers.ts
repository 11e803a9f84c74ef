import { z } from 'zod';
import {
  CreateServerRequest,
  DEFAULT_EVERYONE_PERMISSIONS,
  ModeratorTwoFactorRule,
  Permission,
  Server,
  ServerView,
  UpdateProfileRequest,
  UpdateServerRequest,
  UserProfile,
} from '@concord/protocol';
import { allServerKeys, guildKeys, membershipKeys, type ServerRecord } from '../access';
import { isForeignKeyViolation, uuidv7 } from '../db';
import { HttpError } from '../http-errors';
import { NoContent, type RouteTable } from '../http/route-table';
import { clientIp } from '../rate-limits';
import type { GuildModule } from './deps';
import { ServerParams } from './params';
import { DEFAULT_SERVER_CAPS, ensureRoomForAnotherServer } from './server-caps';
import { forbidden, notFound, requirePermission, toProfile, toServer } from './views';

/** What a new server starts with besides its @everyone role. */
const STARTER_CHANNELS = [
  { kind: 'text', name: 'general', position: 0 },
  { kind: 'voice', name: 'General', position: 1 },
] as const;

export function serverRoutes(table: RouteTable, { deps, effects, voice }: GuildModule): void {
  const { db, data, access, limits, serverCaps = DEFAULT_SERVER_CAPS } = deps;

  table.add(
    { method: 'post', path: '/servers', summary: 'Create a server (with @everyone, #general and a General voice channel)', tag: 'servers', body: CreateServerRequest, response: Server, status: 201 },
    async ({ user, body, req }) => {
      await limits?.enforce('create-server', { userId: user.userId, ip: clientIp(req) });
      const serverId = uuidv7();
      const created = await db
        .transaction(async (tx) => {
          await ensureRoomForAnotherServer(tx, user.userId, serverCaps, true);
          const server = await tx.one<{ id: string; name: string; icon_url: string | null; owner_id: string; created_at: Date }>(
            'INSERT INTO servers (id, name, icon_url, owner_id) VALUES ($1, $2, $3, $4) RETURNING id, name, icon_url, owner_id, created_at',
            [serverId, body.name, body.iconUrl ?? null, user.userId],
          );
          await tx.query('INSERT INTO roles (id, server_id, name, position, permissions, is_everyone) VALUES ($1, $2, $3, 0, $4, true)', [
            uuidv7(),
            serverId,
            '@everyone',
            DEFAULT_EVERYONE_PERMISSIONS,
          ]);
          for (const channel of STARTER_CHANNELS) {
            await tx.query('INSERT INTO channels (id, server_id, kind, name, position) VALUES ($1, $2, $3, $4, $5)', [uuidv7(), serverId, channel.kind, channel.name, channel.position]);
          }
          await tx.query('INSERT INTO members (server_id, user_id) VALUES ($1, $2)', [serverId, user.userId]);
          return server;
        })
        .catch((error: unknown) => {
          // The session's account was deleted meanwhile.
          throw isForeignKeyViolation(error, 'servers_owner_fk') ? notFound('user') : error;
        });
      await effects.invalidate([...allServerKeys(serverId), ...membershipKeys(serverId, user.userId)]);
      await effects.joinServerRoom(user.userId, serverId);
      return { id: created.id, name: created.name, iconUrl: created.icon_url, ownerId: created.owner_id, createdAt: created.created_at.toISOString() };
    },
  );

  table.add(
    { method: 'get', path: '/servers/:serverId', summary: 'A server of mine, with my permissions and its member count', tag: 'servers', params: ServerParams, response: ServerView },
    async ({ user, params }) => {
      const context = await access.serverContext(user.userId, params.serverId);
      const members = await data.members(params.serverId);
      return { ...toServer(context.server), permissions: context.permissions, memberCount: members.length, moderatorsNeedTwoFactor: context.server.moderatorsNeedTwoFactor };
    },
  );

  table.add(
    { method: 'patch', path: '/servers/:serverId', summary: 'Rename a server or change its icon (MANAGE_SERVER)', tag: 'servers', params: ServerParams, body: UpdateServerRequest, response: Server },
    async ({ user, params, body }) => {
      const context = await access.serverContext(user.userId, params.serverId);
      requirePermission(context.permissions, Permission.MANAGE_SERVER, context.withheld);
      const row = await db.maybeOne<{ id: string; name: string; icon_url: string | null; owner_id: string; created_at: Date }>(
        `UPDATE servers SET name = CASE WHEN $2 THEN $3 ELSE name END, icon_url = CASE WHEN $4 THEN $5 ELSE icon_url END
          WHERE id = $1 RETURNING id, name, icon_url, owner_id, created_at`,
        [params.serverId, body.name !== undefined, body.name ?? null, body.iconUrl !== undefined, body.iconUrl ?? null],
      );
      if (!row) throw notFound('server');
      await effects.invalidate([guildKeys.server(params.serverId)]);
      const server: Server = { id: row.id, name: row.name, iconUrl: row.icon_url, ownerId: row.owner_id, createdAt: row.created_at.toISOString() };
      await effects.publish(await access.serverAudience(params.serverId), 'server:updated', { server });
      return server;
    },
  );

  table.add(
    {
      method: 'put',
      path: '/servers/:serverId/two-factor-requirement',
      summary: 'Whether moderator permissions act only for members with two-factor sign-in (owner only; the owner needs it to turn it on)',
      tag: 'servers',
      params: ServerParams,
      body: ModeratorTwoFactorRule,
      response: ModeratorTwoFactorRule,
    },
    async ({ user, params, body }) => {
      const context = await access.serverContext(user.userId, params.serverId);
      if (context.server.ownerId !== user.userId) throw forbidden('only the owner can change the two-factor requirement');
      // As Discord: the owner cannot require of moderators what they do not have themselves.
      if (body.required && !(await data.twoFactor(user.userId))) {
        throw new HttpError('TWO_FACTOR_REQUIRED', 'turn on two-factor sign-in for your own account first');
      }
      await db.query('UPDATE servers SET moderators_need_two_factor = $2 WHERE id = $1', [params.serverId, body.required]);
      await effects.invalidate([guildKeys.server(params.serverId)]);
      return { required: body.required };
    },
  );

  table.add(
    { method: 'delete', path: '/servers/:serverId', summary: 'Delete a server and everything in it (owner only)', tag: 'servers', params: ServerParams, response: NoContent, status: 204 },
    async ({ user, params }) => {
      const context = await access.serverContext(user.userId, params.serverId);
      if (context.server.ownerId !== user.userId) throw forbidden('only the owner can delete a server');
      const [members, channels] = await Promise.all([data.members(params.serverId), data.channels(params.serverId)]);
      const { rowCount } = await db.query('DELETE FROM servers WHERE id = $1', [params.serverId]);
      if (rowCount === 0) throw notFound('server');
      const audience = members.map((member) => member.userId);
      await effects.invalidate([
        ...allServerKeys(params.serverId),
        ...audience.flatMap((userId) => membershipKeys(params.serverId, userId)),
        ...channels.map((channel) => guildKeys.channelServer(channel.id)),
      ]);
      await effects.publish(audience, 'server:deleted', { serverId: params.serverId });
      await effects.leaveServerRoom(audience, params.serverId);
      await voice.endCalls(
        channels.filter((channel) => channel.kind === 'voice').map((channel) => channel.id),
        'server-deleted',
      );
      return undefined;
    },
  );

  table.add(
    { method: 'get', path: '/users/@me/servers', summary: 'The servers I am a member of', tag: 'users', response: z.array(Server) },
    async ({ user }) => {
      const servers = await Promise.all((await data.userServers(user.userId)).map((serverId) => data.server(serverId)));
      return servers.filter((server): server is ServerRecord => server !== null).map(toServer);
    },
  );

  table.add({ method: 'get', path: '/users/@me', summary: 'My profile', tag: 'users', response: UserProfile }, async ({ user }) => {
    const profile = await data.user(user.userId);
    if (!profile) throw notFound('user');
    return toProfile(profile);
  });

  table.add(
    { method: 'patch', path: '/users/@me', summary: 'Change my display name or avatar', tag: 'users', body: UpdateProfileRequest, response: UserProfile },
    async ({ user, body }) => {
      const row = await db.maybeOne<{ id: string; username: string | null; display_name: string; avatar_url: string | null }>(
        `UPDATE users SET display_name = coalesce($2, display_name), avatar_url = CASE WHEN $3 THEN $4 ELSE avatar_url END
          WHERE id = $1 RETURNING id, username, display_name, avatar_url`,
        [user.userId, body.displayName ?? null, body.avatarUrl !== undefined, body.avatarUrl ?? null],
      );
      if (!row) throw notFound('user');
      await effects.invalidate([guildKeys.user(user.userId)]);
      const profile = toProfile({ id: row.id, username: row.username, displayName: row.display_name, avatarUrl: row.avatar_url });
      // Everyone who shares a server with me sees the new name.
      const audiences = await Promise.all((await data.userServers(user.userId)).map((serverId) => access.serverAudience(serverId)));
      await effects.publish([user.userId, ...audiences.flat()], 'user:updated', { user: profile });
      return profile;
    },
  );
}
