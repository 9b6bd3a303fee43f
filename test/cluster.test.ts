// Several nodes of one log on PostgreSQL: three `vm up` processes on one schema, a bounded load spread over all
// three, kill -9 of the leader. Another node takes the leader lease within a bounded time, writes on the others go
// on, every acknowledged receipt is stored with its leaf hash, and `vm audit verify --full` passes (one history).
import { spawn, type ChildProcess } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openNodeStorage, resolveStorage } from '@vaultmesh/node';
import {
  dropSchemas,
  freshSchema,
  postgresUnavailable,
  TEST_DATABASE_URL,
} from '@vaultmesh/store-postgres/testing';
import { freePort } from './helpers/net.ts';
import { CLEAN_ENV, ROOT, runVm, VM_BIN } from './helpers/vm.ts';

const unavailable = await postgresUnavailable();
if (unavailable) console.warn(`SKIPPED: the cluster test: ${unavailable}`);

const work = mkdtempSync(join(tmpdir(), 'vm-cluster-'));
const schema = freshSchema('vmcluster');
const runSchema = freshSchema('vmclusterrun');
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
  if (!unavailable) await dropSchemas([schema, runSchema]);
});

interface Node {
  name: string;
  child: ChildProcess;
  base: string;
  exited: Promise<unknown>;
}
interface Status {
  cluster?: { node: string; leader: boolean; token: number | null };
}

const LEASE_TTL_MS = 1500;

async function up(name: string, data: string, config: string): Promise<Node> {
  const port = await freePort();
  const child = spawn(process.execPath, [VM_BIN, 'up', '-d', data, '-c', config, '--port', String(port)], {
    cwd: ROOT,
    env: CLEAN_ENV,
  });
  children.push(child);
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name}: vm up exited ${child.exitCode}: ${log}`);
    if ((await fetch(`${base}/api/system/health`).catch(() => undefined))?.ok)
      return { name, child, base, exited };
    if (Date.now() > deadline) throw new Error(`${name} did not become healthy: ${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const status = async (n: Node): Promise<Status | undefined> => {
  const r = await fetch(`${n.base}/api/backend/status`).catch(() => undefined);
  return r?.ok ? ((await r.json()) as Status) : undefined;
};
const leaders = async (nodes: Node[]) =>
  (await Promise.all(nodes.map(async (n) => ((await status(n))?.cluster?.leader ? n : undefined)))).filter(
    (n): n is Node => n !== undefined,
  );

describe.skipIf(unavailable !== undefined)('three nodes on one PostgreSQL log', () => {
  it('survive kill -9 of the leader: another leads within a bounded time, nothing acknowledged is lost', async () => {
    const dirs = ['n1', 'n2', 'n3'].map((n) => join(work, n));
    const config = join(work, 'node.json');
    writeFileSync(
      config,
      JSON.stringify({ logLevel: 'warn', checkpointIntervalMs: 250, cluster: { leaseTtlMs: LEASE_TTL_MS } }),
    );
    const init = await runVm(['init', '-d', dirs[0]!, '--origin', 'cluster.test/log'], {
      env: { VM_DATABASE_URL: TEST_DATABASE_URL, VM_DATABASE_SCHEMA: schema },
    });
    expect(init.code, init.stderr).toBe(0);
    const token = readFileSync(join(dirs[0]!, 'keys', 'admin.token'), 'utf8').trim();
    for (const d of dirs.slice(1)) {
      mkdirSync(join(d, 'keys'), { recursive: true, mode: 0o700 });
      for (const f of ['keys/node.key', 'keys/node.key.pub', 'storage.json'])
        copyFileSync(join(dirs[0]!, f), join(d, f));
    }
    const nodes: Node[] = [];
    for (const [i, d] of dirs.entries()) nodes.push(await up(`n${i + 1}`, d, config));

    // Exactly one leader.
    const first = await leaders(nodes);
    expect(first.map((n) => n.name)).toHaveLength(1);
    const leader = first[0]!;

    // A bounded load over all three: 240 receipts, 6 in flight, round robin; the leader dies a third of the way in.
    const acked = new Map<number, string>();
    let failed = 0;
    let sent = 0;
    let killedAt = 0;
    const TOTAL = 240;
    const send = async (): Promise<void> => {
      while (sent < TOTAL) {
        const i = sent++;
        if (i === TOTAL / 3 && killedAt === 0) {
          killedAt = Date.now();
          leader.child.kill('SIGKILL');
        }
        const target = nodes[i % 3]!;
        const r = await fetch(`${target.base}/api/ledger/receipts`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            kind: 'deploy',
            tenant: 'default',
            body: { service: 'api', version: `1.0.${i}`, environment: 'prod' },
          }),
        }).catch(() => undefined);
        if (r?.status === 201) {
          const b = (await r.json()) as { index: number; leafHash: string };
          expect(acked.has(b.index), `index ${b.index} acknowledged twice`).toBe(false);
          acked.set(b.index, b.leafHash);
        } else failed++;
      }
    };
    await Promise.all(Array.from({ length: 6 }, send));
    await leader.exited;
    const survivors = nodes.filter((n) => n !== leader);

    // Another node leads within a bounded time (the lease's TTL plus a renewal period, measured from the kill).
    let takeoverMs = -1;
    for (const deadline = killedAt + 20_000; Date.now() < deadline;) {
      const now = await leaders(survivors);
      if (now.length === 1) {
        takeoverMs = Date.now() - killedAt;
        break;
      }
      expect(now.length).toBeLessThanOrEqual(1);
      await new Promise((r) => setTimeout(r, 50));
    }
    console.log(
      `cluster: ${acked.size} acknowledged, ${failed} refused (the killed node), leader ${leader.name} killed; ` +
        `a survivor led after ${takeoverMs} ms (lease TTL ${LEASE_TTL_MS} ms)`,
    );
    expect(takeoverMs).toBeGreaterThanOrEqual(0);
    expect(takeoverMs).toBeLessThan(20_000);
    // Writes on the survivors went on: at least their two thirds of the load.
    expect(acked.size).toBeGreaterThanOrEqual(Math.floor((TOTAL * 2) / 3));

    // The new leader signs a checkpoint covering everything acknowledged.
    const newLeader = (await leaders(survivors))[0]!;
    const max = Math.max(...acked.keys());
    let covered = 0;
    for (const deadline = Date.now() + 15_000; Date.now() < deadline && covered <= max;) {
      const r = await fetch(`${newLeader.base}/api/ledger/checkpoint`, {
        headers: { authorization: `Bearer ${token}` },
      });
      if (r.ok) covered = ((await r.json()) as { size: number }).size;
      if (covered <= max) await new Promise((r2) => setTimeout(r2, 100));
    }
    expect(
      covered,
      'a checkpoint signed after the takeover covers every acknowledged receipt',
    ).toBeGreaterThan(max);
    for (const n of survivors) n.child.kill('SIGTERM');
    await Promise.all(survivors.map((n) => n.exited));

    // Every acknowledged receipt is stored with its leaf hash, and the log verifies in full.
    const s = await openNodeStorage(dirs[1]!, resolveStorage(dirs[1]!), { readonly: true });
    try {
      const size = await s.size();
      expect(size).toBeGreaterThan(max);
      const stored = new Map(
        (await s.getEntries(0, size)).map((e) => [e.index, Buffer.from(e.leafHash).toString('hex')]),
      );
      const lost = [...acked].filter(([i, h]) => stored.get(i) !== h);
      expect(lost, 'acknowledged receipts lost or changed').toEqual([]);
    } finally {
      await s.close();
    }
    const v = await runVm(['audit', 'verify', '--full', '--json', '-d', dirs[2]!]);
    expect(v.code, v.stderr).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true });
  });
});

describe.skipIf(unavailable !== undefined)('a live run whose node dies', () => {
  it('is adopted by another node and completes from its journal, each step once', async () => {
    const dirs = ['r1', 'r2'].map((n) => join(work, n));
    const config = join(work, 'run-node.json');
    writeFileSync(
      config,
      JSON.stringify({
        logLevel: 'warn',
        checkpointIntervalMs: 500,
        cluster: { leaseTtlMs: LEASE_TTL_MS },
        control: { fourEyes: { default: true } },
      }),
    );
    const env = { VM_DATABASE_URL: TEST_DATABASE_URL, VM_DATABASE_SCHEMA: runSchema };
    expect((await runVm(['init', '-d', dirs[0]!, '--origin', 'cluster.test/runs'], { env })).code).toBe(0);
    const storer = readFileSync(join(dirs[0]!, 'keys', 'admin.token'), 'utf8').trim();
    const approver = JSON.parse(
      (
        await runVm([
          'token',
          'create',
          '-d',
          dirs[0]!,
          '--role',
          'admin',
          '--tenant',
          '*',
          '--name',
          'approver',
          '--json',
        ])
      ).stdout,
    ) as { token: string };
    mkdirSync(join(dirs[1]!, 'keys'), { recursive: true, mode: 0o700 });
    for (const f of ['keys/node.key', 'keys/node.key.pub', 'storage.json'])
      copyFileSync(join(dirs[0]!, f), join(dirs[1]!, f));
    const a = await up('r1', dirs[0]!, config);
    const b = await up('r2', dirs[1]!, config);
    const call = async (n: Node, path: string, body: unknown, token = storer) => {
      const r = await fetch(`${n.base}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await r.text();
      if (r.status >= 300) throw new Error(`${path}: ${r.status} ${text}`);
      return JSON.parse(text) as Record<string, unknown>;
    };
    const marks = join(work, 'marks.txt');
    const append = (what: string) => ({
      command: process.execPath,
      args: ['-e', `require('fs').appendFileSync(${JSON.stringify(marks)}, ${JSON.stringify(what + '\n')})`],
    });
    const plan = {
      v: 1,
      id: 'survive-1',
      goal: 'a run that outlives its node',
      target: { environment: 'lab', tenant: 'default' },
      phases: [
        {
          id: 'main',
          steps: [
            { id: 's1', action: 'shell', params: append('s1'), risk: 'low', reversible: false },
            { id: 's2', action: 'wait', params: { ms: 4000 }, risk: 'low', reversible: true, readOnly: true },
            { id: 's3', action: 'shell', params: append('s3'), risk: 'low', reversible: false },
          ],
        },
      ],
      preconditions: [],
      gates: [],
      createdBy: 'cluster-test',
      createdAt: new Date().toISOString(),
    };
    const stored = await call(a, '/api/plans', { plan });
    const planHash = stored.planHash as string;
    const dry = await call(a, '/api/agent/mcp/executor/run', {
      planId: 'survive-1',
      planHash,
      dryRun: true,
      wait: true,
    });
    expect(dry.state).toBe('succeeded');
    const approval = await call(
      a,
      '/api/approvals',
      { planId: 'survive-1', planHash, phaseId: 'main' },
      approver.token,
    );
    const started = await call(a, '/api/agent/mcp/executor/run', {
      planId: 'survive-1',
      planHash,
      dryRun: false,
      approvals: [approval.token],
    });
    const runId = started.runId as string;
    // Kill node r1 while it waits in s2 (s1 done).
    for (const deadline = Date.now() + 20_000; ;) {
      const r = await call(a, `/api/runs/${runId}`, undefined);
      const journal = (r.journal ?? []) as { stepId: string; state: string }[];
      if (journal.some((j) => j.stepId === 's2' && j.state === 'started')) break;
      if (Date.now() > deadline) throw new Error(`s2 never started: ${JSON.stringify(r)}`);
      await new Promise((res) => setTimeout(res, 50));
    }
    // A client follows the run on r2 (which does not drive it): its progress comes from the journal, and goes on
    // after r1 dies and r2 adopts the run.
    let stream = '';
    const sse = fetch(`${b.base}/api/runs/${runId}/events`, {
      headers: { authorization: `Bearer ${storer}` },
    }).then(async (r) => {
      expect(r.status).toBe(200);
      const reader = r.body!.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        stream += Buffer.from(value).toString();
      }
    });
    const killedAt = Date.now();
    a.child.kill('SIGKILL');
    await a.exited;
    // r2 (leader now, or already) adopts the run once its lease lapses and finishes it.
    let final: Record<string, unknown> = {};
    for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
      final = await call(b, `/api/runs/${runId}`, undefined);
      if ((final.run as { state: string }).state !== 'running') break;
      await new Promise((res) => setTimeout(res, 100));
    }
    console.log(
      `run ${runId}: ${(final.run as { state: string }).state} on r2 ${Date.now() - killedAt} ms after r1 was killed`,
    );
    expect(final.run).toMatchObject({ state: 'succeeded' });
    await sse;
    const events = stream
      .split('\n\n')
      .filter((block) => block.includes('data: '))
      .map(
        (block) =>
          JSON.parse(block.slice(block.indexOf('data: ') + 6)) as {
            type: string;
            stepId?: string;
            status?: string;
            state?: string;
          },
      );
    const finished = events.filter((e) => e.type === 'step-finished').map((e) => `${e.stepId}:${e.status}`);
    expect(finished).toEqual(expect.arrayContaining(['s1:succeeded', 's2:succeeded', 's3:succeeded']));
    expect(events.at(-1)).toMatchObject({ type: 'run-finished', state: 'succeeded' });
    // Each step ran once: s1 before the kill, s3 after, never twice.
    expect(existsSync(marks)).toBe(true);
    expect(readFileSync(marks, 'utf8')).toBe('s1\ns3\n');
    b.child.kill('SIGTERM');
    await b.exited;
    const v = await runVm(['audit', 'verify', '--full', '--json', '-d', dirs[1]!]);
    expect(v.code, v.stderr).toBe(0);
  });
});
