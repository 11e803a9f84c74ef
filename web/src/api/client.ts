import type {
  Ban,
  Channel,
  ChannelView,
  CreateChannelRequest,
  CreateInviteRequest,
  CreateRoleRequest,
  ChangePasswordRequest,
  CreateServerRequest,
  EditMessageRequest,
  Invite,
  InvitePreview,
  Member,
  ModeratorTwoFactorRule,
  PasskeyRegistration,
  RecoveryCodesResponse,
  SecondFactorProof,
  TotpSetupResponse,
  TwoFactorStatus,
  WebAuthnOptions,
  Message,
  MessagePage,
  OverwriteTargetType,
  ReorderChannelsRequest,
  Role,
  SendMessageRequest,
  Server,
  ServerView,
  SetOverwriteRequest,
  SignOutEverywhereResponse,
  UpdateChannelRequest,
  UpdateRoleRequest,
  UpdateProfileRequest,
  UpdateServerRequest,
  UserProfile,
  VoiceGrantResponse,
} from '@concord/protocol';
import { ProtocolError } from '@concord/protocol';
import { request } from './http';
import type { Method, RequestOptions } from './http';

const enc = encodeURIComponent;

/**
 * The API's routes for a signed-in user, one method per route. Paths live here and nowhere else.
 */
export class ApiClient {
  /** `unauthenticated`: the session was refused (expired or revoked); the app signs out. */
  constructor(
    private readonly token: () => string,
    private readonly unauthenticated: () => void = () => undefined,
  ) {}

  private async call<T>(method: Method, path: string, options: Omit<RequestOptions, 'token'> = {}): Promise<T> {
    try {
      return await request<T>(method, `/api${path}`, { ...options, token: this.token() });
    } catch (error) {
      if (error instanceof ProtocolError && error.code === 'UNAUTHENTICATED') this.unauthenticated();
      throw error;
    }
  }

  // ---- sessions ----
  /** Every other session of the account; this one stays signed in. */
  signOutEverywhere = () => this.call<SignOutEverywhereResponse>('POST', '/auth/sign-out-everywhere');
  /** Signs every other session out too. */
  changePassword = (body: ChangePasswordRequest) => this.call<SignOutEverywhereResponse>('POST', '/auth/password', { body });

  // ---- two-factor sign-in ----
  twoFactorStatus = () => this.call<TwoFactorStatus>('GET', '/auth/2fa');
  /** A new authenticator-app secret, shown this once; `confirmTotp` with its first code turns it on. */
  beginTotp = () => this.call<TotpSetupResponse>('POST', '/auth/2fa/totp');
  confirmTotp = (code: string) => this.call<RecoveryCodesResponse>('POST', '/auth/2fa/totp/confirm', { body: { code } });
  passkeyRegistrationOptions = () => this.call<WebAuthnOptions>('POST', '/auth/2fa/passkeys/options');
  registerPasskey = (name: string, passkey: PasskeyRegistration) => this.call<RecoveryCodesResponse>('POST', '/auth/2fa/passkeys', { body: { name, passkey } });
  /** Options to prove a passkey now (turning two-factor sign-in off). */
  passkeyAssertionOptions = () => this.call<WebAuthnOptions>('POST', '/auth/2fa/assertion-options');
  disableTwoFactor = (proof: SecondFactorProof) => this.call<void>('POST', '/auth/2fa/disable', { body: proof });
  newRecoveryCodes = (proof: SecondFactorProof) => this.call<RecoveryCodesResponse>('POST', '/auth/2fa/recovery-codes', { body: proof });
  setModeratorTwoFactor = (serverId: string, body: ModeratorTwoFactorRule) => this.call<ModeratorTwoFactorRule>('PUT', `/servers/${enc(serverId)}/two-factor-requirement`, { body });

  // ---- users ----
  me = () => this.call<UserProfile>('GET', '/users/@me');
  updateMe = (body: UpdateProfileRequest) => this.call<UserProfile>('PATCH', '/users/@me', { body });
  myServers = () => this.call<Server[]>('GET', '/users/@me/servers');

  // ---- servers ----
  createServer = (body: CreateServerRequest) => this.call<Server>('POST', '/servers', { body });
  server = (serverId: string) => this.call<ServerView>('GET', `/servers/${enc(serverId)}`);
  updateServer = (serverId: string, body: UpdateServerRequest) => this.call<Server>('PATCH', `/servers/${enc(serverId)}`, { body });
  deleteServer = (serverId: string) => this.call<void>('DELETE', `/servers/${enc(serverId)}`);
  leaveServer = (serverId: string) => this.call<void>('DELETE', `/servers/${enc(serverId)}/members/@me`);

  // ---- channels ----
  channels = (serverId: string) => this.call<ChannelView[]>('GET', `/servers/${enc(serverId)}/channels`);
  createChannel = (serverId: string, body: CreateChannelRequest) => this.call<Channel>('POST', `/servers/${enc(serverId)}/channels`, { body });
  updateChannel = (channelId: string, body: UpdateChannelRequest) => this.call<Channel>('PATCH', `/channels/${enc(channelId)}`, { body });
  deleteChannel = (channelId: string) => this.call<void>('DELETE', `/channels/${enc(channelId)}`);
  reorderChannels = (serverId: string, body: ReorderChannelsRequest) => this.call<unknown>('PATCH', `/servers/${enc(serverId)}/channels`, { body });
  setOverwrite = (channelId: string, type: OverwriteTargetType, targetId: string, body: SetOverwriteRequest) =>
    this.call<unknown>('PUT', `/channels/${enc(channelId)}/overwrites/${type}/${enc(targetId)}`, { body });
  deleteOverwrite = (channelId: string, type: OverwriteTargetType, targetId: string) =>
    this.call<void>('DELETE', `/channels/${enc(channelId)}/overwrites/${type}/${enc(targetId)}`);

  // ---- roles ----
  roles = (serverId: string) => this.call<Role[]>('GET', `/servers/${enc(serverId)}/roles`);
  createRole = (serverId: string, body: CreateRoleRequest) => this.call<Role>('POST', `/servers/${enc(serverId)}/roles`, { body });
  updateRole = (serverId: string, roleId: string, body: UpdateRoleRequest) =>
    this.call<Role>('PATCH', `/servers/${enc(serverId)}/roles/${enc(roleId)}`, { body });
  deleteRole = (serverId: string, roleId: string) => this.call<void>('DELETE', `/servers/${enc(serverId)}/roles/${enc(roleId)}`);

  // ---- members ----
  members = (serverId: string, after?: string) =>
    this.call<Member[]>('GET', `/servers/${enc(serverId)}/members`, { query: { limit: 1000, after } });
  member = (serverId: string, userId: string) => this.call<Member>('GET', `/servers/${enc(serverId)}/members/${enc(userId)}`);
  addMemberRole = (serverId: string, userId: string, roleId: string) =>
    this.call<void>('PUT', `/servers/${enc(serverId)}/members/${enc(userId)}/roles/${enc(roleId)}`);
  removeMemberRole = (serverId: string, userId: string, roleId: string) =>
    this.call<void>('DELETE', `/servers/${enc(serverId)}/members/${enc(userId)}/roles/${enc(roleId)}`);
  kick = (serverId: string, userId: string) => this.call<void>('DELETE', `/servers/${enc(serverId)}/members/${enc(userId)}`);
  ban = (serverId: string, userId: string, reason?: string) =>
    this.call<void>('PUT', `/servers/${enc(serverId)}/bans/${enc(userId)}`, { body: reason ? { reason } : {} });
  unban = (serverId: string, userId: string) => this.call<void>('DELETE', `/servers/${enc(serverId)}/bans/${enc(userId)}`);
  bans = (serverId: string) => this.call<Ban[]>('GET', `/servers/${enc(serverId)}/bans`);

  // ---- invites ----
  createInvite = (serverId: string, body: CreateInviteRequest) => this.call<Invite>('POST', `/servers/${enc(serverId)}/invites`, { body });
  invites = (serverId: string) => this.call<Invite[]>('GET', `/servers/${enc(serverId)}/invites`);
  deleteInvite = (code: string) => this.call<void>('DELETE', `/invites/${enc(code)}`);
  previewInvite = (code: string) => this.call<InvitePreview>('GET', `/invites/${enc(code)}`);
  acceptInvite = (code: string) => this.call<Server>('POST', `/invites/${enc(code)}/accept`);

  // ---- messages ----
  messages = (channelId: string, cursor: { before?: string; after?: string; limit?: number } = {}) =>
    this.call<MessagePage>('GET', `/channels/${enc(channelId)}/messages`, { query: cursor });
  sendMessage = (channelId: string, body: SendMessageRequest) => this.call<Message>('POST', `/channels/${enc(channelId)}/messages`, { body });
  editMessage = (channelId: string, messageId: string, body: EditMessageRequest) =>
    this.call<Message>('PATCH', `/channels/${enc(channelId)}/messages/${enc(messageId)}`, { body });
  deleteMessage = (channelId: string, messageId: string) => this.call<void>('DELETE', `/channels/${enc(channelId)}/messages/${enc(messageId)}`);
  react = (channelId: string, messageId: string, emoji: string) =>
    this.call<void>('PUT', `/channels/${enc(channelId)}/messages/${enc(messageId)}/reactions/${enc(emoji)}/@me`);
  unreact = (channelId: string, messageId: string, emoji: string) =>
    this.call<void>('DELETE', `/channels/${enc(channelId)}/messages/${enc(messageId)}/reactions/${enc(emoji)}/@me`);
  typing = (channelId: string) => this.call<void>('POST', `/channels/${enc(channelId)}/typing`);

  // ---- voice ----
  /** A voice room is a voice channel: its room id is the channel id. */
  voiceGrant = (channelId: string) => this.call<VoiceGrantResponse>('POST', '/voice/grant', { body: { roomId: channelId } });
}
