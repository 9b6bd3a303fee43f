// The crash test (crash.test.ts on SQLite, crash-postgres.test.ts on PostgreSQL; two files so they run side by
// side): a child process appends receipts (group commit, periodic checkpoints) and is SIGKILLed at random moments.
// Every append it acknowledged must survive with the same leaf hash, every checkpoint it acknowledged must be
// stored, and `vm audit verify --full` must pass on the crashed data directory.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { initNode, openNodeStorage, resolveStorage, type StorageConfig } from '@vaultmesh/node';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const helper = join(root, 'test', 'helpers', 'append-loop.ts');
const vmBin = join(root, 'packages', 'cli', 'bin', 'vm.js');

const ROUNDS = 5;
const CONCURRENCY = 64;
const CHECKPOINT_EVERY = 200;
/** Stop starting rounds after this long so the whole test stays well under 60 s. */
const BUDGET_MS = 45_000;

const randomInt = (lo: number, hi: number): number => lo + Math.floor(Math.random() * (hi - lo + 1));

interface RoundResult {
  startSize: number;
  acks: Map<number, string>;
  checkpoints: Map<number, string>;
  largestBatch: number;
  killedAfterMs: number;
}

/** Starts the append loop, kills it with SIGKILL 150–900 ms after its first acknowledgement. */
function crashRound(dataDir: string): Promise<RoundResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', helper, dataDir, String(CONCURRENCY), String(CHECKPOINT_EVERY)],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    let killTimer: ReturnType<typeof setTimeout> | undefined;
    let killedAfterMs = -1;
    let killed = false;
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`append loop never acknowledged an append; stderr:\n${stderr}`));
    }, 20_000);
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => (stderr += s));
    child.stdout.on('data', (s: string) => {
      stdout += s;
      if (killTimer === undefined && /^\d+ [0-9a-f]{64}$/m.test(stdout)) {
        clearTimeout(guard);
        killedAfterMs = randomInt(150, 900);
        killTimer = setTimeout(() => {
          killed = true;
          child.kill('SIGKILL');
        }, killedAfterMs);
      }
    });
    child.on('error', reject);
    // 'close' fires after stdout reached EOF, so every line the child wrote before dying has been read.
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      if (killTimer) clearTimeout(killTimer);
      if (!killed || signal !== 'SIGKILL') {
        // Exit code 0 here means the event loop ran dry with appends still pending (never committed or
        // rejected): a lost flush, not a crash.
        const lines = stdout.split('\n').filter(Boolean);
        reject(
          new Error(
            `append loop exited on its own (code ${code}, signal ${signal}) after ${lines.length} output lines, ` +
              `last: ${JSON.stringify(lines.slice(-2))}; stderr:\n${stderr}`,
          ),
        );
        return;
      }
      // Lines are far below PIPE_BUF and written synchronously, so there is never a torn last line.
      if (stdout.length > 0 && !stdout.endsWith('\n')) {
        reject(new Error(`torn output line: ${JSON.stringify(stdout.slice(-100))}`));
        return;
      }
      const acks = new Map<number, string>();
      const checkpoints = new Map<number, string>();
      let startSize = -1;
      let largestBatch = 0;
      for (const line of stdout.split('\n')) {
        if (line === '') continue;
        const parts = line.split(' ');
        if (parts[0] === 'ready') startSize = Number(parts[1]);
        else if (parts[0] === 'cp') checkpoints.set(Number(parts[1]), parts[2]!);
        else if (parts[0] === 'batch') largestBatch = Math.max(largestBatch, Number(parts[1]));
        else {
          const index = Number(parts[0]);
          if (acks.has(index)) {
            reject(new Error(`index ${index} acknowledged twice`));
            return;
          }
          acks.set(index, parts[1]!);
        }
      }
      resolvePromise({ startSize, acks, checkpoints, largestBatch, killedAfterMs });
    });
  });
}

/** Runs the real `vm` binary. */
function vm(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [vmBin, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

/** The largest key of a map (a loop: spreading 100k+ keys into Math.max overflows the stack). */
function maxKey(m: ReadonlyMap<number, unknown>): number {
  let max = -1;
  for (const k of m.keys()) if (k > max) max = k;
  return max;
}
/** The stored leaf hashes (hex) of entries [0, size), read in chunks. */
async function storedLeafHashes(
  dataDir: string,
): Promise<{ hashes: Map<number, string>; size: number; roots: Map<number, string> }> {
  const s = await openNodeStorage(dataDir, resolveStorage(dataDir), { readonly: true });
  try {
    const size = await s.size();
    const hashes = new Map<number, string>();
    for (let at = 0; at < size; at += 10_000)
      for (const e of await s.getEntries(at, Math.min(size, at + 10_000)))
        hashes.set(e.index, Buffer.from(e.leafHash).toString('hex'));
    const roots = new Map(
      (await s.listCheckpoints()).map((c) => [c.size, Buffer.from(c.root).toString('hex')]),
    );
    return { hashes, size, roots };
  } finally {
    await s.close();
  }
}

/** The storage a crash test runs on; `skip` says why it cannot run here. */
export interface CrashDriver {
  name: string;
  storage: () => StorageConfig | undefined;
  skip?: string;
}

/** The crash test on one storage driver. */
export function crashSuite(driver: CrashDriver): void {
  const tmp = mkdtempSync(join(tmpdir(), 'vm-crash-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  describe(`crash safety on ${driver.name} (SIGKILL during group-committed appends and checkpoints)`, () => {
    it.skipIf(driver.skip !== undefined)(
      'keeps every acknowledged append and checkpoint, and the ledger verifies after each crash',
      async () => {
        const started = Date.now();
        const dataDir = join(tmp, `node-${driver.name}`);
        const storage = driver.storage();
        await initNode(dataDir, { origin: 'crash.test/log', ...(storage ? { storage } : {}) });
        const acked = new Map<number, string>();
        const ackedCheckpoints = new Map<number, string>();
        const summary: string[] = [];
        let largestBatch = 0;

        let rounds = 0;
        while (rounds < ROUNDS && Date.now() - started < BUDGET_MS) {
          rounds++;
          const r = await crashRound(dataDir);
          // The restarted node continues exactly where storage ended (at least after everything acknowledged).
          expect(r.startSize).toBeGreaterThanOrEqual(acked.size === 0 ? 0 : maxKey(acked) + 1);
          for (const [index, hash] of r.acks) {
            expect(index).toBeGreaterThanOrEqual(r.startSize);
            expect(acked.has(index), `index ${index} acknowledged in two rounds`).toBe(false);
            acked.set(index, hash);
          }
          for (const [size, rootHex] of r.checkpoints) ackedCheckpoints.set(size, rootHex);
          largestBatch = Math.max(largestBatch, r.largestBatch);
          expect(r.acks.size).toBeGreaterThan(0);

          // 1. The real CLI verifies the crashed data directory (hot WAL, no clean shutdown).
          const v = await vm(['audit', 'verify', '--full', '--json', '-d', dataDir]);
          let report: { ok: boolean; size: number; problems: unknown[]; checkpointsChecked: number };
          try {
            report = JSON.parse(v.stdout) as typeof report;
          } catch {
            throw new Error(`vm audit verify printed no JSON (exit ${v.code}):\n${v.stdout}\n${v.stderr}`);
          }
          expect(report.problems, JSON.stringify(report.problems, null, 2)).toEqual([]);
          expect(report.ok).toBe(true);
          expect(v.code).toBe(0);

          // 2. Every acknowledged append (from every round so far) is stored with the same leaf hash,
          //    and every acknowledged checkpoint is stored with the same root.
          {
            const found = await storedLeafHashes(dataDir);
            const missing: string[] = [];
            for (const [index, hash] of acked) {
              const stored = found.hashes.get(index);
              if (stored !== hash)
                missing.push(`${index}: acknowledged ${hash}, stored ${stored ?? 'nothing'}`);
            }
            expect(missing, 'acknowledged appends lost or changed').toEqual([]);
            for (const [size, rootHex] of ackedCheckpoints) {
              expect(found.roots.get(size), `checkpoint ${size}`).toBe(rootHex);
            }
            const stored = found.hashes.size;
            expect(found.size).toBe(stored);
            expect(report.size).toBe(stored);
            expect(stored).toBeGreaterThanOrEqual(maxKey(acked) + 1);
            summary.push(
              `round ${rounds}: killed ${r.killedAfterMs} ms after first ack, +${r.acks.size} acked ` +
                `(${r.startSize}→${stored} stored, ${stored - r.startSize - r.acks.size} committed but unacknowledged), ` +
                `${r.checkpoints.size} checkpoints acked, ${report.checkpointsChecked} stored, largest batch ${r.largestBatch}`,
            );
          }
        }
        console.log(
          `crash test (${driver.name}): ${rounds} rounds, ${acked.size} acknowledged appends, ${ackedCheckpoints.size} acknowledged ` +
            `checkpoints, ${Date.now() - started} ms\n  ${summary.join('\n  ')}`,
        );
        expect(rounds).toBeGreaterThanOrEqual(3);
        // Group commit was exercised: some transactions carried many appends.
        expect(largestBatch).toBeGreaterThan(1);
      },
    );
  });
}
