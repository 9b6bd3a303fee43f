// Per-token limits at the edge: a token may write at most `writesPerSecond` on average (bursts up to `writeBurst`),
// and a token whose requests policy denied more than `deniesPerMinute` times in the last minute is refused (429 with
// Retry-After) until the minute has passed. So one token cannot grow the ledger with writes or deny receipts as fast
// as the node can append them, and each refusal costs the node nothing it records. Pure: the clock is passed in.

export interface RateLimits {
  /** Sustained writes per second per token (token bucket refill rate). */
  readonly writesPerSecond: number;
  /** Most writes at once per token (bucket size). */
  readonly writeBurst: number;
  /** Denied requests per token in a sliding minute before the token is refused until the minute passes. */
  readonly deniesPerMinute: number;
}

export const DEFAULT_RATE_LIMITS: RateLimits = {
  writesPerSecond: 500,
  writeBurst: 2000,
  deniesPerMinute: 600,
};

/** Why a request was refused, and when to try again (whole seconds, at least 1). */
export interface RateRefusal {
  readonly reason: 'writes' | 'denies';
  readonly retryAfterS: number;
  readonly message: string;
}

export interface RateLimiter {
  /** Admits one request of a token (a write takes from its bucket); a refusal says why and when to retry. */
  admit(tokenId: string, write: boolean, nowMs: number): RateRefusal | undefined;
  /** Counts one request of the token that policy denied. */
  denied(tokenId: string, nowMs: number): void;
  /** Refusals so far, by reason (for metrics). */
  readonly refused: { writes: number; denies: number };
}

const WINDOW_MS = 60_000;
const MAX_TOKENS_TRACKED = 100_000;

export function createRateLimiter(limits: Partial<RateLimits> = {}): RateLimiter {
  const l = { ...DEFAULT_RATE_LIMITS, ...limits };
  const buckets = new Map<string, { tokens: number; at: number }>();
  const denies = new Map<string, number[]>();
  const refused = { writes: 0, denies: 0 };
  const bound = (m: Map<string, unknown>) => {
    if (m.size > MAX_TOKENS_TRACKED) m.delete(m.keys().next().value!);
  };
  const recentDenies = (tokenId: string, now: number): number[] => {
    const list = (denies.get(tokenId) ?? []).filter((t) => now - t < WINDOW_MS);
    if (list.length) denies.set(tokenId, list);
    else denies.delete(tokenId);
    return list;
  };
  return {
    refused,
    admit(tokenId, write, now) {
      const d = recentDenies(tokenId, now);
      if (d.length >= l.deniesPerMinute) {
        refused.denies++;
        const retryAfterS = Math.max(1, Math.ceil((d[0]! + WINDOW_MS - now) / 1000));
        return {
          reason: 'denies',
          retryAfterS,
          message: `this token had ${d.length} requests denied in the last minute (the limit is ${l.deniesPerMinute}); retry after ${retryAfterS} s`,
        };
      }
      if (!write) return undefined;
      const b = buckets.get(tokenId) ?? { tokens: l.writeBurst, at: now };
      b.tokens = Math.min(l.writeBurst, b.tokens + ((now - b.at) / 1000) * l.writesPerSecond);
      b.at = now;
      if (!buckets.has(tokenId)) {
        buckets.set(tokenId, b);
        bound(buckets);
      }
      if (b.tokens < 1) {
        refused.writes++;
        const retryAfterS = Math.max(1, Math.ceil((1 - b.tokens) / l.writesPerSecond));
        return {
          reason: 'writes',
          retryAfterS,
          message: `this token writes faster than ${l.writesPerSecond}/s (bursts of ${l.writeBurst}); retry after ${retryAfterS} s`,
        };
      }
      b.tokens -= 1;
      return undefined;
    },
    denied(tokenId, now) {
      const list = recentDenies(tokenId, now);
      list.push(now);
      denies.set(tokenId, list);
      bound(denies);
    },
  };
}
