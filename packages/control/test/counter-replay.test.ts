// The executor's counters survive a restart: replayJournalCounters restores from the journal exactly what the
// executor counted live (steps, failures, compensations, with the same labels), and nothing twice.
import { describe, expect, it } from 'vitest';
import {
  COMPENSATIONS_COUNTER,
  STEPS_COUNTER,
  STEP_ERRORS_COUNTER,
  createCounterSource,
  replayJournalCounters,
} from '../src/index.ts';
import { operator } from './helpers/harness.ts';
import { executorFixture, traceDir, tracePlan } from './helpers/executor-fixture.ts';

describe('replayJournalCounters', () => {
  it('restores the counts a failed, rolled-back run left, with their labels, and skips what is newer', async () => {
    const live = createCounterSource();
    const f = await executorFixture({ extra: { counters: live } });
    const { trace } = traceDir();
    const plan = tracePlan(trace, { one: [{ id: 's1' }, { id: 's2', exit: 3, rollback: false }] });
    const stored = await f.executor.storePlan(plan, operator);
    const base = { plan: plan.id, planHash: stored.planHash, principal: operator };
    expect((await f.executor.run({ ...base, dryRun: true })).state).toBe('succeeded');
    const r = await f.executor.run({ ...base, dryRun: false });
    expect(r.hold?.reason).toBe('step-failed');

    // A new process: an empty source, restored from the store.
    const restarted = createCounterSource();
    const n = await replayJournalCounters(f.store, restarted, { before: Date.now() + 1 });
    const queries = [
      `sum(increase(${STEPS_COUNTER}[1h]))`,
      `sum(increase(${STEPS_COUNTER}{dryRun="false",status="failed"}[1h]))`,
      `sum(increase(${STEP_ERRORS_COUNTER}{tenant="acme"}[1h]))`,
      `sum(increase(${COMPENSATIONS_COUNTER}{action="shell",status="rolled-back"}[1h]))`,
    ];
    const at = new Date(Date.now() + 2);
    for (const q of queries) expect(await restarted.query(q, at), q).toBe(await live.query(q, at));
    expect(await restarted.query(queries[0]!, at)).toBe(4); // 2 dry + 2 live
    expect(await restarted.query(queries[3]!, at)).toBe(1);
    expect(n).toBe(4 + 1 + 1);

    // Entries finished at or after `before` belong to the live counters of the new process: none restored.
    const none = createCounterSource();
    expect(await replayJournalCounters(f.store, none, { before: Date.parse('2000-01-01T00:00:00Z') })).toBe(
      0,
    );
    // Outside the retention window: not restored either.
    const short = createCounterSource({ retentionMs: 1 });
    await replayJournalCounters(f.store, short, { before: Date.now() + 60_000, retentionMs: 1 });
    expect(await short.query(queries[0]!, new Date())).toBe(0);
  });

  it('restore keeps clock order, so windows count the right increments', async () => {
    const t = 1_000_000;
    const c = createCounterSource({ now: () => t });
    c.restore(STEPS_COUNTER, 1, {}, t - 10 * 60_000);
    c.restore(STEPS_COUNTER, 1, {}, t - 60 * 60_000 + 1);
    c.add(STEPS_COUNTER, 1, {});
    c.restore(STEPS_COUNTER, 1, {}, t - 3 * 60_000);
    const q = (w: string) => c.query(`increase(${STEPS_COUNTER}[${w}])`, new Date(t));
    expect(await q('5m')).toBe(2);
    expect(await q('15m')).toBe(3);
    expect(await q('1h')).toBe(4);
    expect(() => c.restore(STEPS_COUNTER, -1, {}, t)).toThrow(/only grows/);
  });
});
