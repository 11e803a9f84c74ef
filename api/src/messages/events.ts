import type { Logger } from 'pino';
import type { RealtimeEvent, RealtimeEventName } from '@concord/protocol';
import type { AccessService } from '../access/access';
import type { RealtimePublisher } from '../realtime';

/**
 * Real-time events of channels, published after the request that caused them has been answered.
 * The audience is asked for when each event goes out (the members who may view the channel at
 * that moment), and the events of one channel leave this process in the order they were made, so
 * a client never sees an edit before the message. Delivery is best effort: a failure is logged,
 * never turned into a failed request — the change is committed, and clients catch up through
 * history when they reconnect.
 */
export class ChannelEvents {
  private readonly queues = new Map<string, Promise<void>>();

  constructor(
    private readonly access: AccessService,
    private readonly publisher: RealtimePublisher,
    private readonly logger: Pick<Logger, 'warn'>,
  ) {}

  /** Queues the event for the channel's audience; `except` (e.g. the typist) is left out. */
  publish<E extends RealtimeEventName>(channelId: string, event: E, data: RealtimeEvent<E>, except?: string): void {
    const previous = this.queues.get(channelId) ?? Promise.resolve();
    const sent = previous.then(async () => {
      try {
        const audience = await this.access.channelAudience(channelId);
        const userIds = except === undefined ? audience : audience.filter((id) => id !== except);
        await this.publisher.publish({ userIds }, event, data);
      } catch (error) {
        this.logger.warn({ err: error, channelId, event }, 'real-time event not published');
      }
    });
    this.queues.set(channelId, sent);
    void sent.then(() => {
      if (this.queues.get(channelId) === sent) this.queues.delete(channelId);
    });
  }

  /** Resolves once every queued event has been published (or has failed). */
  async drain(): Promise<void> {
    while (this.queues.size > 0) await Promise.all([...this.queues.values()]);
  }
}
