// Crash-test child: stores a plan, dry-runs it and runs it live (run id "crash-run") over a SQLite database,
// with the Log on the same file as the ReceiptWriter. Step s2 touches a marker and then sleeps, so the parent
// knows when to SIGKILL it; run again (after the marker exists) s2 finishes at once.
// Usage: node --import tsx packages/control/test/helpers/executor-child.ts <db> <traceFile> <markerFile>
import { createSqliteControlStore, openSqliteStorage } from '@vaultmesh/store-sqlite';
import { createActionRegistry, createExecutor } from '../../src/index.ts';
import { tracePlan } from './executor-fixture.ts';
import { openLedger, operator, testAutonomy, testPolicy, testTripwires } from './harness.ts';

const [db, trace, marker] = process.argv.slice(2) as [string, string, string];
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
const plan = tracePlan(trace, {
  main: [
    { id: 's1' },
    {
      id: 's2',
      then: `if [ -f '${marker}' ]; then exit 0; fi; touch '${marker}'; sleep 30`,
      idempotent: true,
    },
    { id: 's3' },
  ],
});
const stored = await executor.storePlan(plan, operator);
await executor.run({ plan: plan.id, planHash: stored.planHash, dryRun: true, principal: operator });
await executor.run({
  plan: plan.id,
  planHash: stored.planHash,
  dryRun: false,
  principal: operator,
  runId: 'crash-run',
});
process.stdout.write('finished without being killed\n');
