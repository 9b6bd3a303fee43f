// `vm demo` as a new user runs it: the real binary, one command, the whole story, exit 0.
import { describe, expect, it } from 'vitest';
import { runVm } from './helpers/vm.ts';

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
});
