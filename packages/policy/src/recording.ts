// A PolicyDecider that records every decision as a `policy` receipt in the ledger, without putting the ledger's
// durable-commit latency on allows: allows return at once and are appended in the background, in decision order;
// denies are never sampled or dropped and return only once their receipt is durable.
import type { PolicyDecider, PolicyDecision, PolicyRequest, ReceiptWriter } from '@vaultmesh/types';
import { PolicyError } from './errors.ts';

/** Options of createRecordingDecider. */
export interface RecordingDeciderOptions {
  /**
   * Fraction of allows recorded, 0..1 (default 1: every allow). Each allow is kept with this probability and its
   * receipt carries `sampleRate` so counts can be re-weighted. Denies are always recorded, whatever this says.
   */
  readonly sampleAllows?: number;
  /** Random source for sampling, [0, 1) (default Math.random). */
  readonly random?: () => number;
  /** Receipt actor (default "policy"). */
  readonly actor?: string;
  /**
   * Appends handed to the writer at once (default 1024); the Log group-commits them into one transaction. Appends
   * are always started in decision order; set 1 for a writer that does not keep the order of concurrent calls.
   */
  readonly maxInFlight?: number;
  /** Receipts queued or in flight beyond which an allow waits for room before returning (default 10,000; never drops). */
  readonly maxQueued?: number;
  /** Tenant of receipts whose request names no valid tenant (a malformed request; default "unknown"). */
  readonly fallbackTenant?: string;
  /** Called for every receipt the writer refused (the decision itself stands; see flush). */
  readonly onError?: (err: unknown, receipt: PolicyReceiptInput) => void;
  /**
   * Whether a deny is returned only once its receipt is durable (default true: an fsync per deny). With false,
   * deny receipts are queued and group-committed in decision order like allows ("batched"): never sampled, and
   * flush() waits for them, but a crash in the few milliseconds before their commit can lose them. A deny changes
   * nothing, and the executor records its own durable `step` receipt for a denied step either way.
   */
  readonly durableDenies?: boolean;
}

/** The append input of one `policy` receipt. */
export interface PolicyReceiptInput {
  kind: 'policy';
  actor: string;
  tenant: string;
  body: {
    action: string;
    principal: string;
    resource: string;
    decision: 'allow' | 'deny';
    reasons: string[];
    tenant: string;
    policySetHash: string;
    role?: string;
    errors?: string[];
    sampleRate?: number;
  };
}

/** Counters of a recording decider. */
export interface RecordingStats {
  readonly decisions: number;
  readonly recorded: number;
  /** Allows not recorded because of sampling. */
  readonly sampledOut: number;
  readonly failed: number;
  /** Receipts queued or in flight now. */
  readonly pending: number;
}

/** A PolicyDecider whose decisions leave `policy` receipts; flush() waits for the background appends. */
export interface RecordingDecider extends PolicyDecider {
  /** Decides and records; never rejects. A deny resolves after its receipt is durable (or carries the write error). */
  decide(req: PolicyRequest): Promise<PolicyDecision>;
  /**
   * Resolves when the receipts of every decision started before the call are durable (or sampled out); rejects
   * with RECORD_FAILED if any receipt failed since the last flush.
   */
  flush(): Promise<void>;
  stats(): RecordingStats;
}

const TENANT = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
const clip = (s: string, max: number) => (s.length <= max ? s : s.slice(0, max - 1) + '…');
const field = (o: unknown, k: string): unknown =>
  typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[k] : undefined;
const strOr = (v: unknown, dflt: string) => (typeof v === 'string' && v.length > 0 ? v : dflt);

/** "type:id" of a request's principal or resource, readable even for a malformed request. */
const ref = (o: unknown) => clip(`${strOr(field(o, 'type'), '?')}:${strOr(field(o, 'id'), '?')}`, 500);

/** Builds the `policy` receipt of one decision (body fields fit packages/ledger's schema for the kind). */
export function policyReceipt(
  req: PolicyRequest,
  d: PolicyDecision,
  opts: { actor?: string; fallbackTenant?: string; sampleRate?: number } = {},
): PolicyReceiptInput {
  const rTenant = field(req?.resource, 'tenant');
  const pTenant = field(req?.principal, 'tenant');
  const tenant =
    typeof rTenant === 'string' && TENANT.test(rTenant)
      ? rTenant
      : typeof pTenant === 'string' && TENANT.test(pTenant)
        ? pTenant
        : (opts.fallbackTenant ?? 'unknown');
  const role = field(req?.principal, 'role');
  const body: PolicyReceiptInput['body'] = {
    action: clip(strOr(field(req, 'action'), '?'), 200),
    principal: ref(req?.principal),
    resource: ref(req?.resource),
    decision: d.decision,
    reasons: (Array.isArray(d.reasons) ? d.reasons : [])
      .slice(0, 100)
      .map((r) => clip(String(r) || '?', 200)),
    tenant,
    policySetHash: typeof d.policySetHash === 'string' ? d.policySetHash : '',
  };
  if (typeof role === 'string' && role.length > 0) body.role = clip(role, 100);
  if (Array.isArray(d.errors) && d.errors.length > 0)
    body.errors = d.errors.slice(0, 20).map((e) => clip(String(e), 500));
  if (opts.sampleRate !== undefined && opts.sampleRate < 1) body.sampleRate = opts.sampleRate;
  return { kind: 'policy', actor: opts.actor ?? 'policy', tenant, body };
}

interface Job {
  input: PolicyReceiptInput;
  settle: (error: string | undefined) => void;
}

/**
 * Wraps a decider so that each decision is recorded through `writer` as a `policy` receipt. Denies are always
 * recorded and awaited (a deny whose receipt could not be written is still a deny, with the write error added
 * to `errors`); allows are sampled by `sampleAllows` and appended in the background, in decision order.
 */
export function createRecordingDecider(
  decider: PolicyDecider,
  writer: ReceiptWriter,
  opts: RecordingDeciderOptions = {},
): RecordingDecider {
  const sampleAllows = opts.sampleAllows ?? 1;
  if (!(typeof sampleAllows === 'number' && sampleAllows >= 0 && sampleAllows <= 1))
    throw new PolicyError('INVALID_ARGUMENT', 'sampleAllows must be a number in [0, 1]');
  const maxInFlight = opts.maxInFlight ?? 1024;
  const durableDenies = opts.durableDenies ?? true;
  const maxQueued = opts.maxQueued ?? 10_000;
  for (const [k, v] of [
    ['maxInFlight', maxInFlight],
    ['maxQueued', maxQueued],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 1)
      throw new PolicyError('INVALID_ARGUMENT', `${k} must be a positive integer`);
  }
  if (opts.fallbackTenant !== undefined && !TENANT.test(opts.fallbackTenant))
    throw new PolicyError('INVALID_ARGUMENT', 'fallbackTenant must be a valid tenant name');
  const random = opts.random ?? Math.random;
  const receiptOpts = { actor: opts.actor, fallbackTenant: opts.fallbackTenant };

  const queue: Job[] = [];
  let head = 0;
  let inFlight = 0;
  let pending = 0;
  let decisions = 0;
  let recorded = 0;
  let sampledOut = 0;
  let failedCount = 0;
  let failures: { error: string; receipt: PolicyReceiptInput }[] = [];
  const unsettled = new Set<Promise<string | undefined>>();
  let roomWaiters: (() => void)[] = [];

  function pump(): void {
    while (inFlight < maxInFlight && head < queue.length) {
      const job = queue[head]!;
      queue[head++] = undefined as unknown as Job;
      if (head > 1024 && head * 2 > queue.length) {
        queue.splice(0, head);
        head = 0;
      }
      inFlight++;
      let appended: Promise<unknown>;
      try {
        appended = writer.append(job.input);
      } catch (err) {
        appended = Promise.reject(err);
      }
      appended.then(
        () => {
          recorded++;
          done(job, undefined);
        },
        (err: unknown) => {
          failedCount++;
          const error = (err as Error)?.message ?? String(err);
          failures.push({ error, receipt: job.input });
          try {
            opts.onError?.(err, job.input);
          } catch {
            // A failing error hook must not stop the queue.
          }
          done(job, error);
        },
      );
    }
  }

  function done(job: Job, error: string | undefined): void {
    inFlight--;
    pending--;
    job.settle(error);
    if (pending < maxQueued && roomWaiters.length > 0) {
      const w = roomWaiters;
      roomWaiters = [];
      for (const wake of w) wake();
    }
    pump();
  }

  let pumpScheduled = false;
  function schedulePump(): void {
    if (pumpScheduled) return;
    pumpScheduled = true;
    setImmediate(() => {
      pumpScheduled = false;
      pump();
    });
  }

  /**
   * Queues a receipt; the promise resolves with the write error, or undefined once durable. Never rejects.
   * A deny starts its append now (its caller waits for it); an allow's append starts on a later turn of the
   * event loop, so encoding and hashing its receipt is not part of the allow's latency. The queue is FIFO, so
   * either way appends start in decision order.
   */
  function enqueue(input: PolicyReceiptInput, now: boolean): Promise<string | undefined> {
    let settle!: (error: string | undefined) => void;
    const p = new Promise<string | undefined>((resolve) => (settle = resolve));
    unsettled.add(p);
    void p.then(() => unsettled.delete(p));
    pending++;
    queue.push({ input, settle });
    if (now) pump();
    else schedulePump();
    return p;
  }

  async function waitForRoom(): Promise<void> {
    while (pending >= maxQueued) await new Promise<void>((resolve) => roomWaiters.push(resolve));
  }

  /** Decisions started and not yet returned; flush() waits for them too. */
  const deciding = new Set<Promise<PolicyDecision>>();

  function decide(req: PolicyRequest): Promise<PolicyDecision> {
    const p = decideAndRecord(req);
    deciding.add(p);
    const forget = () => deciding.delete(p);
    void p.then(forget, forget);
    return p;
  }

  async function decideAndRecord(req: PolicyRequest): Promise<PolicyDecision> {
    decisions++;
    let d: PolicyDecision;
    try {
      d = await decider.decide(req);
    } catch (err) {
      // The port says deciders never throw; one that does is treated as a failed evaluation.
      d = {
        decision: 'deny',
        reasons: ['error:internal'],
        errors: [`policy decider failed: ${(err as Error)?.message ?? String(err)}`],
        policySetHash: decider.policySetHash,
      };
    }
    if (d.decision !== 'allow') {
      if (d.decision !== 'deny') d = { ...d, decision: 'deny' };
      if (durableDenies) {
        const error = await enqueue(policyReceipt(req, d, receiptOpts), true);
        return error === undefined
          ? d
          : { ...d, errors: [...d.errors, `deny receipt not recorded: ${error}`] };
      }
      // Batched: queued in order and never sampled; a full queue makes the caller wait, it never drops.
      if (pending >= maxQueued) await waitForRoom();
      void enqueue(policyReceipt(req, d, receiptOpts), false);
      return d;
    }
    if (sampleAllows < 1 && !(random() < sampleAllows)) {
      sampledOut++;
      return d;
    }
    if (pending >= maxQueued) await waitForRoom();
    void enqueue(policyReceipt(req, d, { ...receiptOpts, sampleRate: sampleAllows }), false);
    return d;
  }

  return {
    get policySetHash() {
      return decider.policySetHash;
    },
    decide,
    async flush() {
      await Promise.all([...deciding]);
      await Promise.all([...unsettled]);
      if (failures.length > 0) {
        const f = failures;
        failures = [];
        throw new PolicyError(
          'RECORD_FAILED',
          `${f.length} policy receipt${f.length === 1 ? ' was' : 's were'} not recorded: ${f[0]!.error}`,
          { failures: f },
        );
      }
    },
    stats: () => ({ decisions, recorded, sampledOut, failed: failedCount, pending }),
  };
}
