// End to end: the real `vm` binary seals the node key at rest, runs a node with it, and rotates it; the
// ledger then verifies across the rotation. Tests run in order and build on each other.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSealedKeyInfo } from '@vaultmesh/attest';
import { parseVerifierKey, toHex } from '@vaultmesh/ledger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './helpers/net.ts';
import { CLEAN_ENV, ROOT, VM_BIN as VM, runVm } from './helpers/vm.ts';

const PASSPHRASE = 'e2e passphrase: correct horse battery staple';
const BASE_ENV = CLEAN_ENV;

/** Runs `vm <args>` with extra environment variables (never rejects on a non-zero exit). */
// Sealed keys cost a scrypt each: on a loaded machine a command may take a while (a limit, not a speed check).
const vm = (args: string[], env: Record<string, string> = {}, timeoutMs = 170_000) =>
  runVm(args, { env, timeoutMs });

async function vmJson<T>(args: string[], env: Record<string, string> = {}): Promise<T> {
  const r = await vm([...args, '--json'], env);
  if (r.code !== 0) throw new Error(`vm ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

describe('vm key: a sealed node key and a key rotation end to end', () => {
  let work: string;
  let data: string;
  let keyFile: string;
  let pubFile: string;
  let passFile: string;
  let genesisPub: string;
  let server: ChildProcess | undefined;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'vm-keys-'));
    data = join(work, 'data');
    keyFile = join(data, 'keys', 'node.key');
    pubFile = join(data, 'keys', 'node.key.pub');
    passFile = join(work, 'passphrase');
    writeFileSync(passFile, PASSPHRASE + '\n', { mode: 0o600 });
  });

  afterAll(() => {
    if (server && server.exitCode === null) server.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  });

  it('vm key seal takes the passphrase from a file, never from argv, and rewrites node.key sealed with mode 0600', async () => {
    const init = await vmJson<{ verifierKey: string }>(['init', '-d', data, '--origin', 'keys.e2e/log']);
    // The pinned trust anchor, kept outside the data directory.
    genesisPub = join(work, 'genesis.pub');
    copyFileSync(pubFile, genesisPub);
    const plain = readFileSync(keyFile, 'utf8');
    expect(plain).toMatch(/^-----BEGIN PRIVATE KEY-----/);

    const asArg = await vm(['key', 'seal', '-d', data, '--passphrase', PASSPHRASE]);
    expect(asArg.code).toBe(2);
    expect(asArg.stderr).toMatch(/unknown option '--passphrase'/);
    const none = await vm(['key', 'seal', '-d', data]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(
      /needs a passphrase: --passphrase-file <file>, VM_KEY_PASSPHRASE_FILE or VM_KEY_PASSPHRASE/,
    );

    const sealed = await vmJson<{ sealed: boolean; verifierKey: string; index: number }>([
      'key',
      'seal',
      '-d',
      data,
      '--passphrase-file',
      passFile,
    ]);
    expect(sealed).toEqual({ sealed: true, verifierKey: init.verifierKey, index: 0 });
    const text = readFileSync(keyFile, 'utf8');
    expect(text).toMatch(/^-----BEGIN VAULTMESH SEALED NODE KEY-----\n/);
    expect(text).not.toContain(plain.split('\n')[1]);
    expect(mode(keyFile)).toBe('600');
    expect(readSealedKeyInfo(text).verifierKey).toBe(init.verifierKey);

    const again = await vm(['key', 'seal', '-d', data, '--passphrase-file', passFile]);
    expect(again.code).toBe(5);
    expect(again.stderr).toMatch(/is already sealed/);

    const status = await vmJson<Record<string, unknown>>(['key', 'status', '-d', data]);
    expect(status).toMatchObject({
      sealed: true,
      mode: '600',
      verifierKey: init.verifierKey,
      kdf: { name: 'scrypt', N: 2 ** 17, r: 8, p: 1 },
      rotationPending: false,
    });
  });

  it('a command that opens the key fails clearly without the passphrase or with a wrong one, and never echoes it', async () => {
    const none = await vm(['checkpoint', '-d', data]);
    expect(none.code).toBe(4);
    expect(none.stderr).toBe(
      `vm: key file ${keyFile} is sealed; a passphrase is needed to open it (the passphrase is read from --passphrase-file, VM_KEY_PASSPHRASE_FILE or VM_KEY_PASSPHRASE)\n`,
    );
    const wrong = await vm(['checkpoint', '-d', data], { VM_KEY_PASSPHRASE: 'not-the-passphrase-42' });
    expect(wrong.code).toBe(4);
    expect(wrong.stderr).toMatch(/wrong passphrase, or the sealed file was altered/);
    expect(wrong.stderr + wrong.stdout).not.toContain('not-the-passphrase-42');
    const right = await vm(['checkpoint', '-d', data], { VM_KEY_PASSPHRASE: PASSPHRASE });
    expect(right.code).toBe(0);
    expect(right.stdout).toMatch(/^keys\.e2e\/log\n1\n/);
  });

  it('vm up without the passphrase fails clearly; with VM_KEY_PASSPHRASE /api/backend/status reports keySealed true', async () => {
    const port = await freePort();
    const args = [VM, 'up', '-d', data, '--port', String(port), '--host', '127.0.0.1', '--log-level', 'warn'];
    const refused = await vm(args.slice(1));
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/is sealed; a passphrase is needed to open it .*VM_KEY_PASSPHRASE/);

    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { ...BASE_ENV, VM_KEY_PASSPHRASE: PASSPHRASE },
    });
    server = child;
    let log = '';
    child.stdout.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr.on('data', (d: Buffer) => (log += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const deadline = Date.now() + 30_000;
    let status: Record<string, unknown> | undefined;
    while (!status) {
      if (child.exitCode !== null) throw new Error(`vm up exited ${child.exitCode}: ${log}`);
      const res = await fetch(`http://127.0.0.1:${port}/api/backend/status`).catch(() => undefined);
      if (res?.ok) status = (await res.json()) as Record<string, unknown>;
      else if (Date.now() > deadline) throw new Error(`vm up did not start: ${log}`);
      else await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toMatchObject({ keySealed: true, verifierKey: readFileSync(pubFile, 'utf8').trim() });
    expect(log).toMatch(/\(sealed\)/);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(log).not.toContain(PASSPHRASE);
  });

  it('vm key rotate switches to a new sealed key, retires the old one (0600), and audit verify --full passes across it', async () => {
    const env = { VM_KEY_PASSPHRASE_FILE: passFile };
    const old = readFileSync(pubFile, 'utf8').trim();
    const oldText = readFileSync(keyFile, 'utf8');
    expect((await vm(['memory', 'record', 'before the rotation', '-d', data], env)).code).toBe(0);

    const r = await vmJson<Record<string, unknown>>(['key', 'rotate', '-d', data], env);
    const next = readFileSync(pubFile, 'utf8').trim();
    expect(next).not.toBe(old);
    expect(parseVerifierKey(next).name).toBe('keys.e2e/log');
    const retired = join(data, 'keys', `node.key.${toHex(parseVerifierKey(old).keyHash)}.retired`);
    expect(r).toEqual({
      origin: 'keys.e2e/log',
      previousVerifierKey: old,
      verifierKey: next,
      index: 2,
      treeSize: 2,
      checkpoint: { size: 3, root: expect.stringMatching(/^[0-9a-f]{64}$/) },
      retiredKeyFile: retired,
      sealed: true,
      resumed: false,
    });
    expect(readFileSync(retired, 'utf8')).toBe(oldText);
    expect(mode(retired)).toBe('600');
    expect(mode(keyFile)).toBe('600');
    expect(readSealedKeyInfo(readFileSync(keyFile, 'utf8')).verifierKey).toBe(next);

    // The rotation receipt carries both signatures; the new key signs from then on.
    const receipt = await vmJson<{ receipt: { kind: string; body: Record<string, unknown> } }>([
      'memory',
      'show',
      '2',
      '-d',
      data,
    ]);
    expect(receipt.receipt).toMatchObject({
      kind: 'key',
      body: {
        operation: 'rotate',
        keyName: 'keys.e2e/log',
        previousVerifierKey: old,
        verifierKey: next,
        treeSize: 2,
      },
    });
    expect((await vm(['memory', 'record', 'after the rotation', '-d', data, '--wait'], env)).code).toBe(0);
    // A proof against a checkpoint of the old key's epoch still checks its signature, with the old key.
    for (const size of ['2', '4']) {
      const proof = await vm(['memory', 'prove', '1', '--size', size, '-d', data], env);
      expect([size, proof.code, proof.stderr]).toEqual([size, 0, '']);
      expect(proof.stdout).toMatch(/\(signature verified\)/);
    }

    const status = await vmJson<{ history: unknown[]; retired: string[] }>(['key', 'status', '-d', data]);
    expect(status.history).toEqual([
      { verifierKey: old, fromSize: 0 },
      { verifierKey: next, fromSize: 3 },
    ]);
    expect(status.retired).toEqual([retired]);

    for (const extra of [[], ['--trusted-key', genesisPub]]) {
      const report = await vmJson<{ ok: boolean; problems: unknown[]; checkpointsChecked: number }>([
        'audit',
        'verify',
        '--full',
        '-d',
        data,
        ...extra,
      ]);
      expect(report.problems).toEqual([]);
      expect(report).toMatchObject({ ok: true, checkpointsChecked: 4 });
    }
  });

  it('audit verify reports a trust anchor that is not in the rotation chain', async () => {
    const stranger = join(work, 'stranger.pub');
    const other = await vmJson<{ verifierKey: string }>([
      'init',
      '-d',
      join(work, 'other'),
      '--origin',
      'keys.e2e/log',
    ]);
    writeFileSync(stranger, other.verifierKey + '\n');
    const r = await vm(['audit', 'verify', '-d', data, '--trusted-key', stranger]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /log field verifier key: the trusted key is not one of the keys in the log's chain/,
    );
    expect(r.stdout).toMatch(
      /checkpoint index 3 field note: checkpoint 3 is not signed by the key trusted at that size/,
    );
  });

  it('vm key unseal restores a plain PEM key (0600) that opens without a passphrase', async () => {
    const res = await vmJson<{ sealed: boolean }>(['key', 'unseal', '-d', data], {
      VM_KEY_PASSPHRASE: PASSPHRASE,
    });
    expect(res.sealed).toBe(false);
    expect(readFileSync(keyFile, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(mode(keyFile)).toBe('600');
    expect((await vm(['checkpoint', '-d', data])).code).toBe(0);
    expect((await vm(['audit', 'verify', '-d', data])).code).toBe(0);
  });
});
