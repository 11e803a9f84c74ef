import { GRANT_AUDIENCE, type RoomId, type VoiceGrantClaims, type VoiceGrantResponse, type VoicePermissions } from '@concord/protocol';
import type { AuthenticatedUser } from './identity';
import { signToken, type SigningKeys } from './keys';
import { turnIceServers, type TurnConfig } from './turn';

/** What a user may do in a room. */
export type VoicePolicy = (user: AuthenticatedUser, roomId: RoomId) => Promise<VoicePermissions>;

/** Until channels and their permissions exist, every signed-in user may do everything in any room. */
export const openVoicePolicy: VoicePolicy = async () => ({ speak: true, video: true, screen: true });

/** Voice grants: short-lived tokens that signaling checks (with our JWKS) before a peer joins a room. */
export class VoiceGrantIssuer {
  constructor(
    private readonly keys: SigningKeys,
    /** How long a grant admits; a removal is remembered as long (VoicePermissionSync). */
    readonly grantTtlSeconds: number,
    private readonly policy: VoicePolicy = openVoicePolicy,
    /** Set: each grant carries TURN credentials for its user (the API holds the shared secret, as it holds the signing key). */
    private readonly turn?: TurnConfig,
  ) {}

  /** The grant admits a socket of the user's session `user.sessionId` only, while that session lives. */
  async issue(user: AuthenticatedUser & { sessionId: string }, roomId: RoomId): Promise<VoiceGrantResponse> {
    // Taken before the permissions are read: a removal from the room committed after this voids the grant.
    const checkedAt = Date.now();
    const permissions = await this.policy(user, roomId);
    const claims: VoiceGrantClaims = { sub: user.userId, name: user.displayName, room: roomId, perms: permissions, sid: user.sessionId, checkedAt };
    const { token, expiresAt } = await signToken(this.keys, GRANT_AUDIENCE, claims, this.grantTtlSeconds);
    return { grant: token, expiresAt, permissions, ...(this.turn && { iceServers: turnIceServers(this.turn, user.userId) }) };
  }
}
