// The server app as a process: configured by the environment, it listens, answers health, and exits 0 on SIGTERM;
// a bad configuration exits 2 with the reason, before anything is created.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../bin/server.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'vm-server-app-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function start(env: Record<string, string>) {
  const child = spawn(process.execPath, [BIN], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const listening = new Promise<string>((resolve, reject) => {
    const check = () => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) return resolve(m[1]!);
      if (child.exitCode !== null) return reject(new Error(`exited ${child.exitCode}: ${out}`));
      setTimeout(check, 50);
    };
    check();
  });
  // A test that expects the process to exit never awaits `listening`: its rejection is then expected, not unhandled.
  listening.catch(() => undefined);
  return { child, exited, listening, output: () => out };
}

describe('vaultmesh-server', () => {
  it('listens where the environment says, answers health, and exits 0 on SIGTERM', async () => {
    const data = join(dir, 'data');
    const s = start({ VM_DATA_DIR: data, VM_PORT: '0', VM_HOST: '127.0.0.1', VM_LOG_LEVEL: 'silent' });
    const url = await s.listening;
    const health = (await (await fetch(`${url}/api/system/health`)).json()) as { status: string };
    expect(health.status).toBe('ok');
    expect(existsSync(join(data))).toBe(true);
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    expect(s.output()).toMatch(/received SIGTERM, shutting down/);
  });

  it('exits 2 naming the problem when the configuration is invalid', async () => {
    const cfg = join(dir, 'bad.json');
    writeFileSync(cfg, '{"port": "not a port"}');
    const s = start({ VM_CONFIG: cfg, VM_DATA_DIR: join(dir, 'never') });
    expect(await s.exited).toBe(2);
    expect(s.output()).toMatch(/vaultmesh-server: .*port/);
    expect(existsSync(join(dir, 'never'))).toBe(false);
  });
});
