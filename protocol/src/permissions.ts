import { z } from 'zod';
import type { VoicePermissions } from './voice';

/**
 * Server and channel permissions, modelled on Discord's: bit flags on roles, per-channel
 * overwrites, and one pure function that resolves them. Every bit is below 2^31, so a set fits a
 * JS number, a PostgreSQL int8 (or int4) column, and JS's 32-bit bitwise operators without turning
 * negative.
 */
export const Permission = {
  VIEW_CHANNEL: 1 << 0,
  SEND_MESSAGES: 1 << 1,
  READ_MESSAGE_HISTORY: 1 << 2,
  MANAGE_MESSAGES: 1 << 3,
  MANAGE_CHANNELS: 1 << 4,
  MANAGE_ROLES: 1 << 5,
  MANAGE_SERVER: 1 << 6,
  KICK_MEMBERS: 1 << 7,
  BAN_MEMBERS: 1 << 8,
  CREATE_INVITE: 1 << 9,
  ADD_REACTIONS: 1 << 10,
  MENTION_EVERYONE: 1 << 11,
  CONNECT: 1 << 12,
  SPEAK: 1 << 13,
  VIDEO: 1 << 14,
  STREAM: 1 << 15,
  MUTE_MEMBERS: 1 << 16,
  DEAFEN_MEMBERS: 1 << 17,
  MOVE_MEMBERS: 1 << 18,
  ADMINISTRATOR: 1 << 19,
} as const;
export type PermissionName = keyof typeof Permission;

/** Names in bit order, so permissionNames() lists them the same way every time. */
const PERMISSION_NAMES = (Object.keys(Permission) as PermissionName[]).sort((a, b) => Permission[a] - Permission[b]);

export const ALL_PERMISSIONS: number = PERMISSION_NAMES.reduce((bits, name) => bits | Permission[name], 0);

/** What a new server's @everyone role gets. */
export const DEFAULT_EVERYONE_PERMISSIONS: number =
  Permission.VIEW_CHANNEL |
  Permission.SEND_MESSAGES |
  Permission.READ_MESSAGE_HISTORY |
  Permission.ADD_REACTIONS |
  Permission.CREATE_INVITE |
  Permission.CONNECT |
  Permission.SPEAK |
  Permission.VIDEO |
  Permission.STREAM;

/** Whether `perms` holds every bit of `bits` (one flag or several OR'd together). */
export const has = (perms: number, bits: number): boolean => (perms & bits) === bits;

/** The names of the known bits set in `bits`, in bit order; unknown bits are not listed. */
export const permissionNames = (bits: number): PermissionName[] => PERMISSION_NAMES.filter((name) => (bits & Permission[name]) !== 0);

/** A permission set from outside (a request body, a database row): only known bits may be set. */
export const PermissionBits = z
  .number()
  .int()
  .min(0)
  .max(ALL_PERMISSIONS)
  .refine((bits) => (bits & ~ALL_PERMISSIONS) === 0, 'unknown permission bits');
export type PermissionBits = z.infer<typeof PermissionBits>;

/** A channel's overwrite for one role or one member. */
export const PermissionOverwrite = z.object({
  targetType: z.enum(['role', 'member']),
  targetId: z.string().min(1),
  allow: PermissionBits,
  deny: PermissionBits,
});
export type PermissionOverwrite = z.infer<typeof PermissionOverwrite>;

export interface RoleInfo {
  id: string;
  permissions: number;
  /** Higher is more powerful; @everyone is conventionally 0. */
  position: number;
}

/** One member as the server sees it: enough to place them in the role hierarchy. */
export interface MemberRoles {
  userId: string;
  /** The member's roles besides @everyone (@everyone is implied; listing it changes nothing). */
  memberRoleIds: readonly string[];
}

/** The server facts every permission question needs. */
export interface ServerRoles {
  ownerId: string;
  everyoneRoleId: string;
  /** All roles of the server, @everyone included. */
  roles: readonly RoleInfo[];
}

export interface PermissionInput extends ServerRoles, MemberRoles {
  /**
   * The channel's overwrites. Omitted: the server-level permissions (no channel rules apply).
   * Given, even as []: the permissions in that channel, including the implicit channel rules.
   */
  overwrites?: readonly PermissionOverwrite[];
}

/**
 * Discord's documented resolution: the owner and ADMINISTRATOR get everything; otherwise the base
 * is @everyone OR'd with the member's roles; in a channel the @everyone overwrite, then all of the
 * member's role overwrites together, then the member's own overwrite apply, each deny-then-allow.
 * Roles the server doesn't know are ignored; a missing @everyone role grants nothing.
 */
export function computePermissions(input: PermissionInput): number {
  if (input.userId === input.ownerId) return ALL_PERMISSIONS;

  const roleIds = new Set(input.memberRoleIds);
  let perms = 0;
  for (const role of input.roles) {
    if (role.id === input.everyoneRoleId || roleIds.has(role.id)) perms |= role.permissions;
  }
  perms &= ALL_PERMISSIONS;
  if (has(perms, Permission.ADMINISTRATOR)) return ALL_PERMISSIONS;
  if (input.overwrites === undefined) return perms;

  let everyone = NO_OVERWRITE;
  let roles = NO_OVERWRITE;
  let member = NO_OVERWRITE;
  for (const overwrite of input.overwrites.map(withoutAdministrator)) {
    if (overwrite.targetType === 'member') {
      if (overwrite.targetId === input.userId) member = combine(member, overwrite);
    } else if (overwrite.targetId === input.everyoneRoleId) {
      // Checked before the member's roles: @everyone is its own level even if listed among them.
      everyone = combine(everyone, overwrite);
    } else if (roleIds.has(overwrite.targetId)) {
      // Combined before applying, so that within the role level any allow beats any deny.
      roles = combine(roles, overwrite);
    }
  }
  for (const level of [everyone, roles, member]) perms = ((perms & ~level.deny) | level.allow) & ALL_PERMISSIONS;

  return applyImplicitChannelRules(perms);
}

/** Rules Discord applies to channel permissions: some permissions are meaningless without another. */
function applyImplicitChannelRules(perms: number): number {
  if (!has(perms, Permission.VIEW_CHANNEL)) return 0;
  if (!has(perms, Permission.SEND_MESSAGES)) perms &= ~Permission.MENTION_EVERYONE;
  // Text channels never use these bits, so removing them there is harmless.
  if (!has(perms, Permission.CONNECT)) perms &= ~VOICE_PERMISSIONS_NEEDING_CONNECT;
  return perms;
}

const VOICE_PERMISSIONS_NEEDING_CONNECT =
  Permission.SPEAK | Permission.VIDEO | Permission.STREAM | Permission.MUTE_MEMBERS | Permission.DEAFEN_MEMBERS | Permission.MOVE_MEMBERS;

/** ADMINISTRATOR is a server-level bypass: a channel overwrite can neither grant nor take it. */
const withoutAdministrator = (overwrite: PermissionOverwrite): PermissionOverwrite => ({
  ...overwrite,
  allow: overwrite.allow & ~Permission.ADMINISTRATOR,
  deny: overwrite.deny & ~Permission.ADMINISTRATOR,
});

const NO_OVERWRITE = { allow: 0, deny: 0 };
const combine = (a: { allow: number; deny: number }, b: { allow: number; deny: number }) => ({ allow: a.allow | b.allow, deny: a.deny | b.deny });

/** The position of the member's highest role; @everyone's (0 if absent) when they have no other. */
export function highestRolePosition(input: Omit<ServerRoles, 'ownerId'> & MemberRoles): number {
  const roleIds = new Set(input.memberRoleIds);
  let highest = input.roles.find((role) => role.id === input.everyoneRoleId)?.position ?? 0;
  for (const role of input.roles) {
    if (roleIds.has(role.id) && role.position > highest) highest = role.position;
  }
  return highest;
}

/**
 * The role hierarchy alone: whether `actor` ranks above `target` (for kick, ban, role changes,
 * moderation). The owner ranks above everyone and nobody ranks above the owner; otherwise the
 * actor's highest role must be strictly higher — ADMINISTRATOR does not bypass this, as on
 * Discord. The permission itself (KICK_MEMBERS, …) is the caller's to check.
 */
export function canManageMember(actor: ServerRoles & MemberRoles, target: MemberRoles): boolean {
  if (actor.userId === actor.ownerId) return true;
  if (target.userId === actor.ownerId) return false;
  const { roles, everyoneRoleId } = actor;
  return highestRolePosition(actor) > highestRolePosition({ roles, everyoneRoleId, userId: target.userId, memberRoleIds: target.memberRoleIds });
}

/** Whether `actor` ranks above `role` (to edit, assign or delete it); MANAGE_ROLES is the caller's to check. */
export function canManageRole(actor: ServerRoles & MemberRoles, role: Pick<RoleInfo, 'position'>): boolean {
  if (actor.userId === actor.ownerId) return true;
  return highestRolePosition(actor) > role.position;
}

/**
 * Whether an actor with `actorPerms` (from computePermissions) may put `bits` on a role or an
 * overwrite: only permissions it holds itself. For overwrites pass `allow | deny`: denying a
 * permission is as much a use of it as granting it. Unknown or malformed bits are refused.
 */
export const canGrant = (actorPerms: number, bits: number): boolean => PermissionBits.safeParse(bits).success && has(actorPerms, bits);

/** What a voice grant carries, from the member's permissions in the voice channel. */
export const voicePermissionsFrom = (bits: number): VoicePermissions => ({
  speak: has(bits, Permission.SPEAK),
  video: has(bits, Permission.VIDEO),
  screen: has(bits, Permission.STREAM),
});

/** Whether the member may join the voice channel at all (and so get a grant). */
export const mayJoinVoice = (bits: number): boolean => has(bits, Permission.VIEW_CHANNEL | Permission.CONNECT);
