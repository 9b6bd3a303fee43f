// A bounded nonce cache for replay protection: remembers each key until its signature's validity window ends.
import {
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';

/** What the cache says about a key: new, already seen while valid, or too old to judge after an eviction. */
export type ReplayVerdict = 'fresh' | 'seen' | 'too-old';

/** A bounded set of (key, expiry) pairs; synchronous. createReplayCache keeps it in memory, createFileReplayCache also on disk. */
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

/**
 * A replay cache that survives a restart: every fresh key is appended (and fsynced) to `file` before it is
 * accepted, and the unexpired ones are loaded back when the cache is created (the file is compacted then). So a
 * callback replayed after the listener restarted is refused while its signature is still valid.
 */
export function createFileReplayCache(file: string, opts: ReplayCacheOptions = {}): ReplayCache {
  const now = opts.now ?? Date.now;
  const mem = createReplayCache(opts);
  const kept: string[] = [];
  if (existsSync(file)) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      let e: { k?: unknown; e?: unknown; i?: unknown };
      try {
        e = JSON.parse(line) as typeof e;
      } catch {
        continue; // a torn last line after a crash
      }
      if (typeof e.k !== 'string' || typeof e.e !== 'number' || typeof e.i !== 'number' || e.e <= now())
        continue;
      mem.remember(e.k, e.e, e.i);
      kept.push(line);
    }
  }
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, kept.length ? kept.join('\n') + '\n' : '', { mode: 0o600 });
  renameSync(tmp, file);
  const fd = openSync(file, 'a', 0o600);
  return {
    remember(key, expiresAtMs, issuedAtMs) {
      const verdict = mem.remember(key, expiresAtMs, issuedAtMs);
      if (verdict === 'fresh' && expiresAtMs > now()) {
        writeSync(fd, JSON.stringify({ k: key, e: expiresAtMs, i: issuedAtMs }) + '\n');
        fsyncSync(fd);
      }
      return verdict;
    },
    get size() {
      return mem.size;
    },
  };
}
