// A bounded nonce cache for replay protection: remembers each key until its signature's validity window ends.

/** What the cache says about a key: new, already seen while valid, or too old to judge after an eviction. */
export type ReplayVerdict = 'fresh' | 'seen' | 'too-old';

/** A bounded set of (key, expiry) pairs. In-memory and synchronous; one process, not shared between processes. */
export interface ReplayCache {
  /**
   * Records `key` until `expiresAtMs` unless it is already recorded and unexpired ('seen'). When the cache had to
   * evict an unexpired entry to stay bounded, anything issued at or before that entry is refused ('too-old'), so
   * filling the cache can never re-open a replay window.
   */
  remember(key: string, expiresAtMs: number, issuedAtMs: number): ReplayVerdict;
  /** Number of entries held (never more than maxEntries). */
  readonly size: number;
}

/** Options of createReplayCache. */
export interface ReplayCacheOptions {
  /** Upper bound on entries (default 100,000, about 15 MB). */
  readonly maxEntries?: number;
  /** Clock in milliseconds (default Date.now). */
  readonly now?: () => number;
}

/** Default bound on replay cache entries. */
export const DEFAULT_REPLAY_CACHE_ENTRIES = 100_000;

interface Entry {
  readonly expiresAt: number;
  readonly issuedAt: number;
}

/**
 * A replay cache bounded to maxEntries. Entries live in insertion order; expired ones are swept from the oldest
 * end on every insert (amortized O(1)), and when the cache is full the oldest entry is evicted and its issue time
 * becomes a floor below which every new key is refused.
 */
export function createReplayCache(opts: ReplayCacheOptions = {}): ReplayCache {
  const maxEntries = opts.maxEntries ?? DEFAULT_REPLAY_CACHE_ENTRIES;
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1)
    throw new RangeError('maxEntries must be a positive integer');
  const now = opts.now ?? Date.now;
  const entries = new Map<string, Entry>();
  let floor = -Infinity;

  const sweep = (t: number) => {
    for (const [k, e] of entries) {
      if (e.expiresAt > t) break;
      entries.delete(k);
    }
  };

  return {
    remember(key, expiresAtMs, issuedAtMs) {
      const t = now();
      const hit = entries.get(key);
      if (hit !== undefined) {
        if (hit.expiresAt > t) return 'seen';
        entries.delete(key);
      }
      if (issuedAtMs <= floor) return 'too-old';
      if (expiresAtMs <= t) return 'fresh'; // already outside its window: nothing to remember
      sweep(t);
      while (entries.size >= maxEntries) {
        const oldest = entries.entries().next().value as [string, Entry];
        if (oldest[1].expiresAt > t) floor = Math.max(floor, oldest[1].issuedAt);
        entries.delete(oldest[0]);
      }
      entries.set(key, { expiresAt: expiresAtMs, issuedAt: issuedAtMs });
      return 'fresh';
    },
    get size() {
      return entries.size;
    },
  };
}
