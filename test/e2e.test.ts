// End to end: the real `vm` binary and a real `vm up` server on loopback, sharing one SQLite data directory.
// Tests run in order and build on each other (init → token → writes from HTTP and CLI → proofs → audit).
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { freePort } from './helpers/net.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeEd25519Verify, nodeHasher } from '@vaultmesh/attest';
import { fromHex, openNote, parseCheckpoint, parseVerifierKey, verifyInclusion } from '@vaultmesh/ledger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLEAN_ENV as ENV, ROOT, VM_BIN as VM, runVm } from './helpers/vm.ts';

/** Runs `vm <args>` to completion (never rejects on a non-zero exit). */
const vm = (args: string[], timeoutMs = 30_000) => runVm(args, { timeoutMs });

/** Runs `vm <args> --json` and parses stdout, failing with the CLI's stderr when it did not exit 0. */
async function vmJson<T>(args: string[]): Promise<T> {
  const r = await vm([...args, '--json']);
  if (r.code !== 0) throw new Error(`vm ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** path → sha256, mode and size of every file under dir. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const st = statSync(p);
        const sum = createHash('sha256').update(readFileSync(p)).digest('hex');
        out[p.slice(dir.length)] = `${sum} ${(st.mode & 0o777).toString(8)} ${st.size} ${st.mtimeMs}`;
      }
    }
  };
  walk(dir);
  return out;
}

interface Item {
  index: number;
  leafHash: string;
  receipt: {
    kind: string;
    tenant: string;
    actor: string;
    body: Record<string, unknown>;
    parents?: { index: number; leafHash: string }[];
  };
}

describe('vm CLI and a vm up node end to end', () => {
  let work: string;
  let data: string;
  let port: number;
  let base: string;
  let server: ChildProcess | undefined;
  let serverLog = '';
  let serverExit: Promise<number | null> | undefined;
  let agentToken: string;
  let adminToken: string;
  let httpIndex: number;
  let cliIndex: number;

  const api = (path: string, init: RequestInit = {}, token?: string) =>
    fetch(`${base}${path}`, {
      ...init,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(init.body ? { 'content-type': 'application/json' } : {}),
      },
    });
  const listAll = async (token: string): Promise<Item[]> => {
    const res = await api('/api/ledger/receipts?limit=1000', {}, token);
    expect(res.status).toBe(200);
    return ((await res.json()) as { items: Item[] }).items;
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'vm-e2e-'));
    data = join(work, 'data');
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    if (server && server.exitCode === null) {
      server.kill('SIGKILL');
      await serverExit;
    }
    rmSync(work, { recursive: true, force: true });
  });

  it('vm --help and vm memory --help exit 0 and list their subcommands; an unknown command exits 2', async () => {
    const [top, memory, unknown] = await Promise.all([
      vm(['--help']),
      vm(['memory', '--help']),
      vm(['frobnicate']),
    ]);
    expect(top.code).toBe(0);
    for (const c of ['up', 'init', 'memory', 'audit', 'checkpoint', 'token'])
      expect(top.stdout).toMatch(new RegExp(`^\\s+${c}\\b`, 'm'));
    expect(memory.code).toBe(0);
    for (const c of ['record', 'list', 'search', 'show', 'prove', 'import'])
      expect(memory.stdout).toMatch(new RegExp(`^\\s+${c}\\b`, 'm'));
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command 'frobnicate'/);
  });

  it('vm init creates the node key with mode 0600; a second vm init exits 5 and changes nothing', async () => {
    const first = await vmJson<{ origin: string; verifierKey: string; adminTokenFile: string }>([
      'init',
      '-d',
      data,
    ]);
    const keyFile = join(data, 'keys', 'node.key');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(keyFile, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(readFileSync(`${keyFile}.pub`, 'utf8').trim()).toBe(first.verifierKey);
    expect(first.adminTokenFile).toBe(join(data, 'keys', 'admin.token'));
    expect(statSync(first.adminTokenFile).mode & 0o777).toBe(0o600);
    adminToken = readFileSync(first.adminTokenFile, 'utf8').trim();
    expect(adminToken).toMatch(/^vm_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);

    const before = snapshot(data);
    const again = await vm(['init', '-d', data]);
    expect(again.code).toBe(5);
    expect(again.stderr).toMatch(/already holds a VaultMesh log/);
    expect(snapshot(data)).toEqual(before);
  });

  it('vm up serves the node on loopback', async () => {
    const child = spawn(
      process.execPath,
      [VM, 'up', '-d', data, '--port', String(port), '--host', '127.0.0.1', '--log-level', 'warn'],
      { cwd: ROOT, env: ENV },
    );
    server = child;
    child.stdout.on('data', (d: Buffer) => (serverLog += d.toString()));
    child.stderr.on('data', (d: Buffer) => (serverLog += d.toString()));
    serverExit = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`vm up exited ${child.exitCode}: ${serverLog}`);
      const res = await fetch(`${base}/api/system/health`).catch(() => undefined);
      if (res?.ok) {
        expect(await res.json()).toMatchObject({ status: 'ok', ledger: { size: 0 } });
        break;
      }
      if (Date.now() > deadline) throw new Error(`vm up did not become healthy: ${serverLog}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const status = (await (await api('/api/backend/status')).json()) as { verifierKey: string };
    expect(status.verifierKey).toBe(readFileSync(join(data, 'keys', 'node.key.pub'), 'utf8').trim());
  });

  it('vm token create --json prints a usable agent token once, without its hash', async () => {
    const t = await vmJson<Record<string, unknown>>([
      'token',
      'create',
      '-d',
      data,
      '--role',
      'agent',
      '--tenant',
      'default',
    ]);
    expect(t).toMatchObject({ role: 'agent', tenant: 'default', revokedAt: null });
    expect(t).not.toHaveProperty('secretHash');
    expect(t.token).toMatch(new RegExp(`^vm_${String(t.id)}_[A-Za-z0-9_-]{43}$`));
    agentToken = String(t.token);
  });

  it('accepts a receipt over HTTP with that token', async () => {
    const res = await api(
      '/api/ledger/receipts',
      {
        method: 'POST',
        body: JSON.stringify({
          kind: 'deploy',
          body: { service: 'api', version: '1.4.2', environment: 'staging' },
        }),
      },
      agentToken,
    );
    expect(res.status).toBe(201);
    const body = (await res.json()) as Item;
    expect(body.receipt).toMatchObject({ kind: 'deploy', tenant: 'default' });
    httpIndex = body.index;
    expect(httpIndex).toBe(0);
  });

  it('vm memory record appends while the server runs, and the server keeps appending after it (two writers lose nothing)', async () => {
    const r = await vmJson<Item>([
      'memory',
      'record',
      'Use PostgreSQL',
      '--rationale',
      'transactional integrity',
      '-d',
      data,
    ]);
    expect(r.receipt).toMatchObject({
      kind: 'decision',
      tenant: 'default',
      body: { title: 'Use PostgreSQL', rationale: 'transactional integrity' },
    });
    expect(r.receipt.actor).toMatch(/^cli:/);
    cliIndex = r.index;
    expect(cliIndex).toBe(1);

    // The server's in-memory tree is now behind the file: its next append must notice and not overwrite #1.
    const res = await api(
      '/api/ledger/receipts',
      { method: 'POST', body: JSON.stringify({ kind: 'decision', body: { title: 'after the CLI' } }) },
      agentToken,
    );
    expect(res.status).toBe(201);
    expect(((await res.json()) as Item).index).toBe(2);
  });

  it('vm checkpoint publishes a signed checkpoint of everything written by both writers', async () => {
    const cp = await vmJson<{ size: number; root: string; note: string }>(['checkpoint', '-d', data]);
    expect(cp.size).toBe(3);
    const vk = parseVerifierKey(readFileSync(join(data, 'keys', 'node.key.pub'), 'utf8').trim());
    expect(parseCheckpoint(openNote(cp.note, [vk], nodeEd25519Verify).text).size).toBe(3);
  });

  it('vm memory list, show, search and prove see the CLI receipt; prove verifies', async () => {
    const [list, show, search, prove] = await Promise.all([
      vmJson<{ items: Item[] }>(['memory', 'list', '-d', data]),
      vmJson<Item>(['memory', 'show', String(cliIndex), '-d', data]),
      vmJson<{ items: Item[] }>(['memory', 'search', 'PostgreSQL', '-d', data]),
      vmJson<{
        index: number;
        treeSize: number;
        leafHash: string;
        proof: string[];
        checkpoint: string;
        verified: boolean;
      }>(['memory', 'prove', String(cliIndex), '-d', data]),
    ]);
    expect(list.items.map((i) => i.index)).toEqual([0, 1, 2]);
    expect(list.items[httpIndex]!.receipt.kind).toBe('deploy');
    expect(show).toMatchObject({ index: cliIndex, receipt: { body: { title: 'Use PostgreSQL' } } });
    expect(show.leafHash).toBe(list.items[cliIndex]!.leafHash);
    expect(search.items.map((i) => i.index)).toEqual([cliIndex]);

    expect(prove).toMatchObject({ index: cliIndex, treeSize: 3, verified: true });
    expect(prove.leafHash).toBe(show.leafHash);
    // Check the CLI's claim independently: the note's signature against the key file, then the proof.
    const vk = parseVerifierKey(readFileSync(join(data, 'keys', 'node.key.pub'), 'utf8').trim());
    const cp = parseCheckpoint(openNote(prove.checkpoint, [vk], nodeEd25519Verify).text);
    expect(
      verifyInclusion(
        nodeHasher,
        cliIndex,
        cp.size,
        fromHex(show.leafHash),
        prove.proof.map(fromHex),
        cp.root,
      ),
    ).toBe(true);
  });

  it('GET /api/ledger/receipts shows the HTTP receipt and the CLI receipt', async () => {
    const items = await listAll(agentToken);
    expect(items.map((i) => i.index)).toEqual([0, 1, 2]);
    expect(items[httpIndex]!.receipt).toMatchObject({ kind: 'deploy', body: { service: 'api' } });
    expect(items[cliIndex]!.receipt).toMatchObject({ kind: 'decision', body: { title: 'Use PostgreSQL' } });
    const one = await api(`/api/ledger/receipts/${cliIndex}`, {}, agentToken);
    expect(((await one.json()) as Item).leafHash).toBe(items[cliIndex]!.leafHash);
    expect((await api('/api/ledger/receipts')).status).toBe(401);
  });

  it('vm audit verify --full --json reports ok for the shared ledger', async () => {
    const report = await vmJson<{ ok: boolean; size: number; full: boolean; problemCount: number }>([
      'audit',
      'verify',
      '--full',
      '-d',
      data,
    ]);
    expect(report).toMatchObject({ ok: true, size: 3, full: true, problemCount: 0 });
  });

  it('exits 3 for a receipt that does not exist and 2 for --limit 0', async () => {
    const [missing, badLimit] = await Promise.all([
      vm(['memory', 'show', '999', '-d', data]),
      vm(['memory', 'list', '--limit', '0', '-d', data]),
    ]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/no receipt 999/);
    expect(badLimit.code).toBe(2);
    expect(badLimit.stderr).toMatch(/--limit must be between 1 and 1000/);
  });

  it('vm memory import writes nothing when any line is bad or not an object (exit 2), and every line of a good file', async () => {
    const good = [
      { kind: 'decision', tenant: 'default', body: { title: 'Adopt tlog-tiles' } },
      {
        kind: 'deploy',
        tenant: 'ops',
        body: { service: 'db', version: '16', environment: 'prod' },
        parents: [0],
      },
      { kind: 'policy', body: { action: 'deploy', principal: 'ci', resource: 'prod', decision: 'allow' } },
    ];
    const badFile = join(work, 'bad.jsonl');
    const goodFile = join(work, 'good.jsonl');
    writeFileSync(
      badFile,
      [good[0], { kind: 'gossip', body: { title: 'not a kind' } }, good[1]]
        .map((l) => JSON.stringify(l))
        .join('\n'),
    );
    writeFileSync(goodFile, good.map((l) => JSON.stringify(l)).join('\n') + '\n');

    const nullFile = join(work, 'null.jsonl');
    writeFileSync(nullFile, JSON.stringify(good[0]) + '\nnull\n');

    const [bad, nul] = await Promise.all([
      vm(['memory', 'import', badFile, '-d', data, '--json']),
      vm(['memory', 'import', nullFile, '-d', data, '--json']),
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bad\.jsonl:2: \/kind: must be one of/);
    expect(nul.code).toBe(2);
    expect(nul.stderr).toMatch(/null\.jsonl:2: not a JSON object/);
    expect((await listAll(adminToken)).length).toBe(3);

    const dangling = join(work, 'dangling.jsonl');
    writeFileSync(dangling, JSON.stringify({ ...good[0], parents: [999] }) + '\n');
    const danglingRun = await vm(['memory', 'import', dangling, '-d', data, '--json']);
    expect(danglingRun.code).toBe(2);
    expect(danglingRun.stderr).toMatch(/parent 999 is not in the log/);

    const res = await vmJson<{ imported: number; firstIndex: number; lastIndex: number; size: number }>([
      'memory',
      'import',
      goodFile,
      '-d',
      data,
    ]);
    expect(res).toEqual({ imported: 3, firstIndex: 3, lastIndex: 5, size: 6 });
    const items = await listAll(adminToken);
    expect(items.map((i) => i.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(items.slice(3).map((i) => [i.receipt.kind, i.receipt.tenant])).toEqual([
      ['decision', 'default'],
      ['deploy', 'ops'],
      ['policy', 'default'],
    ]);
    // File order is kept even though the middle line's parent is resolved asynchronously.
    expect(items[4]!.receipt.parents).toEqual([{ index: 0, leafHash: items[0]!.leafHash }]);
    // The agent token is scoped to "default": the "ops" import stays invisible to it.
    expect((await listAll(agentToken)).map((i) => i.index)).toEqual([0, 1, 2, 3, 5]);
  });

  it('the server stops cleanly on SIGTERM', async () => {
    expect(server?.exitCode).toBeNull();
    server!.kill('SIGTERM');
    expect(await serverExit).toBe(0);
    const report = await vmJson<{ ok: boolean; size: number }>(['audit', 'verify', '--full', '-d', data]);
    expect(report).toMatchObject({ ok: true, size: 6 });
  });
});
