import { mayJoinVoice, ProtocolError, voicePermissionsFrom } from '@concord/protocol';
import type { GuildAccess } from '../access';
import type { VoicePolicy } from '../grants';
import { badRequest, forbidden } from './views';

/**
 * Voice rooms are voice channels: a grant for room `<channelId>` needs VIEW_CHANNEL and CONNECT
 * there, and carries what the member may do (SPEAK, VIDEO, STREAM). Unknown rooms, free-form room
 * names and channels of servers the user is not in are all NOT_FOUND.
 */
export function channelVoicePolicy(access: GuildAccess): VoicePolicy {
  return async (user, roomId) => {
    const context = await access.channelContext(user.userId, roomId).catch((error: unknown) => {
      throw error instanceof ProtocolError && error.code === 'NOT_FOUND' ? new ProtocolError('NOT_FOUND', 'unknown voice channel') : error;
    });
    if (context.channel.kind !== 'voice') throw badRequest('roomId: not a voice channel');
    if (!mayJoinVoice(context.channelPermissions)) throw forbidden('missing permission VIEW_CHANNEL or CONNECT in this voice channel');
    return voicePermissionsFrom(context.channelPermissions);
  };
}
