import type { Logger } from 'pino';
import type { RealtimeEvent, RealtimeEventName } from '@concord/protocol';
import type { AccessService } from '../access/access';
import type { RealtimePublisher } from '../realtime';

interface Pending {
  event: RealtimeEventName;
  data: unknown;
  except: string | undefined;
}

/**
 * Real-time events of channels, published after the request that caused them has been answered.
 *
 * The audience is resolved when events leave (the members who may view the channel at that
 * moment), once for all the events of a channel that are waiting together: under load a busy
 * channel's events go out in batches sharing one audience lookup, which for a large server is the
 * expensive part (a permission computation per member). Events of one channel leave this process
 * in the order they were made, so a client never sees an edit before the message.
 *
 * Delivery is best effort: a failure is logged, never turned into a failed request — the change is
 * committed, and clients catch up through history when they reconnect.
 */
export class ChannelEvents {
  private readonly waiting = new Map<string, Pending[]>();
  private readonly sending = new Map<string, Promise<void>>();

  constructor(
    private readonly access: AccessService,
    private readonly publisher: RealtimePublisher,
    private readonly logger: Pick<Logger, 'warn'>,
  ) {}

  /** Queues the event for the channel's audience; `except` (e.g. the typist) is left out. */
  publish<E extends RealtimeEventName>(channelId: string, event: E, data: RealtimeEvent<E>, except?: string): void {
    let queue = this.waiting.get(channelId);
    if (!queue) this.waiting.set(channelId, (queue = []));
    queue.push({ event, data, except });
    if (!this.sending.has(channelId)) this.sending.set(channelId, this.send(channelId));
  }

  /** Resolves once every queued event has been published (or has failed). */
  async drain(): Promise<void> {
    while (this.sending.size > 0) await Promise.all([...this.sending.values()]);
  }

  /** Sends the channel's waiting events, batch after batch, until none are left. */
  private async send(channelId: string): Promise<void> {
    for (;;) {
      const batch = this.take(channelId);
      if (batch.length === 0) {
        // In the same synchronous step as finding nothing, so that an event queued from now on starts a new sender.
        this.sending.delete(channelId);
        return;
      }
      await this.sendBatch(channelId, batch);
    }
  }

  /** Never throws: failures are logged. */
  private async sendBatch(channelId: string, batch: Pending[]): Promise<void> {
    let audience: string[];
    try {
      audience = await this.access.channelAudience(channelId);
    } catch (error) {
      this.logger.warn({ err: error, channelId, events: batch.length }, 'real-time events not published: no audience');
      return;
    }
    // Issued in order on one connection, so they arrive in order without waiting a round trip each.
    await Promise.all(
      batch.map(async ({ event, data, except }) => {
        try {
          const userIds = except === undefined ? audience : audience.filter((id) => id !== except);
          await this.publisher.publish({ userIds }, event, data as RealtimeEvent<typeof event>);
        } catch (error) {
          this.logger.warn({ err: error, channelId, event }, 'real-time event not published');
        }
      }),
    );
  }

  private take(channelId: string): Pending[] {
    const batch = this.waiting.get(channelId) ?? [];
    this.waiting.delete(channelId);
    return batch;
  }
}
