import type { RealtimeEvent, RealtimeEventName, RealtimeSink, SessionRevocation, VoicePermissions, VoiceRemoval } from '@concord/protocol';
import { checkedEvent, checkedRevocation, checkedVoicePermissions, checkedVoiceRemoval, type Audience, type RealtimePublisher } from './publisher';

/**
 * The embedded default: API and signaling share a process, so events go straight into the
 * signaling instance's RealtimeSink, which does what the Redis path makes each signaling process
 * do. Signaling is created after the API's app, so the sink is attached later; until then there is
 * no socket to deliver to, and calls do nothing.
 */
export class InProcessRealtimePublisher implements RealtimePublisher {
  private sink: RealtimeSink | undefined;

  attach(sink: RealtimeSink): void {
    this.sink = sink;
  }

  async publish<E extends RealtimeEventName>(audience: Audience, event: E, data: RealtimeEvent<E>): Promise<void> {
    const checked = checkedEvent(audience, event, data);
    if (checked.userIds.length > 0) this.sink?.deliver(checked.userIds, event, checked.data);
  }

  async addToServerRoom(userId: string, serverId: string): Promise<void> {
    this.sink?.joinServerRoom(userId, serverId);
  }

  async removeFromServerRoom(userId: string, serverId: string): Promise<void> {
    this.sink?.leaveServerRoom(userId, serverId);
  }

  async setVoicePermissions(userId: string, roomId: string, permissions: VoicePermissions): Promise<void> {
    await this.sink?.setVoicePermissions(checkedVoicePermissions(userId, roomId, permissions));
  }

  async revokeSessions(revocation: SessionRevocation): Promise<void> {
    await this.sink?.revokeSessions(checkedRevocation(revocation));
  }

  async removeFromVoice(removal: VoiceRemoval): Promise<void> {
    await this.sink?.removeFromVoice(checkedVoiceRemoval(removal));
  }

  async close(): Promise<void> {
    this.sink = undefined;
  }
}
