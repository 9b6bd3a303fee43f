// The executor's counters after a restart: every step and compensation the journal says finished within the
// retention window is restored into a CounterSource with the labels the executor counted it with, so tripwire
// rules over vaultmesh_control_* see the same history in a new process (a restarted node, a CLI run).
import { DEFAULT_COUNTER_RETENTION_MS, type CounterSource } from './counter-source.ts';
import { JOURNAL, RUNS, type JournalEntry, type RunRecord } from './executor/index.ts';
import type { ControlStore } from '@vaultmesh/types';
import { COMPENSATIONS_COUNTER, STEPS_COUNTER, STEP_ERRORS_COUNTER } from './tripwires.ts';

/**
 * Restores into `counters` what the executor counted for journal entries finished before `before` (ms) and within
 * the retention window: executed steps (succeeded or failed), failed steps, and compensations (rolled back or
 * failed). Steps finished at or after `before` are the live counters' (no double count). Returns how many
 * increments it restored.
 */
export async function replayJournalCounters(
  store: ControlStore,
  counters: CounterSource,
  opts: { readonly before: number; readonly retentionMs?: number },
): Promise<number> {
  const from = opts.before - (opts.retentionMs ?? DEFAULT_COUNTER_RETENTION_MS);
  const runs = new Map<string, RunRecord>();
  for (const d of await store.list<RunRecord>(RUNS)) runs.set(d.id, d.doc);
  let restored = 0;
  for (const { doc: j } of await store.list<JournalEntry>(JOURNAL)) {
    if (j.state !== 'done' || j.finishedAt === undefined || j.status === undefined) continue;
    const at = Date.parse(j.finishedAt);
    if (!(at > from && at < opts.before)) continue;
    const run = runs.get(j.runId);
    if (!run) continue;
    const base = { tenant: run.tenant, dryRun: String(run.dryRun) };
    const add = (name: string, labels: Record<string, string>) => {
      counters.restore(name, 1, { ...base, ...labels }, at);
      restored++;
    };
    if (j.kind === 'step' && (j.status === 'succeeded' || j.status === 'failed')) {
      add(STEPS_COUNTER, { action: j.action, status: j.status });
      if (j.status === 'failed') add(STEP_ERRORS_COUNTER, { action: j.action });
    } else if (j.kind === 'rollback' && (j.status === 'rolled-back' || j.status === 'failed'))
      add(COMPENSATIONS_COUNTER, { action: j.action, status: j.status });
  }
  return restored;
}
