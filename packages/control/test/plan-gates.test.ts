// Plan gates: a readiness gate records the report it decided on as an `audit` receipt (each value with its source),
// and fails closed when that record cannot be written.
import { describe, expect, it } from 'vitest';
import { createMemoryControlStore, createPlanGates, type ReadinessReport } from '../src/index.ts';
import { openLedger } from './helpers/harness.ts';

const RUN = { planId: 'p1', planHash: 'a'.repeat(64), runId: 'run-1', tenant: 'acme', environment: 'prod' };
const GATE = { id: 'ready', kind: 'readiness', phaseId: 'main' };
const report = (ok: boolean): ReadinessReport => ({
  status: ok ? 'READY' : 'NOT_READY',
  tenant: 'acme',
  assessedAt: '2026-12-06T00:00:00.000Z',
  findings: [
    {
      section: 'dr',
      item: 'rpo',
      ok,
      expected: '<= 900 s',
      observed: ok ? 300 : 5000,
      source: 'prometheus http://127.0.0.1:9090: backup_age_seconds',
      detail: ok ? 'observed 300 s meets the target' : 'observed 5000 s misses the target',
    },
  ],
});

describe('readiness gate', () => {
  it('records the report it decides on, READY or not, and names the receipt', async () => {
    const ledger = await openLedger();
    let ready = true;
    const gates = createPlanGates({
      store: createMemoryControlStore(),
      readiness: async () => report(ready),
      receipts: ledger.receipts,
    });
    expect(await gates.check(GATE, RUN)).toEqual({ pass: true, reason: 'tenant acme is READY (receipt 0)' });
    ready = false;
    const v = await gates.check(GATE, RUN);
    expect(v.pass).toBe(false);
    expect(v.reason).toMatch(/^tenant acme is NOT_READY \(receipt 1\): dr\/rpo: observed 5000 s/);
    const [first, second] = await ledger.all();
    expect(first).toMatchObject({ kind: 'audit', tenant: 'acme', actor: 'vaultmesh/readiness-gate' });
    expect(second!.body).toMatchObject({
      subject: 'readiness:acme',
      result: 'fail',
      status: 'NOT_READY',
      via: 'gate',
      planId: 'p1',
      runId: 'run-1',
      gateId: 'ready',
      checks: [
        {
          item: 'rpo',
          ok: false,
          observed: 5000,
          source: 'prometheus http://127.0.0.1:9090: backup_age_seconds',
        },
      ],
    });
  });

  it('fails closed when the report cannot be recorded', async () => {
    const gates = createPlanGates({
      store: createMemoryControlStore(),
      readiness: async () => report(true),
      receipts: {
        async append() {
          throw new Error('disk full');
        },
      },
    });
    expect(await gates.check(GATE, RUN)).toEqual({
      pass: false,
      reason: 'the readiness report could not be recorded: disk full',
    });
  });
});
