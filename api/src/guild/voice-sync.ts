import { computePermissions, mayJoinVoice, voicePermissionsFrom, type VoicePermissions, type VoiceRemovedReason } from '@concord/protocol';
import { serverRolesOf, type GuildData } from '../access';
import type { GuildDeps } from './deps';

/** Which voice permissions a write may change: some channels and/or some users (default: all). */
export interface VoiceScope {
  channelIds?: readonly string[];
  userIds?: readonly string[];
}

/** Voice permissions per `channelId/userId`, for the members who may join the voice channel (VIEW_CHANNEL and CONNECT). */
export type VoiceSnapshot = Map<string, VoicePermissions>;

/** Removals are remembered this much longer than the grants they void live, for clocks that disagree a little. */
const CLOCK_SKEW_MS = 30_000;

const same = (a: VoicePermissions, b: VoicePermissions) => a.speak === b.speak && a.video === b.video && a.screen === b.screen;

/**
 * Keeps live voice sessions in step with permissions. A write that may change what members may do
 * in voice channels takes a snapshot before it commits and calls `publishChanges` after (once the
 * cache is invalidated): every member whose voice permissions in a voice channel changed gets
 * `setVoicePermissions`, which signaling applies to a live session there (closing the camera
 * producer when VIDEO goes, and so on), and every member who may no longer join it at all (kicked,
 * banned, gone, or without VIEW_CHANNEL or CONNECT now) is removed from it (`removeFromVoice`).
 * Comparing before and after keeps this to the members it concerns, not every member times every
 * voice channel.
 */
export class VoicePermissionSync {
  constructor(private readonly deps: Pick<GuildDeps, 'data' | 'realtime' | 'logger' | 'grants'>) {}

  snapshot(serverId: string, scope: VoiceScope = {}): Promise<VoiceSnapshot> {
    return voicePermissions(this.deps.data, serverId, scope);
  }

  /** `reason`: what a member who may no longer join a voice channel is told. */
  async publishChanges(serverId: string, before: VoiceSnapshot, scope: VoiceScope = {}, reason: VoiceRemovedReason = 'access-revoked'): Promise<void> {
    // Now, after the write committed and its cache keys went: a grant checked earlier may carry what was before.
    const at = Date.now();
    const after = await voicePermissions(this.deps.data, serverId, scope);
    const changes: Promise<void>[] = [];
    const removed = new Map<string, string[]>();
    for (const [key, was] of before) {
      const [channelId, userId] = key.split('/') as [string, string];
      const now = after.get(key);
      if (!now) removed.set(channelId, [...(removed.get(channelId) ?? []), userId]);
      else if (!same(was, now)) {
        changes.push(
          this.deps.realtime
            .setVoicePermissions(userId, channelId, now)
            .catch((error: unknown) => this.deps.logger.warn({ err: error, userId, channelId }, 'voice permission update failed')),
        );
      }
    }
    for (const [channelId, userIds] of removed) changes.push(this.remove(channelId, userIds, reason, at));
    await Promise.all(changes);
  }

  /** The voice channels are gone (deleted, or their server was): their calls end for everyone in them. */
  async endCalls(channelIds: readonly string[], reason: 'channel-deleted' | 'server-deleted'): Promise<void> {
    const at = Date.now();
    await Promise.all(channelIds.map((channelId) => this.remove(channelId, undefined, reason, at)));
  }

  /** Every user listed (or everyone) out of the channel's call; grants checked before `at` no longer admit them. */
  private async remove(roomId: string, userIds: string[] | undefined, reason: VoiceRemovedReason, at: number): Promise<void> {
    const until = at + this.deps.grants.grantTtlSeconds * 1000 + CLOCK_SKEW_MS;
    await this.deps.realtime
      .removeFromVoice({ roomId, ...(userIds && { userIds }), reason, at, until })
      .catch((error: unknown) => this.deps.logger.warn({ err: error, roomId, reason }, 'voice removal failed'));
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
      if (mayJoinVoice(perms)) snapshot.set(`${channel.id}/${member.userId}`, voicePermissionsFrom(perms));
    }
  }
  return snapshot;
}
