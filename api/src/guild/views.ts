import { has, permissionNames, type Channel, type Member, type Role, type Server, type UserProfile } from '@concord/protocol';
import type { ChannelRecord, MembershipRecord, RoleRecord, ServerRecord, UserRecord } from '../access';
import { HttpError } from '../http-errors';

/** Records (cached) to the protocol's shapes. They are the same today; the mapping keeps them free to differ. */
export const toServer = (server: ServerRecord): Server => ({ id: server.id, name: server.name, iconUrl: server.iconUrl, ownerId: server.ownerId, createdAt: server.createdAt });

export const toChannel = (channel: ChannelRecord): Channel => ({
  id: channel.id,
  serverId: channel.serverId,
  kind: channel.kind,
  name: channel.name,
  topic: channel.topic,
  position: channel.position,
  parentId: channel.parentId,
  overwrites: channel.overwrites,
});

export const toRole = (role: RoleRecord): Role => ({ ...role });

export const toProfile = (user: UserRecord): UserProfile => ({ id: user.id, username: user.username, displayName: user.displayName, avatarUrl: user.avatarUrl });

export const toMember = (serverId: string, user: UserRecord, membership: MembershipRecord): Member => ({
  serverId,
  user: toProfile(user),
  nickname: membership.nickname,
  roleIds: membership.roleIds,
  joinedAt: membership.joinedAt,
});

export const notFound = (what: string) => new HttpError('NOT_FOUND', `unknown ${what}`);
export const forbidden = (message: string) => new HttpError('FORBIDDEN', message);
export const badRequest = (message: string) => new HttpError('BAD_REQUEST', message);
export const conflict = (message: string) => new HttpError('CONFLICT', message);

/** The refusal of a moderator action (`bits`) in a server that requires two-factor sign-in of moderators. */
export const moderatorNeedsTwoFactor = (bits: number) =>
  new HttpError('TWO_FACTOR_REQUIRED', `this server requires two-factor sign-in for moderator actions (${permissionNames(bits).join(', ')}): turn it on in User settings`);

/**
 * 403 unless `perms` holds every bit of `bits`, naming the missing ones. When the missing ones are
 * all `withheld` (the server requires two-factor sign-in of moderators, ServerContext.withheld),
 * the error says so: the member has the permission, and two-factor sign-in would give it effect.
 */
export function requirePermission(perms: number, bits: number, withheld: number): void {
  if (has(perms, bits)) return;
  const missing = bits & ~perms;
  if (has(withheld, missing)) throw moderatorNeedsTwoFactor(missing);
  throw forbidden(`missing permission ${permissionNames(missing).join(', ')}`);
}
