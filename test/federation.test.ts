// Federation between real node processes (`vm up`) on loopback: peers witness (cosign), mirror and merge each
// other's ledgers; two and three nodes agree on the merged root; a sync killed mid-way resumes; a peer whose entries
// were changed, or that forks its checkpoint, is detected, flagged and nothing unverified is stored.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { verifyEvidenceBundle } from '@vaultmesh/attest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './helpers/net.ts';
import { CLEAN_ENV, ROOT, VM_BIN, runVm, runVmJson } from './helpers/vm.ts';

interface TestNode {
  name: string;
  data: string;
  port: number;
  url: string;
  origin: string;
  verifierKey: string;
  admin: string;
  /** A token of this node that peers use to read its entry bundles. */
  reader: string;
  child?: ChildProcess;
  log: string;
}

let dir: string;
const nodes: Record<string, TestNode> = {};

async function makeNode(name: string): Promise<TestNode> {
  const data = join(dir, name);
  const init = await runVmJson<{ origin: string; verifierKey: string; adminTokenFile: string }>([
    'init',
    '-d',
    data,
    '--origin',
    `${name}.fed.test/log`,
  ]);
  const reader = await runVmJson<{ token: string }>([
    'token',
    'create',
    '--role',
    'auditor',
    '--tenant',
    '*',
    '--name',
    'peers',
    '-d',
    data,
  ]);
  const port = await freePort();
  return {
    name,
    data,
    port,
    url: `http://127.0.0.1:${port}`,
    origin: init.origin,
    verifierKey: init.verifierKey,
    admin: readFileSync(init.adminTokenFile, 'utf8').trim(),
    reader: reader.token,
    log: '',
  };
}

/** Peer tokens are read from the environment: TOKEN_<NAME> for each node. */
function peerEnv(): Record<string, string> {
  return Object.fromEntries(Object.values(nodes).map((n) => [`TOKEN_${n.name.toUpperCase()}`, n.reader]));
}

async function start(n: TestNode, extra: Record<string, unknown> = {}): Promise<void> {
  const cfg = join(dir, `${n.name}.json`);
  // Checkpoints only when published (POST /api/ledger/checkpoint or a merge), so tests know which one is latest.
  // Bulk loading a peer is not what these tests are about: the per-token write limit is lifted (it has its own tests).
  writeFileSync(
    cfg,
    JSON.stringify({
      checkpointIntervalMs: 0,
      federation: { intervalMs: 0, chunkEntries: 512 },
      rateLimits: { writesPerSecond: 100_000, writeBurst: 100_000 },
      ...extra,
    }),
  );
  const child = spawn(
    process.execPath,
    [
      VM_BIN,
      'up',
      '-d',
      n.data,
      '--port',
      String(n.port),
      '--host',
      '127.0.0.1',
      '--log-level',
      'warn',
      '-c',
      cfg,
    ],
    { cwd: ROOT, env: { ...CLEAN_ENV, ...peerEnv() } },
  );
  n.child = child;
  child.stdout!.on('data', (d: Buffer) => (n.log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (n.log += d.toString()));
  // A safety net for a node that never comes up, not a speed check (a loaded machine starts slowly).
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`vm up ${n.name} exited ${child.exitCode}: ${n.log}`);
    const ok = await fetch(`${n.url}/api/system/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`vm up ${n.name} did not start: ${n.log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stop(n: TestNode): Promise<void> {
  const child = n.child;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.on('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** Appends one receipt as a well-behaved client: a 429 (the node's per-token write limit) waits Retry-After. */
async function appendOne(n: TestNode, title: string): Promise<void> {
  for (;;) {
    const r = await fetch(`${n.url}/api/ledger/receipts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${n.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'decision', body: { title }, tenant: 'acme' }),
    });
    await r.text();
    if (r.status === 201) return;
    if (r.status !== 429) throw new Error(`append to ${n.name} answered ${r.status}`);
    await new Promise((res) => setTimeout(res, 1000 * Number(r.headers.get('retry-after') ?? 1)));
  }
}

/** Appends `count` decision receipts to a running node over HTTP (batched in parallel), then a checkpoint. */
async function append(n: TestNode, count: number, label = n.name): Promise<void> {
  for (let i = 0; i < count; i += 200)
    await Promise.all(
      Array.from({ length: Math.min(200, count - i) }, (_, j) => appendOne(n, `${label} decision ${i + j}`)),
    );
  const cp = await fetch(`${n.url}/api/ledger/checkpoint`, {
    method: 'POST',
    headers: { authorization: `Bearer ${n.admin}` },
  });
  expect(cp.status).toBe(200);
}

const vm = (n: TestNode, args: string[]) =>
  runVm([...args, '-d', n.data], { env: peerEnv(), timeoutMs: 120_000 });

async function addPeer(n: TestNode, peer: TestNode): Promise<void> {
  const r = await vm(n, [
    'federate',
    'peers',
    'add',
    peer.name,
    '--url',
    peer.url,
    '--key',
    peer.verifierKey,
    '--token-env',
    `TOKEN_${peer.name.toUpperCase()}`,
  ]);
  expect(r.code, r.stderr).toBe(0);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vm-federation-'));
  for (const name of ['a', 'b', 'c']) nodes[name] = await makeNode(name);
  const { a, b, c } = nodes as Record<'a' | 'b' | 'c', TestNode>;
  // A full mesh: every node knows the others by URL and key.
  for (const [x, y] of [
    [a, b],
    [a, c],
    [b, a],
    [b, c],
    [c, a],
    [c, b],
  ] as const)
    await addPeer(x, y);
  await Promise.all([start(a), start(b), start(c)]);
  await Promise.all([append(a, 300), append(b, 500), append(c, 200)]);
}, 120_000);

afterAll(async () => {
  await Promise.all(Object.values(nodes).map(stop));
  rmSync(dir, { recursive: true, force: true });
});

describe('federation between node processes', () => {
  it('two nodes: A witnesses and mirrors B, both sign the merge, and the receipt verifies offline', async () => {
    const { a, b } = nodes as Record<'a' | 'b', TestNode>;
    const out = join(dir, 'merge-ab.json');
    const r = await vm(a, ['federate', 'sync', '--peer', 'b', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^b: cosigned checkpoint \d+; mirrored \d+ entries/m);
    expect(r.stdout).toMatch(/^merged root [0-9a-f]{64} over \d+ receipts, receipt #\d+$/m);
    const file = JSON.parse(readFileSync(out, 'utf8')) as {
      statement: { mergedRoot: string; logs: { origin: string }[] };
      signatures: { signer: string }[];
    };
    expect(file.statement.logs.map((l) => l.origin).sort()).toEqual([a.origin, b.origin].sort());
    expect(file.signatures.map((s) => s.signer).sort()).toEqual([a.origin, b.origin].sort());
    const v = await runVm(['federate', 'verify-merge', out]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toMatch(/^OK: merge receipt/m);
    // B recorded the same merge on its own ledger.
    const onB = (await (
      await fetch(`${b.url}/api/ledger/receipts?kind=federation&order=desc&limit=5`, {
        headers: { authorization: `Bearer ${b.admin}` },
      })
    ).json()) as { items: { receipt: { body: { operation: string; mergedRoot: string } } }[] };
    expect(onB.items.map((i) => i.receipt.body)).toContainEqual(
      expect.objectContaining({ operation: 'merge', mergedRoot: file.statement.mergedRoot }),
    );
    // B now serves its checkpoint with A's cosignature line (C2SP tlog-cosignature) when A's cosignature was its latest.
    const tampered = readFileSync(out, 'utf8').replace(file.statement.mergedRoot, 'f'.repeat(64));
    writeFileSync(join(dir, 'merge-bad.json'), tampered);
    const bad = await runVm(['federate', 'verify-merge', join(dir, 'merge-bad.json')]);
    expect(bad.code).toBe(1);
  }, 120_000);

  it('vm audit verify --full checks a mirror as the own log: a changed byte in a mirrored receipt is reported', async () => {
    const { a } = nodes as Record<'a', TestNode>;
    // A consistent copy of A's data directory (A keeps running): the keys, and an online backup of the database.
    const copy = join(dir, 'a-copy');
    cpSync(join(a.data, 'keys'), join(copy, 'keys'), { recursive: true });
    const live = new Database(join(a.data, 'ledger.db'), { readonly: true });
    await live.backup(join(copy, 'ledger.db'));
    live.close();
    const clean = await runVm(['audit', 'verify', '--full', '-d', copy], { timeoutMs: 120_000 });
    expect(clean.code, clean.stdout + clean.stderr).toBe(0);
    const db = new Database(join(copy, 'ledger.db'));
    const row = db
      .prepare('SELECT peer, idx, bytes FROM fed_mirror_entries ORDER BY idx LIMIT 1 OFFSET 7')
      .get() as { peer: string; idx: number; bytes: Buffer };
    const changed = Buffer.from(row.bytes.toString('utf8').replace('decision', 'decisioN'));
    db.prepare('UPDATE fed_mirror_entries SET bytes = ? WHERE peer = ? AND idx = ?').run(
      changed,
      row.peer,
      row.idx,
    );
    db.close();
    const bad = await runVm(['audit', 'verify', '--full', '-d', copy], { timeoutMs: 120_000 });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(
      new RegExp(
        `mirror.*peer ${row.peer}: mirrored entry ${row.idx}: its bytes do not hash to the stored leaf hash`,
      ),
    );
    expect(bad.stdout).toMatch(/the mirrored entries do not form the verified root/);
  }, 120_000);

  it('B’s checkpoint carries A’s cosignature once A witnessed it', async () => {
    const { a, b } = nodes as Record<'a' | 'b', TestNode>;
    // Witness B's current checkpoint without appending anything in between.
    const r = await vm(a, ['federate', 'sync', '--peer', 'b', '--no-merge', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const note = await (await fetch(`${b.url}/checkpoint`)).text();
    const lines = note.split('\n').filter((l) => l.startsWith('— '));
    expect(lines.some((l) => l.startsWith(`— ${b.origin} `))).toBe(true);
    expect(lines.some((l) => l.startsWith(`— ${a.origin} `))).toBe(true);
    // An evidence bundle of a receipt under that checkpoint carries the cosignature, and it verifies offline.
    const bundle = (await (
      await fetch(`${b.url}/api/ledger/evidence/0`, { headers: { authorization: `Bearer ${b.admin}` } })
    ).json()) as { checkpoint: { size: number }; cosignatures: string[]; keys: { witnesses: string[] } };
    expect(bundle.checkpoint.size).toBe(Number(note.split('\n')[1]));
    expect(bundle.cosignatures.length).toBeGreaterThan(0);
    const report = verifyEvidenceBundle(bundle, { requireTimestamp: false });
    expect(report.checks).toContainEqual(
      expect.objectContaining({ check: `cosignature ${a.origin}`, ok: true }),
    );
  }, 120_000);

  it('three nodes: A merges with B and C; both countersign the same merged root', async () => {
    const { a, b, c } = nodes as Record<'a' | 'b' | 'c', TestNode>;
    // B and C must hold mirrors of each other to check A's statement: they sync on demand.
    const out = join(dir, 'merge-abc.json');
    const r = await vm(a, ['federate', 'sync', '--peer', 'b', 'c', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const file = JSON.parse(readFileSync(out, 'utf8')) as {
      statement: { mergedRoot: string; logs: unknown[]; counts: { union: number } };
      signatures: { signer: string }[];
    };
    expect(file.statement.logs).toHaveLength(3);
    expect(file.signatures.map((s) => s.signer).sort()).toEqual([a.origin, b.origin, c.origin].sort());
    expect((await runVm(['federate', 'verify-merge', out])).code).toBe(0);
  }, 180_000);

  it('a sync killed mid-way resumes from its verified prefix and completes', async () => {
    const { a, b } = nodes as Record<'a' | 'b', TestNode>;
    await append(b, 20_000, 'bulk');
    // Small verified chunks (512 entries, from A's config), so the kill lands between commits.
    const child = spawn(
      process.execPath,
      [VM_BIN, 'federate', 'sync', '--peer', 'b', '--no-merge', '-d', a.data, '-c', join(dir, 'a.json')],
      { cwd: ROOT, env: { ...CLEAN_ENV, ...peerEnv() } },
    );
    let err = '';
    const killed = new Promise<void>((resolve) => {
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        // Kill it as soon as it reports progress past the first chunk.
        if (/mirroring b: [1-9]\d%/.test(err) && child.exitCode === null) child.kill('SIGKILL');
      });
      child.on('exit', () => resolve());
    });
    await killed;
    // It really was killed mid-way (not finished first).
    expect(child.signalCode).toBe('SIGKILL');
    const mid = await runVmJson<{ peers: { mirroredSize: number; peerSize: number }[] }>([
      'federate',
      'status',
      '-d',
      a.data,
    ]);
    const before = (mid.peers as { peer?: string; mirroredSize: number }[]).find((p) => p.peer === 'b')!;
    const r = await vm(a, ['federate', 'sync', '--peer', 'b', '--no-merge', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout) as {
      peers: { mirror: { size: number; checkpointSize: number; fetched: number } }[];
    };
    const m = res.peers[0]!.mirror;
    expect(m.size).toBe(m.checkpointSize);
    // The killed run had committed verified chunks; the second fetched exactly the rest.
    expect(before.mirroredSize).toBeGreaterThan(0);
    expect(before.mirroredSize).toBeLessThan(m.size);
    expect(m.fetched).toBe(m.size - before.mirroredSize);
  }, 180_000);

  it('a peer whose stored entry changed is detected: nothing of the bad chunk is stored, the peer is flagged', async () => {
    const { b, c } = nodes as Record<'b' | 'c', TestNode>;
    // C has mirrored nothing of B's bulk yet. Change one of B's receipts behind its back.
    await stop(b);
    const size = (() => {
      const db = new Database(join(b.data, 'ledger.db'));
      const n = (db.prepare('SELECT max(idx) AS n FROM entries').get() as { n: number }).n;
      const row = db.prepare('SELECT bytes FROM entries WHERE idx = ?').get(n - 10) as { bytes: Buffer };
      const changed = Buffer.from(row.bytes.toString('utf8').replace('decision', 'decisioN'));
      db.prepare('UPDATE entries SET bytes = ? WHERE idx = ?').run(changed, n - 10);
      db.close();
      return n + 1;
    })();
    await start(b);
    const r = await vm(c, ['federate', 'sync', '--peer', 'b', '--no-merge']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/do not match its signed checkpoint/);
    const st = await runVmJson<{ peers: { peer: string; trusted: boolean; mirroredSize: number }[] }>([
      'federate',
      'status',
      '-d',
      c.data,
    ]);
    const peerB = st.peers.find((p) => p.peer === 'b')!;
    expect(peerB.trusted).toBe(false);
    expect(peerB.mirroredSize).toBeLessThan(size - 10);
    const db = new Database(join(c.data, 'ledger.db'), { readonly: true });
    const stored = (
      db
        .prepare("SELECT count(*) AS n FROM fed_mirror_entries WHERE peer = 'b' AND idx >= ?")
        .get(size - 10) as { n: number }
    ).n;
    const flagged = db
      .prepare(
        "SELECT count(*) AS n FROM entries WHERE kind = 'federation' AND CAST(bytes AS TEXT) LIKE '%inconsistent-history%'",
      )
      .get() as { n: number };
    db.close();
    expect(stored).toBe(0);
    expect(flagged.n).toBe(1);
  }, 180_000);

  it('a peer that forks its checkpoint is caught equivocating: both signed notes are recorded, the peer is untrusted', async () => {
    const { a, c } = nodes as Record<'a' | 'c', TestNode>;
    // A witnesses C, then C is rolled back to an earlier copy and grows differently: same size, another root.
    await stop(c);
    const snapshot = join(dir, 'c-snapshot');
    cpSync(c.data, snapshot, { recursive: true });
    await start(c);
    await append(c, 5, 'honest');
    expect((await vm(a, ['federate', 'sync', '--peer', 'c', '--no-merge'])).code).toBe(0);
    await stop(c);
    rmSync(c.data, { recursive: true, force: true });
    cpSync(snapshot, c.data, { recursive: true });
    await start(c);
    await append(c, 5, 'forked');
    const r = await vm(a, ['federate', 'sync', '--peer', 'c', '--no-merge']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/two different signed checkpoints for size \d+|not consistent/);
    const list = await runVmJson<{ items: { name: string; trusted: boolean }[] }>([
      'federate',
      'peers',
      'list',
      '-d',
      a.data,
    ]);
    expect(list.items.find((p) => p.name === 'c')!.trusted).toBe(false);
    const ev = await runVmJson<{
      items: { receipt: { body: { operation: string; checkpoints: string[] } } }[];
    }>(['memory', 'list', '--kind', 'federation', '--desc', '-d', a.data]);
    const eq = ev.items.map((i) => i.receipt.body).find((b) => b.operation === 'equivocation')!;
    expect(eq.checkpoints).toHaveLength(2);
    expect(eq.checkpoints[0]).not.toBe(eq.checkpoints[1]);
    // An untrusted peer is not synced again.
    const again = await vm(a, ['federate', 'sync', '--peer', 'c', '--no-merge']);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/untrusted/);
  }, 180_000);
});

describe('anti-entropy inside vm up', () => {
  it('witnesses and mirrors peers on a cadence and exposes vaultmesh_federation_* metrics', async () => {
    const { a } = nodes as Record<'a', TestNode>;
    const d = await makeNode('d');
    nodes.d = d;
    await addPeer(d, a);
    // The loop runs every 300 ms; the peer's entries arrive without any command.
    await start(d, {
      federation: { intervalMs: 300, chunkEntries: 4096, backoff: { baseMs: 100, maxMs: 1000 } },
    });
    const aSize = ((await (await fetch(`${a.url}/api/ledger/checkpoint`)).json()) as { size: number }).size;
    const deadline = Date.now() + 60_000;
    let metrics = '';
    for (;;) {
      metrics = await (await fetch(`${d.url}/metrics`)).text();
      const lag = /^vaultmesh_federation_peer_lag_entries\{peer="a"\} (\d+)$/m.exec(metrics);
      const synced = /^vaultmesh_federation_last_sync_timestamp_seconds\{peer="a"\} [0-9.e+]+$/m.test(
        metrics,
      );
      if (lag && lag[1] === '0' && synced) break;
      if (Date.now() > deadline)
        throw new Error(
          `d never caught up with a: ${metrics
            .split('\n')
            .filter((l) => l.includes('federation'))
            .join('\n')}`,
        );
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(metrics).toMatch(/^vaultmesh_federation_peer_trusted\{peer="a"\} 1$/m);
    expect(metrics).toMatch(/^vaultmesh_federation_failures_total\{peer="a"\} 0$/m);
    const status = (await (
      await fetch(`${d.url}/api/federation/status`, { headers: { authorization: `Bearer ${d.admin}` } })
    ).json()) as { peers: { peer: string; mirroredSize: number; trusted: boolean }[] };
    expect(status.peers[0]).toMatchObject({ peer: 'a', trusted: true });
    expect(status.peers[0]!.mirroredSize).toBeGreaterThanOrEqual(aSize);
    // An unreachable peer backs off and counts failures, without stopping the loop.
    await stop(a);
    const until = Date.now() + 30_000;
    for (;;) {
      metrics = await (await fetch(`${d.url}/metrics`)).text();
      const f = /^vaultmesh_federation_failures_total\{peer="a"\} (\d+)$/m.exec(metrics);
      if (f && Number(f[1]) >= 2) break;
      if (Date.now() > until) throw new Error('no failures counted for an unreachable peer');
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(metrics).toMatch(/^vaultmesh_federation_consecutive_failures\{peer="a"\} [1-9]\d*$/m);
  }, 120_000);
});
