// End to end: `vm run` takes a job file through the executor (stored as a plan, dry-run, a live run held for a
// human approval, resumed with it), records the executor's plan and step receipts, and POSTs an RFC 9421-signed
// callback; `vm callback listen` (the real binary) verifies it, and a replay of the captured request is refused.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './helpers/net.ts';
import { CLEAN_ENV as ENV, ROOT, VM_BIN as VM, runVm } from './helpers/vm.ts';

/** Runs `vm <args>` to completion (never rejects on a non-zero exit). */
const vm = (args: string[], timeoutMs = 30_000) => runVm(args, { timeoutMs });

/** A running `vm callback listen --json`: its port, its JSON lines, and its exit. */
interface Listener {
  child: ChildProcess;
  port: number;
  lines: Record<string, unknown>[];
  /** Resolves with the line at `index` once it has been printed. */
  line(index: number): Promise<Record<string, unknown>>;
  exit: Promise<number | null>;
}

async function listen(args: string[]): Promise<Listener> {
  const child = spawn(process.execPath, [VM, 'callback', 'listen', '--json', ...args], {
    cwd: ROOT,
    env: ENV,
  });
  const lines: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  let buf = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
      buf = buf.slice(nl + 1);
      waiters.splice(0).forEach((w) => w());
    }
  });
  const exit = new Promise<number | null>((resolve) => child.on('close', resolve));
  const line = async (index: number) => {
    const deadline = Date.now() + 30_000;
    while (lines.length <= index) {
      if (child.exitCode !== null) throw new Error(`listener exited ${child.exitCode}: ${stderr}`);
      if (Date.now() > deadline) throw new Error(`no line ${index} from the listener: ${stderr}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 200);
      });
    }
    return lines[index]!;
  };
  const first = await line(0);
  const port = Number(new URL(first.listening as string).port);
  return { child, port, lines, line, exit };
}

interface RunJson {
  planId: string;
  planHash: string;
  runId: string;
  dryRun: boolean;
  status: string;
  state: string;
  tenant: string;
  hold?: { reason: string; message: string; stepId?: string };
  steps: {
    stepId: string;
    status: string;
    exitCode: number | null;
    receipt?: { index: number };
    error?: string;
  }[];
  receipts: { index: number; leafHash: string; kind: string; stepId?: string }[];
  callback: { url: string; status: number; attempts: number; keyid: string; alg: string } | null;
}

interface Item {
  index: number;
  leafHash: string;
  receipt: { kind: string; body: Record<string, unknown>; parents?: { index: number }[] };
}

/** A request as it crossed the wire. */
interface Captured {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Sends a captured request again, byte for byte (same Host, same signature), to another port. */
function resend(port: number, c: Captured, body = c.body): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: c.method,
        path: c.path,
        headers: { ...c.headers, 'content-length': body.length },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('vm run through the executor, and vm callback listen, end to end', () => {
  let work: string;
  let data: string;
  let origin: string;
  /** A node config that turns four eyes off for tenant default: the test is one OS user, storer and approver. */
  let oneUser: string;
  const children: ChildProcess[] = [];
  const servers: Server[] = [];

  const job = (name: string, doc: unknown) => {
    const file = join(work, name);
    writeFileSync(file, typeof doc === 'string' ? doc : JSON.stringify(doc, null, 2));
    return file;
  };
  const okJob = {
    id: 'deploy-42',
    goal: 'build and test the service',
    steps: [
      { name: 'build', run: [process.execPath, '-e', "console.log('built')"], timeoutMs: 10_000 },
      { name: 'test', run: [process.execPath, '-e', "console.error('2 passed')"], timeoutMs: 10_000 },
    ],
  };
  const listAll = async (): Promise<Item[]> => {
    const r = await vm(['memory', 'list', '-d', data, '--limit', '1000', '--json']);
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { items: Item[] }).items;
  };
  const runJson = (r: { stdout: string }) => JSON.parse(r.stdout) as RunJson;
  /** An approval of the job's phase `run` under this plan hash, issued by the one local user. */
  const approve = async (planId: string, planHash: string): Promise<string> => {
    const r = await vm([
      'approve',
      planId,
      '-d',
      data,
      '-c',
      oneUser,
      '--plan-hash',
      planHash,
      '--phase',
      'run',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { token: string }).token;
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'vm-callback-'));
    data = join(work, 'data');
    oneUser = job('one-user.json', { control: { fourEyes: { tenants: { default: false } } } });
    const init = await vm(['init', '-d', data, '--origin', 'test.vaultmesh.example/callbacks', '--json']);
    expect(init.code, init.stderr).toBe(0);
    origin = (JSON.parse(init.stdout) as { origin: string }).origin;
  });

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    for (const s of servers) s.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('refuses an invalid job file, and a destructive command, with exit 2 and records nothing', async () => {
    const bad = await vm(['run', job('bad.json', '{"id": "x", "steps": ['), '-d', data]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bad\.json: not valid JSON/);
    const unknown = await vm([
      'run',
      job('unknown.json', { id: 'x', steps: [{ name: 's', run: ['true'], shell: true }], owner: 'me' }),
      '-d',
      data,
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown field "owner"');
    expect(unknown.stderr).toContain('steps[0]: unknown field "shell"');
    const long = await vm(['run', job('long.json', { id: 'x'.repeat(129), steps: okJob.steps }), '-d', data]);
    expect(long.code).toBe(2);
    expect(long.stderr).toContain('"id" must be 1..128 characters');
    // What a step does decides: a destructive command is refused whoever wrote the job.
    const rm = await vm([
      'run',
      job('rm.json', { id: 'wipe', steps: [{ name: 'x', run: ['rm', '-rf', '/'] }] }),
      '-d',
      data,
    ]);
    expect(rm.code).toBe(2);
    expect(rm.stderr).toMatch(/destructive command refused/);
    expect(await listAll()).toEqual([]);
  });

  it('dry-runs, holds the live run for an approval (exit 6), and finishes it on --resume with the token', async () => {
    const listener = await listen(['-d', data]);
    children.push(listener.child);
    expect(listener.lines[0]).toMatchObject({ keyid: origin, alg: 'ed25519' });
    const url = `http://127.0.0.1:${listener.port}/hooks/vaultmesh`;
    const file = job('ok.json', okJob);

    const held = await vm(['run', file, '-d', data, '--callback', url, '--json']);
    expect(held.code, held.stderr).toBe(6);
    const first = runJson(held);
    expect(first).toMatchObject({ planId: 'deploy-42', dryRun: false, status: 'held', state: 'hold' });
    expect(first.hold).toMatchObject({ reason: 'approval-required', stepId: 'build' });
    expect(first.planHash).toMatch(/^[0-9a-f]{64}$/);
    // What the operator is told: the dry-run passed, the approval to ask for and how to go on.
    expect(held.stderr).toContain('✓ run/build succeeded');
    expect(held.stderr).toContain('⏸ run/build waits for an approval');
    expect(held.stderr).toContain(`vm approve deploy-42 --plan-hash ${first.planHash} --phase run`);
    expect(held.stderr).toContain(`vm run ${file} --resume ${first.runId} --approval <token>`);
    expect(held.stderr).toMatch(/four eyes/);
    expect(first.callback).toMatchObject({ url, status: 204, attempts: 1, keyid: origin, alg: 'ed25519' });
    expect(await listener.line(1)).toMatchObject({ status: 204, planId: 'deploy-42', planStatus: 'held' });

    // While the run waits, starting the job again is refused with the way forward.
    const again = await vm(['run', file, '-d', data]);
    expect(again.code).toBe(5);
    expect(again.stderr).toContain(`--resume ${first.runId} --approval <token>`);

    // Four eyes by default: whoever stored the plan (this OS user) may not approve it.
    const self = await vm([
      'approve',
      'deploy-42',
      '-d',
      data,
      '--plan-hash',
      first.planHash,
      '--phase',
      'run',
    ]);
    expect(self.code).toBe(4);
    expect(self.stderr).toMatch(/four-eyes/);
    // A token that is not an approval does not let it go on.
    const forged = await vm([
      'run',
      file,
      '-d',
      data,
      '--resume',
      first.runId,
      '--approval',
      'vmap_0.x',
      '--json',
    ]);
    expect(forged.code).toBe(6);

    const token = await approve('deploy-42', first.planHash);
    const done = await vm([
      'run',
      file,
      '-d',
      data,
      '--resume',
      first.runId,
      '--approval',
      token,
      '--callback',
      url,
      '--json',
    ]);
    expect(done.code, done.stderr).toBe(0);
    const out = runJson(done);
    expect(out).toMatchObject({
      planId: 'deploy-42',
      runId: first.runId,
      status: 'succeeded',
      state: 'succeeded',
    });
    expect(out.planHash).toBe(first.planHash);
    expect(out.steps.map((s) => [s.stepId, s.status, s.exitCode])).toEqual([
      ['build', 'succeeded', 0],
      ['test', 'succeeded', 0],
    ]);
    expect(await listener.line(2)).toMatchObject({
      status: 204,
      keyid: origin,
      planId: 'deploy-42',
      planStatus: 'succeeded',
      receipts: 3,
    });
    // The approval was single use: it cannot start another live run.
    const reuse = await vm(['run', file, '-d', data, '--approval', token, '--json']);
    expect(reuse.code).toBe(6);
    const cancelled = await vm([
      'mcp',
      'executor',
      'deploy-42',
      '-d',
      data,
      '--plan-hash',
      first.planHash,
      '--cancel',
      runJson(reuse).runId,
    ]);
    expect(cancelled.code, cancelled.stderr).toBe(0);

    // The executor's receipts: the plan, the dry-run's steps, the held step, and the live steps, each step chained
    // to the plan receipt, with the command's exit code and a digest of its output.
    const items = await listAll();
    const byIndex = new Map(items.map((i) => [i.index, i]));
    const plan = byIndex.get(out.receipts[0]!.index)!;
    expect(out.receipts[0]).toMatchObject({ kind: 'plan', leafHash: plan.leafHash });
    expect(plan.receipt).toMatchObject({
      kind: 'plan',
      body: {
        planId: 'deploy-42',
        planHash: out.planHash,
        goal: 'build and test the service',
        phases: ['run'],
      },
    });
    const build = byIndex.get(out.steps[0]!.receipt!.index)!;
    expect(build.receipt).toMatchObject({
      kind: 'step',
      body: {
        planId: 'deploy-42',
        runId: first.runId,
        stepId: 'build',
        action: 'shell',
        status: 'succeeded',
        exitCode: 0,
        dryRun: false,
      },
    });
    expect(build.receipt.parents?.[0]?.index).toBe(plan.index);
    expect(out.receipts.map((r) => r.kind)).toEqual(['plan', 'step', 'step']);
    const kinds = items
      .filter((i) => i.index > plan.index)
      .map((i) => [i.receipt.body.stepId, i.receipt.body.status]);
    expect(kinds).toEqual(
      expect.arrayContaining([
        ['build', 'succeeded'],
        ['build', 'denied'],
        ['test', 'succeeded'],
      ]),
    );
    listener.child.kill('SIGTERM');
    expect(await listener.exit).toBe(0);
  });

  it('reuses the stored plan for the same job file; a changed one replaces it, and earlier approvals go stale', async () => {
    const before = await listAll();
    const file = join(work, 'ok.json');
    const same = await vm(['run', file, '-d', data, '--dry-run', '--json']);
    expect(same.code, same.stderr).toBe(0);
    const dry = runJson(same);
    expect(dry).toMatchObject({ dryRun: true, status: 'succeeded' });
    const plans = (xs: Item[]) => xs.filter((i) => i.receipt.kind === 'plan').length;
    expect(plans(await listAll())).toBe(plans(before));
    // The approval must be issued under the hash the live run will run.
    const token = await approve('deploy-42', dry.planHash);
    const changed = job('ok.json', { ...okJob, goal: 'build, test and ship' });
    const r = await vm(['run', changed, '-d', data, '--approval', token, '--json']);
    expect(r.code).toBe(6);
    const out = runJson(r);
    expect(out.planHash).not.toBe(dry.planHash);
    expect(out.hold?.message).toMatch(/approval/);
    const after = await listAll();
    const replaced = after.filter((i) => i.receipt.kind === 'plan').at(-1)!;
    expect(replaced.receipt.body).toMatchObject({
      planId: 'deploy-42',
      planHash: out.planHash,
      replaces: dry.planHash,
    });
    // A run that is waiting is tied to its plan: resuming it with another job file is refused.
    job('ok.json', okJob);
    const other = await vm(['run', file, '-d', data, '--resume', out.runId]);
    expect(other.code).toBe(5);
    expect(other.stderr).toContain('is not the plan run');
    const cancel = await vm([
      'mcp',
      'executor',
      'deploy-42',
      '-d',
      data,
      '--plan-hash',
      out.planHash,
      '--cancel',
      out.runId,
    ]);
    expect(cancel.code, cancel.stderr).toBe(0);
    // Another tenant cannot take the job's id over.
    const tenant = await vm(['run', file, '-d', data, '--tenant', 'acme', '--dry-run']);
    expect(tenant.code).toBe(5);
    expect(tenant.stderr).toContain('stored for tenant default');
  });

  it('runs without an approval only what the node operator declared read-only, under a tier that allows reads', async () => {
    const status = [process.execPath, '-e', "console.log('status ok')"];
    const cfg = job('read-only.json', { control: { shell: { readOnlyCommands: [status] } } });
    const set = await vm([
      'autonomy',
      'set',
      '-d',
      data,
      '-t',
      'ops',
      '--tier',
      'T1',
      '-r',
      'reads run alone',
    ]);
    expect(set.code, set.stderr).toBe(0);
    const read = job('status.json', { id: 'status-1', steps: [{ name: 'status', run: status }] });
    const r = await vm(['run', read, '-d', data, '-c', cfg, '--tenant', 'ops', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(runJson(r)).toMatchObject({ dryRun: false, status: 'succeeded', tenant: 'ops' });
    // The same command line with one argument more is a write again: it waits for a human.
    const write = job('status-2.json', {
      id: 'status-2',
      steps: [{ name: 'status', run: [...status, 'x'] }],
    });
    const w = await vm(['run', write, '-d', data, '-c', cfg, '--tenant', 'ops', '--json']);
    expect(w.code).toBe(6);
    // Without the operator's declaration, the read-only command is a write too.
    const other = job('status-3.json', { id: 'status-3', steps: [{ name: 'status', run: status }] });
    expect((await vm(['run', other, '-d', data, '--tenant', 'ops'])).code).toBe(6);
  });

  it('a replay of the captured callback gets 401, as does a tampered body', async () => {
    // A capturing relay between `vm run` and the listener: it keeps the request and forwards it unchanged.
    const relayPort = await freePort();
    const listener = await listen(['-d', data, '--authority', `127.0.0.1:${relayPort}`]);
    children.push(listener.child);
    let captured: Captured | undefined;
    const relay = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        captured = { method: req.method!, path: req.url!, headers: req.headers, body: Buffer.concat(chunks) };
        void resend(listener.port, captured).then((r) => res.writeHead(r.status).end(r.body));
      });
    });
    servers.push(relay);
    await new Promise<void>((r) => relay.listen(relayPort, '127.0.0.1', r));

    const url = `http://127.0.0.1:${relayPort}/hooks/vaultmesh`;
    const r = await vm(['run', join(work, 'ok.json'), '-d', data, '--dry-run', '--callback', url, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(runJson(r).callback?.status).toBe(204);
    expect(await listener.line(1)).toMatchObject({ status: 204, keyid: origin });
    expect(captured!.headers['signature-input']).toMatch(
      /^sig1=\("@method" "@target-uri" "content-digest" "content-type"\);created=\d+;expires=\d+;keyid="[^"]+";nonce="[^"]+"$/,
    );

    const replay = await resend(listener.port, captured!);
    expect(replay.status).toBe(401);
    expect(JSON.parse(replay.body)).toMatchObject({ status: 401, code: 'SIGNATURE_REPLAY' });
    expect(await listener.line(2)).toMatchObject({ status: 401, code: 'SIGNATURE_REPLAY' });

    const body = Buffer.from(captured!.body.toString().replace('"succeeded"', '"failed"'));
    const tampered = await resend(listener.port, captured!, body);
    expect(tampered.status).toBe(401);
    expect(JSON.parse(tampered.body)).toMatchObject({ code: 'DIGEST_MISMATCH' });

    // Sent straight to the listener, the callback signed for the relay's authority is refused too.
    const misdirected = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: listener.port,
          method: 'POST',
          path: captured!.path,
          headers: { ...captured!.headers, host: `127.0.0.1:${listener.port}` },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end(captured!.body);
    });
    expect(misdirected).toBe(401);
    listener.child.kill('SIGTERM');
    expect(await listener.exit).toBe(0);

    // The listener restarts (on the same port, so the signed authority still matches): the captured callback
    // is still within its signature's validity, and its nonce was kept on disk, so the replay is refused.
    const again = await listen([
      '-d',
      data,
      '--authority',
      `127.0.0.1:${relayPort}`,
      '--port',
      String(listener.port),
    ]);
    children.push(again.child);
    const afterRestart = await resend(again.port, captured!);
    expect(afterRestart.status).toBe(401);
    expect(JSON.parse(afterRestart.body)).toMatchObject({ code: 'SIGNATURE_REPLAY' });
    again.child.kill('SIGTERM');
    expect(await again.exit).toBe(0);
  });

  it('signs with an HMAC key file under keyid hmac:<file name>', async () => {
    const keyFile = join(work, 'callback.secret');
    writeFileSync(keyFile, 'a8f2c0d9e1b7465f9a3c2e8d7b6a5f4e3d2c1b0a9f8e7d6c\n', { mode: 0o600 });
    const listener = await listen(['--hmac-key-file', keyFile, '--once']);
    children.push(listener.child);
    expect(listener.lines[0]).toMatchObject({ keyid: 'hmac:callback.secret', alg: 'hmac-sha256' });
    const url = `http://127.0.0.1:${listener.port}/`;
    const r = await vm([
      'run',
      join(work, 'ok.json'),
      '-d',
      data,
      '--dry-run',
      '--callback',
      url,
      '--hmac-key-file',
      keyFile,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(runJson(r).callback).toMatchObject({ status: 204, keyid: 'hmac:callback.secret' });
    expect(await listener.line(1)).toMatchObject({ status: 204, keyid: 'hmac:callback.secret' });
    expect(await listener.exit).toBe(0);
  });

  it('a failing live step stops the run (exit 1), the later steps never run, and the callback says failed', async () => {
    const listener = await listen(['-d', data, '--once']);
    children.push(listener.child);
    const failing = job('fail.json', {
      id: 'deploy-43',
      steps: [
        { name: 'check', run: [process.execPath, '-e', 'process.exit(3)'] },
        { name: 'ship', run: [process.execPath, '-e', "console.log('never')"] },
      ],
    });
    // The dry-run stores the plan and proves the commands exist; the approval is then issued for that hash.
    const dry = await vm(['run', failing, '-d', data, '--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    const token = await approve('deploy-43', runJson(dry).planHash);
    const r = await vm([
      'run',
      failing,
      '-d',
      data,
      '--approval',
      token,
      '--callback',
      `http://127.0.0.1:${listener.port}/`,
      '--json',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/plan deploy-43 \(run [^)]+\) failed: step-failed/);
    const out = runJson(r);
    expect(out.status).toBe('failed');
    expect(out.steps.map((s) => [s.stepId, s.status, s.exitCode])).toEqual([
      ['check', 'failed', 3],
      ['ship', 'not-run', null],
    ]);
    expect(await listener.line(1)).toMatchObject({ status: 204, planId: 'deploy-43', planStatus: 'failed' });
    expect(await listener.exit).toBe(0);
  });

  it('a command that cannot run fails the dry-run (exit 1) before anything live', async () => {
    const missing = job('missing.json', {
      id: 'deploy-44',
      steps: [{ name: 'go', run: ['no-such-command-here'] }],
    });
    const r = await vm(['run', missing, '-d', data, '--json']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the dry-run of plan deploy-44/);
    const out = runJson(r);
    expect(out).toMatchObject({ dryRun: true, status: 'failed' });
    expect(out.steps[0]).toMatchObject({ stepId: 'go', status: 'failed' });
    expect(out.steps[0]!.error).toMatch(/not found or not executable/);
  });

  it('exits 1 when the callback cannot be delivered after retrying; the receipts stay recorded', async () => {
    const closed = await freePort();
    const r = await vm([
      'run',
      join(work, 'ok.json'),
      '-d',
      data,
      '--dry-run',
      '--callback',
      `http://127.0.0.1:${closed}/`,
      '--retries',
      '2',
      '--retry-delay',
      '10',
      '--json',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/callback attempt 1 to .* failed: ECONNREFUSED/);
    expect(r.stderr).toMatch(
      /callback to .* failed after 3 attempt\(s\): ECONNREFUSED \(the receipts stay recorded\)/,
    );
    // The dry-run's step receipts are in the log all the same.
    const out = runJson(r);
    expect(out.callback).toMatchObject({ status: null, attempts: 3, error: 'ECONNREFUSED' });
    const step = (await listAll()).filter(
      (i) => i.receipt.kind === 'step' && i.receipt.body.runId === out.runId,
    );
    expect(step.map((i) => i.index)).toEqual(out.steps.map((x) => x.receipt!.index));
  });
});
