// Crash and resume. In-process: a step's action never returns (its process "died" between the journal's
// 'started' and 'done'), and a fresh executor over the same store resumes. Real process: a child process runs the
// executor over a SQLite database and is killed with SIGKILL mid-step; the test reopens the same file and resumes.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSqliteControlStore, openSqliteStorage } from '@vaultmesh/store-sqlite';
import { describe, expect, it } from 'vitest';
import { z } from 'zod/v4';
import {
  createActionRegistry,
  createExecutor,
  defineAction,
  type JournalEntry,
  type Plan,
} from '../src/index.ts';
import { operator, openLedger, testAutonomy, testPolicy, testTripwires } from './helpers/harness.ts';
import { executorFixture, traceDir, tracePlan } from './helpers/executor-fixture.ts';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..', '..');

/** An action whose first call never returns (the process dies while it runs); later calls succeed at once. */
function dyingAction() {
  let calls = 0;
  let started!: () => void;
  const running = new Promise<void>((r) => (started = r));
  let release!: () => void;
  const hung = new Promise<void>((r) => (release = r));
  const action = defineAction({
    name: 'test.dies-once',
    description: 'hangs on its first call',
    params: z.strictObject({ idempotent: z.boolean() }),
    dryRun: true,
    effect: 'write',
    idempotent: (p) => p.idempotent,
    async run(_p, ctx) {
      if (ctx.dryRun) return { ok: true, output: {} };
      calls++;
      if (calls === 1) {
        started();
        await hung;
      }
      return { ok: true, output: { calls } };
    },
  });
  return { action, running, release, calls: () => calls };
}

async function crashMidStep(idempotent: boolean) {
  const dies = dyingAction();
  const actions = new Map([...createActionRegistry(), [dies.action.name, dies.action]]);
  const f = await executorFixture({ actions });
  const { trace, read } = traceDir();
  const plan: Plan = tracePlan(trace, { main: [{ id: 's1' }], second: [{ id: 's3' }] });
  plan.phases[0]!.steps.push({
    id: 's2',
    action: 'test.dies-once',
    params: { idempotent },
    risk: 'low',
    reversible: false,
  });
  const stored = await f.executor.storePlan(plan, operator);
  await f.executor.run({ plan: plan.id, planHash: stored.planHash, dryRun: true, principal: operator });
  const zombie = f.executor.run({
    plan: plan.id,
    planHash: stored.planHash,
    dryRun: false,
    principal: operator,
    runId: 'r1',
  });
  await dies.running;
  const journal = await f.store.get<JournalEntry>('journal', 'r1/main/s2');
  expect(journal!.doc.state).toBe('started');
  // "Restart": a fresh executor over the same store and ledger.
  const fresh = f.make();
  return { f, fresh, dies, zombie, read };
}

describe('resume after a crash (in-process)', () => {
  it('continues without repeating a completed step, re-running the interrupted one when its action is idempotent', async () => {
    const { f, fresh, dies, zombie, read } = await crashMidStep(true);
    const r = await fresh.resume('r1', { principal: operator });
    expect(r.state).toBe('succeeded');
    expect(r.steps.map((s) => `${s.stepId}:${s.status}${s.fromJournal ? ':journal' : ''}`)).toEqual([
      's1:succeeded:journal',
      's2:succeeded',
      's3:succeeded',
    ]);
    expect(read()).toEqual(['s1', 's3']); // s1 ran once
    expect(dies.calls()).toBe(2);
    expect((await f.store.get<JournalEntry>('journal', 'r1/main/s2'))!.doc).toMatchObject({
      state: 'done',
      attempt: 2,
    });
    expect(f.events.filter((e) => e.type === 'run-started').at(-1)).toMatchObject({
      runId: 'r1',
      resumed: true,
    });
    // The old executor, when its action finally returns, has lost the run: it writes nothing more.
    const size = f.ledger.log.size;
    dies.release();
    await expect(zombie).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining('taken over'),
    });
    expect(f.ledger.log.size).toBe(size);
  });

  it('holds the run when the interrupted step is not idempotent, until an operator resumes with rerunStarted', async () => {
    const { fresh, dies, zombie, read } = await crashMidStep(false);
    zombie.catch(() => undefined);
    const held = await fresh.resume('r1', { principal: operator });
    expect(held.hold).toMatchObject({ reason: 'interrupted-step', stepId: 's2', resumable: true });
    expect(held.hold!.message).toMatch(/not idempotent/);
    expect(dies.calls()).toBe(1);
    const again = await fresh.resume('r1', { principal: operator });
    expect(again.hold!.reason).toBe('interrupted-step'); // still refuses to guess
    const done = await fresh.resume('r1', { principal: operator, rerunStarted: true });
    expect(done.state).toBe('succeeded');
    expect(dies.calls()).toBe(2);
    expect(read()).toEqual(['s1', 's3']);
    dies.release();
  });

  it('finishes an interrupted rollback on resume without undoing a step twice', async () => {
    const f = await executorFixture();
    const { trace, read } = traceDir();
    const plan = tracePlan(trace, {
      main: [{ id: 's1' }, { id: 's2' }, { id: 's3', exit: 1, rollback: false }],
    });
    const stored = await f.executor.storePlan(plan, operator);
    await f.executor.run({ plan: plan.id, planHash: stored.planHash, dryRun: true, principal: operator });
    // Crash after undo-s2: the run is 'running' with rollingBack set and s2's rollback journaled done.
    const store = f.store;
    const realPut = store.put.bind(store);
    let crashed = false;
    store.put = async (c, id, doc, o) => {
      if (c === 'journal' && id.endsWith('s1/rollback') && !crashed) {
        crashed = true;
        throw new Error('process killed');
      }
      return realPut(c, id, doc, o);
    };
    await expect(
      f.executor.run({
        plan: plan.id,
        planHash: stored.planHash,
        dryRun: false,
        principal: operator,
        runId: 'rb',
      }),
    ).rejects.toThrow('process killed');
    store.put = realPut;
    expect(read()).toEqual(['s1', 's2', 's3', 'undo-s2']);
    const r = await f.make().resume('rb', { principal: operator });
    expect(r.hold).toMatchObject({ reason: 'step-failed', stepId: 's3', rolledBack: true, resumable: false });
    expect(read()).toEqual(['s1', 's2', 's3', 'undo-s2', 'undo-s1']);
  });
});

describe('the SQLite ControlStore', () => {
  it('runs a plan dry then live, and a reopened database resumes a held run', async () => {
    const { dir, trace, read } = traceDir();
    const path = join(dir, 'node.db');
    const sqlite = openSqliteStorage({ path });
    const store = createSqliteControlStore(sqlite.db);
    const f = await executorFixture({ store, ledger: await openLedger(sqlite) });
    const plan = tracePlan(trace, { main: [{ id: 's1' }, { id: 's2' }] });
    const stored = await f.executor.storePlan(plan, operator);
    await f.executor.run({ plan: plan.id, planHash: stored.planHash, dryRun: true, principal: operator });
    f.tripwires.arm('s2', { id: 'slo', action: 'pause', reason: 'slo burn', evidence: { burn: 3 } });
    const held = await f.executor.run({
      plan: plan.id,
      planHash: stored.planHash,
      dryRun: false,
      principal: operator,
      runId: 'sq',
    });
    expect(held.hold!.reason).toBe('tripwire-pause');
    await f.ledger.log.close();
    await sqlite.close();

    const reopened = openSqliteStorage({ path });
    const ledger = await openLedger(reopened);
    const ex = createExecutor({
      store: createSqliteControlStore(reopened.db),
      receipts: ledger.receipts,
      policy: f.policy,
      autonomy: testAutonomy(),
      tripwires: testTripwires(),
      actions: createActionRegistry(),
    });
    const done = await ex.resume('sq', { principal: operator });
    expect(done.state).toBe('succeeded');
    expect(read()).toEqual(['s1', 's2']);
    expect(
      (await ledger.all())
        .filter((r) => r.kind === 'step' && r.body.runId === 'sq')
        .map((r) => `${r.body.stepId}:${r.body.status}`),
    ).toEqual(['s1:succeeded', 's2:halted', 's2:succeeded']);
    await ledger.log.close();
    await reopened.close();
  });
});

describe('resume after SIGKILL (real process, SQLite)', () => {
  it('a child process killed mid-step leaves a journal that a resume completes without repeating done steps', async () => {
    const { dir, trace, read } = traceDir();
    const db = join(dir, 'node.db');
    const marker = join(dir, 'marker');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(here, 'helpers', 'executor-child.ts'), db, trace, marker],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_code, signal) => r(signal)));
    const deadline = Date.now() + 30_000;
    while (!existsSync(marker)) {
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error(`child never reached step s2: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(read()).toEqual(['s1', 's2']);

    const storage = openSqliteStorage({ path: db });
    const store = createSqliteControlStore(storage.db);
    expect((await store.get<JournalEntry>('journal', 'crash-run/main/s2'))!.doc.state).toBe('started');
    const ledger = await openLedger(storage);
    const executor = createExecutor({
      store,
      receipts: ledger.receipts,
      policy: testPolicy(),
      autonomy: testAutonomy(),
      tripwires: testTripwires(),
      actions: createActionRegistry(),
    });
    const r = await executor.resume('crash-run', { principal: operator });
    expect(r.state).toBe('succeeded');
    expect(read()).toEqual(['s1', 's2', 's2', 's3']); // s1 once; s2 (idempotent) again; then s3
    const steps = (await ledger.all()).filter((x) => x.kind === 'step' && x.body.runId === 'crash-run');
    expect(steps.map((x) => `${x.body.stepId}:${x.body.status}:${x.body.attempt}`)).toEqual([
      's1:succeeded:1',
      's2:succeeded:2',
      's3:succeeded:1',
    ]);
    // The chain of parents runs through the receipt the killed process wrote.
    expect(steps[1]!.parents![1]).toEqual(r.steps[0]!.receipt);
    await ledger.log.close();
    await storage.close();
  });
});

/** Whether a pid runs (a zombie, killed but not yet reaped, does not). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]!);
  } catch {
    return true; // no /proc: the signal said it exists
  }
}

/** Runs orphan-child.ts and SIGKILLs it while its step sleeps; the step's shell (pid) is left running. */
async function orphanedStep(idempotent: boolean) {
  const { dir } = traceDir();
  const db = join(dir, 'node.db');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(here, 'helpers', 'orphan-child.ts'), db, dir, idempotent ? 'yes' : 'no'],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const deadline = Date.now() + 30_000;
  while (!existsSync(join(dir, 'pid'))) {
    if (Date.now() > deadline || child.exitCode !== null)
      throw new Error(`child never started its step: ${stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  // The journal holds the process group before the step goes on; give the write a moment to land.
  const storage = openSqliteStorage({ path: db });
  const store = createSqliteControlStore(storage.db);
  for (
    let i = 0;
    i < 200 && !(await store.get<JournalEntry>('journal', 'orphan-run/main/long'))?.doc.process;
    i++
  )
    await new Promise((r) => setTimeout(r, 20));
  child.kill('SIGKILL');
  await exited;
  const pid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
  const ledger = await openLedger(storage);
  const executor = createExecutor({
    store,
    receipts: ledger.receipts,
    policy: testPolicy(),
    autonomy: testAutonomy(),
    tripwires: testTripwires(),
    actions: createActionRegistry(),
  });
  const close = async () => {
    if (alive(pid)) process.kill(-pid, 'SIGKILL');
    await ledger.log.close();
    await storage.close();
  };
  return { dir, pid, store, ledger, executor, close };
}

describe('a step process that outlives its executor (real processes)', () => {
  it('is journaled with its process group, and fenced before an idempotent step runs again', async () => {
    const o = await orphanedStep(true);
    try {
      expect(alive(o.pid)).toBe(true); // the orphan: its executor is gone, the step's shell still sleeps
      const j = (await o.store.get<JournalEntry>('journal', 'orphan-run/main/long'))!.doc;
      expect(j).toMatchObject({ state: 'started', process: { pid: o.pid, pgid: o.pid } });
      const r = await o.executor.resume('orphan-run', { principal: operator });
      expect(r.state).toBe('succeeded');
      expect(alive(o.pid)).toBe(false);
      expect(existsSync(join(o.dir, 'trace'))).toBe(false); // the old attempt never finished its work
      const receipt = (await o.ledger.all()).find(
        (x) => x.kind === 'step' && x.body.runId === 'orphan-run' && x.body.status === 'succeeded',
      );
      expect(String(receipt?.body.fenced)).toMatch(
        new RegExp(`process group ${o.pid} \\(sh -c .*\\) was still running and was stopped`),
      );
    } finally {
      await o.close();
    }
  }, 60_000);

  it('a non-idempotent step holds, naming the running group; cancel stops it', async () => {
    const o = await orphanedStep(false);
    try {
      const r = await o.executor.resume('orphan-run', { principal: operator });
      expect(r.hold?.reason).toBe('interrupted-step');
      expect(r.hold?.message).toMatch(
        new RegExp(`its process group ${o.pid} \\(sh -c .*\\) is still running`),
      );
      expect(alive(o.pid)).toBe(true); // not stopped behind the operator's back
      await o.executor.cancel('orphan-run', { principal: operator, rollback: false });
      expect(alive(o.pid)).toBe(false);
      const cancelled = (await o.ledger.all()).find(
        (x) => x.kind === 'decision' && x.body.runId === 'orphan-run',
      );
      expect((cancelled?.body.stoppedProcesses as string[])[0]).toMatch(
        /^main\/long: process group \d+ .* was stopped$/,
      );
    } finally {
      await o.close();
    }
  }, 60_000);
});
