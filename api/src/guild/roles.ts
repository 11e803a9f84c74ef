import { z } from 'zod';
import { canGrant, canManageRole, CreateRoleRequest, Permission, ReorderRolesRequest, Role, UpdateRoleRequest } from '@concord/protocol';
import { guildKeys, membershipKeys, type RoleRecord, type ServerContext } from '../access';
import { isForeignKeyViolation, uuidv7, type Queryable } from '../db';
import { NoContent, type RouteTable } from '../http/route-table';
import type { GuildModule } from './deps';
import { MemberRoleParams, RoleParams, ServerParams } from './params';
import { badRequest, conflict, forbidden, notFound, requirePermission, toMember, toRole } from './views';

/** Roles per server, @everyone included. */
export const MAX_ROLES = 250;

/** Structural writes to a server's roles (positions) take turns: this locks the server row. */
const lockServer = (tx: Queryable, serverId: string) => tx.query('SELECT 1 FROM servers WHERE id = $1 FOR NO KEY UPDATE', [serverId]);

/**
 * Role positions are kept compact: @everyone 0, the others 1..n. A new role starts at 1 (the
 * bottom, where its creator can manage it); deleting one closes the gap.
 */
export function roleRoutes(table: RouteTable, { deps, effects, voice }: GuildModule): void {
  const { db, data, access } = deps;

  /** The role, in the actor's server, that the actor may manage (MANAGE_ROLES and above it in the hierarchy). */
  async function manageableRole(userId: string, serverId: string, roleId: string): Promise<{ context: ServerContext; role: RoleRecord }> {
    const context = await access.serverContext(userId, serverId);
    const role = context.roles.find((candidate) => candidate.id === roleId);
    if (!role) throw notFound('role');
    requirePermission(context.permissions, Permission.MANAGE_ROLES, context.withheld);
    if (!canManageRole(context.actor, role)) throw forbidden('you can only manage roles below your highest role');
    return { context, role };
  }

  const holdersOf = async (serverId: string, role: RoleRecord): Promise<string[] | undefined> =>
    role.isEveryone ? undefined : (await data.members(serverId)).filter((member) => member.roleIds.includes(role.id)).map((member) => member.userId);

  async function publishPositions(serverId: string): Promise<void> {
    const roles = await data.roles(serverId);
    await effects.publish(await access.serverAudience(serverId), 'role:positions', { serverId, positions: roles.map(({ id, position }) => ({ id, position })) });
  }

  table.add(
    { method: 'get', path: '/servers/:serverId/roles', summary: 'The roles of a server, highest first', tag: 'roles', params: ServerParams, response: z.array(Role) },
    async ({ user, params }) => (await access.serverContext(user.userId, params.serverId)).roles.map(toRole),
  );

  table.add(
    { method: 'post', path: '/servers/:serverId/roles', summary: 'Create a role at the bottom of the hierarchy (MANAGE_ROLES; only permissions I have)', tag: 'roles', params: ServerParams, body: CreateRoleRequest, response: Role, status: 201 },
    async ({ user, params, body }) => {
      const context = await access.serverContext(user.userId, params.serverId);
      requirePermission(context.permissions, Permission.MANAGE_ROLES, context.withheld);
      const permissions = body.permissions ?? 0;
      if (!canGrant(context.permissions, permissions)) throw forbidden('a role can only get permissions you have');
      if (context.roles.length >= MAX_ROLES) throw conflict(`a server has at most ${MAX_ROLES} roles`);
      const roleId = uuidv7();
      await db
        .transaction(async (tx) => {
          await lockServer(tx, params.serverId);
          await tx.query('UPDATE roles SET position = position + 1 WHERE server_id = $1 AND NOT is_everyone', [params.serverId]);
          await tx.query('INSERT INTO roles (id, server_id, name, colour, position, permissions) VALUES ($1, $2, $3, $4, 1, $5)', [
            roleId,
            params.serverId,
            body.name,
            body.colour ?? 0,
            permissions,
          ]);
        })
        .catch((error: unknown) => {
          throw isForeignKeyViolation(error, 'roles_server_fk') ? notFound('server') : error;
        });
      await effects.invalidate([guildKeys.roles(params.serverId)]);
      const role = (await data.roles(params.serverId)).find((candidate) => candidate.id === roleId);
      if (!role) throw notFound('role');
      await effects.publish(await access.serverAudience(params.serverId), 'role:created', { role: toRole(role) });
      await publishPositions(params.serverId);
      return toRole(role);
    },
  );

  table.add(
    {
      method: 'patch',
      path: '/servers/:serverId/roles/:roleId',
      summary: 'Rename a role, change its colour or permissions (MANAGE_ROLES, below my highest role; only permissions I have)',
      tag: 'roles',
      params: RoleParams,
      body: UpdateRoleRequest,
      response: Role,
    },
    async ({ user, params, body }) => {
      const { context, role } = await manageableRole(user.userId, params.serverId, params.roleId);
      if (role.isEveryone && body.name !== undefined) throw badRequest('name: @everyone cannot be renamed');
      const permissionsChange = body.permissions === undefined ? 0 : role.permissions ^ body.permissions;
      if (!canGrant(context.permissions, permissionsChange)) throw forbidden('you can only grant or revoke permissions you have');
      const scope = permissionsChange === 0 ? undefined : { userIds: await holdersOf(params.serverId, role) };
      const voiceBefore = scope && (await voice.snapshot(params.serverId, scope));
      const { rowCount } = await db.query(
        'UPDATE roles SET name = coalesce($3, name), colour = coalesce($4, colour), permissions = coalesce($5, permissions) WHERE id = $1 AND server_id = $2',
        [params.roleId, params.serverId, body.name ?? null, body.colour ?? null, body.permissions ?? null],
      );
      if (rowCount === 0) throw notFound('role');
      await effects.invalidate([guildKeys.roles(params.serverId)]);
      const updated = (await data.roles(params.serverId)).find((candidate) => candidate.id === params.roleId);
      if (!updated) throw notFound('role');
      await effects.publish(await access.serverAudience(params.serverId), 'role:updated', { role: toRole(updated) });
      if (scope && voiceBefore) await voice.publishChanges(params.serverId, voiceBefore, scope);
      return toRole(updated);
    },
  );

  table.add(
    {
      method: 'patch',
      path: '/servers/:serverId/roles',
      summary: 'Move roles to new positions (1 is just above @everyone); only roles below my highest, to positions below it (MANAGE_ROLES)',
      tag: 'roles',
      params: ServerParams,
      body: ReorderRolesRequest,
      response: z.array(Role),
    },
    async ({ user, params, body }) => {
      const context = await access.serverContext(user.userId, params.serverId);
      requirePermission(context.permissions, Permission.MANAGE_ROLES, context.withheld);
      const movable = context.roles.filter((role) => !role.isEveryone).sort((a, b) => a.position - b.position || (a.id < b.id ? -1 : 1));
      const slots: (RoleRecord | undefined)[] = new Array<RoleRecord | undefined>(movable.length + 1).fill(undefined);
      for (const move of body) {
        const role = context.roles.find((candidate) => candidate.id === move.id);
        if (!role) throw notFound('role');
        if (role.isEveryone) throw badRequest('@everyone stays at the bottom');
        if (move.position > movable.length) throw badRequest(`position: this server's roles take positions 1 to ${movable.length}`);
        slots[move.position] = role;
      }
      const moved = new Set(body.map((move) => move.id));
      const rest = movable.filter((role) => !moved.has(role.id));
      for (let position = 1; position <= movable.length; position += 1) slots[position] ??= rest.shift();
      const positions = new Map(slots.flatMap((role, position) => (role ? [[role.id, position] as const] : [])));
      for (const role of movable) {
        const position = positions.get(role.id)!;
        if (position === role.position) continue;
        if (!canManageRole(context.actor, role) || !canManageRole(context.actor, { position })) {
          throw forbidden('you can only move roles below your highest role, to positions below it');
        }
      }
      await db.transaction(async (tx) => {
        await lockServer(tx, params.serverId);
        const { rows } = await tx.query<{ id: string; position: number }>('SELECT id, position FROM roles WHERE server_id = $1 AND NOT is_everyone', [params.serverId]);
        // A role created or deleted since we read them would make these positions wrong.
        if (rows.length !== movable.length || rows.some((row) => !positions.has(row.id))) throw conflict('the roles changed meanwhile; reload and try again');
        for (const row of rows) {
          const position = positions.get(row.id)!;
          if (position !== row.position) await tx.query('UPDATE roles SET position = $2 WHERE id = $1', [row.id, position]);
        }
      });
      await effects.invalidate([guildKeys.roles(params.serverId)]);
      await publishPositions(params.serverId);
      return (await data.roles(params.serverId)).map(toRole);
    },
  );

  table.add(
    { method: 'delete', path: '/servers/:serverId/roles/:roleId', summary: 'Delete a role (MANAGE_ROLES, below my highest role)', tag: 'roles', params: RoleParams, response: NoContent, status: 204 },
    async ({ user, params }) => {
      const { role } = await manageableRole(user.userId, params.serverId, params.roleId);
      if (role.isEveryone) throw badRequest('@everyone cannot be deleted');
      const holders = (await holdersOf(params.serverId, role)) ?? [];
      const voiceBefore = await voice.snapshot(params.serverId, { userIds: holders });
      await db.transaction(async (tx) => {
        await lockServer(tx, params.serverId);
        const deleted = await tx.maybeOne<{ position: number }>('DELETE FROM roles WHERE id = $1 AND server_id = $2 RETURNING position', [params.roleId, params.serverId]);
        if (!deleted) throw notFound('role');
        await tx.query('UPDATE roles SET position = position - 1 WHERE server_id = $1 AND NOT is_everyone AND position > $2', [params.serverId, deleted.position]);
      });
      // Its member_roles rows and overwrites went with it (cascade and trigger).
      await effects.invalidate([
        guildKeys.roles(params.serverId),
        guildKeys.channels(params.serverId),
        guildKeys.members(params.serverId),
        ...holders.map((userId) => guildKeys.member(params.serverId, userId)),
      ]);
      await effects.publish(await access.serverAudience(params.serverId), 'role:deleted', { serverId: params.serverId, roleId: params.roleId });
      await publishPositions(params.serverId);
      await voice.publishChanges(params.serverId, voiceBefore, { userIds: holders });
      return undefined;
    },
  );

  // ---- a member's roles ----

  async function changeMemberRole(userId: string, params: z.infer<typeof MemberRoleParams>, add: boolean): Promise<void> {
    const { role } = await manageableRole(userId, params.serverId, params.roleId);
    if (role.isEveryone) throw badRequest('every member has @everyone');
    if (!(await data.membership(params.serverId, params.userId))) throw notFound('member');
    const scope = { userIds: [params.userId] };
    const voiceBefore = await voice.snapshot(params.serverId, scope);
    const { rowCount } = add
      ? await db
          .query('INSERT INTO member_roles (server_id, user_id, role_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [params.serverId, params.userId, params.roleId])
          .catch((error: unknown) => {
            if (isForeignKeyViolation(error, 'member_roles_member_fk')) throw notFound('member');
            if (isForeignKeyViolation(error, 'member_roles_role_fk')) throw notFound('role');
            throw error;
          })
      : await db.query('DELETE FROM member_roles WHERE server_id = $1 AND user_id = $2 AND role_id = $3', [params.serverId, params.userId, params.roleId]);
    if (rowCount === 0) return; // already so
    await effects.invalidate(membershipKeys(params.serverId, params.userId));
    const [profile, membership] = await Promise.all([data.user(params.userId), data.membership(params.serverId, params.userId)]);
    if (profile && membership) {
      await effects.publish(await access.serverAudience(params.serverId), 'member:updated', { member: toMember(params.serverId, profile, membership) });
    }
    await voice.publishChanges(params.serverId, voiceBefore, scope);
  }

  table.add(
    {
      method: 'put',
      path: '/servers/:serverId/members/:userId/roles/:roleId',
      summary: 'Give a member a role (MANAGE_ROLES, a role below my highest)',
      tag: 'roles',
      params: MemberRoleParams,
      response: NoContent,
      status: 204,
    },
    async ({ user, params }) => {
      await changeMemberRole(user.userId, params, true);
      return undefined;
    },
  );

  table.add(
    {
      method: 'delete',
      path: '/servers/:serverId/members/:userId/roles/:roleId',
      summary: 'Take a role from a member (MANAGE_ROLES, a role below my highest)',
      tag: 'roles',
      params: MemberRoleParams,
      response: NoContent,
      status: 204,
    },
    async ({ user, params }) => {
      await changeMemberRole(user.userId, params, false);
      return undefined;
    },
  );
}
