// Anchoring end to end against a real local TSA (`openssl ts -reply` behind HTTP, CA made by openssl at test
// time): the scheduler inside a node, outage and catch-up, metrics, stored tokens checked by `openssl ts
// -verify`, evidence bundles checked offline (in process and by the real `vm verify`), tamper detection by
// `vm audit verify`, and `vm genesis seal`. Tests run in order and build on each other.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { verifyEvidenceBundle, type EvidenceBundle } from '@vaultmesh/attest';
import { createToken } from '@vaultmesh/auth';
import { loadConfig, startNode, type RunningNode } from '@vaultmesh/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestTsa, type TestTsa } from '@vaultmesh/attest/testing';
import { runVm, runVmJson } from './helpers/vm.ts';
import { sleep, until as untilEvery } from './helpers/wait.ts';

/** Anchoring waits: polled every 25 ms, up to 15 s. */
const until = <T>(what: string, fn: () => Promise<T | undefined>): Promise<T> =>
  untilEvery(what, fn, { timeoutMs: 15_000, everyMs: 25 });

let tsa: TestTsa;
let dir: string;
let dataDir: string;
let configFile: string;
let node: RunningNode;
let adminToken: string;

async function get(path: string, token?: string) {
  const res = await fetch(node.url + path, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return { status: res.status, body: (await res.text()) as string };
}
interface AuthorityStatus {
  authority: string;
  anchoredSize: number;
  failuresTotal: number;
  consecutiveFailures: number;
  lagEntries: number;
  lagSeconds: number;
  lastError: string | null;
  attemptsTotal: number;
}
async function status(): Promise<AuthorityStatus> {
  return (JSON.parse((await get('/api/anchor/status')).body) as { authorities: AuthorityStatus[] })
    .authorities[0]!;
}
const append = (i: number) =>
  node.node.log.append({ kind: 'decision', actor: 'test', tenant: 'acme', body: { title: `decision ${i}` } });

beforeAll(async () => {
  tsa = await startTestTsa();
  dir = mkdtempSync(join(tmpdir(), 'vm-anchor-'));
  dataDir = join(dir, 'data');
  writeFileSync(join(dir, 'tsa-ca.pem'), tsa.caPem);
  configFile = join(dir, 'vaultmesh.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      port: 0,
      dataDir,
      logLevel: 'silent',
      checkpointIntervalMs: 0,
      anchor: {
        sealIntervalMs: 50,
        tickMs: 20,
        backoff: { baseMs: 20, maxMs: 200 },
        tsas: [{ name: 'local', url: tsa.url, caFile: 'tsa-ca.pem', policy: tsa.policy, timeoutMs: 1500 }],
      },
    }),
  );
  node = await startNode(loadConfig({ configFile }));
  adminToken = (await createToken(node.node.storage, { name: 'test-admin', role: 'admin', tenant: '*' }))
    .token;
}, 60_000);

afterAll(async () => {
  await node?.stop();
  await tsa?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('anchoring inside a node, against a real openssl TSA', () => {
  it('seals on the cadence, timestamps the checkpoint and records an anchor receipt naming the token', async () => {
    // One group commit: the log goes from 0 to 5 entries at once, so the first seal is of size 5 however slow the machine.
    await Promise.all([0, 1, 2, 3, 4].map((i) => append(i)));
    const s = await until('the first anchor', async () => {
      const st = await status();
      return st.anchoredSize >= 5 ? st : undefined;
    });
    expect(s.failuresTotal).toBe(0);
    const anchors = JSON.parse((await get('/api/ledger/anchors')).body) as {
      items: { size: number; authority: string; type: string; proof: string }[];
    };
    expect(anchors.items[0]).toMatchObject({ size: 5, authority: 'local', type: 'rfc3161' });
    const receipts = await node.node.storage.listEntries({ kind: 'anchor', limit: 10 });
    expect(receipts.length).toBeGreaterThanOrEqual(1);
    const body = JSON.parse(new TextDecoder().decode(receipts[0]!.bytes)).body;
    const token = Buffer.from(anchors.items[0]!.proof, 'base64');
    expect(body).toMatchObject({ treeSize: 5, authority: 'local', type: 'rfc3161' });
    expect(body.tokenSha256).toBe(execFileSync('sha256sum', { input: token }).toString().split(' ')[0]);
  });

  it('stores tokens that `openssl ts -verify` accepts for the checkpoint note bytes', async () => {
    const [a] = await node.node.storage.listAnchors(5);
    const cp = await node.node.storage.getCheckpoint(5);
    writeFileSync(join(dir, 'token.der'), a!.proof);
    writeFileSync(join(dir, 'note.txt'), cp!.note);
    writeFileSync(join(dir, 'tsa.pem'), tsa.tsaCertPem);
    const out = execFileSync(
      'openssl',
      [
        'ts',
        '-verify',
        '-in',
        'token.der',
        '-token_in',
        '-data',
        'note.txt',
        '-CAfile',
        'tsa-ca.pem',
        '-untrusted',
        'tsa.pem',
      ],
      { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    expect(out).toContain('Verification: OK');
  });

  it('does not anchor again when only its own anchor receipts were added', async () => {
    const before = (await node.node.storage.listAnchors()).length;
    await sleep(400);
    expect((await node.node.storage.listAnchors()).length).toBe(before);
    expect(tsa.requests).toBe(before);
  });

  it('exposes vaultmesh_anchor_* metrics', async () => {
    const m = (await get('/metrics')).body;
    expect(m).toMatch(/vaultmesh_anchor_last_success_timestamp_seconds\{authority="local"\} \d/);
    expect(m).toMatch(/vaultmesh_anchor_failures_total\{authority="local"\} 0/);
    expect(m).toMatch(/vaultmesh_anchor_lag_entries\{authority="local"\} \d/);
    expect(m).toMatch(/vaultmesh_anchor_lag_seconds\{authority="local"\} 0/);
  });

  it('keeps appending through a TSA outage, backs off, and catches up with the newest checkpoint', async () => {
    // First a TSA that never answers: an attempt is in flight, waiting, while appends go on (were appends to wait
    // for the TSA, this loop would not end before the test's timeout).
    tsa.setFailMode('hang');
    const attempts = (await status()).attemptsTotal;
    await append(5);
    await until('an attempt that gets no answer', async () => {
      const st = await status();
      return st.attemptsTotal > attempts ? st : undefined;
    });
    for (let i = 6; i < 25; i++) await append(i);
    tsa.setFailMode('down');
    const failing = await until('failures', async () => {
      const st = await status();
      return st.failuresTotal >= 3 ? st : undefined;
    });
    expect(failing.lastError).toBeTruthy();
    expect(failing.lagEntries).toBeGreaterThanOrEqual(20);
    expect((await get('/metrics')).body).toMatch(
      /vaultmesh_anchor_failures_total\{authority="local"\} [3-9]/,
    );
    tsa.setFailMode('none');
    const caught = await until('catch-up', async () => {
      const st = await status();
      const cp = await node.node.storage.getCheckpoint();
      return st.consecutiveFailures === 0 && cp && st.anchoredSize >= 25 ? st : undefined;
    });
    expect(caught.lagSeconds).toBe(0);
    expect(caught.lastError).toBeNull();
  });

  it('rejects a TSA answer that does not validate (wrong nonce) and counts it as a failure', async () => {
    tsa.setFailMode('wrong-nonce');
    const before = (await status()).failuresTotal;
    await append(100);
    const st = await until('a nonce failure', async () => {
      const s = await status();
      return s.failuresTotal > before ? s : undefined;
    });
    expect(st.lastError).toMatch(/nonce/i);
    tsa.setFailMode('none');
    await until('recovery', async () => ((await status()).consecutiveFailures === 0 ? true : undefined));
  });

  it('serves an evidence bundle that verifies offline, and fails on any change', async () => {
    const unauth = await get('/api/ledger/evidence/0');
    expect(unauth.status).toBe(401);
    const res = await get('/api/ledger/evidence/0', adminToken);
    expect(res.status).toBe(200);
    const bundle = JSON.parse(res.body) as EvidenceBundle;
    expect(bundle.checkpoint.size).toBe(5);
    expect(bundle.timestamps).toHaveLength(1);
    const pinned = { logKeys: [node.node.key.verifierKeyText], tsaTrustAnchors: [tsa.caPem] };
    const ok = verifyEvidenceBundle(bundle, pinned);
    expect(ok.checks.filter((c) => !c.ok)).toEqual([]);
    expect(ok.ok).toBe(true);
    expect(ok.warnings).toEqual([]);

    const changed = structuredClone(bundle) as { receipt: { canonical: string } };
    changed.receipt.canonical = changed.receipt.canonical.replace('decision 0', 'decision X');
    const r1 = verifyEvidenceBundle(changed, pinned);
    expect(r1.ok).toBe(false);
    expect(r1.checks.find((c) => c.check === 'leaf hash')!.ok).toBe(false);

    const tok = Buffer.from(bundle.timestamps[0]!.token, 'base64');
    tok[tok.length - 10]! ^= 0x01;
    const r2 = verifyEvidenceBundle(
      { ...bundle, timestamps: [{ ...bundle.timestamps[0]!, token: tok.toString('base64') }] },
      pinned,
    );
    expect(r2.checks.find((c) => c.check === 'timestamp local')!.ok).toBe(false);

    const other = await startTestTsa({ rootName: 'Some Other Root' });
    const r3 = verifyEvidenceBundle(bundle, { ...pinned, tsaTrustAnchors: [other.caPem] });
    await other.close();
    expect(r3.ok).toBe(false);

    const r4 = verifyEvidenceBundle({ ...bundle, inclusionProof: bundle.inclusionProof.slice(1) }, pinned);
    expect(r4.checks.find((c) => c.check === 'inclusion proof')!.ok).toBe(false);

    const r5 = verifyEvidenceBundle({ ...bundle, format: 'x' });
    expect(r5.checks[0]).toMatchObject({ check: 'format', ok: false });

    // anchoredAt is what the signed token states: a bundle that claims another time fails, by even 1 ms.
    const at = new Date(Date.parse(bundle.timestamps[0]!.anchoredAt) + 1).toISOString();
    const r6 = verifyEvidenceBundle(
      { ...bundle, timestamps: [{ ...bundle.timestamps[0]!, anchoredAt: at }] },
      pinned,
    );
    expect(r6.ok).toBe(false);
    expect(r6.checks.find((c) => c.check === 'timestamp local')!.detail).toMatch(
      /is not the token's genTime/,
    );
  });

  it('vm evidence export writes a bundle that vm verify checks offline with pinned keys', async () => {
    await node.stop();
    const out = join(dir, 'bundle-3.json');
    const e = await runVm(['evidence', 'export', '3', '-d', dataDir, '-c', configFile, '-o', out]);
    expect(e.stderr).toBe('');
    expect(e.code).toBe(0);
    const pub = join(dataDir, 'keys', 'node.key.pub');
    const ca = join(dir, 'tsa-ca.pem');
    const report = await runVmJson<{ ok: boolean; checks: { check: string; ok: boolean }[] }>([
      'verify',
      out,
      '--trust-key',
      pub,
      '--tsa-ca',
      ca,
    ]);
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.check)).toEqual([
      'format',
      'receipt',
      'leaf hash',
      'checkpoint signature',
      'inclusion proof',
      'timestamp local',
    ]);
    const b = JSON.parse(readFileSync(out, 'utf8')) as EvidenceBundle;
    writeFileSync(
      out,
      JSON.stringify({ ...b, checkpoint: { ...b.checkpoint, size: b.checkpoint.size + 1 } }),
    );
    const bad = await runVm(['verify', out, '--trust-key', pub, '--tsa-ca', ca]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('✗');
    expect((await runVm(['verify', join(dir, 'missing.json')])).code).toBe(3);
  });

  it('vm audit verify --full checks every stored token, and finds a changed byte or a deleted anchor', async () => {
    const ok = await runVmJson<{ ok: boolean; anchorsChecked: number; anchorsUnpinned: string[] }>([
      'audit',
      'verify',
      '--full',
      '-d',
      dataDir,
      '-c',
      configFile,
    ]);
    expect(ok.ok).toBe(true);
    expect(ok.anchorsChecked).toBeGreaterThanOrEqual(2);
    expect(ok.anchorsUnpinned).toEqual([]);

    const db = new Database(join(dataDir, 'ledger.db'));
    const row = db.prepare('SELECT size, proof FROM anchors ORDER BY size LIMIT 1').get() as {
      size: number;
      proof: Buffer;
    };
    const flipped = Buffer.from(row.proof);
    flipped[Math.floor(flipped.length / 2)]! ^= 0x20;
    db.prepare('UPDATE anchors SET proof = ? WHERE size = ?').run(flipped, row.size);
    db.close();
    const bad = await runVmJson<{
      ok: boolean;
      problems: { where: string; index: number; message: string }[];
    }>(['audit', 'verify', '-d', dataDir, '-c', configFile]).catch((e: Error) => e);
    expect(bad).toBeInstanceOf(Error);
    const r = await runVm(['audit', 'verify', '-d', dataDir, '-c', configFile, '--json']);
    expect(r.code).toBe(1);
    const rep = JSON.parse(r.stdout) as { problems: { where: string; index: number; message: string }[] };
    expect(
      rep.problems.some((p) => p.where === 'anchor' && p.index === row.size && /token hash/.test(p.message)),
    ).toBe(true);

    // The stored time of an anchor, changed by one millisecond, is found without the TSA pinned (no -c) too.
    const db1 = new Database(join(dataDir, 'ledger.db'));
    db1
      .prepare('UPDATE anchors SET proof = ?, anchored_at = anchored_at + 1 WHERE size = ?')
      .run(row.proof, row.size);
    db1.close();
    const moved = await runVm(['audit', 'verify', '-d', dataDir, '--json']);
    expect(moved.code).toBe(1);
    expect(
      (JSON.parse(moved.stdout) as { problems: { message: string }[] }).problems.some((p) =>
        /anchoredAt: expected .* \(the token's genTime\), found /.test(p.message),
      ),
    ).toBe(true);
    const db1b = new Database(join(dataDir, 'ledger.db'));
    db1b.prepare('UPDATE anchors SET anchored_at = anchored_at - 1 WHERE size = ?').run(row.size);
    db1b.close();

    const db2 = new Database(join(dataDir, 'ledger.db'));
    db2.prepare('UPDATE anchors SET proof = ? WHERE size = ?').run(row.proof, row.size);
    db2.prepare('DELETE FROM anchors WHERE size = ?').run(row.size);
    db2.close();
    const r2 = await runVm(['audit', 'verify', '-d', dataDir, '-c', configFile, '--json']);
    expect(r2.code).toBe(1);
    expect(
      JSON.parse(r2.stdout).problems.some((p: { message: string }) =>
        /no such anchor is stored/.test(p.message),
      ),
    ).toBe(true);
  }, 30_000);
});

describe('vm genesis seal and vm anchor run', () => {
  it('seals a new log: genesis receipt, signed and timestamped checkpoint, a bundle that verifies; only once', async () => {
    const g = join(dir, 'genesis-data');
    expect((await runVm(['init', '-d', g])).code).toBe(0);
    const ca = join(dir, 'tsa-ca.pem');
    const res = await runVmJson<{ receipt: number; size: number; bundle: string; timestamps: unknown[] }>([
      'genesis',
      'seal',
      '-d',
      g,
      '--tsa-url',
      tsa.url,
      '--tsa-ca',
      ca,
      '--tsa-name',
      'genesis-tsa',
    ]);
    expect(res).toMatchObject({ receipt: 0, size: 1 });
    expect(res.timestamps).toHaveLength(1);
    expect(existsSync(res.bundle)).toBe(true);
    const v = await runVm([
      'verify',
      res.bundle,
      '--trust-key',
      join(g, 'keys', 'node.key.pub'),
      '--tsa-ca',
      ca,
    ]);
    expect(v.stdout).toContain('OK: receipt 0 in checkpoint of size 1');
    expect(v.code).toBe(0);
    const again = await runVm(['genesis', 'seal', '-d', g, '--tsa-url', tsa.url, '--tsa-ca', ca]);
    expect(again.code).toBe(5);
    expect(again.stderr).toMatch(/genesis can be sealed only once/);
  }, 30_000);

  it('vm anchor run --once exits 1 naming the TSA when it is down, and 0 once it is back', async () => {
    const ca = join(dir, 'tsa-ca.pem');
    tsa.setFailMode('down');
    const down = await runVm([
      'anchor',
      'run',
      '--once',
      '-d',
      dataDir,
      '--tsa-url',
      tsa.url,
      '--tsa-ca',
      ca,
    ]);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/anchoring failed at tsa/);
    tsa.setFailMode('none');
    const up = await runVmJson<{ results: { authority: string; error?: string }[] }>([
      'anchor',
      'run',
      '--once',
      '-d',
      dataDir,
      '--tsa-url',
      tsa.url,
      '--tsa-ca',
      ca,
    ]);
    expect(up.results).toEqual([{ authority: 'tsa' }]);
    const st = await runVmJson<{ authorities: { authority: string }[] }>(['anchor', 'status', '-d', dataDir]);
    expect(st.authorities.map((a) => a.authority).sort()).toEqual(['local', 'tsa']);
    expect((await runVm(['anchor', 'run', '--once', '-d', dataDir])).code).toBe(2);
  }, 30_000);
});
