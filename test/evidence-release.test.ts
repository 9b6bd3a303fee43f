// End to end: `vm evidence build` and `vm evidence verify` as the real binary, on a node made by `vm init`.
// Tests run in order and build on each other (init → build → receipt → verify → tamper → failing verifies).
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runVm } from './helpers/vm.ts';

/** Runs `vm <args>` to completion (never rejects on a non-zero exit). */
const vm = (args: string[], timeoutMs = 30_000) => runVm(args, { timeoutMs });

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

interface BuildJson {
  subject: string;
  artifacts: { path: string; sha256: string; size: number }[];
  checksums: string;
  envelope: string;
  envelopeSha256: string;
  keyid: string;
  receipt: { index: number; leafHash: string };
}

describe('vm evidence build and verify end to end', () => {
  let work: string;
  let data: string;
  let rel: string;
  let manifest: string;
  let build: BuildJson;
  const big = randomBytes(9 * 1024 * 1024); // above the 8 MiB progress-bar threshold

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'vm-evidence-'));
    data = join(work, 'data');
    rel = join(work, 'release');
    mkdirSync(join(rel, 'dist'), { recursive: true });
    writeFileSync(join(rel, 'dist', 'vaultmesh-0.1.0.tgz'), big);
    writeFileSync(join(rel, 'dist', 'NOTES.md'), '# 0.1.0\n');
    manifest = join(rel, 'manifest.json');
    writeFileSync(
      manifest,
      JSON.stringify({
        name: 'vaultmesh',
        version: '0.1.0',
        artifacts: [{ path: 'dist/vaultmesh-0.1.0.tgz' }, { path: 'dist/NOTES.md' }],
      }),
    );
    const init = await vm(['init', '-d', data, '--origin', 'evidence.vaultmesh.example/log', '--json']);
    if (init.code !== 0) throw new Error(`vm init exited ${init.code}: ${init.stderr}`);
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('vm evidence --help lists build and verify', async () => {
    const r = await vm(['evidence', '--help']);
    expect(r.code).toBe(0);
    for (const c of ['build', 'verify']) expect(r.stdout).toMatch(new RegExp(`^\\s+${c}\\b`, 'm'));
  });

  it('vm evidence build writes checksums.txt and release.dsse.json, records a receipt and exits 0', async () => {
    const r = await vm(['evidence', 'build', '--manifest', manifest, '-d', data, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    build = JSON.parse(r.stdout) as BuildJson;
    expect(build.subject).toBe('vaultmesh@0.1.0');
    expect(build.checksums).toBe(join(rel, 'checksums.txt'));
    expect(build.envelope).toBe(join(rel, 'release.dsse.json'));
    expect(build.artifacts[0]).toEqual({
      path: 'dist/vaultmesh-0.1.0.tgz',
      sha256: sha256(big),
      size: big.length,
    });
    expect(build.envelopeSha256).toBe(sha256(readFileSync(build.envelope)));
    expect(build.keyid).toMatch(/^evidence\.vaultmesh\.example\/log\+[0-9a-f]{8}$/);
    const check = spawnSync('sha256sum', ['-c', 'checksums.txt'], { cwd: rel, encoding: 'utf8' });
    expect(check.stdout).toBe('dist/vaultmesh-0.1.0.tgz: OK\ndist/NOTES.md: OK\n');
    expect(check.status).toBe(0);
  });

  it('the evidence receipt names the release, every digest and the envelope hash', async () => {
    const r = await vm(['memory', 'show', String(build.receipt.index), '-d', data, '--json']);
    expect(r.code).toBe(0);
    const entry = JSON.parse(r.stdout) as { leafHash: string; receipt: { kind: string; body: unknown } };
    expect(entry.leafHash).toBe(build.receipt.leafHash);
    expect(entry.receipt.kind).toBe('evidence');
    expect(entry.receipt.body).toEqual({
      subject: 'vaultmesh@0.1.0',
      digests: { 'dist/vaultmesh-0.1.0.tgz': sha256(big), 'dist/NOTES.md': sha256('# 0.1.0\n') },
      envelopeSha256: build.envelopeSha256,
    });
  });

  it('human output prints the receipt index, with a progress bar on stderr for a large set', async () => {
    const out = join(work, 'evidence-2');
    const r = await vm(['evidence', 'build', '--manifest', manifest, '-d', data, '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^recorded evidence #\d+ \(leaf [0-9a-f]{64}\)$/m);
    expect(r.stdout).toContain(`wrote ${join(out, 'checksums.txt')}`);
    expect(r.stderr).toMatch(/^hashing 2 artifact\(s\), bytes: 100% /m);
  });

  it('vm evidence verify exits 0 with the data directory key and with --pubkey', async () => {
    const r = await vm(['evidence', 'verify', '--manifest', manifest, '-d', data]);
    expect(r.stderr).toMatch(/^(hashing[^\n]*\n)*$/);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`OK    dist/NOTES.md  ${sha256('# 0.1.0\n')}`);
    expect(r.stdout).toMatch(
      /^signature: verified by evidence\.vaultmesh\.example\/log\+[0-9a-f]{8}, built at /m,
    );
    expect(r.stdout).toMatch(/^OK: vaultmesh@0\.1\.0, 2 artifact\(s\) match/m);

    const pinned = join(work, 'pinned.pub');
    copyFileSync(join(data, 'keys', 'node.key.pub'), pinned);
    const j = await vm(['evidence', 'verify', '--manifest', manifest, '--pubkey', pinned, '--json']);
    expect(j.code).toBe(0);
    expect(JSON.parse(j.stdout)).toMatchObject({
      ok: true,
      name: 'vaultmesh',
      version: '0.1.0',
      problems: [],
    });
  });

  it('vm evidence verify with another node key exits 1 naming release.dsse.json', async () => {
    const other = join(work, 'other');
    const init = await vm(['init', '-d', other, '--origin', 'evidence.vaultmesh.example/log']);
    expect(init.code).toBe(0);
    const r = await vm(['evidence', 'verify', '--manifest', manifest, '-d', other]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^vm: release evidence does not verify \(1 problem\(s\)\); first: release\.dsse\.json: /m,
    );
  });

  it('vm evidence verify after an artifact changed exits 1 naming the file', async () => {
    writeFileSync(join(rel, 'dist', 'NOTES.md'), '# 0.1.0 (edited)\n');
    const r = await vm(['evidence', 'verify', '--manifest', manifest, '-d', data, '--json']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as { ok: boolean; files: { path: string; ok: boolean }[] };
    expect(report.ok).toBe(false);
    expect(report.files.map((f) => [f.path, f.ok])).toEqual([
      ['dist/vaultmesh-0.1.0.tgz', true],
      ['dist/NOTES.md', false],
    ]);
    expect(r.stderr).toMatch(
      /^vm: release evidence does not verify \(2 problem\(s\)\); first: dist\/NOTES\.md: has SHA-256 /m,
    );
    const check = spawnSync('sha256sum', ['-c', 'checksums.txt'], { cwd: rel, encoding: 'utf8' });
    expect(check.status).not.toBe(0);
  });

  it('exits 3 for a missing manifest and 2 for an invalid one or a missing --manifest', async () => {
    const missing = await vm(['evidence', 'verify', '--manifest', join(work, 'nope.json'), '-d', data]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/manifest .*nope\.json does not exist/);

    const bad = join(work, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({ name: 'vaultmesh', version: '0.1.0', artifacts: [{ path: '../etc/passwd' }] }),
    );
    const [b1, b2] = await Promise.all([
      vm(['evidence', 'build', '--manifest', bad, '-d', data]),
      vm(['evidence', 'verify', '--manifest', bad, '-d', data]),
    ]);
    for (const r of [b1, b2]) {
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/artifacts\[0\]\.path "\.\.\/etc\/passwd" escapes the manifest's directory/);
    }

    const usage = await vm(['evidence', 'build', '-d', data]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/required option '-m, --manifest <file>' not specified/);
  });

  it('vm evidence build with a missing artifact exits 1 naming it', async () => {
    const m = join(rel, 'missing.json');
    writeFileSync(
      m,
      JSON.stringify({ name: 'vaultmesh', version: '0.1.0', artifacts: [{ path: 'dist/gone.tgz' }] }),
    );
    const r = await vm(['evidence', 'build', '--manifest', m, '-d', data, '--out', join(work, 'ev3')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/artifact\(s\) missing under .*: "dist\/gone\.tgz"/);
  });
});
