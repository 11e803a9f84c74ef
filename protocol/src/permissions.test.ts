import {
  ALL_PERMISSIONS,
  DEFAULT_EVERYONE_PERMISSIONS,
  Permission,
  PermissionBits,
  type PermissionInput,
  type PermissionName,
  type PermissionOverwrite,
  type RoleInfo,
  canGrant,
  canManageMember,
  canManageRole,
  computePermissions,
  has,
  highestRolePosition,
  mayJoinVoice,
  permissionNames,
  voicePermissionsFrom,
} from './permissions';

/** Readable sets: rows name permissions, never numbers. 'DEFAULT' is the new-server @everyone set. */
type Named = PermissionName | 'ALL' | 'DEFAULT';
const bits = (...names: Named[]): number =>
  names.reduce((acc, name) => acc | (name === 'ALL' ? ALL_PERMISSIONS : name === 'DEFAULT' ? DEFAULT_EVERYONE_PERMISSIONS : Permission[name]), 0);
const minus = (from: number, ...names: PermissionName[]): number => from & ~bits(...names);

const OWNER = 'u-owner';
const USER = 'u-user';
const OTHER = 'u-other';

/** The server every row lives in. Positions: @everyone 0 < member = dj 1 < mod 2 < admin 3. */
const role = (id: string, position: number, ...names: Named[]): RoleInfo => ({ id, position, permissions: bits(...names) });
const ROLES = {
  everyone: role('r-everyone', 0, 'DEFAULT'),
  member: role('r-member', 1, 'MENTION_EVERYONE'),
  dj: role('r-dj', 1, 'MOVE_MEMBERS', 'MUTE_MEMBERS'),
  mod: role('r-mod', 2, 'KICK_MEMBERS', 'MANAGE_MESSAGES', 'MUTE_MEMBERS'),
  admin: role('r-admin', 3, 'ADMINISTRATOR'),
};
type RoleKey = keyof typeof ROLES;

interface Case {
  /** The member's roles besides @everyone (keys of ROLES, or raw ids for unknown roles). */
  roles?: (RoleKey | string)[];
  /** Replaces @everyone's permissions. */
  everyone?: number;
  /** Omitted: server level. */
  overwrites?: PermissionOverwrite[];
  userId?: string;
  /** Extra stored roles, e.g. with unknown bits. */
  extraRoles?: RoleInfo[];
  withoutEveryoneRole?: boolean;
}

const roleId = (key: RoleKey | string): string => (key in ROLES ? ROLES[key as RoleKey].id : key);

function input(c: Case): PermissionInput {
  const everyone = { ...ROLES.everyone, permissions: c.everyone ?? ROLES.everyone.permissions };
  const roles = [...(c.withoutEveryoneRole ? [] : [everyone]), ...Object.values(ROLES).slice(1), ...(c.extraRoles ?? [])];
  return {
    userId: c.userId ?? USER,
    ownerId: OWNER,
    everyoneRoleId: ROLES.everyone.id,
    roles,
    memberRoleIds: (c.roles ?? []).map(roleId),
    ...(c.overwrites ? { overwrites: c.overwrites } : {}),
  };
}

const onRole = (key: RoleKey | string, allow: number, deny: number): PermissionOverwrite => ({ targetType: 'role', targetId: roleId(key), allow, deny });
const onMember = (userId: string, allow: number, deny: number): PermissionOverwrite => ({ targetType: 'member', targetId: userId, allow, deny });
const NONE = 0;

describe('computePermissions', () => {
  const rows: [string, Case, number][] = [
    // Owner
    ['owner with no roles gets everything', { userId: OWNER }, bits('ALL')],
    ['owner gets everything even when @everyone has nothing', { userId: OWNER, everyone: NONE }, bits('ALL')],
    ['owner overrides every channel deny', { userId: OWNER, overwrites: [onRole('everyone', NONE, bits('ALL')), onMember(OWNER, NONE, bits('ALL'))] }, bits('ALL')],

    // Base: @everyone and roles
    ['plain member gets @everyone', {}, bits('DEFAULT')],
    ['@everyone with nothing gives nothing', { everyone: NONE }, NONE],
    ['a missing @everyone role grants nothing', { withoutEveryoneRole: true }, NONE],
    ['a missing @everyone role still lets other roles count', { withoutEveryoneRole: true, roles: ['mod'] }, bits('KICK_MEMBERS', 'MANAGE_MESSAGES', 'MUTE_MEMBERS')],
    ['one role adds to @everyone', { roles: ['mod'] }, bits('DEFAULT', 'KICK_MEMBERS', 'MANAGE_MESSAGES', 'MUTE_MEMBERS')],
    ['several roles are OR\'d', { roles: ['dj', 'mod', 'member'] }, bits('DEFAULT', 'MOVE_MEMBERS', 'MUTE_MEMBERS', 'KICK_MEMBERS', 'MANAGE_MESSAGES', 'MENTION_EVERYONE')],
    ['roles the server does not have are ignored', { roles: ['r-deleted'] }, bits('DEFAULT')],
    ['listing @everyone among the member roles changes nothing', { roles: ['everyone', 'dj'] }, bits('DEFAULT', 'MOVE_MEMBERS', 'MUTE_MEMBERS')],
    ['unknown bits stored on a role are dropped', { roles: ['r-odd'], extraRoles: [{ id: 'r-odd', position: 1, permissions: (1 << 25) | Permission.BAN_MEMBERS }] }, bits('DEFAULT', 'BAN_MEMBERS')],
    ['server level: no VIEW_CHANNEL still keeps the rest', { everyone: bits('KICK_MEMBERS', 'MENTION_EVERYONE') }, bits('KICK_MEMBERS', 'MENTION_EVERYONE')],

    // ADMINISTRATOR
    ['ADMINISTRATOR from a role gives everything', { roles: ['admin'] }, bits('ALL')],
    ['ADMINISTRATOR on @everyone gives everything', { everyone: bits('ADMINISTRATOR') }, bits('ALL')],
    ['overwrites cannot deny an admin', { roles: ['admin'], overwrites: [onRole('everyone', NONE, bits('ALL')), onRole('admin', NONE, bits('ALL')), onMember(USER, NONE, bits('ALL'))] }, bits('ALL')],
    ['an overwrite cannot grant ADMINISTRATOR', { overwrites: [onMember(USER, bits('ADMINISTRATOR', 'KICK_MEMBERS'), NONE)] }, bits('DEFAULT', 'KICK_MEMBERS')],

    // Overwrites: levels and order
    ['channel with no overwrites keeps the base', { overwrites: [] }, bits('DEFAULT')],
    ['@everyone deny removes', { overwrites: [onRole('everyone', NONE, bits('SEND_MESSAGES'))] }, minus(bits('DEFAULT'), 'SEND_MESSAGES')],
    ['@everyone allow adds', { overwrites: [onRole('everyone', bits('MANAGE_MESSAGES'), NONE)] }, bits('DEFAULT', 'MANAGE_MESSAGES')],
    ['@everyone deny and allow of one bit: allow wins', { overwrites: [onRole('everyone', bits('SEND_MESSAGES'), bits('SEND_MESSAGES'))], everyone: minus(bits('DEFAULT'), 'SEND_MESSAGES') }, bits('DEFAULT')],
    ['@everyone deny is overridden by a role allow', { roles: ['mod'], overwrites: [onRole('everyone', NONE, bits('SEND_MESSAGES')), onRole('mod', bits('SEND_MESSAGES'), NONE)] }, bits('DEFAULT', 'KICK_MEMBERS', 'MANAGE_MESSAGES', 'MUTE_MEMBERS')],
    ['role deny removes a base permission', { roles: ['dj'], overwrites: [onRole('dj', NONE, bits('ADD_REACTIONS'))] }, minus(bits('DEFAULT', 'MOVE_MEMBERS', 'MUTE_MEMBERS'), 'ADD_REACTIONS')],
    ['role deny + other role allow: allow wins within the role level', { roles: ['dj', 'mod'], overwrites: [onRole('dj', NONE, bits('SEND_MESSAGES')), onRole('mod', bits('SEND_MESSAGES'), NONE)] }, bits('DEFAULT', 'MOVE_MEMBERS', 'MUTE_MEMBERS', 'KICK_MEMBERS', 'MANAGE_MESSAGES')],
    ['role allow + other role deny, listed the other way: allow still wins', { roles: ['mod', 'dj'], overwrites: [onRole('mod', bits('SEND_MESSAGES'), NONE), onRole('dj', NONE, bits('SEND_MESSAGES'))] }, bits('DEFAULT', 'MOVE_MEMBERS', 'MUTE_MEMBERS', 'KICK_MEMBERS', 'MANAGE_MESSAGES')],
    ['@everyone allow does not beat a role deny, even with @everyone listed as a member role', { roles: ['everyone', 'dj'], overwrites: [onRole('everyone', bits('SEND_MESSAGES'), NONE), onRole('dj', NONE, bits('SEND_MESSAGES'))] }, minus(bits('DEFAULT', 'MOVE_MEMBERS', 'MUTE_MEMBERS'), 'SEND_MESSAGES')],
    ['member allow beats a role deny', { roles: ['dj'], overwrites: [onRole('dj', NONE, bits('SPEAK')), onMember(USER, bits('SPEAK'), NONE)] }, bits('DEFAULT', 'MOVE_MEMBERS', 'MUTE_MEMBERS')],
    ['member deny beats a role allow', { roles: ['mod'], overwrites: [onRole('mod', bits('MANAGE_CHANNELS'), NONE), onMember(USER, NONE, bits('MANAGE_CHANNELS', 'SEND_MESSAGES'))] }, minus(bits('DEFAULT', 'KICK_MEMBERS', 'MANAGE_MESSAGES', 'MUTE_MEMBERS'), 'SEND_MESSAGES')],
    ['member allow of VIEW_CHANNEL beats @everyone deny', { overwrites: [onRole('everyone', NONE, bits('VIEW_CHANNEL')), onMember(USER, bits('VIEW_CHANNEL'), NONE)] }, bits('DEFAULT')],
    ['member deny and allow of one bit: allow wins', { overwrites: [onMember(USER, bits('MANAGE_MESSAGES'), bits('MANAGE_MESSAGES'))] }, bits('DEFAULT', 'MANAGE_MESSAGES')],
    ['several overwrites for one target are combined', { overwrites: [onMember(USER, NONE, bits('SPEAK')), onMember(USER, NONE, bits('VIDEO'))] }, minus(bits('DEFAULT'), 'SPEAK', 'VIDEO')],
    ['overwrites of roles the member lacks are ignored', { roles: ['dj'], overwrites: [onRole('mod', bits('BAN_MEMBERS'), bits('SEND_MESSAGES')), onRole('admin', bits('MANAGE_SERVER'), bits('VIEW_CHANNEL'))] }, bits('DEFAULT', 'MOVE_MEMBERS', 'MUTE_MEMBERS')],
    ['overwrites of other members are ignored', { overwrites: [onMember(OTHER, bits('BAN_MEMBERS'), bits('VIEW_CHANNEL'))] }, bits('DEFAULT')],
    ['a member overwrite aimed at a role id is not a role overwrite', { roles: ['dj'], overwrites: [onMember(ROLES.dj.id, bits('BAN_MEMBERS'), NONE)] }, bits('DEFAULT', 'MOVE_MEMBERS', 'MUTE_MEMBERS')],

    // Implicit channel rules
    ['no VIEW_CHANNEL in the base: nothing in the channel', { everyone: minus(bits('DEFAULT'), 'VIEW_CHANNEL'), overwrites: [] }, NONE],
    ['no VIEW_CHANNEL after overwrites: nothing, even a mod\'s powers', { roles: ['mod'], overwrites: [onRole('everyone', NONE, bits('VIEW_CHANNEL'))] }, NONE],
    ['VIEW_CHANNEL denied by a role, not re-allowed: nothing', { roles: ['dj'], overwrites: [onRole('dj', NONE, bits('VIEW_CHANNEL'))] }, NONE],
    ['no SEND_MESSAGES: MENTION_EVERYONE goes too', { roles: ['member'], overwrites: [onRole('everyone', NONE, bits('SEND_MESSAGES'))] }, minus(bits('DEFAULT'), 'SEND_MESSAGES')],
    ['with SEND_MESSAGES, MENTION_EVERYONE stays', { roles: ['member'], overwrites: [] }, bits('DEFAULT', 'MENTION_EVERYONE')],
    ['no CONNECT: no SPEAK, VIDEO or STREAM', { overwrites: [onRole('everyone', NONE, bits('CONNECT'))] }, minus(bits('DEFAULT'), 'CONNECT', 'SPEAK', 'VIDEO', 'STREAM')],
    ['no CONNECT: no MUTE, DEAFEN or MOVE either', { roles: ['dj', 'mod'], everyone: bits('VIEW_CHANNEL', 'DEAFEN_MEMBERS'), overwrites: [] }, bits('VIEW_CHANNEL', 'KICK_MEMBERS', 'MANAGE_MESSAGES')],
    ['CONNECT denied for @everyone, allowed for the member: voice is back', { overwrites: [onRole('everyone', NONE, bits('CONNECT')), onMember(USER, bits('CONNECT'), NONE)] }, bits('DEFAULT')],
  ];

  test.each(rows)('%s', (_name, c, expected) => {
    expect(permissionNames(computePermissions(input(c)))).toEqual(permissionNames(expected));
  });

  test('results only ever hold known bits and obey the implicit rules (random servers)', () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const randomBits = () => Math.floor(random() * (ALL_PERMISSIONS + 1)) & ~Permission.ADMINISTRATOR;
    const keys = Object.keys(ROLES) as RoleKey[];
    for (let i = 0; i < 2_000; i++) {
      const overwrites = keys.filter(() => random() < 0.5).map((key) => onRole(key, randomBits(), randomBits()));
      if (random() < 0.5) overwrites.push(onMember(USER, randomBits(), randomBits()));
      const perms = computePermissions(input({ everyone: randomBits(), roles: keys.filter((key) => key !== 'admin' && random() < 0.5), overwrites }));
      expect(PermissionBits.safeParse(perms).success).toBe(true);
      if (perms !== 0) expect(has(perms, Permission.VIEW_CHANNEL)).toBe(true);
      if (has(perms, Permission.MENTION_EVERYONE)) expect(has(perms, Permission.SEND_MESSAGES)).toBe(true);
      if (perms & (Permission.SPEAK | Permission.VIDEO | Permission.STREAM | Permission.MOVE_MEMBERS)) expect(has(perms, Permission.CONNECT)).toBe(true);
    }
  });
});

describe('bits and names', () => {
  test('every flag is one distinct bit below 2^31', () => {
    const values = Object.values(Permission);
    expect(values).toHaveLength(20);
    for (const value of values) {
      expect(Number.isInteger(Math.log2(value))).toBe(true);
      expect(value).toBeLessThan(2 ** 31);
    }
    expect(new Set(values).size).toBe(values.length);
    expect(ALL_PERMISSIONS).toBe(values.reduce((a, b) => a | b, 0));
    expect(ALL_PERMISSIONS).toBeGreaterThan(0);
  });

  test('the default @everyone set is Discord-like', () => {
    expect(permissionNames(DEFAULT_EVERYONE_PERMISSIONS)).toEqual([
      'VIEW_CHANNEL', 'SEND_MESSAGES', 'READ_MESSAGE_HISTORY', 'CREATE_INVITE', 'ADD_REACTIONS', 'CONNECT', 'SPEAK', 'VIDEO', 'STREAM',
    ]);
  });

  test.each<[string, number, number, boolean]>([
    ['a held bit', bits('SPEAK', 'VIDEO'), Permission.SPEAK, true],
    ['a missing bit', bits('SPEAK'), Permission.VIDEO, false],
    ['all of several bits', bits('SPEAK', 'VIDEO', 'STREAM'), bits('SPEAK', 'VIDEO'), true],
    ['only some of several bits', bits('SPEAK'), bits('SPEAK', 'VIDEO'), false],
  ])('has: %s', (_name, perms, bit, expected) => {
    expect(has(perms, bit)).toBe(expected);
  });

  test('permissionNames lists known bits in bit order and skips unknown ones', () => {
    expect(permissionNames(Permission.ADMINISTRATOR | Permission.VIEW_CHANNEL | (1 << 30))).toEqual(['VIEW_CHANNEL', 'ADMINISTRATOR']);
    expect(permissionNames(0)).toEqual([]);
  });
});

describe('PermissionBits schema', () => {
  test.each<[string, unknown, boolean]>([
    ['zero', 0, true],
    ['one flag', Permission.MANAGE_ROLES, true],
    ['the default @everyone set', DEFAULT_EVERYONE_PERMISSIONS, true],
    ['every known bit', ALL_PERMISSIONS, true],
    ['the next, unknown bit', 1 << 20, false],
    ['a known bit plus an unknown one', Permission.SPEAK | (1 << 24), false],
    ['bit 30', 1 << 30, false],
    ['2^31 (negative as int32)', 2 ** 31, false],
    ['a bit above 32 that int32 arithmetic would drop', 2 ** 40 + Permission.SPEAK, false],
    ['negative', -1, false],
    ['a fraction', 1.5, false],
    ['NaN', Number.NaN, false],
    ['Infinity', Number.POSITIVE_INFINITY, false],
    ['a numeric string', '1', false],
    ['null', null, false],
  ])('%s', (_name, value, valid) => {
    expect(PermissionBits.safeParse(value).success).toBe(valid);
  });
});

describe('role hierarchy', () => {
  const server = { ownerId: OWNER, everyoneRoleId: ROLES.everyone.id, roles: Object.values(ROLES) };
  const member = (userId: string, ...keys: RoleKey[]) => ({ ...server, userId, memberRoleIds: keys.map(roleId) });

  test.each<[string, ReturnType<typeof member>, number]>([
    ['no roles: @everyone\'s position', member(USER), 0],
    ['one role', member(USER, 'dj'), 1],
    ['the highest of several', member(USER, 'dj', 'admin', 'mod'), 3],
    ['unknown roles ignored', { ...member(USER, 'dj'), memberRoleIds: [ROLES.dj.id, 'r-deleted'] }, 1],
    ['no @everyone role stored: 0', { ...member(USER), roles: [ROLES.dj] }, 0],
  ])('highestRolePosition: %s', (_name, m, expected) => {
    expect(highestRolePosition(m)).toBe(expected);
  });

  test.each<[string, ReturnType<typeof member>, ReturnType<typeof member>, boolean]>([
    ['owner manages a plain member', member(OWNER), member(USER), true],
    ['owner manages an admin', member(OWNER), member(USER, 'admin'), true],
    ['higher manages lower (mod → dj)', member(USER, 'mod'), member(OTHER, 'dj'), true],
    ['higher manages a plain member', member(USER, 'dj'), member(OTHER), true],
    ['equal positions cannot (mod ↔ mod)', member(USER, 'mod'), member(OTHER, 'mod'), false],
    ['equal positions cannot (dj ↔ member, both 1)', member(USER, 'dj'), member(OTHER, 'member'), false],
    ['plain members cannot manage each other', member(USER), member(OTHER), false],
    ['lower cannot manage higher', member(USER, 'dj'), member(OTHER, 'mod'), false],
    ['the highest role counts, not the first', member(USER, 'dj', 'mod'), member(OTHER, 'member'), true],
    ['nobody manages the owner, even from the top role', member(USER, 'admin'), member(OWNER, 'dj'), false],
    ['a member cannot manage themselves', member(USER, 'mod'), member(USER, 'mod'), false],
  ])('canManageMember: %s', (_name, actor, target, expected) => {
    expect(canManageMember(actor, target)).toBe(expected);
  });

  test.each<[string, ReturnType<typeof member>, RoleKey, boolean]>([
    ['owner manages the top role', member(OWNER), 'admin', true],
    ['mod manages a lower role', member(USER, 'mod'), 'dj', true],
    ['mod manages @everyone', member(USER, 'mod'), 'everyone', true],
    ['mod cannot manage its own role (equal)', member(USER, 'mod'), 'mod', false],
    ['dj cannot manage another role at its position', member(USER, 'dj'), 'member', false],
    ['mod cannot manage a higher role', member(USER, 'mod'), 'admin', false],
    ['a plain member cannot manage @everyone', member(USER), 'everyone', false],
  ])('canManageRole: %s', (_name, actor, key, expected) => {
    expect(canManageRole(actor, ROLES[key])).toBe(expected);
  });

  test.each<[string, number, number, boolean]>([
    ['an admin grants everything', computePermissions(input({ roles: ['admin'] })), ALL_PERMISSIONS, true],
    ['a held permission', bits('DEFAULT', 'KICK_MEMBERS'), bits('KICK_MEMBERS'), true],
    ['nothing', bits('DEFAULT'), 0, true],
    ['a permission the actor lacks', bits('DEFAULT', 'KICK_MEMBERS'), bits('BAN_MEMBERS'), false],
    ['a mix of held and lacking', bits('DEFAULT', 'KICK_MEMBERS'), bits('KICK_MEMBERS', 'BAN_MEMBERS'), false],
    ['ADMINISTRATOR without having it', bits('ALL') & ~Permission.ADMINISTRATOR, bits('ADMINISTRATOR'), false],
    ['unknown bits, even by an admin', ALL_PERMISSIONS, 1 << 20, false],
    ['negative bits', ALL_PERMISSIONS, -1, false],
    ['a bit above 32 that int32 arithmetic would drop', bits('SPEAK'), 2 ** 32 + Permission.SPEAK, false],
    ['unknown bits, even if malformed actor perms hold every int32 bit', -1, 1 << 20, false],
  ])('canGrant: %s', (_name, actorPerms, requested, expected) => {
    expect(canGrant(actorPerms, requested)).toBe(expected);
  });
});

describe('voice mapping', () => {
  test.each<[string, Case, boolean, { speak: boolean; video: boolean; screen: boolean }]>([
    ['@everyone defaults: join with everything', { overwrites: [] }, true, { speak: true, video: true, screen: true }],
    ['listen-only channel', { overwrites: [onRole('everyone', NONE, bits('SPEAK', 'VIDEO', 'STREAM'))] }, true, { speak: false, video: false, screen: false }],
    ['no streaming', { overwrites: [onRole('everyone', NONE, bits('STREAM'))] }, true, { speak: true, video: true, screen: false }],
    ['no CONNECT: no join and nothing else', { overwrites: [onRole('everyone', NONE, bits('CONNECT'))] }, false, { speak: false, video: false, screen: false }],
    ['hidden channel: no join', { overwrites: [onRole('everyone', NONE, bits('VIEW_CHANNEL'))] }, false, { speak: false, video: false, screen: false }],
  ])('%s', (_name, c, joins, voice) => {
    const perms = computePermissions(input(c));
    expect(mayJoinVoice(perms)).toBe(joins);
    expect(voicePermissionsFrom(perms)).toEqual(voice);
  });

  test('mayJoinVoice needs both VIEW_CHANNEL and CONNECT', () => {
    expect(mayJoinVoice(bits('CONNECT'))).toBe(false);
    expect(mayJoinVoice(bits('VIEW_CHANNEL'))).toBe(false);
    expect(mayJoinVoice(bits('VIEW_CHANNEL', 'CONNECT'))).toBe(true);
  });
});
