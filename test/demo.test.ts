// `vm demo` as a new user runs it: the real binary, one command, the whole story, exit 0.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runVm } from './helpers/vm.ts';

/** Absolute paths the output names (a word starting with / that has a file name part). */
const pathsIn = (text: string) =>
  [...text.matchAll(/(?<=\s|^)(\/[\w.@-]+(?:\/[\w.@-]+)+)/gm)].map((m) => m[1]!);

describe('vm demo', () => {
  it('plans, dry-runs, approves, runs live, trips the burn-rate wire on the injected fault, rolls back, audits and exports evidence', async () => {
    const r = await runVm(['demo', '--json'], { timeoutMs: 90_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as {
      ok: boolean;
      live: { state: string; hold: { reason: string } };
      audit: { result: string };
      evidence: { ok: boolean };
    };
    expect(summary.ok).toBe(true);
    expect(summary.live.state).toBe('hold');
    expect(summary.live.hold.reason).toBe('tripwire-halt');
    expect(summary.audit.result).toBe('pass');
    expect(summary.evidence.ok).toBe(true);
  }, 120_000);

  it('prints only paths that still exist afterwards: none of the removed temporary directory, all of a kept one', async () => {
    const r = await runVm(['demo'], { timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(pathsIn(r.stdout).filter((p) => !existsSync(p))).toEqual([]);
    expect(r.stdout).toMatch(/removed at the end \(--keep keeps it\)/);
    const dir = mkdtempSync(join(tmpdir(), 'vm-demo-kept-'));
    try {
      const kept = await runVm(['demo', '-d', join(dir, 'run')], { timeoutMs: 90_000 });
      expect(kept.code, kept.stderr).toBe(0);
      const paths = pathsIn(kept.stdout).filter((p) => p.startsWith(dir));
      expect(paths.length).toBeGreaterThan(2);
      expect(paths.filter((p) => !existsSync(p))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 200_000);
});
