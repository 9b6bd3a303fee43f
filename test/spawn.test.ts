// vm spawn against a real node: the node renders the tree again, asks the tenant's Cedar policy (action "spawn" on
// the Template) and records the `spawn` receipt; nothing is written when anything refuses, a spawn receipt cannot
// be forged through the public receipts route, verify checks the tree and the receipt, and update merges.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createToken } from '@vaultmesh/auth';
import { loadConfig, startNode, type RunningNode } from '@vaultmesh/node';
import { MANIFEST_FILE, render } from '@vaultmesh/spawn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callApi } from './helpers/http.ts';
import { runVm } from './helpers/vm.ts';

let dir: string;
let work: string;
let node: RunningNode;
let operator: string;
let agent: string;
let other: string;
let serviceOnly: string;

/** A policy that lets agents of tenant initech spawn the service template, and nothing else (beside the defaults). */
const SERVICE_ONLY = `
@id("initech-agents-spawn-services")
permit (principal, action == VaultMesh::Action::"spawn", resource == VaultMesh::Template::"service")
when { principal.role == "agent" && principal.tenant == "initech" && resource.tenant == principal.tenant };
`;

const call = (method: string, path: string, token: string, body?: unknown) =>
  callApi(node.url, method, path, token, body);

const vm = (args: string[], token: string) =>
  runVm(['spawn', ...args, ...(args[0] === 'templates' ? [] : ['--url', node.url])], {
    env: { VM_TOKEN: token },
    cwd: work,
  });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vm-spawn-e2e-'));
  work = join(dir, 'work');
  mkdirSync(work);
  const defaults = readFileSync(
    join(import.meta.dirname, '../packages/policy/policies/default.cedar'),
    'utf8',
  );
  writeFileSync(join(dir, 'policy.cedar'), defaults + SERVICE_ONLY);
  writeFileSync(
    join(dir, 'vaultmesh.json'),
    JSON.stringify({
      port: 0,
      dataDir: join(dir, 'data'),
      logLevel: 'silent',
      control: { policiesFile: 'policy.cedar' },
    }),
  );
  node = await startNode(loadConfig({ configFile: join(dir, 'vaultmesh.json') }));
  const s = node.node.storage;
  operator = (await createToken(s, { name: 'op', role: 'operator', tenant: 'acme' })).token;
  agent = (await createToken(s, { name: 'agent', role: 'agent', tenant: 'acme' })).token;
  other = (await createToken(s, { name: 'other', role: 'operator', tenant: 'globex' })).token;
  serviceOnly = (await createToken(s, { name: 'svc-only', role: 'agent', tenant: 'initech' })).token;
}, 60_000);

afterAll(async () => {
  await node?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const ledgerSize = async () => node.node.log.size;

describe('vm spawn', () => {
  it('lists the templates with their versions and parameters', async () => {
    const r = await vm(['templates', '--json'], operator);
    expect(r.code).toBe(0);
    const ts = JSON.parse(r.stdout).templates as { id: string; version: string }[];
    expect(ts.map((t) => t.id)).toEqual(['mcp-server', 'service', 'worker']);
    const api = await call('GET', '/api/spawn/templates', operator);
    expect((api.body.templates as { id: string }[]).map((t) => t.id)).toEqual(ts.map((t) => t.id));
  });

  it('shows the tree of a dry run and writes and records nothing', async () => {
    const before = await ledgerSize();
    const r = await vm(['create', 'dry', '--template', 'worker', '--queue', 'redis', '--dry-run'], operator);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/src\/brokers\/redis\.ts .* Redis Streams adapter/);
    expect(r.stdout).toContain('k8s/scaledobject.yaml');
    expect(existsSync(join(work, 'dry'))).toBe(false);
    expect(await ledgerSize()).toBe(before);
  });

  it('creates a service and records a spawn receipt holding the digest the node computed', async () => {
    const r = await vm(
      ['create', 'payments', '--template', 'service', '--db', 'postgres', '--port', '8081', '--json'],
      operator,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { receipt: { index: number }; treeSha256: string; tenant: string };
    const expected = render({
      template: 'service',
      service: 'payments',
      params: { db: 'postgres', port: 8081, tenant: 'acme' },
    });
    expect(out.treeSha256).toBe(expected.treeSha256);
    expect(out.tenant).toBe('acme');
    const target = join(work, 'payments');
    expect(readFileSync(join(target, 'src/db.ts'), 'utf8')).toBe(expected.files.get('src/db.ts'));
    const manifest = JSON.parse(readFileSync(join(target, MANIFEST_FILE), 'utf8'));
    expect(manifest).toMatchObject({ template: 'service', version: expected.version, tenant: 'acme' });
    const receipt = (await call('GET', `/api/ledger/receipts/${out.receipt.index}`, operator)).body;
    expect(receipt.leafHash).toBe(manifest.receipt.leafHash);
    expect(receipt.receipt).toMatchObject({
      kind: 'spawn',
      tenant: 'acme',
      body: {
        operation: 'create',
        service: 'payments',
        template: 'service',
        version: expected.version,
        params: { db: 'postgres', port: 8081, tenant: 'acme' },
        treeSha256: expected.treeSha256,
        files: expected.files.size,
      },
    });
    expect(readdirSync(work).filter((n) => n.includes('.spawn-'))).toEqual([]);
    // The tenant that governs it is the spawn's own, in its deploy intent too.
    expect(JSON.parse(readFileSync(join(target, 'vaultmesh/deploy-intent.json'), 'utf8')).tenant).toBe(
      'acme',
    );
  });

  it.each([
    [['create', 'Bad_Name', '--template', 'service'], 2, /DNS-1035/],
    [['create', 'ok', '--template', 'service', '--db', 'mysql'], 2, /--db must be one of none, postgres/],
    [['create', 'ok', '--template', 'service', '--set', 'colour=red'], 2, /unknown parameter "colour"/],
    [['create', 'ok', '--template', 'service', '--port', 'eighty'], 2, /--port must be a number/],
    [['create', 'ok', '--template', 'cron'], 3, /no template "cron"/],
    [['create', 'ok', '--template', 'service', '--set', 'tenant=globex'], 2, /use --tenant/],
    [['create', 'ok', '--template', 'service', '--template-version', '0.9.0'], 3, /no version 0\.9\.0/],
    [['create', 'payments', '--template', 'service'], 5, /exists; vm spawn never overwrites/],
  ])('refuses %j before writing or recording anything', async (args, code, message) => {
    const before = await ledgerSize();
    const entries = readdirSync(work).sort();
    const r = await vm(args, operator);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(readdirSync(work).sort()).toEqual(entries);
    expect(await ledgerSize()).toBe(before);
  });

  it('lets the tenant policy decide who spawns which template where, and leaves nothing behind on a deny', async () => {
    const denied = async (args: string[], token: string) => {
      const before = await ledgerSize();
      const r = await vm(args, token);
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/POLICY_DENIED|FORBIDDEN/);
      expect(existsSync(join(work, args[1]!))).toBe(false);
      expect(readdirSync(work).filter((n) => n.includes('.spawn-'))).toEqual([]);
      // A deny is recorded as a policy receipt, never as a spawn.
      expect(await ledgerSize()).toBeLessThanOrEqual(before + 1);
    };
    await denied(['create', 'by-agent', '--template', 'service'], agent);
    await denied(['create', 'wrong-tenant', '--template', 'service', '--tenant', 'acme'], other);
    await denied(['create', 'svc-worker', '--template', 'worker'], serviceOnly);
    const ok = await vm(['create', 'svc-allowed', '--template', 'service'], serviceOnly);
    expect(ok.code).toBe(0);
  });

  it('refuses a forged spawn receipt and a tree the node does not render', async () => {
    const forged = await call('POST', '/api/ledger/receipts', operator, {
      kind: 'spawn',
      body: { service: 'x', template: 'service' },
    });
    expect(forged.status).toBe(403);
    const mismatch = await call('POST', '/api/spawn', operator, {
      template: 'service',
      service: 'x',
      params: {},
      treeSha256: 'ab'.repeat(32),
    });
    expect(mismatch.status).toBe(409);
    expect(mismatch.body.code).toBe('DIGEST_MISMATCH');
    const digest = render({ template: 'service', service: 'x' }).treeSha256;
    for (const body of [
      { template: 'service', service: 'x', extra: 1 },
      { template: 'service', service: 'x', treeSha256: digest, tenant: 'ACME' },
      { template: 'service', service: 'x', treeSha256: digest, params: { port: { $gt: 1 } } },
      { template: 'service', service: 'x', treeSha256: digest, params: { db: 'postgres', extra: 'y' } },
      { template: 'service', service: 'X Y', treeSha256: digest },
      { template: 'service', service: 'x', treeSha256: digest, operation: 'delete' },
      { template: 'service', service: 'x', treeSha256: digest, operation: 'update' },
      { template: 'service', service: 'x', treeSha256: digest, tenant: 'acme', params: { tenant: 'globex' } },
      [],
    ]) {
      const r = await call('POST', '/api/spawn', operator, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
    }
    for (const template of ['../templates/service', 'nope']) {
      const r = await call('POST', '/api/spawn', operator, { template, service: 'x', treeSha256: digest });
      expect(r.status, template).toBe(404);
    }
  });

  it('verifies a tree against its manifest and its receipt on the node', async () => {
    const target = join(work, 'payments');
    let r = await vm(['verify', target], operator);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/0 changed since generation/);
    expect(r.stdout).toMatch(/spawn receipt #\d+ on .*: matches/);
    writeFileSync(join(target, 'src/app.ts'), '// mine\n');
    writeFileSync(join(target, 'NOTES.md'), 'x\n');
    r = await vm(['verify', target, '--json'], operator);
    expect(r.code).toBe(0);
    const v = JSON.parse(r.stdout);
    expect(v.modified).toEqual(['src/app.ts']);
    expect(v.added).toEqual(['NOTES.md']);
    expect(v.receipt).toMatchObject({ checked: true, problems: [] });
    const strict = await vm(['verify', target, '--strict'], operator);
    expect(strict.code, strict.stdout + strict.stderr).toBe(1);
    // A manifest pointing at another service's spawn receipt is caught.
    const second = JSON.parse(
      (await vm(['create', 'second', '--template', 'service', '--json'], operator)).stdout,
    ) as { receipt: { index: number } };
    const m = JSON.parse(readFileSync(join(target, MANIFEST_FILE), 'utf8'));
    writeFileSync(
      join(target, MANIFEST_FILE),
      JSON.stringify({ ...m, receipt: { ...m.receipt, index: second.receipt.index } }),
    );
    r = await vm(['verify', target], operator);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/receipt: leaf hash is/);
    expect(r.stdout).toMatch(/receipt service is "second", the manifest says "payments"/);
  });

  it('updates to a newer template version by three-way merge, records it, and marks conflicts', async () => {
    const created = await vm(
      ['create', 'ledger-api', '--template', 'service', '--template-version', '1.0.0'],
      operator,
    );
    expect(created.code).toBe(0);
    const target = join(work, 'ledger-api');
    const readme = join(target, 'README.md');
    writeFileSync(readme, readFileSync(readme, 'utf8') + '\nOwned by the ledger team.\n');
    let r = await vm(['update', target, '--dry-run', '--json'], operator);
    expect(r.code).toBe(0);
    const dry = JSON.parse(r.stdout);
    expect(dry).toMatchObject({ from: '1.0.0', to: '1.1.0', dryRun: true, conflicts: [] });
    expect(JSON.parse(readFileSync(join(target, MANIFEST_FILE), 'utf8')).version).toBe('1.0.0');
    r = await vm(['update', target, '--json'], operator);
    expect(r.code).toBe(0);
    const up = JSON.parse(r.stdout);
    expect(readFileSync(readme, 'utf8')).toContain('Owned by the ledger team.');
    expect(readFileSync(join(target, 'src/app.ts'), 'utf8')).toContain('/api/v1/info');
    const receipt = (await call('GET', `/api/ledger/receipts/${up.receipt.index}`, operator)).body
      .receipt as {
      body: Record<string, unknown>;
    };
    expect(receipt.body).toMatchObject({ operation: 'update', from: '1.0.0', version: '1.1.0' });
    expect((await vm(['verify', target], operator)).stdout).toMatch(/1 changed since generation/);

    // A local edit on the lines the template changes: the update applies, the file carries markers, exit 5.
    await vm(['create', 'clash', '--template', 'mcp-server', '--template-version', '1.0.0'], operator);
    const dep = join(work, 'clash', 'k8s/deployment.yaml');
    writeFileSync(
      dep,
      readFileSync(dep, 'utf8').replace(
        '      automountServiceAccountToken: false\n',
        '      automountServiceAccountToken: false\n      priorityClassName: high\n',
      ),
    );
    r = await vm(['update', join(work, 'clash')], operator);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/conflicts to resolve .*k8s\/deployment\.yaml/);
    expect(readFileSync(dep, 'utf8')).toMatch(/<<<<<<< yours\n {6}priorityClassName: high/);
  });
});
