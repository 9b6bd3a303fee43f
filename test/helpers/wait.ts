// Waiting in the end-to-end tests: poll until a condition holds, with a generous safety limit (a correctness wait,
// never a speed check: a busy machine only makes it take longer).

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` every `everyMs` until it returns something other than undefined; fails after `timeoutMs`. */
export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  opts: { timeoutMs?: number; everyMs?: number } = {},
): Promise<T> {
  const end = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(opts.everyMs ?? 50);
  }
}
