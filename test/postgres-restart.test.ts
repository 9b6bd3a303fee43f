// PostgreSQL restarting under load: a private server (Debian's binaries, a temp directory, a free port) is stopped
// immediately (as in a crash) while a node takes writes. Meanwhile writes get 503 UNAVAILABLE with a clear message;
// once the server is back the node recovers by itself, and every acknowledged receipt is there and verifies.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openNodeStorage, resolveStorage } from '@vaultmesh/node';
import { freePort } from './helpers/net.ts';
import { CLEAN_ENV, ROOT, runVm, VM_BIN } from './helpers/vm.ts';

const pgRoot = '/usr/lib/postgresql';
const bin = existsSync(pgRoot)
  ? readdirSync(pgRoot)
      .map((v) => join(pgRoot, v, 'bin'))
      .filter((b) => existsSync(join(b, 'initdb')))
      .sort()
      .pop()
  : undefined;
const isRoot = process.getuid?.() === 0;
const runuser = '/usr/sbin/runuser';
const why = !bin
  ? `no PostgreSQL server binaries under ${pgRoot} (Debian package postgresql)`
  : isRoot && !existsSync(runuser)
    ? 'running as root without runuser (PostgreSQL refuses to run as root)'
    : undefined;
if (why) console.warn(`SKIPPED: the PostgreSQL restart test: ${why}`);

const work = mkdtempSync(join(tmpdir(), 'vm-pgrestart-'));
const children: ChildProcess[] = [];
let pgData = '';
/** Runs a server binary, as the postgres user when we are root. */
const pgRun = (tool: string, args: string[]) => {
  const cmd = join(bin!, tool);
  const r = isRoot
    ? spawnSync(runuser, ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8' })
    : spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${tool} ${args.join(' ')} failed: ${r.stderr}${r.stdout}`);
};
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  if (pgData && existsSync(join(pgData, 'postmaster.pid'))) {
    try {
      pgRun('pg_ctl', ['-D', pgData, '-m', 'immediate', 'stop']);
    } catch {
      // already stopped
    }
  }
  rmSync(work, { recursive: true, force: true });
});

describe.skipIf(why !== undefined)('PostgreSQL restarting under load', () => {
  it('writes get 503 while it is down, the node recovers by itself, nothing acknowledged is lost', async () => {
    const pgDir = join(work, 'pg');
    spawnSync('mkdir', ['-p', pgDir]);
    if (isRoot) {
      chmodSync(work, 0o755); // the postgres user must reach its directory inside
      const pw = readFileSync('/etc/passwd', 'utf8')
        .split('\n')
        .find((l) => l.startsWith('postgres:'))!
        .split(':');
      chownSync(pgDir, Number(pw[2]), Number(pw[3]));
    }
    pgData = join(pgDir, 'data');
    pgRun('initdb', ['-D', pgData, '-A', 'trust', '-U', 'postgres', '--no-sync']);
    const port = await freePort();
    const start = () =>
      pgRun('pg_ctl', [
        '-D',
        pgData,
        '-w',
        '-l',
        join(pgDir, 'log'),
        '-o',
        `-p ${port} -k ${pgDir} -c listen_addresses=127.0.0.1`,
        'start',
      ]);
    start();
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const data = join(work, 'node');
    const init = await runVm(['init', '-d', data, '--origin', 'restart.test/log'], {
      env: { VM_DATABASE_URL: url },
    });
    expect(init.code, init.stderr).toBe(0);
    const token = readFileSync(join(data, 'keys', 'admin.token'), 'utf8').trim();
    const apiPort = await freePort();
    const child = spawn(
      process.execPath,
      [VM_BIN, 'up', '-d', data, '--port', String(apiPort), '--log-level', 'silent'],
      {
        cwd: ROOT,
        env: CLEAN_ENV,
      },
    );
    children.push(child);
    const base = `http://127.0.0.1:${apiPort}`;
    for (const deadline = Date.now() + 30_000; ;) {
      if ((await fetch(`${base}/api/system/health`).catch(() => undefined))?.ok) break;
      if (Date.now() > deadline || child.exitCode !== null) throw new Error('vm up did not become healthy');
      await new Promise((r) => setTimeout(r, 100));
    }

    let crashed = false;
    let nodeLog = '';
    child.stderr!.on('data', (d: Buffer) => (nodeLog += d.toString()));
    child.once('exit', () => (crashed = true));
    const acked = new Map<number, string>();
    const unavailable: { code?: string; detail?: string }[] = [];
    let phase: 'before' | 'down' | 'after' = 'before';
    let afterRestart = 0;
    let n = 0;
    const writer = async () => {
      for (const deadline = Date.now() + 60_000; Date.now() < deadline && afterRestart < 30;) {
        const r = await fetch(`${base}/api/ledger/receipts`, {
          signal: AbortSignal.timeout(20_000),
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            kind: 'deploy',
            tenant: 'default',
            body: { service: 'api', version: `1.0.${n++}`, environment: 'prod' },
          }),
        });
        if (r.status === 201) {
          const b = (await r.json()) as { index: number; leafHash: string };
          acked.set(b.index, b.leafHash);
          if (phase === 'after') afterRestart++;
        } else {
          expect(r.status, 'only 503 while the database is down').toBe(503);
          unavailable.push((await r.json()) as { code?: string; detail?: string });
          await new Promise((res) => setTimeout(res, 50));
        }
      }
    };
    const writers = Promise.all([writer(), writer(), writer()]).catch((e: unknown) => {
      throw new Error(
        `${(e as Error).message}; the node ${crashed ? 'exited' : 'runs'}: ${nodeLog.slice(-2000)}`,
      );
    });
    while (acked.size < 30) await new Promise((r) => setTimeout(r, 20));
    pgRun('pg_ctl', ['-D', pgData, '-m', 'immediate', 'stop']);
    phase = 'down';
    // Down long enough for every background loop of the node (leader lease, anchor scheduler, federation round,
    // checkpoint tick) to meet the outage at least once.
    const downAt = Date.now();
    while ((unavailable.length < 3 || Date.now() - downAt < 2500) && !crashed)
      await new Promise((r) => setTimeout(r, 20));
    start();
    phase = 'after';
    await writers;
    expect(crashed, `the node exited: ${nodeLog.slice(-2000)}`).toBe(false);
    expect(afterRestart, 'the node took writes again by itself').toBeGreaterThanOrEqual(30);
    expect(unavailable[0]).toMatchObject({ code: 'UNAVAILABLE' });
    expect(unavailable[0]!.detail).toMatch(/database cannot be reached right now; retry shortly/);
    expect(JSON.stringify(unavailable)).not.toContain(String(port));
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));

    const s = await openNodeStorage(data, resolveStorage(data), { readonly: true });
    try {
      const size = await s.size();
      const stored = new Map(
        (await s.getEntries(0, size)).map((e) => [e.index, Buffer.from(e.leafHash).toString('hex')]),
      );
      expect(
        [...acked].filter(([i, h]) => stored.get(i) !== h),
        'acknowledged receipts lost',
      ).toEqual([]);
    } finally {
      await s.close();
    }
    const v = await runVm(['audit', 'verify', '--full', '--json', '-d', data]);
    expect(v.code, v.stderr).toBe(0);
    console.log(
      `postgres restart: ${acked.size} acknowledged (${afterRestart} after the restart), ${unavailable.length} answered 503 while it was down`,
    );
  });
});
