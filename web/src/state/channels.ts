import type { Channel, ChannelView, PermissionOverwrite } from '@concord/protocol';
import { patchGuild } from './app-state';
import type { AppState, Guild } from './app-state';

export const sortChannels = (channels: readonly ChannelView[]): ChannelView[] =>
  [...channels].sort((a, b) => a.position - b.position || (a.id < b.id ? -1 : 1));

export function findChannel(state: AppState, channelId: string): ChannelView | undefined {
  for (const guild of Object.values(state.guilds)) {
    const channel = guild.channels.find((c) => c.id === channelId);
    if (channel) return channel;
  }
  return undefined;
}

/** A channel created or changed. */
export function channelUpserted(state: AppState, channel: Channel): AppState {
  return patchGuild(state, channel.serverId, (g) => {
    const existing = g.channels.find((c) => c.id === channel.id);
    // The event carries no permission bits: keep the ones we had (ours are recomputed anyway).
    const view: ChannelView = { ...channel, permissions: existing?.permissions ?? 0 };
    return { ...g, channels: sortChannels(existing ? g.channels.map((c) => (c.id === channel.id ? view : c)) : [...g.channels, view]) };
  });
}

export function channelRemoved(state: AppState, serverId: string, channelId: string): AppState {
  // Channels of a deleted category move out of it, as the server does.
  return patchGuild(state, serverId, (g) => ({
    ...g,
    channels: g.channels.filter((c) => c.id !== channelId).map((c) => (c.parentId === channelId ? { ...c, parentId: null } : c)),
  }));
}

export interface ChannelMove {
  id: string;
  position: number;
}

/**
 * The position changes that move a channel one place up or down among its siblings (same
 * category, same kind group); none at either end.
 */
export function channelMoves(guild: Guild, channelId: string, direction: -1 | 1): ChannelMove[] {
  const channel = guild.channels.find((c) => c.id === channelId);
  if (!channel) return [];
  const siblings = guild.channels.filter((c) => c.parentId === channel.parentId && (c.kind === 'category') === (channel.kind === 'category'));
  const index = siblings.findIndex((c) => c.id === channelId);
  const other = siblings[index + direction];
  if (!other) return [];
  const order = [...siblings];
  order[index] = other;
  order[index + direction] = channel;
  // Positions are unique within the server: reuse the siblings' own, in the new order.
  const positions = siblings.map((c) => c.position).sort((a, b) => a - b);
  return order.map((c, i) => ({ id: c.id, position: positions[i]! })).filter((move, i) => order[i]!.position !== move.position);
}

export function channelsMoved(state: AppState, serverId: string, moves: readonly ChannelMove[]): AppState {
  return patchGuild(state, serverId, (g) => ({
    ...g,
    channels: sortChannels(g.channels.map((c) => ({ ...c, position: moves.find((m) => m.id === c.id)?.position ?? c.position }))),
  }));
}

/** The channel with one overwrite set, or removed when it allows and denies nothing. */
export function withOverwrite<C extends Channel>(channel: C, overwrite: PermissionOverwrite): C {
  const { targetType, targetId, allow, deny } = overwrite;
  const others = channel.overwrites.filter((o) => !(o.targetType === targetType && o.targetId === targetId));
  return { ...channel, overwrites: allow || deny ? [...others, overwrite] : others };
}
