export type { AccessService, ChannelAccess, ServerAccess } from './access';
export { audienceOf, GuildAccess, serverRolesOf, type ChannelContext, type ServerContext } from './guild-access';
export {
  allServerKeys,
  GuildData,
  guildKeys,
  isUuid,
  membershipKeys,
  type ChannelRecord,
  type MemberRoleRecord,
  type MembershipRecord,
  type RoleRecord,
  type ServerRecord,
  type UserRecord,
} from './guild-data';
