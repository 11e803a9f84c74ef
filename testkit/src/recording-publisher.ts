import type { RealtimeEvent, RealtimeEventName, SessionRevocation, VoicePermissions, VoiceRemoval } from '@concord/protocol';
import { checkedEvent, checkedRevocation, checkedVoicePermissions, checkedVoiceRemoval, type Audience, type RealtimePublisher } from '@concord/api/src/realtime';
import { firstArrival } from './wait';

export interface Published {
  userIds: string[];
  event: RealtimeEventName;
  data: any;
}

/** The API's real-time publisher for tests: records every call instead of delivering it, checked against the schemas as the real publishers check them. */
export class RecordingPublisher implements RealtimePublisher {
  readonly published: Published[] = [];
  readonly voice: { userId: string; roomId: string; permissions: VoicePermissions }[] = [];
  readonly rooms: { op: 'add' | 'remove'; userId: string; serverId: string }[] = [];
  readonly revocations: SessionRevocation[] = [];
  readonly removals: VoiceRemoval[] = [];

  async publish<E extends RealtimeEventName>(audience: Audience, event: E, data: RealtimeEvent<E>): Promise<void> {
    const checked = checkedEvent(audience, event, data);
    this.published.push({ userIds: [...checked.userIds].sort(), event, data: checked.data });
  }

  async addToServerRoom(userId: string, serverId: string): Promise<void> {
    this.rooms.push({ op: 'add', userId, serverId });
  }

  async removeFromServerRoom(userId: string, serverId: string): Promise<void> {
    this.rooms.push({ op: 'remove', userId, serverId });
  }

  async setVoicePermissions(userId: string, roomId: string, permissions: VoicePermissions): Promise<void> {
    this.voice.push(checkedVoicePermissions(userId, roomId, permissions));
  }

  async removeFromVoice(removal: VoiceRemoval): Promise<void> {
    this.removals.push(checkedVoiceRemoval(removal));
  }

  async revokeSessions(revocation: SessionRevocation): Promise<void> {
    this.revocations.push(checkedRevocation(revocation));
  }

  async close(): Promise<void> {}

  of<E extends RealtimeEventName>(event: E): (Omit<Published, 'data'> & { data: RealtimeEvent<E> })[] {
    return this.published.filter((entry) => entry.event === event);
  }

  /** The first published event of a kind matching `matches`, past or within `timeoutMs`. */
  async next<E extends RealtimeEventName>(event: E, matches: (data: RealtimeEvent<E>) => boolean = () => true, timeoutMs = 3_000): Promise<Published> {
    return firstArrival(() => this.of(event), (entry) => matches(entry.data), timeoutMs, `published ${event}`);
  }

  clear(): void {
    this.published.length = 0;
    this.voice.length = 0;
    this.rooms.length = 0;
    this.revocations.length = 0;
    this.removals.length = 0;
  }
}
