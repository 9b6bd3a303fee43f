// The auditor: checks a plan's execution after the fact and records the verdict as an `audit` receipt.
//
//   receipts    every step receipt of the plan (and every step the run journal says was executed) is in the ledger:
//               its RFC 9162 inclusion proof, recomputed from the receipt's own bytes, verifies against a C2SP
//               checkpoint whose Ed25519 note signature verifies under a trusted key. A receipt not yet covered by a
//               checkpoint asks for one (requestCheckpoint) or is reported 'unsealed' (a fail: nothing proves it).
//   health      every probe URL answers with its expected status.
//   compliance  no step receipt records a policy deny; every executed step records a policy allow, and an approval
//               id where the autonomy gate required one for a live step; with a tenant residency, every executed
//               step ran in an allowed region (its receipt's region, else its plan step's params.region, else the
//               plan's target region; unknown is a fail).
//
// The report (and the audit receipt) also lists every run on its own: plan version (current or replaced), dry or
// live, its outcome, and for a live run the dry-run and the go/no-go decision it relied on.
//
// Everything is injected (ledger reads, verifier keys, hasher, journal, probes, receipts), so the composition root
// can serve it as POST /api/agent/mcp/auditor/verify. The ledger is reached only through the AuditLedger port.
import {
  decodeReceipt,
  defaultHasher,
  nobleEd25519Verify,
  openNote,
  parseCheckpoint,
  toHex,
  verifyInclusion,
  type Checkpoint,
  type Ed25519Verify,
  type MerkleHasher,
  type NoteVerifierKey,
  type Receipt,
} from '@vaultmesh/ledger';
import { ControlError } from './errors.ts';
import type { JournalEntry } from './executor/index.ts';
import { DEFAULT_PROBE_TIMEOUT_MS, httpGet } from './http-get.ts';
import type { ReceiptRef } from './plan-store.ts';
import type { ReceiptWriter } from '@vaultmesh/types';

/** The checks an audit can run. */
export const AUDIT_CHECKS = ['receipts', 'health', 'compliance'] as const;
export type AuditCheckName = (typeof AUDIT_CHECKS)[number];

/** Step statuses of steps that ran (or were skipped by a dry-run): these need a recorded policy allow. */
export const EXECUTED_STEP_STATUSES: readonly string[] = [
  'succeeded',
  'failed',
  'rolled-back',
  'skipped',
  'unverifiable',
];

/** Failures listed per check in the audit receipt (the report keeps them all). */
export const MAX_RECEIPT_FAILURES = 20;

/** One ledger entry as stored: its index and leaf bytes (the RFC 8785 receipt). */
export interface LedgerEntryBytes {
  readonly index: number;
  readonly bytes: Uint8Array;
}

/** Port: the ledger as the auditor reads it. Nothing it returns is trusted: everything is verified. */
export interface AuditLedger {
  /** The plan's `step` receipts (see createLogAuditLedger). */
  listSteps(planId: string): Promise<readonly LedgerEntryBytes[]>;
  /** The latest signed checkpoint (C2SP signed note text), if any. */
  latestCheckpoint(): Promise<string | undefined>;
  /** RFC 9162 inclusion proof of entry `index` in the tree of `treeSize`. */
  inclusionProof(index: number, treeSize: number): Promise<readonly Uint8Array[]>;
  /** Optional: publishes a checkpoint now and returns it; without it, uncovered receipts are reported 'unsealed'. */
  requestCheckpoint?(): Promise<string>;
}

/** What checkpoints and proofs are verified with. */
export interface AuditTrust {
  /** The log's origin: a checkpoint for another origin is refused. */
  readonly origin: string;
  /** Trusted note verifier keys (the node key and, after rotations, its predecessors). */
  readonly verifierKeys: readonly NoteVerifierKey[];
  /** RFC 6962 hasher; default the pure one (edges pass nodeHasher). */
  readonly hasher?: MerkleHasher;
  /** Ed25519 verification; default the pure one (edges pass nodeEd25519Verify). */
  readonly ed25519Verify?: Ed25519Verify;
}

/** A step the run journal says ran (or started), with the receipt it recorded. */
export interface ExecutedStepRecord {
  readonly runId: string;
  readonly phaseId: string;
  readonly stepId: string;
  readonly action: string;
  readonly kind?: 'step' | 'rollback';
  readonly state: 'started' | 'done';
  readonly status?: string;
  readonly receipt?: ReceiptRef;
}

/** A health probe: GET url, expecting `expectStatus` (default 200). */
export interface HealthProbe {
  readonly name?: string;
  readonly url: string;
  readonly expectStatus?: number;
}

/** The parts of a plan the compliance check reads (a Plan fits). */
export interface AuditPlanFacts {
  readonly target: { readonly tenant: string; readonly region?: string };
  readonly phases: readonly {
    readonly id: string;
    readonly steps: readonly { readonly id: string; readonly params: Readonly<Record<string, unknown>> }[];
  }[];
}

/** What auditPlan needs. */
export interface AuditPlanInput {
  readonly planId: string;
  /** Default: every check. */
  readonly checks?: readonly AuditCheckName[];
  readonly ledger: AuditLedger;
  readonly trust: AuditTrust;
  /** The run journal's records of the plan's steps (see journalExecutedSteps); without it only receipts are checked. */
  readonly executedSteps?: (planId: string) => Promise<readonly ExecutedStepRecord[]>;
  readonly health?: {
    readonly probes: readonly HealthProbe[];
    readonly timeoutMs?: number;
    readonly fetch?: typeof fetch;
  };
  readonly compliance?: {
    /** The tenant's residency: regions a step may run in ("eu-*" matches a prefix). Unset: not checked. */
    readonly allowedRegions?: readonly string[];
    /** The plan, for step regions and its tenant. */
    readonly plan?: AuditPlanFacts;
  };
  /** Where the audit receipt is recorded. */
  readonly receipts: ReceiptWriter;
  /** Actor of the audit receipt; default "auditor". */
  readonly actor?: string;
  /** Tenant of the audit receipt; default the plan's, else the receipts', else "default". */
  readonly tenant?: string;
  /** The plan hash stored now (runs of other hashes are reported as of a replaced version). */
  readonly currentPlanHash?: string;
  /** What a live run relied on (its dry-run record, the go decision); absent: not reported. */
  readonly reliance?: (run: {
    runId: string;
    planHash: string;
    phases: readonly string[];
  }) => Promise<AuditReliance>;
  readonly now?: () => number;
}

/** One thing the auditor looked at. */
export interface AuditFinding {
  readonly ok: boolean;
  /** What it is about, e.g. "step deploy/scale-up #12" or "probe api". */
  readonly subject: string;
  readonly detail: string;
  readonly evidence?: Readonly<Record<string, unknown>>;
}

/** One check's verdict. */
export interface AuditCheckResult {
  readonly name: AuditCheckName;
  readonly result: 'pass' | 'fail';
  readonly summary: string;
  readonly findings: readonly AuditFinding[];
}

/** The audit report; `receipt` is the recorded `audit` receipt. */
/** What a live run relied on: the successful dry-run of its plan hash, and the go decision that applied. */
export interface AuditReliance {
  readonly dryRun?: { readonly runId: string; readonly receiptIndex?: number };
  readonly go?: { readonly pollId: string; readonly outcome: string; readonly receiptIndex?: number };
}

/** One run of the plan, from its step receipts: which plan version, dry or live, and how it ended. */
export interface AuditRun {
  readonly runId: string;
  readonly planHash: string;
  /** The run is of the plan version stored now (false: a version since replaced). */
  readonly current: boolean;
  readonly dryRun: boolean;
  /** failed: a step failed, was denied or halted; unverifiable: a dry-run read could not be checked; else passed. */
  readonly outcome: 'passed' | 'failed' | 'unverifiable';
  readonly steps: number;
  /** Steps (phase/step) that did not succeed, with their status. */
  readonly problems: readonly string[];
  /** For a live run: what it relied on (when the auditor was told how to find it). */
  readonly reliedOn?: AuditReliance;
}

export interface AuditReport {
  readonly planId: string;
  readonly subject: string;
  readonly result: 'pass' | 'fail';
  readonly checks: readonly AuditCheckResult[];
  /** Every run of the plan that left step receipts, oldest first, each with its own outcome. */
  readonly runs: readonly AuditRun[];
  /** The checkpoint the receipts were verified against. */
  readonly checkpoint?: { readonly size: number; readonly root: string };
  readonly auditedAt: string;
  readonly receipt: ReceiptRef;
}

interface StepReceipt {
  readonly index: number;
  readonly bytes: Uint8Array;
  readonly leafHash: Uint8Array;
  readonly receipt?: Receipt;
  readonly error?: string;
}

const oneLine = (s: string, max = 300) => {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > max ? t.slice(0, max - 1) + '…' : t;
};
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function stepName(r: StepReceipt): string {
  const b = r.receipt?.body;
  const id = b
    ? `${str(b.phaseId) ?? '?'}/${str(b.stepId) ?? '?'}${b.rollbackOf !== undefined ? ' (rollback)' : ''}`
    : '?';
  return `step ${id} #${r.index}`;
}

function verdict(name: AuditCheckName, findings: AuditFinding[], emptyMessage?: string): AuditCheckResult {
  if (findings.length === 0 && emptyMessage)
    findings.push({ ok: false, subject: 'plan', detail: emptyMessage });
  const failed = findings.filter((f) => !f.ok).length;
  return {
    name,
    result: failed === 0 ? 'pass' : 'fail',
    summary: failed === 0 ? `${findings.length} checked, all pass` : `${failed} of ${findings.length} failed`,
    findings,
  };
}

/** Opens a signed checkpoint note under the trusted keys and origin; throws with the reason when it does not verify. */
function openCheckpoint(note: string, trust: AuditTrust): Checkpoint {
  // Attacker-controlled (read from storage): signature first, then the body's syntax and origin.
  const opened = openNote(note, trust.verifierKeys, trust.ed25519Verify ?? nobleEd25519Verify);
  const cp = parseCheckpoint(opened.text);
  if (cp.origin !== trust.origin)
    throw new ControlError(
      'INVALID_ARGUMENT',
      `checkpoint is for origin "${cp.origin}", not "${trust.origin}"`,
    );
  return cp;
}

async function checkReceipts(
  input: AuditPlanInput,
  steps: readonly StepReceipt[],
  records: readonly ExecutedStepRecord[] | undefined,
): Promise<{ result: AuditCheckResult; checkpoint?: Checkpoint; verified: Set<number> }> {
  const findings: AuditFinding[] = [];
  const verified = new Set<number>();
  const hasher = input.trust.hasher ?? defaultHasher;
  if (steps.length === 0 && (!records || records.length === 0))
    return { result: verdict('receipts', findings, `no step receipts for plan ${input.planId}`), verified };

  // The newest checkpoint; asked for when it does not cover every receipt yet.
  let checkpoint: Checkpoint | undefined;
  let cpError: string | undefined;
  const maxIndex = Math.max(-1, ...steps.map((s) => s.index));
  const load = async (note: string | undefined) => {
    if (note === undefined) return;
    try {
      checkpoint = openCheckpoint(note, input.trust);
      cpError = undefined;
    } catch (e) {
      checkpoint = undefined;
      cpError = `the checkpoint does not verify: ${oneLine((e as Error).message)}`;
    }
  };
  await load(await input.ledger.latestCheckpoint());
  if (!cpError && (!checkpoint || checkpoint.size <= maxIndex) && input.ledger.requestCheckpoint) {
    try {
      await load(await input.ledger.requestCheckpoint());
    } catch (e) {
      findings.push({
        ok: false,
        subject: 'checkpoint',
        detail: `asking for a checkpoint failed: ${oneLine((e as Error).message)}`,
      });
    }
  }
  if (cpError) findings.push({ ok: false, subject: 'checkpoint', detail: cpError });

  for (const s of steps) {
    const leafHash = toHex(s.leafHash);
    if (s.error) {
      findings.push({
        ok: false,
        subject: `receipt #${s.index}`,
        detail: `not a valid receipt: ${s.error}`,
        evidence: { index: s.index, leafHash },
      });
      continue;
    }
    if (!checkpoint) {
      findings.push({
        ok: false,
        subject: stepName(s),
        detail: cpError
          ? 'cannot be verified: no trusted checkpoint'
          : 'unsealed: no checkpoint has been published yet',
        evidence: { index: s.index, leafHash, status: 'unsealed' },
      });
      continue;
    }
    if (s.index >= checkpoint.size) {
      findings.push({
        ok: false,
        subject: stepName(s),
        detail: `unsealed: not covered by the latest checkpoint (size ${checkpoint.size})`,
        evidence: { index: s.index, leafHash, checkpointSize: checkpoint.size, status: 'unsealed' },
      });
      continue;
    }
    let ok = false;
    let why = '';
    try {
      const proof = await input.ledger.inclusionProof(s.index, checkpoint.size);
      ok = verifyInclusion(hasher, s.index, checkpoint.size, s.leafHash, proof, checkpoint.root);
      if (!ok)
        why = 'its inclusion proof does not verify against the checkpoint: the receipt bytes were altered';
    } catch (e) {
      why = `no inclusion proof: ${oneLine((e as Error).message)}`;
    }
    const evidence = {
      index: s.index,
      leafHash,
      checkpointSize: checkpoint.size,
      root: toHex(checkpoint.root),
    };
    if (ok) verified.add(s.index);
    findings.push({
      ok,
      subject: stepName(s),
      detail: ok ? `included in checkpoint ${checkpoint.size}` : why,
      evidence,
    });
  }

  // Every executed step of the journal must have its receipt among the plan's step receipts, byte for byte.
  const byIndex = new Map(steps.map((s) => [s.index, s]));
  for (const r of records ?? []) {
    const subject = `${r.kind === 'rollback' ? 'rollback' : 'step'} ${r.phaseId}/${r.stepId} of run ${r.runId}`;
    if (!r.receipt) {
      findings.push({
        ok: false,
        subject,
        detail:
          r.state === 'started'
            ? 'the journal says it started but no receipt records its outcome (interrupted, or still running)'
            : 'the journal records no receipt for it',
      });
      continue;
    }
    const s = byIndex.get(r.receipt.index);
    if (!s) {
      findings.push({
        ok: false,
        subject,
        detail: `missing receipt: the journal names receipt #${r.receipt.index}, which is not a step receipt of plan ${input.planId}`,
        evidence: { index: r.receipt.index, leafHash: r.receipt.leafHash },
      });
      continue;
    }
    const b = s.receipt?.body;
    const problems: string[] = [];
    if (toHex(s.leafHash) !== r.receipt.leafHash.toLowerCase())
      problems.push(`its leaf hash is ${toHex(s.leafHash)}, the journal recorded ${r.receipt.leafHash}`);
    if (b && (b.runId !== r.runId || b.phaseId !== r.phaseId || b.stepId !== r.stepId))
      problems.push(`it records ${String(b.runId)}/${String(b.phaseId)}/${String(b.stepId)}`);
    findings.push({
      ok: problems.length === 0,
      subject,
      detail:
        problems.length === 0
          ? `receipt #${s.index} matches the journal`
          : `receipt #${s.index} differs from the journal: ${problems.join('; ')}`,
      evidence: { index: s.index },
    });
  }
  return { result: verdict('receipts', findings), checkpoint, verified };
}

async function checkHealth(input: AuditPlanInput): Promise<AuditCheckResult> {
  const probes = input.health?.probes ?? [];
  const findings = await Promise.all(
    probes.map(async (p, i): Promise<AuditFinding> => {
      const subject = `probe ${p.name ?? i}`;
      const want = p.expectStatus ?? 200;
      try {
        const r = await httpGet(p.url, {
          timeoutMs: input.health?.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS,
          fetch: input.health?.fetch,
        });
        const ok = r.status === want;
        return {
          ok,
          subject,
          detail: `GET ${p.url} answered ${r.status}${ok ? '' : `, expected ${want}`}`,
          evidence: { url: p.url, status: r.status, ms: r.ms },
        };
      } catch (e) {
        return { ok: false, subject, detail: oneLine((e as Error).message), evidence: { url: p.url } };
      }
    }),
  );
  return verdict('health', findings, 'no health probes are configured');
}

function regionAllowed(region: string, allowed: readonly string[]): boolean {
  return allowed.some((a) => (a.endsWith('*') ? region.startsWith(a.slice(0, -1)) : region === a));
}

function checkCompliance(input: AuditPlanInput, steps: readonly StepReceipt[]): AuditCheckResult {
  const findings: AuditFinding[] = [];
  const plan = input.compliance?.plan;
  const allowed = input.compliance?.allowedRegions;
  const stepParams = new Map<string, Readonly<Record<string, unknown>>>();
  for (const ph of plan?.phases ?? [])
    for (const st of ph.steps) stepParams.set(`${ph.id}/${st.id}`, st.params);
  for (const s of steps) {
    const r = s.receipt;
    if (!r) continue; // an undecodable receipt is a receipts finding; nothing in it can be trusted here
    const b = r.body;
    const subject = stepName(s);
    const problems: string[] = [];
    const status = str(b.status) ?? '?';
    const policy = b.policy as { decision?: unknown } | undefined;
    const decision = typeof policy === 'object' && policy !== null ? policy.decision : undefined;
    const executed = EXECUTED_STEP_STATUSES.includes(status);
    if (decision === 'deny') problems.push('policy denied it (recorded deny)');
    else if (executed && decision !== 'allow')
      problems.push(`status ${status} without a recorded policy allow`);
    const autonomy = b.autonomy as { mode?: unknown } | undefined;
    if (executed && b.dryRun !== true && autonomy?.mode === 'approval-required' && !str(b.approvalId))
      problems.push('the autonomy gate required an approval but the receipt names no approval id');
    if (plan && r.tenant !== plan.target.tenant)
      problems.push(`recorded under tenant ${r.tenant}, the plan's tenant is ${plan.target.tenant}`);
    let region: string | undefined;
    if (allowed && executed) {
      const params = stepParams.get(`${str(b.phaseId)}/${str(b.stepId)}`);
      region = str(b.region) ?? str(params?.region) ?? plan?.target.region;
      if (region === undefined)
        problems.push('its region is unknown, so residency cannot be shown (fail closed)');
      else if (!regionAllowed(region, allowed))
        problems.push(`ran in region ${region}, outside the tenant's residency (${allowed.join(', ')})`);
    }
    findings.push({
      ok: problems.length === 0,
      subject,
      detail:
        problems.length === 0
          ? `status ${status}, policy ${String(decision ?? 'not recorded')}${str(b.approvalId) ? `, approval ${String(b.approvalId)}` : ''}${region ? `, region ${region}` : ''}`
          : problems.join('; '),
      evidence: {
        index: s.index,
        status,
        ...(decision !== undefined ? { policy: decision } : {}),
        ...(str(b.approvalId) ? { approvalId: b.approvalId } : {}),
        ...(region ? { region } : {}),
      },
    });
  }
  return verdict('compliance', findings, `no step receipts for plan ${input.planId}`);
}

/**
 * Audits a plan's execution (receipts, health, compliance; all by default), records an `audit` receipt (subject
 * `plan:<id>`, result pass|fail, checks with their failures) and returns the full report. Check failures are values;
 * it throws only for bad input or when the audit receipt cannot be recorded.
 */
export async function auditPlan(input: AuditPlanInput): Promise<AuditReport> {
  if (typeof input.planId !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/.test(input.planId))
    throw new ControlError('INVALID_ARGUMENT', `invalid plan id "${String(input.planId)}"`);
  const wanted = input.checks ?? AUDIT_CHECKS;
  if (wanted.length === 0) throw new ControlError('INVALID_ARGUMENT', 'an audit needs at least one check');
  for (const c of wanted)
    if (!(AUDIT_CHECKS as readonly string[]).includes(c))
      throw new ControlError(
        'INVALID_ARGUMENT',
        `unknown audit check "${String(c)}" (known: ${AUDIT_CHECKS.join(', ')})`,
      );
  const now = input.now ?? Date.now;
  const auditedAt = new Date(now()).toISOString();
  const hasher = input.trust.hasher ?? defaultHasher;

  const needSteps = wanted.includes('receipts') || wanted.includes('compliance');
  const steps: StepReceipt[] = [];
  // Only the plan's tenant's step receipts are its steps: a receipt another tenant wrote naming this plan is not.
  const planTenant = input.tenant ?? input.compliance?.plan?.target.tenant;
  if (needSteps) {
    for (const e of await input.ledger.listSteps(input.planId)) {
      const leafHash = hasher.hashLeaf(e.bytes);
      try {
        const receipt = decodeReceipt(e.bytes);
        // The listing is a text search; only receipts that really are this plan's steps count.
        if (receipt.kind !== 'step' || receipt.body.planId !== input.planId) continue;
        if (planTenant !== undefined && receipt.tenant !== planTenant) continue;
        steps.push({ index: e.index, bytes: e.bytes, leafHash, receipt });
      } catch (err) {
        steps.push({ index: e.index, bytes: e.bytes, leafHash, error: oneLine((err as Error).message) });
      }
    }
    steps.sort((a, b) => a.index - b.index);
  }
  const records =
    wanted.includes('receipts') && input.executedSteps ? await input.executedSteps(input.planId) : undefined;

  const checks: AuditCheckResult[] = [];
  let checkpoint: Checkpoint | undefined;
  let verified = new Set<number>();
  for (const name of AUDIT_CHECKS) {
    if (!wanted.includes(name)) continue;
    if (name === 'receipts') {
      const r = await checkReceipts(input, steps, records);
      checks.push(r.result);
      checkpoint = r.checkpoint;
      verified = r.verified;
    } else if (name === 'health') checks.push(await checkHealth(input));
    else checks.push(checkCompliance(input, steps));
  }
  const result = checks.every((c) => c.result === 'pass') ? 'pass' : 'fail';
  const subject = `plan:${input.planId}`;
  const runs = await auditRuns(input, steps);
  const tenant =
    input.tenant ??
    input.compliance?.plan?.target.tenant ??
    steps.find((s) => s.receipt)?.receipt?.tenant ??
    'default';
  // The audit is chained to the newest step receipt it verified (never to one that failed: its hash is not trusted).
  const lastVerified = steps.filter((s) => verified.has(s.index)).pop();
  const r = await input.receipts.append({
    kind: 'audit',
    actor: input.actor ?? 'auditor',
    tenant,
    body: {
      subject,
      result,
      planId: input.planId,
      checks: checks.map((c) => ({
        name: c.name,
        result: c.result,
        summary: c.summary,
        failures: c.findings
          .filter((f) => !f.ok)
          .slice(0, MAX_RECEIPT_FAILURES)
          .map((f) => oneLine(`${f.subject}: ${f.detail}`)),
      })),
      ...(checkpoint ? { checkpoint: { size: checkpoint.size, root: toHex(checkpoint.root) } } : {}),
      runs: runs.slice(-MAX_RECEIPT_FAILURES).map((x) => ({
        runId: x.runId,
        planHash: x.planHash,
        current: x.current,
        dryRun: x.dryRun,
        outcome: x.outcome,
        ...(x.reliedOn?.dryRun ? { dryRunOf: x.reliedOn.dryRun.runId } : {}),
        ...(x.reliedOn?.go ? { go: x.reliedOn.go.pollId } : {}),
      })),
    },
    ...(lastVerified
      ? { parents: [{ index: lastVerified.index, leafHash: toHex(lastVerified.leafHash) }] }
      : {}),
  });
  return {
    planId: input.planId,
    subject,
    result,
    checks,
    runs,
    ...(checkpoint ? { checkpoint: { size: checkpoint.size, root: toHex(checkpoint.root) } } : {}),
    auditedAt,
    receipt: { index: r.index, leafHash: r.leafHash },
  };
}

/** The plan's runs from its (tenant's) step receipts, each with its own outcome, oldest first. */
async function auditRuns(input: AuditPlanInput, steps: readonly StepReceipt[]): Promise<AuditRun[]> {
  const byRun = new Map<string, { planHash: string; dryRun: boolean; phases: Set<string>; rs: Receipt[] }>();
  for (const s of steps) {
    const r = s.receipt;
    const runId = str(r?.body.runId);
    if (!r || !runId || r.body.rollbackOf !== undefined) continue;
    let g = byRun.get(runId);
    if (!g)
      byRun.set(
        runId,
        (g = {
          planHash: str(r.body.planHash) ?? '',
          dryRun: r.body.dryRun === true,
          phases: new Set(),
          rs: [],
        }),
      );
    g.rs.push(r);
    const phase = str(r.body.phaseId);
    if (phase) g.phases.add(phase);
  }
  const out: AuditRun[] = [];
  for (const [runId, g] of byRun) {
    const problems = g.rs
      .filter((r) => !['succeeded', 'skipped'].includes(String(r.body.status)))
      .map((r) => `${String(r.body.phaseId)}/${String(r.body.stepId)}: ${String(r.body.status)}`);
    const failed = g.rs.some((r) => ['failed', 'denied', 'halted'].includes(String(r.body.status)));
    const unverifiable = g.rs.some((r) => r.body.status === 'unverifiable');
    const reliedOn =
      !g.dryRun && input.reliance
        ? await input.reliance({ runId, planHash: g.planHash, phases: [...g.phases] })
        : undefined;
    out.push({
      runId,
      planHash: g.planHash,
      current: input.currentPlanHash === undefined || input.currentPlanHash === g.planHash,
      dryRun: g.dryRun,
      outcome: failed ? 'failed' : unverifiable ? 'unverifiable' : 'passed',
      steps: g.rs.length,
      problems,
      ...(reliedOn ? { reliedOn } : {}),
    });
  }
  return out;
}

/** The part of LogStorage createLogAuditLedger reads. */
export interface AuditEntryListing {
  listEntries(filter: {
    kind?: string;
    text?: string;
    after?: number;
    order?: 'asc' | 'desc';
    limit: number;
  }): Promise<readonly LedgerEntryBytes[]>;
}

/** The part of a Log createLogAuditLedger uses. */
export interface AuditLogAccess {
  inclusionProof(index: number, size?: number): Promise<{ readonly proof: readonly Uint8Array[] }>;
  latestCheckpoint(): Promise<{ readonly note: string } | undefined>;
  checkpoint(): Promise<{ readonly note: string }>;
  idle?(): Promise<void>;
}

/**
 * An AuditLedger over a log and its storage: step receipts by kind 'step' and a text search for the plan id
 * (re-checked after decoding); requestCheckpoint publishes one unless `seal` is false.
 */
export function createLogAuditLedger(opts: {
  storage: AuditEntryListing;
  log: AuditLogAccess;
  seal?: boolean;
}): AuditLedger {
  const PAGE = 1000;
  return {
    async listSteps(planId) {
      const out: LedgerEntryBytes[] = [];
      // JCS writes a plain id exactly as JSON.stringify does, so this text occurs in every step receipt of the plan.
      const text = `"planId":${JSON.stringify(planId)}`;
      for (let after = -1; ;) {
        const page = await opts.storage.listEntries({ kind: 'step', text, after, order: 'asc', limit: PAGE });
        out.push(...page.map((e) => ({ index: e.index, bytes: e.bytes })));
        if (page.length < PAGE) break;
        after = page[page.length - 1]!.index;
      }
      return out;
    },
    async latestCheckpoint() {
      return (await opts.log.latestCheckpoint())?.note;
    },
    async inclusionProof(index, treeSize) {
      return (await opts.log.inclusionProof(index, treeSize)).proof;
    },
    ...(opts.seal === false
      ? {}
      : {
          async requestCheckpoint() {
            await opts.log.idle?.();
            return (await opts.log.checkpoint()).note;
          },
        }),
  };
}

/** What journalExecutedSteps reads from the executor. */
export interface AuditRunSource {
  listRuns(planId?: string): Promise<readonly { readonly runId: string; readonly planId: string }[]>;
  getRun(runId: string): Promise<{ readonly journal: readonly JournalEntry[] } | undefined>;
}

/** The executed steps and rollbacks of every run of a plan, from the executor's journal (gates are left out). */
export function journalExecutedSteps(
  runs: AuditRunSource,
): (planId: string) => Promise<ExecutedStepRecord[]> {
  return async (planId) => {
    const out: ExecutedStepRecord[] = [];
    for (const run of await runs.listRuns(planId)) {
      if (run.planId !== planId) continue;
      for (const j of (await runs.getRun(run.runId))?.journal ?? []) {
        if (j.kind !== 'step' && j.kind !== 'rollback') continue;
        out.push({
          runId: j.runId,
          phaseId: j.phaseId,
          stepId: j.stepId,
          action: j.action,
          kind: j.kind,
          state: j.state,
          ...(j.status !== undefined ? { status: j.status } : {}),
          ...(j.receipt ? { receipt: j.receipt } : {}),
        });
      }
    }
    return out;
  };
}
