// The `service` template for real: generated, its own `npm install && npm test` (with PostgreSQL for --db
// postgres), built, migrated, started as a process, probed (health, readiness, metrics, its routes), its deploy
// recorded on a real VaultMesh node by the client it ships, and stopped with SIGTERM.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createToken } from '@vaultmesh/auth';
import { loadConfig, startNode, type RunningNode } from '@vaultmesh/node';
import { postgresUnavailable, TEST_DATABASE_URL } from '@vaultmesh/store-postgres/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate, npmInstall, sh, startProject, type Project } from './helpers/spawn-project.ts';

const unavailable = await postgresUnavailable();
if (unavailable) console.warn(`SKIPPED: the generated service with --db postgres: ${unavailable}`);

const root = mkdtempSync(join(tmpdir(), 'vm-spawn-service-'));
const database = `spawn_${process.pid}_${Date.now().toString(36)}`;
let node: RunningNode;
let token: string;

/** TEST_DATABASE_URL with another database name. */
function databaseUrl(name: string): string {
  const u = new URL(TEST_DATABASE_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  writeFileSync(
    join(root, 'vaultmesh.json'),
    JSON.stringify({ port: 0, dataDir: join(root, 'node'), logLevel: 'silent' }),
  );
  node = await startNode(loadConfig({ configFile: join(root, 'vaultmesh.json') }));
  token = (await createToken(node.node.storage, { name: 'ci', role: 'operator', tenant: 'acme' })).token;
  if (!unavailable) await admin(`CREATE DATABASE ${database}`);
}, 60_000);

afterAll(async () => {
  await node?.stop();
  if (!unavailable) await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
});

/** Install, test, build: each must succeed, with its output in the failure message. */
async function installTestBuild(p: Project, env: Record<string, string> = {}): Promise<void> {
  const install = await npmInstall(p.dir);
  expect(install.code, install.output).toBe(0);
  const test = await sh('npm', ['test'], { cwd: p.dir, env });
  expect(test.code, test.output).toBe(0);
  expect(test.output).toMatch(/Tests\s+\d+ passed/);
  const build = await sh('npm', ['run', 'build'], { cwd: p.dir });
  expect(build.code, build.output).toBe(0);
  return;
}

describe('spawn service', () => {
  it('passes its own npm test, serves health, readiness and metrics, records its deploy and drains on SIGTERM', async () => {
    const p = generate(root, 'service', 'pay');
    await installTestBuild(p);
    const s = await startProject(p.dir);
    try {
      expect(await (await fetch(`${s.url}/healthz`)).json()).toEqual({ status: 'ok' });
      expect(await (await fetch(`${s.url}/api/v1/hello?name=VaultMesh`)).json()).toEqual({
        message: 'Hello, VaultMesh!',
      });
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      expect(metrics).toMatch(/http_requests_total\{[^}]*route="\/api\/v1\/hello"[^}]*\} 1/);
      expect(metrics).toContain('nodejs_heap_size_used_bytes');
      // Logs are JSON lines.
      const line = s
        .output()
        .split('\n')
        .find((l) => l.includes('"msg"'));
      expect(() => JSON.parse(line!)).not.toThrow();

      const recorded = await sh(
        process.execPath,
        ['dist/record-deploy.js', '--version', '0.1.0', '--environment', 'staging'],
        { cwd: p.dir, env: { VM_URL: node.url, VM_TOKEN: token } },
      );
      expect(recorded.code, recorded.output).toBe(0);
      expect(recorded.output).not.toContain(token);
      const { index } = JSON.parse(recorded.output) as { index: number };
      const receipt = await fetch(`${node.url}/api/ledger/receipts/${index}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect((await receipt.json()).receipt).toMatchObject({
        kind: 'deploy',
        tenant: 'acme',
        body: { service: 'pay', version: '0.1.0', environment: 'staging', status: 'deployed' },
      });
      const refused = await sh(
        process.execPath,
        ['dist/record-deploy.js', '--version', '0.1.0', '--environment', 'staging'],
        { cwd: p.dir, env: { VM_URL: node.url, VM_TOKEN: 'vm_not_a_real_token_secret' } },
      );
      expect(refused.code).toBe(1);
      expect(refused.output).toMatch(/HTTP 401/);
      expect(refused.output).not.toContain('vm_not_a_real_token_secret');
    } finally {
      expect(await s.stop()).toBe(0);
    }
    expect(s.output()).toContain('shutting down');
  }, 600_000);

  it.skipIf(unavailable !== undefined)(
    'with --db postgres (and a 40-character name): migrates, stores and lists items, and is not ready without its database',
    async () => {
      const name = 'ledger-postings-and-balances-service-v2x';
      expect(name).toHaveLength(40);
      const p = generate(root, 'service', name, { db: 'postgres', port: 8081 });
      const url = databaseUrl(database);
      await installTestBuild(p, { DATABASE_URL: url });
      const migrated = await sh('npm', ['run', 'migrate'], { cwd: p.dir, env: { DATABASE_URL: url } });
      expect(migrated.code, migrated.output).toBe(0);
      const s = await startProject(p.dir, { DATABASE_URL: url });
      try {
        const post = await fetch(`${s.url}/api/v1/items`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'first' }),
        });
        expect(post.status).toBe(201);
        const list = (await (await fetch(`${s.url}/api/v1/items`)).json()) as { items: { name: string }[] };
        expect(list.items.map((i) => i.name)).toContain('first');
      } finally {
        expect(await s.stop()).toBe(0);
      }
      // Pointed at a database that does not exist, it is alive but not ready.
      const s2 = await startProject(p.dir, { DATABASE_URL: databaseUrl(`${database}_missing`) }, '/healthz');
      try {
        const ready = await fetch(`${s2.url}/readyz`);
        expect(ready.status).toBe(503);
        expect(await ready.json()).toEqual({ status: 'database unavailable' });
      } finally {
        expect(await s2.stop()).toBe(0);
      }
    },
    600_000,
  );
});
