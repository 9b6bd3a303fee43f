// End to end: `vm run` executes a job file, records plan and step receipts, and POSTs an RFC 9421-signed callback;
// `vm callback listen` (the real binary) verifies it, and a replay of the captured request is refused.
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
  status: string;
  steps: { stepId: string; status: string; exitCode: number | null }[];
  receipts: { index: number; leafHash: string; kind: string }[];
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

describe('vm run and vm callback listen end to end', () => {
  let work: string;
  let data: string;
  let origin: string;
  const children: ChildProcess[] = [];
  const servers: Server[] = [];

  const plan = (name: string, doc: unknown) => {
    const file = join(work, name);
    writeFileSync(file, typeof doc === 'string' ? doc : JSON.stringify(doc, null, 2));
    return file;
  };
  const okPlan = {
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

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'vm-callback-'));
    data = join(work, 'data');
    const init = await vm(['init', '-d', data, '--origin', 'test.vaultmesh.example/callbacks', '--json']);
    expect(init.code, init.stderr).toBe(0);
    origin = (JSON.parse(init.stdout) as { origin: string }).origin;
  });

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    for (const s of servers) s.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('refuses an invalid job file with exit 2 and records nothing', async () => {
    const bad = await vm(['run', plan('bad.json', '{"id": "x", "steps": ['), '-d', data]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bad\.json: not valid JSON/);
    const unknown = await vm([
      'run',
      plan('unknown.json', { id: 'x', steps: [{ name: 's', run: ['true'], shell: true }], owner: 'me' }),
      '-d',
      data,
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown field "owner"');
    expect(unknown.stderr).toContain('steps[0]: unknown field "shell"');
    expect(await listAll()).toEqual([]);
  });

  it('runs the steps, records the receipts, and a `listen --once` receiver accepts the signed callback', async () => {
    const listener = await listen(['-d', data, '--once']);
    children.push(listener.child);
    expect(listener.lines[0]).toMatchObject({ keyid: origin, alg: 'ed25519' });

    const url = `http://127.0.0.1:${listener.port}/hooks/vaultmesh`;
    const r = await vm(['run', plan('ok.json', okPlan), '-d', data, '--callback', url, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as RunJson;
    expect(out).toMatchObject({ planId: 'deploy-42', status: 'succeeded' });
    expect(out.planHash).toMatch(/^[0-9a-f]{64}$/);
    expect(out.steps.map((s) => [s.stepId, s.status, s.exitCode])).toEqual([
      ['build', 'succeeded', 0],
      ['test', 'succeeded', 0],
    ]);
    expect(out.callback).toMatchObject({ url, status: 204, attempts: 1, keyid: origin, alg: 'ed25519' });

    // The listener printed its verdict and, with --once, exited 0 after that first valid callback.
    expect(await listener.line(1)).toMatchObject({
      status: 204,
      method: 'POST',
      path: '/hooks/vaultmesh',
      keyid: origin,
      planId: 'deploy-42',
      planStatus: 'succeeded',
      receipts: 3,
    });
    expect(await listener.exit).toBe(0);

    // One plan receipt and one step receipt per step, the steps pointing at the plan.
    const items = await listAll();
    expect(items.map((i) => i.receipt.kind)).toEqual(['plan', 'step', 'step']);
    expect(items.map((i) => ({ index: i.index, leafHash: i.leafHash }))).toEqual(
      out.receipts.map((x) => ({ index: x.index, leafHash: x.leafHash })),
    );
    expect(items[0]!.receipt.body).toEqual({
      planId: 'deploy-42',
      planHash: out.planHash,
      goal: 'build and test the service',
      steps: 2,
    });
    expect(items[1]!.receipt.body).toMatchObject({
      planId: 'deploy-42',
      stepId: 'build',
      action: expect.stringContaining("console.log('built')"),
      status: 'succeeded',
      exitCode: 0,
      stdoutSha256: '56f6e6304d02d413bb7d5d463ac5cdc58551266dc7269b467fc385815f39b913', // sha256("built\n")
      stdoutBytes: 6,
    });
    expect(items[2]!.receipt.parents?.[0]?.index).toBe(items[0]!.index);
  });

  it('is deterministic: the same file gives the same planHash and the same step bodies', async () => {
    const before = await listAll();
    const r = await vm(['run', join(work, 'ok.json'), '-d', data, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const after = (await listAll()).slice(before.length);
    expect(after.map((i) => i.receipt.body)).toEqual(before.slice(0, 3).map((i) => i.receipt.body));
    expect((JSON.parse(r.stdout) as RunJson).callback).toBeNull();
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
    const r = await vm(['run', join(work, 'ok.json'), '-d', data, '--callback', url, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as RunJson).callback?.status).toBe(204);
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
      '--callback',
      url,
      '--hmac-key-file',
      keyFile,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as RunJson).callback).toMatchObject({
      status: 204,
      keyid: 'hmac:callback.secret',
    });
    expect(await listener.line(1)).toMatchObject({ status: 204, keyid: 'hmac:callback.secret' });
    expect(await listener.exit).toBe(0);
  });

  it('stops at the first failing step, exits 1, and still records and reports everything', async () => {
    const listener = await listen(['-d', data, '--once']);
    children.push(listener.child);
    const failing = plan('fail.json', {
      id: 'deploy-43',
      steps: [
        { name: 'check', run: [process.execPath, '-e', 'process.exit(3)'] },
        { name: 'ship', run: [process.execPath, '-e', "console.log('never')"] },
      ],
    });
    const r = await vm([
      'run',
      failing,
      '-d',
      data,
      '--callback',
      `http://127.0.0.1:${listener.port}/`,
      '--json',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('plan deploy-43 failed');
    const out = JSON.parse(r.stdout) as RunJson;
    expect(out.steps.map((s) => [s.stepId, s.status, s.exitCode])).toEqual([
      ['check', 'failed', 3],
      ['ship', 'skipped', null],
    ]);
    expect(await listener.line(1)).toMatchObject({ status: 204, planId: 'deploy-43', planStatus: 'failed' });
    expect(await listener.exit).toBe(0);
  });

  it('exits 1 when the callback cannot be delivered after retrying; the receipts stay recorded', async () => {
    const before = (await listAll()).length;
    const closed = await freePort();
    const r = await vm([
      'run',
      join(work, 'ok.json'),
      '-d',
      data,
      '--callback',
      `http://127.0.0.1:${closed}/`,
      '--retries',
      '2',
      '--retry-delay',
      '10',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/callback attempt 1 to .* failed: ECONNREFUSED/);
    expect(r.stderr).toMatch(
      /callback to .* failed after 3 attempt\(s\): ECONNREFUSED \(the receipts stay recorded\)/,
    );
    expect((await listAll()).length).toBe(before + 3);
  });
});
