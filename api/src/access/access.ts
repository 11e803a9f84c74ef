/**
 * What a user may do where: the one place REST routes, real-time fan-out and voice grants ask.
 * Backed by PostgreSQL and the permission cache; every answer comes from `computePermissions`.
 */
export interface ChannelAccess {
  serverId: string;
  channelId: string;
  kind: 'text' | 'voice' | 'category';
  /** Effective permission bits of the user in this channel. */
  permissions: number;
  /** Moderator bits left out of `permissions` for want of two-factor sign-in (ServerContext.withheld). */
  withheld: number;
}

export interface ServerAccess {
  serverId: string;
  ownerId: string;
  /** Effective server-level permission bits (no channel overwrites). */
  permissions: number;
}

export interface AccessService {
  /** NOT_FOUND when the server does not exist or the user is not a member (never reveals which). */
  server(userId: string, serverId: string): Promise<ServerAccess>;
  /** NOT_FOUND when the channel does not exist or is in a server the user is not a member of. */
  channel(userId: string, channelId: string): Promise<ChannelAccess>;
  /** The members who may see the channel now (VIEW_CHANNEL): the audience of its real-time events. */
  channelAudience(channelId: string): Promise<string[]>;
  /** Every member of the server: the audience of server-wide events. */
  serverAudience(serverId: string): Promise<string[]>;
}
