import { z } from 'zod';
import { PermissionBits, PermissionOverwrite } from './permissions';
import type { PresenceStatus } from './realtime';
import { multiLineText, singleLineText } from './text';

/**
 * Servers ("guilds"), their channels, roles, members, invites and bans as the REST API and its
 * real-time events carry them; the web client parses the same schemas. Ids are UUIDv7 strings;
 * times are ISO 8601 strings (as in messages.ts).
 */

export const Uuid = z.uuid();
/** ISO 8601, e.g. 2025-01-31T12:00:00.000Z. */
const Time = z.string();

/** Checked as one line of text first (no NUL or bidi controls slip through z.url, which keeps the input as given). */
const HttpUrl = singleLineText(1, 2048).pipe(z.url({ protocol: /^https?$/ }));

// ---- users ----

export const DisplayName = singleLineText(1, 64);

export const UserProfile = z.object({
  id: z.string(),
  /** Null for accounts without a local user name (Firebase sign-in). */
  username: z.string().nullable(),
  displayName: z.string(),
  avatarUrl: z.string().nullable(),
});
export type UserProfile = z.infer<typeof UserProfile>;

export const UpdateProfileRequest = z
  .object({ displayName: DisplayName.optional(), avatarUrl: HttpUrl.nullable().optional() })
  .strict()
  .refine((body) => Object.keys(body).length > 0, 'nothing to update');
export type UpdateProfileRequest = z.infer<typeof UpdateProfileRequest>;

// ---- servers ----

export const ServerName = singleLineText(1, 100);

export const Server = z.object({
  id: z.string(),
  name: z.string(),
  iconUrl: z.string().nullable(),
  ownerId: z.string(),
  createdAt: Time,
});
export type Server = z.infer<typeof Server>;

/** A server as one of its members reads it: with the reader's server-level permission bits. */
export const ServerView = Server.extend({
  permissions: z.number().int(),
  memberCount: z.number().int(),
  /** Moderator permissions act only for members with two-factor sign-in (PUT …/two-factor-requirement). */
  moderatorsNeedTwoFactor: z.boolean(),
});
export type ServerView = z.infer<typeof ServerView>;

export const CreateServerRequest = z.object({ name: ServerName, iconUrl: HttpUrl.optional() }).strict();
export type CreateServerRequest = z.infer<typeof CreateServerRequest>;

export const UpdateServerRequest = z
  .object({ name: ServerName.optional(), iconUrl: HttpUrl.nullable().optional() })
  .strict()
  .refine((body) => Object.keys(body).length > 0, 'nothing to update');
export type UpdateServerRequest = z.infer<typeof UpdateServerRequest>;

// ---- channels ----

export const ChannelKind = z.enum(['text', 'voice', 'category']);
export type ChannelKind = z.infer<typeof ChannelKind>;

export const ChannelName = singleLineText(1, 100);
const Topic = multiLineText(0, 1024, { trim: true });
const Position = z.number().int().min(0).max(1_000_000);

export const Channel = z.object({
  id: z.string(),
  serverId: z.string(),
  kind: ChannelKind,
  name: z.string(),
  topic: z.string().nullable(),
  position: z.number().int(),
  /** The category the channel sits in; categories themselves have none. */
  parentId: z.string().nullable(),
  overwrites: z.array(PermissionOverwrite),
});
export type Channel = z.infer<typeof Channel>;

/** A channel as one member sees it: with the member's effective permission bits in it. */
export const ChannelView = Channel.extend({ permissions: z.number().int() });
export type ChannelView = z.infer<typeof ChannelView>;

export const CreateChannelRequest = z
  .object({
    name: ChannelName,
    kind: ChannelKind.default('text'),
    topic: Topic.optional(),
    parentId: Uuid.nullable().optional(),
    /** Default: after the last channel. */
    position: Position.optional(),
  })
  .strict();
export type CreateChannelRequest = z.input<typeof CreateChannelRequest>;

export const UpdateChannelRequest = z
  .object({ name: ChannelName.optional(), topic: Topic.nullable().optional(), parentId: Uuid.nullable().optional(), position: Position.optional() })
  .strict()
  .refine((body) => Object.keys(body).length > 0, 'nothing to update');
export type UpdateChannelRequest = z.infer<typeof UpdateChannelRequest>;

/** Channels to move, each to a position (and optionally into a category, or out with null). */
export const ReorderChannelsRequest = z
  .array(z.object({ id: Uuid, position: Position, parentId: Uuid.nullable().optional() }).strict())
  .min(1)
  .max(500)
  .refine((moves) => new Set(moves.map((move) => move.id)).size === moves.length, 'a channel is listed twice');
export type ReorderChannelsRequest = z.infer<typeof ReorderChannelsRequest>;

// ---- roles ----

export const RoleName = singleLineText(1, 100);
const Colour = z.number().int().min(0).max(0xffffff);

export const Role = z.object({
  id: z.string(),
  serverId: z.string(),
  name: z.string(),
  colour: z.number().int(),
  /** Higher is more powerful; @everyone is 0 and below every other role. */
  position: z.number().int(),
  permissions: z.number().int(),
  /** The server's @everyone role, which every member has implicitly. */
  isEveryone: z.boolean(),
});
export type Role = z.infer<typeof Role>;

export const CreateRoleRequest = z.object({ name: RoleName, colour: Colour.optional(), permissions: PermissionBits.optional() }).strict();
export type CreateRoleRequest = z.infer<typeof CreateRoleRequest>;

export const UpdateRoleRequest = z
  .object({ name: RoleName.optional(), colour: Colour.optional(), permissions: PermissionBits.optional() })
  .strict()
  .refine((body) => Object.keys(body).length > 0, 'nothing to update');
export type UpdateRoleRequest = z.infer<typeof UpdateRoleRequest>;

/**
 * Roles to move, each to a position counted from 1 (just above @everyone) up to the number of
 * roles besides @everyone; the roles not listed keep their order in the remaining positions.
 */
export const ReorderRolesRequest = z
  .array(z.object({ id: Uuid, position: z.number().int().min(1).max(1000) }).strict())
  .min(1)
  .max(250)
  .refine((moves) => new Set(moves.map((move) => move.id)).size === moves.length, 'a role is listed twice')
  .refine((moves) => new Set(moves.map((move) => move.position)).size === moves.length, 'two roles are moved to the same position');
export type ReorderRolesRequest = z.infer<typeof ReorderRolesRequest>;

// ---- permission overwrites ----

export const OverwriteTargetType = z.enum(['role', 'member']);
export type OverwriteTargetType = z.infer<typeof OverwriteTargetType>;

export const SetOverwriteRequest = z
  .object({ allow: PermissionBits, deny: PermissionBits })
  .strict()
  .refine((body) => (body.allow & body.deny) === 0, 'a permission cannot be both allowed and denied');
export type SetOverwriteRequest = z.infer<typeof SetOverwriteRequest>;

// ---- members ----

/** Presence as signaling reports it; equal to realtime.ts's PresenceStatus (checked below). */
const MemberPresence = z.enum(['online', 'idle', 'offline']);
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const _presenceMatches: Same<z.infer<typeof MemberPresence>, PresenceStatus> = true;
void _presenceMatches;

export const Member = z.object({
  serverId: z.string(),
  user: UserProfile,
  nickname: z.string().nullable(),
  /** Roles besides @everyone, which every member has. */
  roleIds: z.array(z.string()),
  joinedAt: Time,
  /** Present when the API can see presence (a presence store is configured). */
  presence: MemberPresence.optional(),
});
export type Member = z.infer<typeof Member>;

export const ListMembersQuery = z
  .object({
    /** Default 100, at most 1000. */
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    /** Members with a user id after this one (ids order the list). */
    after: Uuid.optional(),
  })
  .strict();
export type ListMembersQuery = z.input<typeof ListMembersQuery>;

export const Ban = z.object({ serverId: z.string(), user: UserProfile, reason: z.string().nullable(), bannedBy: z.string().nullable(), createdAt: Time });
export type Ban = z.infer<typeof Ban>;

export const BanRequest = z.object({ reason: singleLineText(0, 512).optional() }).strict();
export type BanRequest = z.infer<typeof BanRequest>;

// ---- invites ----

export const InviteCode = z.string().regex(/^[A-Za-z0-9_-]{4,32}$/, 'invite codes are 4 to 32 letters, digits, _ or -');

export const Invite = z.object({
  code: z.string(),
  serverId: z.string(),
  creatorId: z.string(),
  /** Null: never expires. */
  expiresAt: Time.nullable(),
  /** Null: unlimited. */
  maxUses: z.number().int().nullable(),
  uses: z.number().int(),
  createdAt: Time,
});
export type Invite = z.infer<typeof Invite>;

export const CreateInviteRequest = z
  .object({
    /** Seconds until it expires; 0 never. Default one day, at most 30 days. */
    maxAgeSeconds: z.number().int().min(0).max(30 * 86_400).default(86_400),
    /** Uses before it stops working; 0 unlimited (the default). */
    maxUses: z.number().int().min(0).max(10_000).default(0),
  })
  .strict();
export type CreateInviteRequest = z.input<typeof CreateInviteRequest>;

/** What anyone holding the code (and signed in) may see before accepting. */
export const InvitePreview = z.object({
  code: z.string(),
  server: z.object({ id: z.string(), name: z.string(), iconUrl: z.string().nullable() }),
  memberCount: z.number().int(),
  expiresAt: Time.nullable(),
});
export type InvitePreview = z.infer<typeof InvitePreview>;

// ---- real-time events of the above (merged into realtime.ts's map) ----
//
// A role or member-role change can also change which channels a member sees; those send no
// channel events: a client refetches GET /servers/:id/channels when its own roles change
// (member:updated of itself) or a role it has changes (role:updated, role:deleted).

const Id = z.string().min(1).max(64);

export const guildRealtimeEvents = {
  /** To every member of the server. */
  'server:updated': z.object({ server: Server }),
  /** To every member it had; the server is gone. */
  'server:deleted': z.object({ serverId: Id }),
  /** To the members who can see the channel (also when an overwrite change reveals it). */
  'channel:created': z.object({ channel: Channel }),
  'channel:updated': z.object({ channel: Channel }),
  /** To the members who could see it (also when an overwrite change hides it from them). */
  'channel:deleted': z.object({ serverId: Id, channelId: Id }),
  /** Role events go to every member of the server. */
  'role:created': z.object({ role: Role }),
  'role:updated': z.object({ role: Role }),
  'role:deleted': z.object({ serverId: Id, roleId: Id }),
  /** Roles were renumbered (a role created, deleted or moved): every role's new position. */
  'role:positions': z.object({ serverId: Id, positions: z.array(z.object({ id: Id, position: z.number().int() })) }),
  /** To every member, the new one included. */
  'member:joined': z.object({ member: Member }),
  /** A member's roles (or nickname) changed; to every member. */
  'member:updated': z.object({ member: Member }),
  /** To every member it had, the one who left (or was removed) included. */
  'member:left': z.object({ serverId: Id, userId: Id, reason: z.enum(['left', 'kicked', 'banned']) }),
  /** A profile change; to the user and everyone sharing a server with them. */
  'user:updated': z.object({ user: UserProfile }),
} as const;
