import type { RoomEventEnvelope } from '@concord/protocol';

/**
 * Which control connections a room event goes to. Every signaling connection that joined a peer to
 * the room is subscribed to it (a socket.io room of the control server); an event addressed to
 * listed peers (`to`: a consumer, a permission change — most of a call's events) goes only to the
 * connections those peers joined through last, the ones holding them. Everything else (events for
 * the whole room, a displaced session's notice, a peer joined elsewhere) goes to every subscriber.
 */
export class EventRoutes<C> {
  /** Room → peer → the connection the peer's last join came through. */
  readonly #holders = new Map<string, Map<string, C>>();

  /** A peer joined through `connection`; it holds the peer from now on (the SFU's rule: the last join wins). */
  joined(roomId: string, peerId: string, connection: C): void {
    const peers = this.#holders.get(roomId) ?? new Map<string, C>();
    this.#holders.set(roomId, peers);
    peers.set(peerId, connection);
  }

  /** The connection no longer serves the room (unsubscribed, or gone): it holds none of its peers. */
  forget(connection: C, roomId?: string): void {
    for (const [room, peers] of roomId === undefined ? this.#holders : [[roomId, this.#holders.get(roomId)] as const]) {
      if (!peers) continue;
      for (const [peerId, holder] of peers) if (holder === connection) peers.delete(peerId);
      if (peers.size === 0) this.#holders.delete(room);
    }
  }

  /** The connections the event goes to; undefined when it goes to every subscriber of the room. */
  recipients(envelope: RoomEventEnvelope): Set<C> | undefined {
    const peers = this.#holders.get(envelope.roomId);
    // The room says who is gone: their entries go with them.
    if (envelope.event === 'voice:peerLeft') peers?.delete((envelope.data as { peerId: string }).peerId);
    if (envelope.event === 'voice:roomClosed' && !envelope.toSession) this.#holders.delete(envelope.roomId);
    if (!envelope.to || !peers) return undefined;
    const connections = new Set<C>();
    for (const peerId of envelope.to) {
      const holder = peers.get(peerId);
      if (holder === undefined) return undefined;
      connections.add(holder);
    }
    return connections;
  }
}
