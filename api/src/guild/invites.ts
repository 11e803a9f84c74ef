import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { CreateInviteRequest, Invite, InviteCode, InvitePreview, Permission, Server } from '@concord/protocol';
import { membershipKeys } from '../access';
import { isForeignKeyViolation, isUniqueViolation } from '../db';
import { NoContent, type RouteTable } from '../http/route-table';
import { HttpError } from '../http-errors';
import { clientIp } from '../rate-limits';
import type { GuildModule } from './deps';
import { ServerParams } from './params';
import { DEFAULT_SERVER_CAPS, ensureRoomForAnotherServer } from './server-caps';
import { forbidden, notFound, requirePermission, toMember, toServer } from './views';

const CodeParams = z.object({ code: InviteCode });

interface InviteRow {
  code: string;
  server_id: string;
  creator_id: string;
  expires_at: Date | null;
  max_uses: number | null;
  uses: number;
  created_at: Date;
}

const INVITE_COLUMNS = 'code, server_id, creator_id, expires_at, max_uses, uses, created_at';

const toInvite = (row: InviteRow): Invite => ({
  code: row.code,
  serverId: row.server_id,
  creatorId: row.creator_id,
  expiresAt: row.expires_at?.toISOString() ?? null,
  maxUses: row.max_uses,
  uses: row.uses,
  createdAt: row.created_at.toISOString(),
});

/** 10 characters of base64url: 60 bits, beyond guessing at any rate the API allows. */
const newCode = () => randomBytes(8).toString('base64url').slice(0, 10);

const invalidInvite = () => new HttpError('NOT_FOUND', 'unknown invite, or it expired or was used up');


/** Thrown inside the accept transaction to undo the use it took: the user was a member already. */
class AlreadyMember extends Error {}

export function inviteRoutes(table: RouteTable, { deps, effects }: GuildModule): void {
  const { db, data, access, limits, serverCaps = DEFAULT_SERVER_CAPS } = deps;

  table.add(
    { method: 'post', path: '/servers/:serverId/invites', summary: 'Create an invite, optionally expiring or limited in uses (CREATE_INVITE)', tag: 'invites', params: ServerParams, body: CreateInviteRequest, response: Invite, status: 201 },
    async ({ user, params, body, req }) => {
      const context = await access.serverContext(user.userId, params.serverId);
      requirePermission(context.permissions, Permission.CREATE_INVITE, context.withheld);
      await limits?.enforce('invite', { userId: user.userId, ip: clientIp(req) });
      const expiresAt = body.maxAgeSeconds === 0 ? null : new Date(Date.now() + body.maxAgeSeconds * 1000);
      for (let attempt = 1; ; attempt += 1) {
        try {
          const row = await db.one<InviteRow>(
            `INSERT INTO invites (code, server_id, creator_id, expires_at, max_uses) VALUES ($1, $2, $3, $4, $5) RETURNING ${INVITE_COLUMNS}`,
            [newCode(), params.serverId, user.userId, expiresAt, body.maxUses === 0 ? null : body.maxUses],
          );
          return toInvite(row);
        } catch (error) {
          if (isForeignKeyViolation(error, 'invites_server_fk')) throw notFound('server');
          // A code collision (2^-60 per pair): draw again.
          if (!isUniqueViolation(error, 'invites_pkey') || attempt >= 3) throw error;
        }
      }
    },
  );

  table.add(
    { method: 'get', path: '/servers/:serverId/invites', summary: 'The invites of a server (MANAGE_SERVER)', tag: 'invites', params: ServerParams, response: z.array(Invite) },
    async ({ user, params }) => {
      const context = await access.serverContext(user.userId, params.serverId);
      requirePermission(context.permissions, Permission.MANAGE_SERVER, context.withheld);
      const { rows } = await db.query<InviteRow>(`SELECT ${INVITE_COLUMNS} FROM invites WHERE server_id = $1 ORDER BY created_at, code`, [params.serverId]);
      return rows.map(toInvite);
    },
  );

  table.add(
    { method: 'get', path: '/invites/:code', summary: 'What an invite leads to: the server’s name and member count', tag: 'invites', params: CodeParams, response: InvitePreview },
    async ({ params }) => {
      const row = await db.maybeOne<{ code: string; server_id: string; expires_at: Date | null; member_count: number }>(
        `SELECT i.code, i.server_id, i.expires_at, (SELECT count(*) FROM members m WHERE m.server_id = i.server_id) AS member_count
           FROM invites i
          WHERE i.code = $1 AND (i.max_uses IS NULL OR i.uses < i.max_uses) AND (i.expires_at IS NULL OR i.expires_at > now())`,
        [params.code],
      );
      const server = row && (await data.server(row.server_id));
      if (!row || !server) throw invalidInvite();
      return { code: row.code, server: { id: server.id, name: server.name, iconUrl: server.iconUrl }, memberCount: row.member_count, expiresAt: row.expires_at?.toISOString() ?? null };
    },
  );

  table.add(
    {
      method: 'post',
      path: '/invites/:code/accept',
      summary: 'Join the server of an invite (a member already just gets the server; banned users cannot)',
      tag: 'invites',
      params: CodeParams,
      response: Server,
    },
    async ({ user, params, req }) => {
      await limits?.enforce('join', { userId: user.userId, ip: clientIp(req) });
      const invite = await db.maybeOne<{ server_id: string }>('SELECT server_id FROM invites WHERE code = $1', [params.code]);
      if (!invite) throw invalidInvite();
      const serverId = invite.server_id;
      const joined = await db
        .transaction(async (tx) => {
          if (await tx.maybeOne('SELECT 1 FROM bans WHERE server_id = $1 AND user_id = $2', [serverId, user.userId])) throw forbidden('you are banned from this server');
          if (await tx.maybeOne('SELECT 1 FROM members WHERE server_id = $1 AND user_id = $2', [serverId, user.userId])) return false;
          await ensureRoomForAnotherServer(tx, user.userId, serverCaps, false);
          // The one statement that decides who gets the last use: the row lock serialises racing
          // accepts, and the loser re-checks `uses < max_uses` against the winner's update.
          const used = await tx.maybeOne(
            `UPDATE invites SET uses = uses + 1
              WHERE code = $1 AND (max_uses IS NULL OR uses < max_uses) AND (expires_at IS NULL OR expires_at > now())
              RETURNING server_id`,
            [params.code],
          );
          if (!used) throw invalidInvite();
          const inserted = await tx.query('INSERT INTO members (server_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [serverId, user.userId]);
          if (inserted.rowCount === 0) throw new AlreadyMember();
          return true;
        })
        .catch((error: unknown) => {
          if (error instanceof AlreadyMember) return false;
          // The server (and so the invite) was deleted meanwhile.
          if (isForeignKeyViolation(error, 'members_server_fk')) throw notFound('server');
          // The session's account was deleted meanwhile.
          if (isForeignKeyViolation(error, 'members_user_fk')) throw new HttpError('UNAUTHENTICATED', 'the account of this session no longer exists');
          throw error;
        });
      if (joined) {
        await effects.invalidate(membershipKeys(serverId, user.userId));
        const [profile, membership] = await Promise.all([data.user(user.userId), data.membership(serverId, user.userId)]);
        if (profile && membership) {
          await effects.publish(await access.serverAudience(serverId), 'member:joined', { member: toMember(serverId, profile, membership) });
        }
        await effects.joinServerRoom(user.userId, serverId);
      }
      const server = await data.server(serverId);
      if (!server) throw notFound('server');
      return toServer(server);
    },
  );

  table.add(
    { method: 'delete', path: '/invites/:code', summary: 'Revoke an invite (its creator, or MANAGE_SERVER)', tag: 'invites', params: CodeParams, response: NoContent, status: 204 },
    async ({ user, params }) => {
      const invite = await db.maybeOne<{ server_id: string; creator_id: string }>('SELECT server_id, creator_id FROM invites WHERE code = $1', [params.code]);
      if (!invite) throw notFound('invite');
      const context = await access.serverContext(user.userId, invite.server_id).catch(() => {
        throw notFound('invite');
      });
      if (invite.creator_id !== user.userId) requirePermission(context.permissions, Permission.MANAGE_SERVER, context.withheld);
      await db.query('DELETE FROM invites WHERE code = $1', [params.code]);
      return undefined;
    },
  );
}
