// An executor over real parts: a ControlStore (memory unless given), a real Log as ReceiptWriter, the built-in
// actions running real commands, and the in-test policy/autonomy/tripwire ports from harness.ts. Plans here are
// shell steps that append their id to a trace file, so the file shows exactly what ran and in which order.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createActionRegistry,
  createApprovals,
  createExecutor,
  createMemoryControlStore,
  type ActionRegistry,
  type ControlStore,
  type ExecutorOptions,
  type Plan,
  type PlanStep,
  type PolicyRequest,
  type RunEvent,
  type StepFacts,
} from '../../src/index.ts';
import { openLedger, testAutonomy, testPolicy, testTripwires } from './harness.ts';

export interface TraceStep {
  id: string;
  /** Exit with this code after tracing (the step fails unless 0). */
  exit?: number;
  risk?: StepFacts['risk'];
  reversible?: boolean;
  /** Give the step a rollback that traces "undo-<id>"; default true. */
  rollback?: boolean;
  /** Extra shell script to run after tracing. */
  then?: string;
  idempotent?: boolean;
}

/** A temp directory with a trace file. */
export function traceDir() {
  const dir = mkdtempSync(join(tmpdir(), 'vm-exec-'));
  const trace = join(dir, 'trace');
  const read = (): string[] => {
    try {
      return readFileSync(trace, 'utf8').split('\n').filter(Boolean);
    } catch {
      return [];
    }
  };
  return { dir, trace, read };
}

export function traceStep(trace: string, s: TraceStep): PlanStep {
  const script = `echo ${s.id} >> '${trace}'${s.then ? `; ${s.then}` : ''}; exit ${s.exit ?? 0}`;
  return {
    id: s.id,
    action: 'shell',
    params: { command: 'sh', args: ['-c', script], ...(s.idempotent ? { idempotent: true } : {}) },
    risk: s.risk ?? 'low',
    reversible: s.reversible ?? s.rollback !== false, // a write is reversible only with a rollback
    ...(s.rollback === false
      ? {}
      : {
          rollback: {
            action: 'shell',
            params: { command: 'sh', args: ['-c', `echo undo-${s.id} >> '${trace}'`] },
          },
        }),
  };
}

/** A plan whose phases are lists of trace steps. */
export function tracePlan(
  trace: string,
  phases: Record<string, TraceStep[]>,
  over: Partial<Plan> = {},
): Plan {
  return {
    v: 1,
    id: 'plan-trace',
    goal: 'trace some steps',
    target: { environment: 'staging', tenant: 'acme' },
    phases: Object.entries(phases).map(([id, steps]) => ({
      id,
      steps: steps.map((s) => traceStep(trace, s)),
    })),
    preconditions: [],
    gates: [],
    createdBy: 'ops@acme',
    createdAt: '2025-01-01T00:00:00.000Z',
    ...over,
  };
}

export async function executorFixture(
  o: {
    store?: ControlStore;
    rule?: (req: PolicyRequest) => boolean;
    needApproval?: StepFacts['risk'][];
    actions?: ActionRegistry;
    ledger?: Awaited<ReturnType<typeof openLedger>>;
    extra?: Partial<ExecutorOptions>;
  } = {},
) {
  const store = o.store ?? createMemoryControlStore();
  const ledger = o.ledger ?? (await openLedger());
  const policy = testPolicy(o.rule);
  const autonomy = testAutonomy(o.needApproval);
  const tripwires = testTripwires();
  const events: RunEvent[] = [];
  const actions = o.actions ?? createActionRegistry();
  const make = (extra: Partial<ExecutorOptions> = {}) =>
    createExecutor({
      store,
      receipts: ledger.receipts,
      policy,
      autonomy,
      tripwires,
      actions,
      onEvent: (e) => events.push(e),
      ledger: ledger.query,
      ...o.extra,
      ...extra,
    });
  const executor = make();
  const approvals = createApprovals({ store, receipts: ledger.receipts, policy });
  return { store, ledger, policy, autonomy, tripwires, events, actions, executor, approvals, make };
}
