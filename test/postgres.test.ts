// End to end on PostgreSQL: `vm init` and `vm up` with VM_DATABASE_URL, receipts over HTTP, `vm audit verify --full`
// and tamper detection on the database, a second node of the same log (a copy of the key and storage.json) serving
// reads and writes on the same database, `vm storage status|migrate`, and clear errors for a database that cannot
// be reached or a data directory bound elsewhere.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import {
  dropSchemas,
  freshSchema,
  postgresUnavailable,
  TEST_DATABASE_URL,
} from '@vaultmesh/store-postgres/testing';
import { freePort } from './helpers/net.ts';
import { CLEAN_ENV, ROOT, runVm, VM_BIN } from './helpers/vm.ts';

const unavailable = await postgresUnavailable();
if (unavailable) console.warn(`SKIPPED: the PostgreSQL end-to-end test: ${unavailable}`);

const work = mkdtempSync(join(tmpdir(), 'vm-pg-'));
const schema = freshSchema('vmpg');
const copySchema = freshSchema('vmcopy');
const env = { VM_DATABASE_URL: TEST_DATABASE_URL, VM_DATABASE_SCHEMA: schema };
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
  if (!unavailable) await dropSchemas([schema, copySchema]);
});

/** Starts `vm up` on a free port and waits until it is healthy. */
async function up(
  data: string,
  extraEnv: Record<string, string> = {},
): Promise<{ child: ChildProcess; base: string }> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [VM_BIN, 'up', '-d', data, '--port', String(port), '--log-level', 'warn'],
    {
      cwd: ROOT,
      env: { ...CLEAN_ENV, ...extraEnv },
    },
  );
  children.push(child);
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`vm up exited ${child.exitCode}: ${log}`);
    if ((await fetch(`${base}/api/system/health`).catch(() => undefined))?.ok) return { child, base };
    if (Date.now() > deadline) throw new Error(`vm up did not become healthy: ${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const stop = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });

describe.skipIf(unavailable !== undefined)('a node on PostgreSQL', () => {
  const n1 = join(work, 'n1');
  const n2 = join(work, 'n2');
  let token = '';
  const post = (base: string, n: number) =>
    fetch(`${base}/api/ledger/receipts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        kind: 'deploy',
        tenant: 'default',
        body: { service: 'api', version: `1.0.${n}`, environment: 'staging' },
      }),
    });

  it('vm init binds the data directory to the database (storage.json, no password) and refuses a second log there', async () => {
    const r = await runVm(['init', '-d', n1, '--origin', 'pg.test/log', '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(n1, 'ledger.db'))).toBe(false);
    expect(JSON.parse(readFileSync(join(n1, 'storage.json'), 'utf8'))).toEqual({
      driver: 'postgres',
      url: TEST_DATABASE_URL,
      schema,
    });
    token = readFileSync(join(n1, 'keys', 'admin.token'), 'utf8').trim();
    const again = await runVm(['init', '-d', join(work, 'other'), '--origin', 'pg.test/other'], { env });
    expect(again.code).toBe(5);
    expect(again.stderr).toMatch(/already holds the log pg\.test\/log; to run another node of it, copy/);
  });

  it('vm up serves receipts from PostgreSQL, and vm audit verify --full passes', async () => {
    // No VM_DATABASE_URL now: the data directory names its database.
    const { child, base } = await up(n1);
    for (let i = 0; i < 20; i++) {
      const r = await post(base, i);
      expect(r.status, await r.text()).toBe(201);
    }
    const cp = await fetch(`${base}/api/ledger/receipts?wait=checkpoint`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        kind: 'deploy',
        tenant: 'default',
        body: { service: 'api', version: '2.0.0', environment: 'staging' },
      }),
    });
    expect(cp.status).toBe(201);
    await stop(child);
    const v = await runVm(['audit', 'verify', '--full', '--json', '-d', n1]);
    expect(v.code, v.stderr).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, size: 21 });
    const status = await runVm(['storage', 'status', '-d', n1, '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ driver: 'postgres', size: 21, origin: 'pg.test/log' });
  });

  it('a second node of the same log (its key and storage.json copied) reads and writes the same ledger', async () => {
    mkdirSync(join(n2, 'keys'), { recursive: true, mode: 0o700 });
    for (const f of ['keys/node.key', 'keys/node.key.pub', 'storage.json'])
      copyFileSync(join(n1, f), join(n2, f));
    const a = await up(n1);
    const b = await up(n2);
    const writes = await Promise.all(
      Array.from({ length: 30 }, (_, i) => post(i % 2 ? a.base : b.base, 100 + i).then((r) => r.status)),
    );
    expect(writes.every((s) => s === 201)).toBe(true);
    const got = await fetch(`${b.base}/api/ledger/receipts/0`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(got.status).toBe(200);
    await Promise.all([stop(a.child), stop(b.child)]);
    const v = await runVm(['audit', 'verify', '--full', '--json', '-d', n2]);
    expect(v.code, v.stderr).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, size: 51 });
  });

  it('detects a byte changed in the database and names the entry', async () => {
    const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await c.connect();
    try {
      await c.query(
        `UPDATE ${schema}.entries SET bytes = overlay(bytes placing '\\x41'::bytea from 30 for 1) WHERE idx = 7`,
      );
    } finally {
      await c.end();
    }
    const v = await runVm(['audit', 'verify', '--full', '--json', '-d', n1]);
    expect(v.code).toBe(1);
    const report = JSON.parse(v.stdout) as { ok: boolean; problems: { index?: number; field: string }[] };
    expect(report.ok).toBe(false);
    expect(report.problems).toContainEqual(expect.objectContaining({ index: 7, field: 'leaf_hash' }));
  });

  it('vm storage migrate reports the schema current; SQLite and unreachable databases are clear errors', async () => {
    const m = await runVm(['storage', 'migrate', '-d', n1, '--json']);
    expect(m.code, m.stderr).toBe(0);
    expect(JSON.parse(m.stdout)).toMatchObject({ schema, applied: [] });
    const sqlite = await runVm(['storage', 'migrate', '-d', join(work, 'none')]);
    expect(sqlite.code).toBe(2);
    expect(sqlite.stderr).toMatch(/uses SQLite/);
    const down = await runVm(['init', '-d', join(work, 'down')], {
      env: { VM_DATABASE_URL: 'postgres://vm:s3cret@127.0.0.1:1/test' },
    });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot open the PostgreSQL database vm@127\.0\.0\.1:1\/test/);
    expect(down.stderr).not.toContain('s3cret');
    // A data directory bound to one database is not silently opened on another.
    const other = await runVm(['memory', 'list', '-d', n1], {
      env: { VM_DATABASE_URL: TEST_DATABASE_URL, VM_DATABASE_SCHEMA: 'someone_else' },
    });
    expect(other.code).toBe(5);
    expect(other.stderr).toMatch(/is bound to PostgreSQL/);
  });

  it('vm storage copy moves a SQLite ledger into PostgreSQL, resumes, proves the copy and binds the directory', async () => {
    const lite = join(work, 'lite');
    expect((await runVm(['init', '-d', lite, '--origin', 'lite.test/log'])).code).toBe(0);
    const record = async (n: number) => {
      for (let i = 0; i < n; i++)
        expect((await runVm(['memory', 'record', `decision ${i}`, '-r', 'why', '-d', lite])).code).toBe(0);
      expect((await runVm(['checkpoint', '-d', lite])).code).toBe(0);
    };
    await record(5);
    expect(
      (await runVm(['autonomy', 'set', '-d', lite, '-t', 'ops', '--tier', 'T1', '-r', 'reads alone'])).code,
    ).toBe(0);
    const to = ['--to', TEST_DATABASE_URL, '--schema', copySchema];
    const first = await runVm(['storage', 'copy', '-d', lite, ...to, '--no-bind', '--json']);
    expect(first.code, first.stderr).toBe(0);
    const a = JSON.parse(first.stdout) as {
      size: number;
      resumedAt: number;
      bound: boolean;
      copied: { rows: number; tokens: number };
      verify: { ok: boolean; root: string };
      sourceRoot: string;
    };
    expect(a).toMatchObject({ size: 6, resumedAt: 0, bound: false, verify: { ok: true } });
    expect(a.verify.root).toBe(a.sourceRoot);
    expect(a.copied.rows).toBeGreaterThan(0);
    expect(a.copied.tokens).toBe(1);
    expect(first.stderr).toMatch(/copy entries: 6\/6/);
    // The directory still uses SQLite; more is recorded there; a second copy resumes where the first ended.
    expect(existsSync(join(lite, 'storage.json'))).toBe(false);
    await record(3);
    const second = await runVm(['storage', 'copy', '-d', lite, ...to, '--json']);
    expect(second.code, second.stderr).toBe(0);
    const b = JSON.parse(second.stdout) as typeof a;
    expect(b).toMatchObject({ size: 9, resumedAt: 6, bound: true, verify: { ok: true } });
    expect(b.verify.root).toBe(b.sourceRoot);
    // Bound: every command now reads PostgreSQL, the control plane's documents included.
    const status = JSON.parse((await runVm(['storage', 'status', '-d', lite, '--json'])).stdout) as {
      driver: string;
      size: number;
    };
    expect(status).toMatchObject({ driver: 'postgres', size: 9 });
    const tier = await runVm(['autonomy', 'status', '-d', lite, '-t', 'ops', '--json']);
    expect(tier.code, tier.stderr).toBe(0);
    expect(tier.stdout).toContain('T1');
    // A schema that holds another log is refused; so is copying a directory already bound.
    const again = await runVm(['storage', 'copy', '-d', lite, ...to]);
    expect(again.code).toBe(5);
    const other = join(work, 'other-lite');
    expect((await runVm(['init', '-d', other, '--origin', 'other.test/log'])).code).toBe(0);
    const clash = await runVm(['storage', 'copy', '-d', other, ...to]);
    expect(clash.code).toBe(5);
    expect(clash.stderr).toMatch(/holds another log \(lite\.test\/log\)/);
  });
});
