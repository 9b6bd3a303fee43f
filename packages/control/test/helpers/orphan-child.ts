// Crash-test child for process fencing: runs (live, run id "orphan-run") a plan whose one shell step records its
// shell's pid and then sleeps, over a SQLite database. The parent SIGKILLs this process while the step sleeps, so the
// step's process group outlives its executor. Run again (the marker exists), the step finishes at once.
// Usage: node --import tsx packages/control/test/helpers/orphan-child.ts <db> <dir> <idempotent: yes|no>
import { join } from 'node:path';
import { createSqliteControlStore, openSqliteStorage } from '@vaultmesh/store-sqlite';
import { createActionRegistry, createExecutor, type Plan } from '../../src/index.ts';
import { openLedger, operator, testAutonomy, testPolicy, testTripwires } from './harness.ts';

const [db, dir, idempotent] = process.argv.slice(2) as [string, string, string];
const storage = openSqliteStorage({ path: db });
const ledger = await openLedger(storage);
const executor = createExecutor({
  store: createSqliteControlStore(storage.db),
  receipts: ledger.receipts,
  policy: testPolicy(),
  autonomy: testAutonomy(),
  tripwires: testTripwires(),
  actions: createActionRegistry(),
});
const marker = join(dir, 'marker');
const plan: Plan = {
  v: 1,
  id: 'orphan-plan',
  goal: 'a step that outlives its executor',
  target: { environment: 'staging', tenant: 'acme' },
  phases: [
    {
      id: 'main',
      steps: [
        {
          id: 'long',
          action: 'shell',
          params: {
            command: 'sh',
            args: [
              '-c',
              `if [ -f '${marker}' ]; then exit 0; fi; touch '${marker}'; echo $$ > '${join(dir, 'pid')}'; sleep 60; echo finished >> '${join(dir, 'trace')}'`,
            ],
            idempotent: idempotent === 'yes',
          },
          risk: 'low',
          reversible: false,
        },
      ],
    },
  ],
  preconditions: [],
  gates: [],
  createdBy: 'ops@acme',
  createdAt: '2026-12-01T00:00:00.000Z',
};
const stored = await executor.storePlan(plan, operator);
await executor.run({ plan: plan.id, planHash: stored.planHash, dryRun: true, principal: operator });
await executor.run({
  plan: plan.id,
  planHash: stored.planHash,
  dryRun: false,
  principal: operator,
  runId: 'orphan-run',
});
process.stdout.write('finished without being killed\n');
