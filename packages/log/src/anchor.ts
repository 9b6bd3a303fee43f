// The sealer and anchor manager: seals checkpoints on a cadence and has each configured authority (RFC 3161
// TSA now; Bitcoin or Ethereum later) attest the latest one, with retries, exponential backoff with full jitter,
// and catch-up after an outage. It never blocks appends: it only reads, publishes checkpoints and appends
// `anchor` receipts like any other writer.
import { toHex } from '@vaultmesh/ledger';
import type { AppendInput, AppendResult, LogStats } from './log.ts';
import type { LogStorage, StoredAnchor, StoredCheckpoint } from './storage.ts';

/** What an authority returns for one checkpoint. */
export interface AnchorProof {
  /** The proof bytes as the authority issued them (an RFC 3161 TimeStampToken in DER, ...). */
  readonly proof: Uint8Array;
  /** When the authority says it saw the checkpoint (Unix ms). */
  readonly anchoredAt: number;
  /** Short facts worth recording in the anchor receipt (serial number, policy, ...). */
  readonly details?: Readonly<Record<string, string>>;
}

/**
 * Port: an authority that attests a signed checkpoint existed. May be slow or fail (network); must throw on any
 * failure and only resolve with a proof it has itself validated. Implementations: RFC 3161 (packages/attest).
 */
export interface Anchor {
  /** Configured name, stored with each anchor (e.g. "tsa:freetsa"). */
  readonly name: string;
  /** Anchor type, e.g. "rfc3161". */
  readonly type: string;
  /** Attests the checkpoint's signed note bytes (UTF-8 of `cp.note`). */
  anchor(cp: StoredCheckpoint): Promise<AnchorProof>;
}

/** The part of Log the scheduler uses. */
export interface AnchorLog {
  stats(): LogStats;
  checkpoint(): Promise<StoredCheckpoint>;
  latestCheckpoint(): Promise<StoredCheckpoint | undefined>;
  append(input: AppendInput): Promise<AppendResult>;
}

/** Retry policy: delay before attempt n+1 is uniform in [0, min(maxMs, baseMs * 2^n)] ("full jitter"). */
export interface BackoffOptions {
  readonly baseMs?: number;
  readonly maxMs?: number;
}

export interface AnchorSchedulerOptions {
  readonly log: AnchorLog;
  readonly storage: LogStorage;
  readonly anchors: readonly Anchor[];
  /** Seal (publish a checkpoint) at least this often when the log grew; 0 = never on a timer. Default 60 s. */
  readonly sealIntervalMs?: number;
  /** Seal early once this many entries are not yet covered by a checkpoint. Default 10,000. */
  readonly sealMaxBatch?: number;
  /** How often the loop wakes up to check. Default 1 s. */
  readonly tickMs?: number;
  /** Backoff per authority; each authority may override it. */
  readonly backoff?: BackoffOptions;
  readonly backoffFor?: Readonly<Record<string, BackoffOptions>>;
  /** Actor of the `anchor` receipts. Default "vaultmesh/anchor". */
  readonly actor?: string;
  /** Tenant of the `anchor` receipts. Default "system". */
  readonly tenant?: string;
  readonly now?: () => number;
  readonly random?: () => number;
  /** Called for every attempt, success, failure and seal (for logs and metrics); must not throw. */
  readonly onEvent?: (e: AnchorEvent) => void;
  /** Whether this process does the work now (default always): of several nodes of one log, only the leader. */
  readonly active?: () => boolean;
}

/** One thing the scheduler did. */
export type AnchorEvent =
  | { type: 'sealed'; size: number }
  | { type: 'anchored'; authority: string; size: number; receiptIndex: number; ms: number }
  | { type: 'failed'; authority: string; size: number; error: string; retryInMs: number; attempt: number }
  | { type: 'skipped'; authority: string; size: number; reason: string };

/** Where one authority stands. */
export interface AnchorStatus {
  readonly authority: string;
  readonly type: string;
  /** Largest checkpoint size this authority has anchored (0 when none). */
  readonly anchoredSize: number;
  readonly lastSuccessAt?: number;
  readonly lastAttemptAt?: number;
  readonly lastError?: string;
  readonly failuresTotal: number;
  readonly attemptsTotal: number;
  readonly consecutiveFailures: number;
  readonly nextAttemptAt?: number;
  /** Log entries not covered by an anchor of this authority. */
  readonly lagEntries: number;
  /** Seconds since the oldest checkpoint this authority has not anchored was published (0 when caught up). */
  readonly lagSeconds: number;
}

interface AuthorityState {
  readonly anchor: Anchor;
  readonly backoff: Required<BackoffOptions>;
  /** The largest checkpoint size actually timestamped by this authority (what the metrics report). */
  anchoredSize: number;
  /**
   * Up to where nothing is left to attest: anchoredSize, or beyond it when only this scheduler's own anchor receipts
   * were added since (such a checkpoint is not timestamped, so it is not counted as anchored).
   */
  coveredSize: number;
  lastSuccessAt?: number;
  lastAttemptAt?: number;
  lastError?: string;
  failuresTotal: number;
  attemptsTotal: number;
  consecutiveFailures: number;
  nextAttemptAt: number;
  /** createdAt of the oldest checkpoint beyond anchoredSize (undefined when caught up). */
  pendingSince?: number;
  inFlight?: Promise<void>;
}

const DEFAULT_BACKOFF: Required<BackoffOptions> = { baseMs: 1_000, maxMs: 300_000 };

/** Delay before the next attempt after `failures` consecutive failures (full jitter). */
export function backoffDelay(failures: number, b: Required<BackoffOptions>, random: () => number): number {
  const cap = Math.min(b.maxMs, b.baseMs * 2 ** Math.min(failures - 1, 40));
  return Math.floor(random() * cap);
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err)).slice(0, 500);

/** Seals checkpoints on a cadence and anchors the latest one with every authority, catching up after outages. */
export class AnchorScheduler {
  private readonly opts: AnchorSchedulerOptions;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly states: AuthorityState[];
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastSealAt: number;
  private ticking: Promise<void> | undefined;
  private loaded: Promise<void> | undefined;
  private stopped = false;

  constructor(opts: AnchorSchedulerOptions) {
    const names = new Set<string>();
    for (const a of opts.anchors) {
      if (names.has(a.name)) throw new Error(`anchor authority "${a.name}" is configured twice`);
      names.add(a.name);
    }
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.lastSealAt = this.now();
    this.states = opts.anchors.map((anchor) => ({
      anchor,
      backoff: { ...DEFAULT_BACKOFF, ...opts.backoff, ...opts.backoffFor?.[anchor.name] },
      anchoredSize: 0,
      coveredSize: 0,
      failuresTotal: 0,
      attemptsTotal: 0,
      consecutiveFailures: 0,
      nextAttemptAt: 0,
    }));
  }

  /** Starts the loop (idempotent). */
  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => void this.tick(), this.opts.tickMs ?? 1_000);
    this.timer.unref?.();
    void this.tick();
  }

  /** Stops the loop and waits for attempts in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.ticking?.catch(() => undefined);
    await Promise.all(this.states.map((s) => s.inFlight?.catch(() => undefined)));
  }

  /** One pass: seal if due, then anchor with every authority whose backoff has elapsed. Never throws. */
  tick(): Promise<void> {
    if (this.opts.active && !this.opts.active()) return Promise.resolve();
    this.ticking ??= this.pass().finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  /**
   * Seals now and anchors the newest checkpoint with every authority, ignoring backoff. Resolves with each
   * authority's outcome (for `vm anchor run --once` and `vm genesis seal`).
   */
  async runOnce(): Promise<{
    checkpoint: StoredCheckpoint;
    results: { authority: string; error?: string }[];
  }> {
    await this.load();
    const cp = await this.opts.log.checkpoint();
    this.lastSealAt = this.now();
    const results: { authority: string; error?: string }[] = [];
    for (const s of this.states) {
      await s.inFlight?.catch(() => undefined);
      s.nextAttemptAt = 0;
      await this.attempt(s, cp, true);
      results.push({ authority: s.anchor.name, error: s.coveredSize >= cp.size ? undefined : s.lastError });
    }
    return { checkpoint: cp, results };
  }

  /** Where each authority stands. */
  status(): AnchorStatus[] {
    const size = this.opts.log.stats().size;
    const now = this.now();
    return this.states.map((s) => ({
      authority: s.anchor.name,
      type: s.anchor.type,
      anchoredSize: s.anchoredSize,
      lastSuccessAt: s.lastSuccessAt,
      lastAttemptAt: s.lastAttemptAt,
      lastError: s.lastError,
      failuresTotal: s.failuresTotal,
      attemptsTotal: s.attemptsTotal,
      consecutiveFailures: s.consecutiveFailures,
      nextAttemptAt: s.consecutiveFailures > 0 ? s.nextAttemptAt : undefined,
      lagEntries: Math.max(0, size - s.coveredSize),
      lagSeconds: s.pendingSince === undefined ? 0 : Math.max(0, (now - s.pendingSince) / 1000),
    }));
  }

  private load(): Promise<void> {
    this.loaded ??= (async () => {
      const anchors = await this.opts.storage.listAnchors();
      const bySize = new Map<string, StoredAnchor>();
      for (const a of anchors) {
        const prev = bySize.get(a.authority);
        if (!prev || a.size > prev.size) bySize.set(a.authority, a);
      }
      for (const s of this.states) {
        const a = bySize.get(s.anchor.name);
        if (a) {
          s.anchoredSize = a.size;
          s.coveredSize = a.size;
          s.lastSuccessAt = a.createdAt;
        }
      }
      const cps = await this.opts.storage.listCheckpoints();
      for (const s of this.states) {
        s.pendingSince = cps.find((c) => c.size > s.coveredSize)?.createdAt;
      }
    })();
    return this.loaded;
  }

  private async pass(): Promise<void> {
    try {
      await this.load();
      const stats = this.opts.log.stats();
      const unsealed = stats.size - stats.checkpointSize;
      const interval = this.opts.sealIntervalMs ?? 60_000;
      const due =
        unsealed > 0 &&
        (unsealed >= (this.opts.sealMaxBatch ?? 10_000) ||
          (interval > 0 && this.now() - this.lastSealAt >= interval));
      let cp: StoredCheckpoint | undefined;
      if (due) {
        cp = await this.opts.log.checkpoint();
        this.lastSealAt = this.now();
        this.emit({ type: 'sealed', size: cp.size });
      } else {
        cp = await this.opts.log.latestCheckpoint();
      }
      if (!cp || this.stopped) return;
      for (const s of this.states) {
        if (s.coveredSize >= cp.size) continue;
        // Whether this range was just found to hold more than our own anchor receipts (the attempt need not ask).
        let checked = false;
        if (s.pendingSince === undefined) {
          // A checkpoint that adds only our own anchor receipts is covered at once: it never shows as lag.
          if (!s.inFlight && (await this.onlyAnchorReceipts(s.coveredSize, cp.size))) {
            this.coverOwnReceipts(s, cp.size);
            continue;
          }
          checked = !s.inFlight;
          s.pendingSince = cp.createdAt;
        }
        if (!s.inFlight && this.now() >= s.nextAttemptAt && s.coveredSize < cp.size) {
          const target = cp;
          s.inFlight = this.attempt(s, target, checked).finally(() => (s.inFlight = undefined));
        }
      }
    } catch (err) {
      // Storage or signing trouble: report it and try again on the next tick.
      this.emit({ type: 'failed', authority: '*', size: 0, error: errorText(err), retryInMs: 0, attempt: 0 });
    }
  }

  /** True when everything after `from` up to `to` is this scheduler's own anchor receipts (nothing to attest). */
  private async onlyAnchorReceipts(from: number, to: number): Promise<boolean> {
    if (from === 0 || to - from > 1000) return false;
    const rows = await this.opts.storage.listEntries({
      kind: 'anchor',
      after: from - 1,
      order: 'asc',
      limit: to - from,
    });
    return rows.filter((r) => r.index < to).length === to - from;
  }

  /** Marks a checkpoint that adds only anchor receipts as covered (nothing to attest). */
  private coverOwnReceipts(s: AuthorityState, size: number): void {
    s.coveredSize = size;
    s.pendingSince = undefined;
    this.emit({ type: 'skipped', authority: s.anchor.name, size, reason: 'only anchor receipts since last' });
  }

  /** Anchors `cp`; unless `force` (or the caller has just checked), first skips a range of only our own receipts. */
  private async attempt(s: AuthorityState, cp: StoredCheckpoint, force: boolean): Promise<void> {
    const name = s.anchor.name;
    // Our own anchor receipts grow the log; attesting a checkpoint that adds only those would loop forever.
    if (!force && (await this.onlyAnchorReceipts(s.coveredSize, cp.size))) {
      this.coverOwnReceipts(s, cp.size);
      return;
    }
    const started = this.now();
    s.attemptsTotal++;
    s.lastAttemptAt = started;
    try {
      const proof = await s.anchor.anchor(cp);
      const anchor: StoredAnchor = {
        size: cp.size,
        authority: name,
        type: s.anchor.type,
        proof: proof.proof,
        anchoredAt: proof.anchoredAt,
        createdAt: this.now(),
      };
      await this.opts.storage.putAnchor(anchor);
      const receipt = await this.opts.log.append({
        kind: 'anchor',
        actor: this.opts.actor ?? 'vaultmesh/anchor',
        tenant: this.opts.tenant ?? 'system',
        body: {
          treeSize: cp.size,
          rootHash: toHex(cp.root),
          authority: name,
          type: s.anchor.type,
          tokenSha256: toHex(await sha256(proof.proof)),
          anchoredAt: new Date(proof.anchoredAt).toISOString(),
          ...(proof.details ? { details: { ...proof.details } } : {}),
        },
      });
      s.anchoredSize = Math.max(s.anchoredSize, cp.size);
      s.coveredSize = Math.max(s.coveredSize, cp.size);
      s.lastSuccessAt = anchor.createdAt;
      s.lastError = undefined;
      s.consecutiveFailures = 0;
      s.nextAttemptAt = 0;
      s.pendingSince = undefined;
      this.emit({
        type: 'anchored',
        authority: name,
        size: cp.size,
        receiptIndex: receipt.index,
        ms: this.now() - started,
      });
    } catch (err) {
      s.failuresTotal++;
      s.consecutiveFailures++;
      s.lastError = errorText(err);
      const delay = backoffDelay(s.consecutiveFailures, s.backoff, this.random);
      s.nextAttemptAt = this.now() + delay;
      this.emit({
        type: 'failed',
        authority: name,
        size: cp.size,
        error: s.lastError,
        retryInMs: delay,
        attempt: s.consecutiveFailures,
      });
    }
  }

  private emit(e: AnchorEvent): void {
    try {
      this.opts.onEvent?.(e);
    } catch {
      // An observer's failure must not stop anchoring.
    }
  }
}

/** SHA-256 through WebCrypto (available in Node and browsers; this package stays free of node:* imports). */
async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', new Uint8Array(data)));
}
