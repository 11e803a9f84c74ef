import type { ConnectionPresence, PresenceStatus } from '@concord/protocol';

/** A user's aggregate status before and after an operation; a transition when the two differ. */
export interface PresenceChange {
  userId: string;
  previous: PresenceStatus;
  current: PresenceStatus;
}

export const isTransition = (change: PresenceChange): boolean => change.previous !== change.current;

/**
 * Who is connected, through which signaling instance, and how each connection reports its user.
 * A user is online if any connection is online, idle if all are idle, offline if none counts.
 *
 * A connection counts only while its instance is live: each instance heartbeats with a TTL, and a
 * crashed instance's connections stop counting once its TTL lapses (and are removed by the next
 * `sweep`, which reports the transitions so that someone can announce them). Heartbeat before
 * registering connections.
 *
 * Two implementations share this contract (and its tests): Redis for a cluster, in-process for the
 * embedded default. Every operation on a user is atomic, so transitions are reported exactly once
 * however many instances race on one user.
 */
export interface PresenceStore {
  /** Registers a connection of the user, held by `instanceId`. */
  connected(userId: string, connectionId: string, instanceId: string, status?: ConnectionPresence): Promise<PresenceChange>;
  /** Forgets a connection; unknown connections change nothing. */
  disconnected(userId: string, connectionId: string): Promise<PresenceChange>;
  /** Sets what one connection reports; unknown connections change nothing. */
  setStatus(userId: string, connectionId: string, status: ConnectionPresence): Promise<PresenceChange>;
  /** The aggregate status of each user (offline for unknown users). */
  statusOf(userIds: readonly string[]): Promise<Map<string, PresenceStatus>>;
  /**
   * Keeps the instance live for `ttlMs` more. Answers false when the store did not know the
   * instance: its first heartbeat, or it lapsed and was swept while still running (a stall), in
   * which case the instance should register its live connections again.
   */
  heartbeat(instanceId: string, ttlMs: number): Promise<boolean>;
  /** Forgets every connection of the instance at once (clean shutdown); answers the transitions. */
  dropInstance(instanceId: string): Promise<PresenceChange[]>;
  /** Drops every instance whose heartbeat lapsed; answers the transitions, each to one caller only. */
  sweep(): Promise<PresenceChange[]>;
  close(): Promise<void>;
}

/** The aggregation rule, over the statuses of the connections that count. */
export function aggregateStatus(statuses: Iterable<ConnectionPresence>): PresenceStatus {
  let status: PresenceStatus = 'offline';
  for (const connection of statuses) {
    if (connection === 'online') return 'online';
    status = 'idle';
  }
  return status;
}
