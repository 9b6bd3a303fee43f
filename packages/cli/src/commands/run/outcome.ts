// What `vm run` reports (stdout, --json, the callback): the executor's RunResult of the live run (or of the dry-run
// when that one did not pass), with each job step's status, exit code and receipt.
import type { JournalEntry, RunResult } from '@vaultmesh/control';
import type { JobFile } from './job.ts';

/** How the job ended, for scripts and callback receivers. */
export type JobStatus = 'succeeded' | 'failed' | 'held' | 'cancelled';

/** One job step's outcome. `not-run`: an earlier step stopped the run before it. */
export interface JobStepReport {
  readonly stepId: string;
  readonly status: string;
  readonly exitCode: number | null;
  readonly receipt?: { readonly index: number; readonly leafHash: string };
  readonly error?: string;
}

/** One receipt of the job: its plan receipt, then its steps' receipts in order. */
export interface JobReceipt {
  readonly index: number;
  readonly leafHash: string;
  readonly kind: 'plan' | 'step';
  readonly stepId?: string;
}

/** The outcome of one `vm run` (the callback's body, plus the callback itself in --json). */
export interface JobReport {
  readonly planId: string;
  readonly planHash: string;
  readonly origin: string;
  readonly tenant: string;
  /** The run reported: the live run, or the dry-run when that one did not pass. */
  readonly runId: string;
  readonly dryRun: boolean;
  readonly status: JobStatus;
  readonly state: RunResult['state'];
  readonly hold?: { readonly reason: string; readonly message: string; readonly stepId?: string };
  readonly steps: readonly JobStepReport[];
  readonly receipts: readonly JobReceipt[];
}

/** succeeded; held (a resumable hold: an approval, a policy or tripwire change may let it go on); failed; cancelled. */
export function jobStatus(r: RunResult): JobStatus {
  if (r.state === 'succeeded') return 'succeeded';
  if (r.state === 'cancelled') return 'cancelled';
  if (r.state === 'hold' && r.hold?.resumable) return 'held';
  return 'failed';
}

/** Builds the report of a run from its result and its journal (where each step's exit code is kept). */
export function jobReport(
  job: JobFile,
  run: RunResult,
  ctx: {
    origin: string;
    tenant: string;
    planReceipt?: { index: number; leafHash: string };
    journal: readonly JournalEntry[];
  },
): JobReport {
  const outcomes = new Map(run.steps.filter((s) => !s.rollback).map((s) => [s.stepId, s]));
  const exitCodes = new Map(
    ctx.journal.filter((j) => j.kind === 'step').map((j) => [j.stepId, j.exitCode ?? null]),
  );
  const steps: JobStepReport[] = job.steps.map((s) => {
    const o = outcomes.get(s.name);
    if (!o) return { stepId: s.name, status: 'not-run', exitCode: null };
    return {
      stepId: s.name,
      status: o.status,
      exitCode: exitCodes.get(s.name) ?? null,
      ...(o.receipt ? { receipt: o.receipt } : {}),
      ...(o.error ? { error: o.error } : {}),
    };
  });
  const receipts: JobReceipt[] = [
    ...(ctx.planReceipt ? [{ ...ctx.planReceipt, kind: 'plan' as const }] : []),
    ...steps.flatMap((s) => (s.receipt ? [{ ...s.receipt, kind: 'step' as const, stepId: s.stepId }] : [])),
  ];
  return {
    planId: run.planId,
    planHash: run.planHash,
    origin: ctx.origin,
    tenant: ctx.tenant,
    runId: run.runId,
    dryRun: run.dryRun,
    status: jobStatus(run),
    state: run.state,
    ...(run.hold
      ? {
          hold: {
            reason: run.hold.reason,
            message: run.hold.message,
            ...(run.hold.stepId ? { stepId: run.hold.stepId } : {}),
          },
        }
      : {}),
    steps,
    receipts,
  };
}
