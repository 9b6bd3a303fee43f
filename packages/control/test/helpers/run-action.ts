// Runs one registered action the way the executor does: params parsed by its schema, a time budget and a signal.
import type { ActionRegistry, ActionResult, Principal, ReceiptWriter, StepFacts } from '../../src/index.ts';

const noReceipts: ReceiptWriter = {
  async append() {
    throw new Error('this test records no receipts');
  },
};

export async function runAction(
  registry: ActionRegistry,
  name: string,
  params: Record<string, unknown>,
  o: { dryRun?: boolean; timeoutMs?: number; receipts?: ReceiptWriter; namespace?: string } = {},
): Promise<ActionResult> {
  const action = registry.get(name);
  if (!action) throw new Error(`no action ${name}`);
  const timeoutMs = o.timeoutMs ?? 10_000;
  const step: StepFacts = {
    planId: 'plan-1',
    planHash: 'f'.repeat(64),
    runId: 'run-1',
    phaseId: 'main',
    stepId: 's1',
    action: name,
    tenant: 'acme',
    risk: 'low',
    reversible: true,
    readOnly: false,
    aggregation: false,
    dryRun: o.dryRun ?? false,
  };
  const principal: Principal = { type: 'person', id: 'ops@acme', role: 'operator', tenant: 'acme' };
  return action.run(action.params.parse(params) as Record<string, unknown>, {
    dryRun: o.dryRun ?? false,
    timeoutMs,
    signal: AbortSignal.timeout(timeoutMs),
    step,
    target: { environment: 'staging', tenant: 'acme', ...(o.namespace ? { namespace: o.namespace } : {}) },
    principal,
    receipts: o.receipts ?? noReceipts,
    now: Date.now,
  });
}
