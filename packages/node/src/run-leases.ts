// Runs that survive their node (several nodes of one PostgreSQL log). Whoever drives a run holds the lease
// `run:<runId>` and renews it while the run goes on; when a node dies its runs' leases lapse, and the leader adopts
// each run left `running` without a holder: it takes the lease and resumes the run from its durable journal, so a
// completed step is never run again (an interrupted one-shot step holds for a human, as after any crash). The
// executor's compare-and-swap on the run record fences a driver that lost its lease but still runs.
import type { LeaseStore, Principal } from '@vaultmesh/types';
import { ControlError, type Executor, type RunResult } from '@vaultmesh/control';

export interface RunLeaseOptions {
  readonly leases: LeaseStore;
  /** This node's holder id. */
  readonly holder: string;
  readonly ttlMs: number;
}

const leaseName = (runId: string) => `run:${runId}`;

/** Holds `run:<runId>` while `drive` runs (renewed a third of the TTL apart), then gives it up. */
async function holding<T>(o: RunLeaseOptions, runId: string, drive: () => Promise<T>): Promise<T> {
  const grant = await o.leases.acquire(leaseName(runId), o.holder, o.ttlMs);
  if (!grant)
    throw new ControlError('CONFLICT', `run ${runId} is driven by another node right now`, { runId });
  const timer = setInterval(
    () => void o.leases.acquire(leaseName(runId), o.holder, o.ttlMs).catch(() => undefined),
    Math.max(50, Math.floor(o.ttlMs / 3)),
  );
  timer.unref?.();
  try {
    return await drive();
  } finally {
    clearInterval(timer);
    await o.leases.release(leaseName(runId), o.holder, grant.token).catch(() => false);
  }
}

/** The executor, with every run and resume holding its run's lease (a run gets its id here if it has none). */
export function withRunLeases(executor: Executor, o: RunLeaseOptions, newRunId: () => string): Executor {
  return {
    ...executor,
    run(req) {
      const runId = req.runId ?? newRunId();
      return holding(o, runId, () => executor.run({ ...req, runId }));
    },
    resume(runId, req) {
      return holding(o, runId, () => executor.resume(runId, req));
    },
  };
}

/**
 * Resumes every run left `running` whose lease has lapsed (its node died), as the principal that drove it. Meant
 * for the leader, a few times per TTL. Resolves with the runs it adopted (their results arrive later, via onDone).
 */
export async function adoptOrphanRuns(
  executor: Executor,
  leases: LeaseStore,
  onDone?: (runId: string, result: RunResult | Error) => void,
): Promise<string[]> {
  const adopted: string[] = [];
  for (const run of await executor.listRuns()) {
    if (run.state !== 'running') continue;
    if (await leases.current(leaseName(run.runId))) continue;
    adopted.push(run.runId);
    const principal: Principal = run.principal;
    executor
      .resume(run.runId, { principal })
      .then((r) => onDone?.(run.runId, r))
      .catch((e: unknown) => onDone?.(run.runId, e as Error));
  }
  return adopted;
}
