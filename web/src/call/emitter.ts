/** A minimal typed event emitter: the event map names every event and its arguments. */
export class TypedEmitter<Events extends Record<string, unknown[]>> {
  private readonly listeners: { [E in keyof Events]?: Set<(...args: Events[E]) => void> } = {};

  /** Subscribes; the returned function unsubscribes. */
  on<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): () => void {
    const set = (this.listeners[event] ??= new Set());
    set.add(listener);
    return () => void set.delete(listener);
  }

  protected emit<E extends keyof Events>(event: E, ...args: Events[E]): void {
    for (const listener of [...(this.listeners[event] ?? [])]) listener(...args);
  }
}
