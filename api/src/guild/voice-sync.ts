import { computePermissions, voicePermissionsFrom, type VoicePermissions } from '@concord/protocol';
import { serverRolesOf, type GuildData } from '../access';
import type { GuildDeps } from './deps';

/** Which voice permissions a write may change: some channels and/or some users (default: all). */
export interface VoiceScope {
  channelIds?: readonly string[];
  userIds?: readonly string[];
}

/** Voice permissions per `channelId/userId`. */
export type VoiceSnapshot = Map<string, VoicePermissions>;

const NONE: VoicePermissions = { speak: false, video: false, screen: false };
const same = (a: VoicePermissions, b: VoicePermissions) => a.speak === b.speak && a.video === b.video && a.screen === b.screen;

/**
 * Keeps live voice sessions in step with permissions. A write that may change what members may do
 * in voice channels takes a snapshot before it commits and calls `publishChanges` after (once the
 * cache is invalidated): every member whose voice permissions in a voice channel changed gets
 * `setVoicePermissions`, which signaling applies to a live session there (closing the camera
 * producer when VIDEO goes, and so on). Comparing before and after keeps this to the members it
 * concerns, not every member times every voice channel.
 */
export class VoicePermissionSync {
  constructor(private readonly deps: Pick<GuildDeps, 'data' | 'realtime' | 'logger'>) {}

  snapshot(serverId: string, scope: VoiceScope = {}): Promise<VoiceSnapshot> {
    return voicePermissions(this.deps.data, serverId, scope);
  }

  async publishChanges(serverId: string, before: VoiceSnapshot, scope: VoiceScope = {}): Promise<void> {
    const after = await voicePermissions(this.deps.data, serverId, scope);
    const changes: Promise<void>[] = [];
    for (const key of new Set([...before.keys(), ...after.keys()])) {
      const now = after.get(key) ?? NONE;
      if (same(before.get(key) ?? NONE, now)) continue;
      const [channelId, userId] = key.split('/') as [string, string];
      changes.push(
        this.deps.realtime
          .setVoicePermissions(userId, channelId, now)
          .catch((error: unknown) => this.deps.logger.warn({ err: error, userId, channelId }, 'voice permission update failed')),
      );
    }
    await Promise.all(changes);
  }
}

async function voicePermissions(data: GuildData, serverId: string, scope: VoiceScope): Promise<VoiceSnapshot> {
  const snapshot: VoiceSnapshot = new Map();
  const [server, roles, channels, members] = await Promise.all([data.server(serverId), data.roles(serverId), data.channels(serverId), data.members(serverId)]);
  if (!server) return snapshot;
  const channelIds = scope.channelIds && new Set(scope.channelIds);
  const userIds = scope.userIds && new Set(scope.userIds);
  const serverRoles = serverRolesOf(server, roles);
  for (const channel of channels) {
    if (channel.kind !== 'voice' || (channelIds && !channelIds.has(channel.id))) continue;
    for (const member of members) {
      if (userIds && !userIds.has(member.userId)) continue;
      const perms = computePermissions({ ...serverRoles, userId: member.userId, memberRoleIds: member.roleIds, overwrites: channel.overwrites });
      snapshot.set(`${channel.id}/${member.userId}`, voicePermissionsFrom(perms));
    }
  }
  return snapshot;
}
