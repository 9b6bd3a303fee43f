// The retry policy, pure: what to do with a message whose handler failed. A PermanentError (bad input that no
// retry can fix) goes to the dead-letter queue at once; any other error is retried after an exponential backoff
// with full jitter, until the attempt limit, then dead-lettered.

/** Throw this from a handler for a message that must not be retried. */
export class PermanentError extends Error {
  override name = 'PermanentError';
}

export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly baseMs: number;
  readonly maxMs: number;
}

export type Decision =
  | { readonly action: 'retry'; readonly delayMs: number }
  | { readonly action: 'dead-letter'; readonly reason: string };

/** `attempt` is the delivery that just failed, counting from 1. */
export function decide(
  policy: RetryPolicy,
  attempt: number,
  err: unknown,
  random: () => number = Math.random,
): Decision {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof PermanentError)
    return { action: 'dead-letter', reason: `permanent: ${message}` };
  if (attempt >= policy.maxAttempts)
    return { action: 'dead-letter', reason: `failed ${attempt} times; last: ${message}` };
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
  // Full jitter (a uniform delay up to the ceiling), at least half the ceiling so retries still back off.
  const delayMs = Math.round(ceiling / 2 + (random() * ceiling) / 2);
  return { action: 'retry', delayMs };
}
