import { z } from 'zod';

/** An id in a path or body: a UUID, lower-cased as PostgreSQL prints it so that ids compare equal. */
export const Id = z.uuid().transform((id) => id.toLowerCase());

export const ServerParams = z.object({ serverId: Id });
export const ChannelParams = z.object({ channelId: Id });
export const RoleParams = z.object({ serverId: Id, roleId: Id });
export const MemberParams = z.object({ serverId: Id, userId: Id });
export const MemberRoleParams = z.object({ serverId: Id, userId: Id, roleId: Id });
