/* Waiting in tests: every wait is bounded, so a broken expectation fails with what was awaited instead of hanging. */

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it holds, for at most `timeoutMs`. A check that throws ends the wait with its error (a process that died). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not hold within ${timeoutMs} ms`);
    await sleep(25);
  }
}

/** Polls `probe` until `done` holds of its value, for at most `timeoutMs`; answers that value. The error names what was awaited and the last value seen. */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 10_000,
  show: (value: T) => string = (value) => JSON.stringify(value, null, 1),
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}; last seen:\n${show(value)}`);
    await sleep(100);
  }
}

/** The first of `items()` that `matches`, received already or arriving within `timeoutMs`; fails naming `what` was awaited. */
export async function firstArrival<T>(items: () => readonly T[], matches: (item: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  let found: T | undefined;
  await eventually(() => (found = items().find(matches)) !== undefined, timeoutMs).catch(() => {
    throw new Error(`no ${what} within ${timeoutMs} ms`);
  });
  return found as T;
}

/** Whether a count (packets received, say) grows by at least `more` within `timeoutMs`: media flowing, or with false, not. */
export async function grows(count: () => number, more: number, timeoutMs = 4_000): Promise<boolean> {
  const target = count() + more;
  return eventually(() => count() >= target, timeoutMs).then(
    () => true,
    () => false,
  );
}
