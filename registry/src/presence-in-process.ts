import type { ConnectionPresence, PresenceStatus } from '@concord/protocol';
import { aggregateStatus, isTransition, type PresenceChange, type PresenceStore } from './presence';

interface Connection {
  userId: string;
  instanceId: string;
  status: ConnectionPresence;
}

/** The embedded default: one process, so Maps and JavaScript's single thread make every operation atomic. */
export class InProcessPresenceStore implements PresenceStore {
  private readonly connections = new Map<string, Connection>();
  /** Connection ids by user. */
  private readonly users = new Map<string, Set<string>>();
  /** Heartbeat expiry by instance. */
  private readonly instances = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  async connected(userId: string, connectionId: string, instanceId: string, status: ConnectionPresence = 'online'): Promise<PresenceChange> {
    return this.change(userId, () => {
      this.forget(connectionId);
      this.connections.set(connectionId, { userId, instanceId, status });
      const ids = this.users.get(userId) ?? new Set<string>();
      this.users.set(userId, ids.add(connectionId));
    });
  }

  async disconnected(userId: string, connectionId: string): Promise<PresenceChange> {
    return this.change(userId, () => {
      if (this.connections.get(connectionId)?.userId === userId) this.forget(connectionId);
    });
  }

  async setStatus(userId: string, connectionId: string, status: ConnectionPresence): Promise<PresenceChange> {
    return this.change(userId, () => {
      const connection = this.connections.get(connectionId);
      if (connection?.userId === userId) connection.status = status;
    });
  }

  async statusOf(userIds: readonly string[]): Promise<Map<string, PresenceStatus>> {
    return new Map(userIds.map((userId) => [userId, this.status(userId)]));
  }

  async heartbeat(instanceId: string, ttlMs: number): Promise<boolean> {
    const known = this.instances.has(instanceId);
    this.instances.set(instanceId, this.now() + ttlMs);
    return known;
  }

  async dropInstance(instanceId: string): Promise<PresenceChange[]> {
    return this.drop([instanceId]);
  }

  async sweep(): Promise<PresenceChange[]> {
    return this.drop([...this.instances].filter(([, expiresAt]) => expiresAt <= this.now()).map(([id]) => id));
  }

  async close(): Promise<void> {
    this.connections.clear();
    this.users.clear();
    this.instances.clear();
  }

  /** The user's status before and after `mutate`. */
  private change(userId: string, mutate: () => void): PresenceChange {
    const previous = this.status(userId);
    mutate();
    return { userId, previous, current: this.status(userId) };
  }

  /** Instances in `counted` count as live whatever their heartbeat (their connections are being dropped). */
  private status(userId: string, counted: ReadonlySet<string> = new Set()): PresenceStatus {
    const now = this.now();
    const live = (instanceId: string) => counted.has(instanceId) || (this.instances.get(instanceId) ?? 0) > now;
    const statuses: ConnectionPresence[] = [];
    for (const id of this.users.get(userId) ?? []) {
      const connection = this.connections.get(id);
      if (connection && live(connection.instanceId)) statuses.push(connection.status);
    }
    return aggregateStatus(statuses);
  }

  private drop(instanceIds: string[]): PresenceChange[] {
    const dropped = new Set(instanceIds);
    const previous = new Map<string, PresenceStatus>();
    for (const connection of this.connections.values()) {
      if (dropped.has(connection.instanceId) && !previous.has(connection.userId)) {
        previous.set(connection.userId, this.status(connection.userId, dropped));
      }
    }
    for (const [id, connection] of this.connections) if (dropped.has(connection.instanceId)) this.forget(id);
    for (const id of dropped) this.instances.delete(id);
    return [...previous].map(([userId, before]) => ({ userId, previous: before, current: this.status(userId) })).filter(isTransition);
  }

  private forget(connectionId: string): void {
    const connection = this.connections.get(connectionId);
    if (!connection) return;
    this.connections.delete(connectionId);
    const ids = this.users.get(connection.userId);
    ids?.delete(connectionId);
    if (ids?.size === 0) this.users.delete(connection.userId);
  }
}
