// Following a run that another process drives (another node of the cluster, or a `vm` command): its events are
// rebuilt from the durable journal, polled, so a client sees a run's progress on whichever node it asks, and goes
// on seeing it when the run moves to another node.
import type { Executor, JournalEntry, RunEvent } from '@vaultmesh/control';

/** How often the journal is read. */
const POLL_MS = 250;

/** The events a journal entry's change stands for (step or rollback started / finished). */
function entryEvents(e: JournalEntry, planId: string, dryRun: boolean, seen: string | undefined): RunEvent[] {
  if (e.kind !== 'step' && e.kind !== 'rollback') return [];
  const base = {
    runId: e.runId,
    planId,
    dryRun,
    phaseId: e.phaseId,
    stepId: e.stepId,
    action: e.action,
    rollback: e.kind === 'rollback',
  };
  const out: RunEvent[] = [];
  if (seen === undefined) out.push({ type: 'step-started', ...base, at: e.startedAt });
  if (e.state === 'done')
    out.push({
      type: 'step-finished',
      ...base,
      status: e.status ?? 'failed',
      ...(e.error ? { error: e.error } : {}),
      ...(e.reason ? { reason: e.reason } : {}),
      ...(e.summary ? { summary: e.summary } : {}),
      at: e.finishedAt ?? e.startedAt,
    });
  return out;
}

/**
 * Calls `send` with every step event of the run's journal so far and then as the journal changes, and with
 * `run-finished` once the run is no longer running; resolves then (or when `closed` is aborted).
 */
export async function followStoredRun(
  executor: Executor,
  runId: string,
  send: (e: RunEvent) => void,
  closed: AbortSignal,
): Promise<void> {
  const seen = new Map<string, string>();
  while (!closed.aborted) {
    const r = await executor.getRun(runId);
    if (!r) return;
    const entries = [...r.journal].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
    for (const e of entries) {
      const key = `${e.phaseId}/${e.stepId}/${e.kind}`;
      const mark = `${e.state}:${e.attempt}`;
      const prev = seen.get(key);
      if (prev === mark) continue;
      for (const ev of entryEvents(e, r.run.planId, r.run.dryRun, prev)) send(ev);
      seen.set(key, mark);
    }
    if (r.run.state !== 'running') {
      send({
        type: 'run-finished',
        runId,
        planId: r.run.planId,
        dryRun: r.run.dryRun,
        state: r.run.state,
        ...(r.run.hold ? { hold: r.run.hold } : {}),
        at: r.run.finishedAt ?? r.run.updatedAt,
      });
      return;
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, POLL_MS);
      closed.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
    });
  }
}
