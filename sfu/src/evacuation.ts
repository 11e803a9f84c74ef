import type { Logger } from 'pino';

/** A room as an evacuation sees it: how many peers it carries, and a way to send them elsewhere. */
export interface EvacuatedRoom {
  readonly id: string;
  readonly peerCount: number;
}

/** What an evacuation moves rooms off of: the draining node. */
export interface EvacuationSite {
  /** The rooms still open here. */
  rooms(): EvacuatedRoom[];
  /** Whether another node could take the rooms now (live, not draining, under capacity). */
  elsewhere(): Promise<boolean>;
  /** Lets the room go in the registry (so it is placed elsewhere), then tells its peers to rejoin. */
  move(roomId: string): Promise<void>;
}

export interface EvacuationOptions {
  /** When to stop waiting and move whatever is left at once (ms since the epoch). */
  deadline: number;
  /** Peers told to rejoin elsewhere per step; whole rooms, so a larger room goes alone. */
  batchPeers: number;
  /** Pause between steps, and between looks for another node when there is none. */
  intervalMs: number;
  logger: Logger;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/** The result: rooms moved in batches, and rooms moved at the deadline regardless. */
export interface EvacuationReport {
  moved: number;
  batches: number;
  forced: number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Moves every room off a draining node, a few at a time: each batch is whole rooms (a room is
 * never split between two nodes) adding up to about `batchPeers` peers, so the other nodes take
 * the rejoins in steps rather than all at once. Waits while no other node could take them (a
 * rolling update's next node may be starting); at the deadline, moves whatever is left at once.
 */
export async function evacuate(site: EvacuationSite, options: EvacuationOptions): Promise<EvacuationReport> {
  const sleep = options.sleep ?? defaultSleep;
  const now = options.now ?? Date.now;
  const report: EvacuationReport = { moved: 0, batches: 0, forced: 0 };
  const pause = Math.max(options.intervalMs, 1);
  while (site.rooms().length > 0 && now() < options.deadline) {
    if (!(await site.elsewhere())) {
      options.logger.warn('draining: no other SFU node can take the rooms yet; waiting');
      await sleep(Math.min(pause, Math.max(0, options.deadline - now())));
      continue;
    }
    const batch = nextBatch(site.rooms(), options.batchPeers);
    await Promise.all(batch.map((room) => site.move(room.id)));
    report.moved += batch.length;
    report.batches += 1;
    options.logger.info({ rooms: batch.length, peers: batch.reduce((sum, room) => sum + room.peerCount, 0) }, 'draining: moved a batch of rooms to other nodes');
    if (site.rooms().length > 0) await sleep(Math.min(options.intervalMs, Math.max(0, options.deadline - now())));
  }
  const left = site.rooms();
  if (left.length > 0) {
    options.logger.warn({ rooms: left.length }, 'draining: deadline reached; moving the remaining rooms at once');
    await Promise.all(left.map((room) => site.move(room.id)));
    report.forced = left.length;
  }
  return report;
}

/** Whole rooms, largest first, until the batch holds `batchPeers` peers (at least one room). */
export function nextBatch(rooms: readonly EvacuatedRoom[], batchPeers: number): EvacuatedRoom[] {
  const batch: EvacuatedRoom[] = [];
  let peers = 0;
  for (const room of [...rooms].sort((a, b) => b.peerCount - a.peerCount)) {
    if (batch.length > 0 && peers + room.peerCount > batchPeers) continue;
    batch.push(room);
    peers += room.peerCount;
  }
  return batch;
}
