/** One request per key at a time: callers while it runs share it (guild and chat loads). */
export function shareInFlight(running: Map<string, Promise<void>>, key: string, start: () => Promise<void>): Promise<void> {
  let promise = running.get(key);
  if (!promise) {
    promise = start().finally(() => running.delete(key));
    running.set(key, promise);
  }
  return promise;
}
