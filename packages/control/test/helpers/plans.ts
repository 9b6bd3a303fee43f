// Plans the control tests start from.
import type { Plan } from '../../src/index.ts';

/** A small valid plan; tests change copies of it. */
export function samplePlan(over: Partial<Plan> = {}): Plan {
  return {
    v: 1,
    id: 'plan-1',
    goal: 'restart the api',
    target: { environment: 'staging', namespace: 'shop', tenant: 'acme' },
    phases: [
      {
        id: 'main',
        steps: [
          { id: 's1', action: 'shell', params: { command: 'true' }, risk: 'low', reversible: false },
          {
            id: 's2',
            action: 'wait',
            params: { ms: 1 },
            risk: 'low',
            reversible: true,
            readOnly: true,
            rollback: { action: 'wait', params: { ms: 1 } },
          },
        ],
      },
    ],
    preconditions: [],
    gates: [],
    createdBy: 'ops@acme',
    createdAt: '2025-01-02T03:04:05.000Z',
    ...over,
  };
}
