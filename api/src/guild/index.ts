import type { RouteTable } from '../http/route-table';
import { channelRoutes } from './channels';
import { Effects, type GuildDeps } from './deps';
import { inviteRoutes } from './invites';
import { memberRoutes } from './members';
import { roleRoutes } from './roles';
import { serverRoutes } from './servers';
import { VoicePermissionSync } from './voice-sync';

export { channelVoicePolicy } from './voice';
export type { GuildDeps, GuildRateLimits, PresenceReader } from './deps';

/** Servers, channels, overwrites, roles, members, bans, invites and the current user's profile. */
export function guildRoutes(table: RouteTable, deps: GuildDeps): void {
  const module = { deps, effects: new Effects(deps), voice: new VoicePermissionSync(deps) };
  serverRoutes(table, module);
  channelRoutes(table, module);
  roleRoutes(table, module);
  memberRoutes(table, module);
  inviteRoutes(table, module);
}
