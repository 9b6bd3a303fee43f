// The auditor over a real Log (memory storage, a real Ed25519 node key): real signed checkpoints and RFC 9162
// inclusion proofs, step receipts written as the executor writes them (and, at the end, by the real executor), a
// storage that lies about one entry's bytes for tampering, and a real local HTTP server for health probes.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateNodeKey, nodeEd25519Verify, nodeHasher } from '@vaultmesh/attest';
import { decodeReceipt, type Receipt } from '@vaultmesh/ledger';
import { Log, createMemoryStorage, type LogStorage } from '@vaultmesh/log';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  auditPlan,
  createLogAuditLedger,
  journalExecutedSteps,
  type AuditPlanInput,
  type AuditReport,
  type LedgerQuery,
} from '../src/index.ts';
import { executorFixture, traceDir, tracePlan } from './helpers/executor-fixture.ts';
import { operator } from './helpers/harness.ts';

const ORIGIN = 'test.vaultmesh/auditor';
const key = generateNodeKey(ORIGIN);
const other = generateNodeKey(ORIGIN);
const H = 'c'.repeat(64);
const TRUST = {
  origin: ORIGIN,
  verifierKeys: [key.verifierKey],
  hasher: nodeHasher,
  ed25519Verify: nodeEd25519Verify,
};

async function openLedger(storage: LogStorage = createMemoryStorage(), signer = key.signer) {
  const log = await Log.open({ storage, origin: ORIGIN, signer, hasher: nodeHasher });
  const all = async (): Promise<Receipt[]> => {
    const out: Receipt[] = [];
    for (let i = 0; i < log.size; i++) out.push(decodeReceipt((await log.getEntry(i)).bytes));
    return out;
  };
  const query: LedgerQuery = { hasReceipt: async () => false };
  return { log, storage, receipts: log, all, query };
}

/** A step receipt body as the executor writes it. */
const stepBody = (stepId: string, over: Record<string, unknown> = {}) => ({
  stepId,
  phaseId: 'main',
  action: 'k8s.scale',
  status: 'succeeded',
  risk: 'low',
  policy: { decision: 'allow', reasons: ['operator'], policySetHash: H },
  autonomy: { mode: 'auto', tier: 'T2', reason: 'low risk is automatic at T2' },
  outputDigest: H,
  durationMs: 12,
  attempt: 1,
  runId: 'run-1',
  planId: 'p-1',
  planHash: H,
  dryRun: false,
  ...over,
});

/** A plan receipt, then one step receipt per body (chained like the executor), then a signed checkpoint. */
async function recordedPlan(steps: Record<string, unknown>[], o: { seal?: boolean; tenant?: string } = {}) {
  const l = await openLedger();
  const plan = await l.log.append({
    kind: 'plan',
    actor: 'ops@acme',
    tenant: o.tenant ?? 'acme',
    body: { planId: 'p-1', planHash: H, goal: 'scale the shop' },
  });
  const refs = [];
  let prev: { index: number; leafHash: string } | undefined;
  for (const body of steps) {
    const r = await l.log.append({
      kind: 'step',
      actor: 'ops@acme',
      tenant: o.tenant ?? 'acme',
      body,
      parents: prev ? [plan, prev] : [plan],
    });
    prev = { index: r.index, leafHash: r.leafHash };
    refs.push(prev);
  }
  // Another plan's step, whose body mentions p-1: the text search finds it, the auditor must not count it.
  await l.log.append({
    kind: 'step',
    actor: 'ops@acme',
    tenant: 'acme',
    body: { ...stepBody('x'), planId: 'p-2', note: '"planId":"p-1"' },
  });
  if (o.seal !== false) await l.log.checkpoint();
  return { ...l, plan, refs };
}

const input = (
  l: Awaited<ReturnType<typeof recordedPlan>>,
  over: Partial<AuditPlanInput> = {},
): AuditPlanInput => ({
  planId: 'p-1',
  checks: ['receipts', 'compliance'],
  ledger: createLogAuditLedger({ storage: l.storage, log: l.log }),
  trust: TRUST,
  receipts: l.log,
  actor: 'auditor@vaultmesh',
  ...over,
});

const failures = (r: AuditReport, name: string) =>
  r.checks
    .find((c) => c.name === name)!
    .findings.filter((f) => !f.ok)
    .map((f) => `${f.subject}: ${f.detail}`);

describe('auditPlan: receipts', () => {
  it('passes when every step receipt verifies against a signed checkpoint, and records an audit receipt', async () => {
    const l = await recordedPlan([stepBody('s1'), stepBody('s2'), stepBody('s3')]);
    const r = await auditPlan(input(l));
    expect(r.result).toBe('pass');
    expect(r.subject).toBe('plan:p-1');
    expect(r.checkpoint).toEqual({ size: 5, root: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const receipts = r.checks.find((c) => c.name === 'receipts')!;
    expect(receipts.findings.map((f) => f.subject)).toEqual([
      'step main/s1 #1',
      'step main/s2 #2',
      'step main/s3 #3',
    ]);
    expect(receipts.findings[0]).toMatchObject({
      ok: true,
      detail: 'included in checkpoint 5',
      evidence: { index: 1, checkpointSize: 5 },
    });
    await l.log.idle();
    const audit = decodeReceipt((await l.log.getEntry(r.receipt.index)).bytes);
    expect(audit).toMatchObject({
      kind: 'audit',
      actor: 'auditor@vaultmesh',
      tenant: 'acme',
      body: {
        subject: 'plan:p-1',
        result: 'pass',
        planId: 'p-1',
        checks: [
          { name: 'receipts', result: 'pass', summary: '3 checked, all pass', failures: [] },
          { name: 'compliance', result: 'pass', summary: '3 checked, all pass', failures: [] },
        ],
        checkpoint: r.checkpoint,
      },
    });
    expect(audit.parents).toEqual([l.refs[2]]); // chained to the newest verified step receipt
  });

  it('a tampered step receipt fails: its bytes no longer match the leaf the checkpoint commits to', async () => {
    const l = await recordedPlan([
      stepBody('s1'),
      stepBody('s2', {
        status: 'denied',
        policy: { decision: 'deny', reasons: ['no-match'], policySetHash: H },
      }),
    ]);
    // The database says s2 was allowed and succeeded (valid canonical JSON, so only the proof can tell).
    const lying: LogStorage = {
      ...l.storage,
      async listEntries(f) {
        return (await l.storage.listEntries(f)).map((e) =>
          e.index === 2
            ? {
                ...e,
                bytes: new TextEncoder().encode(
                  new TextDecoder()
                    .decode(e.bytes)
                    .replace('"decision":"deny"', '"decision":"allow"')
                    .replace('"status":"denied"', '"status":"succeeded"'),
                ),
              }
            : e,
        );
      },
    };
    const r = await auditPlan(input(l, { ledger: createLogAuditLedger({ storage: lying, log: l.log }) }));
    expect(r.result).toBe('fail');
    expect(failures(r, 'receipts')).toEqual([
      'step main/s2 #2: its inclusion proof does not verify against the checkpoint: the receipt bytes were altered',
    ]);
    const bad = r.checks[0]!.findings.find((f) => !f.ok)!;
    expect(bad.evidence).toMatchObject({ index: 2, checkpointSize: 4 });
    await l.log.idle();
    const audit = decodeReceipt((await l.log.getEntry(r.receipt.index)).bytes);
    expect(audit.body.result).toBe('fail');
    expect((audit.body.checks as { failures: string[] }[])[0]!.failures).toHaveLength(1);
    expect(audit.parents).toEqual([l.refs[0]]); // never chained to the receipt that failed
  });

  it('bytes that are not a canonical receipt fail', async () => {
    const l = await recordedPlan([stepBody('s1')]);
    const garbled: LogStorage = {
      ...l.storage,
      async listEntries(f) {
        return (await l.storage.listEntries(f)).map((e) =>
          e.index === 1
            ? { ...e, bytes: new TextEncoder().encode(' ' + new TextDecoder().decode(e.bytes)) }
            : e,
        );
      },
    };
    const r = await auditPlan(
      input(l, { ledger: createLogAuditLedger({ storage: garbled, log: l.log }), checks: ['receipts'] }),
    );
    expect(failures(r, 'receipts')).toEqual([
      'receipt #1: not a valid receipt: leaf bytes are not in RFC 8785 canonical form',
    ]);
  });

  it('a step the journal says was executed but whose receipt is missing fails', async () => {
    const l = await recordedPlan([stepBody('s1'), stepBody('s2')]);
    const journal = [
      {
        runId: 'run-1',
        phaseId: 'main',
        stepId: 's1',
        action: 'k8s.scale',
        state: 'done' as const,
        status: 'succeeded',
        receipt: l.refs[0],
      },
      {
        runId: 'run-1',
        phaseId: 'main',
        stepId: 's2',
        action: 'k8s.scale',
        state: 'done' as const,
        status: 'succeeded',
        receipt: l.refs[1],
      },
      // s3's journal names the plan receipt (index 0) as its receipt: no step receipt backs it.
      {
        runId: 'run-1',
        phaseId: 'main',
        stepId: 's3',
        action: 'k8s.scale',
        state: 'done' as const,
        status: 'succeeded',
        receipt: { index: 0, leafHash: l.plan.leafHash },
      },
      { runId: 'run-1', phaseId: 'main', stepId: 's4', action: 'shell', state: 'started' as const },
      // s2's receipt, claimed by another step
      {
        runId: 'run-1',
        phaseId: 'main',
        stepId: 's5',
        action: 'k8s.scale',
        state: 'done' as const,
        status: 'succeeded',
        receipt: l.refs[1],
      },
    ];
    const r = await auditPlan(input(l, { executedSteps: async () => journal }));
    expect(r.result).toBe('fail');
    expect(failures(r, 'receipts')).toEqual([
      'step main/s3 of run run-1: missing receipt: the journal names receipt #0, which is not a step receipt of plan p-1',
      'step main/s4 of run run-1: the journal says it started but no receipt records its outcome (interrupted, or still running)',
      'step main/s5 of run run-1: receipt #2 differs from the journal: it records run-1/main/s2',
    ]);
  });

  it("a receipt not yet covered by a checkpoint asks for one, or without a way to seal is reported 'unsealed'", async () => {
    const l = await recordedPlan([stepBody('s1')]);
    await l.log.append({ kind: 'step', actor: 'ops@acme', tenant: 'acme', body: stepBody('s2') });
    const unsealed = await auditPlan(
      input(l, { ledger: createLogAuditLedger({ storage: l.storage, log: l.log, seal: false }) }),
    );
    expect(unsealed.result).toBe('fail');
    expect(failures(unsealed, 'receipts')).toEqual([
      'step main/s2 #3: unsealed: not covered by the latest checkpoint (size 3)',
    ]);
    expect(unsealed.checks[0]!.findings.at(-1)!.evidence).toMatchObject({ status: 'unsealed' });

    const sealed = await auditPlan(input(l));
    expect(sealed.result).toBe('pass');
    expect(sealed.checkpoint!.size).toBeGreaterThan(3);
    expect((await l.log.latestCheckpoint())!.size).toBe(sealed.checkpoint!.size);
  });

  it('with no checkpoint at all and no way to seal, every receipt is unsealed', async () => {
    const l = await recordedPlan([stepBody('s1')], { seal: false });
    const r = await auditPlan(
      input(l, {
        ledger: createLogAuditLedger({ storage: l.storage, log: l.log, seal: false }),
        checks: ['receipts'],
      }),
    );
    expect(failures(r, 'receipts')).toEqual([
      'step main/s1 #1: unsealed: no checkpoint has been published yet',
    ]);
  });

  it('a checkpoint signed by an untrusted key, or for another origin, fails', async () => {
    const l = await recordedPlan([stepBody('s1')]);
    const r = await auditPlan(
      input(l, { trust: { ...TRUST, verifierKeys: [other.verifierKey] }, checks: ['receipts'] }),
    );
    expect(r.result).toBe('fail');
    expect(failures(r, 'receipts')[0]).toMatch(
      /^checkpoint: the checkpoint does not verify: no signature from a known key/,
    );
    expect(failures(r, 'receipts')[1]).toBe('step main/s1 #1: cannot be verified: no trusted checkpoint');
    const o = await auditPlan(
      input(l, { trust: { ...TRUST, origin: 'elsewhere/log' }, checks: ['receipts'] }),
    );
    expect(failures(o, 'receipts')[0]).toMatch(
      /checkpoint is for origin "test.vaultmesh\/auditor", not "elsewhere\/log"/,
    );
  });

  it('a plan without step receipts fails (fail closed), and bad requests are refused', async () => {
    const l = await recordedPlan([]);
    const r = await auditPlan(input(l));
    expect(failures(r, 'receipts')).toEqual(['plan: no step receipts for plan p-1']);
    expect(failures(r, 'compliance')).toEqual(['plan: no step receipts for plan p-1']);
    await expect(auditPlan(input(l, { checks: ['vibes' as 'health'] }))).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(auditPlan(input(l, { planId: 'bad/id' }))).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });
});

describe('auditPlan: compliance', () => {
  it('a recorded policy deny fails compliance (the receipts themselves verify)', async () => {
    const l = await recordedPlan([
      stepBody('s1'),
      stepBody('s2', {
        status: 'denied',
        reason: 'policy-denied',
        policy: { decision: 'deny', reasons: ['no-match'], policySetHash: H },
      }),
    ]);
    const r = await auditPlan(input(l));
    expect(r.checks.map((c) => `${c.name}:${c.result}`)).toEqual(['receipts:pass', 'compliance:fail']);
    expect(failures(r, 'compliance')).toEqual(['step main/s2 #2: policy denied it (recorded deny)']);
    expect(r.result).toBe('fail');
  });

  it('an executed step without a recorded policy allow fails', async () => {
    const { policy: _p, ...noPolicy } = stepBody('s1');
    const l = await recordedPlan([noPolicy]);
    const r = await auditPlan(input(l, { checks: ['compliance'] }));
    expect(failures(r, 'compliance')).toEqual([
      'step main/s1 #1: status succeeded without a recorded policy allow',
    ]);
  });

  it('a live step the autonomy gate held for approval must name its approval id (a dry-run need not)', async () => {
    const gated = {
      autonomy: { mode: 'approval-required', tier: 'T1', reason: 'high risk needs a human' },
      risk: 'high',
    };
    const l = await recordedPlan([
      stepBody('s1', { ...gated, dryRun: true, approvalRequired: true, status: 'skipped' }),
      stepBody('s2', { ...gated, approvalId: 'ap-0123456789abcdef' }),
      stepBody('s3', gated),
      // Held for approval, never ran: not a violation.
      stepBody('s4', { ...gated, status: 'denied', reason: 'approval-required' }),
    ]);
    const r = await auditPlan(input(l, { checks: ['compliance'] }));
    expect(failures(r, 'compliance')).toEqual([
      'step main/s3 #3: the autonomy gate required an approval but the receipt names no approval id',
    ]);
    expect(r.checks[0]!.findings[1]).toMatchObject({
      ok: true,
      evidence: { approvalId: 'ap-0123456789abcdef' },
    });
  });

  it("residency: every executed step's region (receipt, else plan step, else plan target) must be allowed", async () => {
    const l = await recordedPlan([
      stepBody('s1'),
      stepBody('s2'),
      stepBody('s3', { region: 'eu-central-1' }),
      stepBody('s4', {
        status: 'denied',
        policy: { decision: 'allow', reasons: [], policySetHash: H },
        reason: 'approval-required',
      }),
    ]);
    const plan = {
      target: { tenant: 'acme', region: 'eu-west-1' },
      phases: [
        {
          id: 'main',
          steps: [
            { id: 's1', params: {} },
            { id: 's2', params: { region: 'us-east-1' } },
            { id: 's3', params: { region: 'us-east-1' } },
            { id: 's4', params: { region: 'ap-south-1' } },
          ],
        },
      ],
    };
    const r = await auditPlan(
      input(l, { checks: ['compliance'], compliance: { allowedRegions: ['eu-*'], plan } }),
    );
    expect(failures(r, 'compliance')).toEqual([
      "step main/s2 #2: ran in region us-east-1, outside the tenant's residency (eu-*)",
    ]);
    expect(r.checks[0]!.findings[2]!.detail).toBe('status succeeded, policy allow, region eu-central-1');

    const unknown = await auditPlan(
      input(l, { checks: ['compliance'], compliance: { allowedRegions: ['eu-west-1'] } }),
    );
    expect(failures(unknown, 'compliance')).toEqual([
      'step main/s1 #1: its region is unknown, so residency cannot be shown (fail closed)',
      'step main/s2 #2: its region is unknown, so residency cannot be shown (fail closed)',
      "step main/s3 #3: ran in region eu-central-1, outside the tenant's residency (eu-west-1)",
    ]);
  });

  it("a step receipt another tenant recorded naming the plan is not the plan's: the audit ignores it", async () => {
    const l = await recordedPlan([stepBody('s1')]);
    const plan = { target: { tenant: 'acme' }, phases: [] };
    const clean = await auditPlan(input(l, { compliance: { plan } }));
    expect(clean.result).toBe('pass');
    // Another tenant's receipt naming p-1, with a failed status (as a forger in tenant globex would write it).
    await l.log.append({
      kind: 'step',
      actor: 'token:intruder',
      tenant: 'globex',
      body: { ...stepBody('s1'), status: 'failed' },
    });
    await l.log.checkpoint();
    const r = await auditPlan(input(l, { compliance: { plan } }));
    expect(r.result).toBe('pass');
    expect(failures(r, 'compliance')).toEqual([]);
    expect(decodeReceipt((await (await l.log.idle(), l.log.getEntry(r.receipt.index))).bytes).tenant).toBe(
      'acme',
    );
  });
});

describe('auditPlan: health', () => {
  let server: Server;
  let base = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/healthz') res.writeHead(200).end('ok');
      else if (req.url === '/api/system/health')
        res.writeHead(503, { 'content-type': 'application/json' }).end('{"status":"degraded"}');
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => new Promise((r) => server.close(r)));

  it('passes when every probe answers its expected status, fails otherwise or with no probes', async () => {
    const l = await recordedPlan([stepBody('s1')]);
    const ok = await auditPlan(
      input(l, {
        checks: ['health'],
        health: {
          probes: [
            { name: 'shop', url: `${base}/healthz` },
            { name: 'gone', url: `${base}/nope`, expectStatus: 404 },
          ],
        },
      }),
    );
    expect(ok.result).toBe('pass');
    expect(ok.checks[0]!.findings[0]).toMatchObject({
      ok: true,
      subject: 'probe shop',
      detail: `GET ${base}/healthz answered 200`,
    });
    const bad = await auditPlan(
      input(l, {
        checks: ['health'],
        health: { probes: [{ name: 'api', url: `${base}/api/system/health` }] },
      }),
    );
    expect(failures(bad, 'health')).toEqual([
      `probe api: GET ${base}/api/system/health answered 503, expected 200`,
    ]);
    const none = await auditPlan(input(l, { checks: ['health'] }));
    expect(failures(none, 'health')).toEqual(['plan: no health probes are configured']);
  });
});

describe('auditPlan over the real executor', () => {
  it('a dry-run then live run of a stored plan audits clean against its journal', async () => {
    const ledger = await openLedger();
    const f = await executorFixture({ ledger });
    const { trace } = traceDir();
    const plan = tracePlan(trace, { main: [{ id: 's1' }, { id: 's2' }] }, { id: 'p-1' });
    const stored = await f.executor.storePlan(plan, operator);
    await f.executor.run({ plan: plan.id, planHash: stored.planHash, dryRun: true, principal: operator });
    const live = await f.executor.run({
      plan: plan.id,
      planHash: stored.planHash,
      dryRun: false,
      principal: operator,
    });
    expect(live.state).toBe('succeeded');
    const r = await auditPlan({
      planId: 'p-1',
      ledger: createLogAuditLedger({ storage: ledger.storage, log: ledger.log }),
      trust: TRUST,
      executedSteps: journalExecutedSteps(f.executor),
      compliance: { plan },
      checks: ['receipts', 'compliance'],
      receipts: ledger.log,
    });
    expect(r.result).toBe('pass');
    // 4 step receipts (dry s1, s2; live s1, s2) and 4 journal entries matched to them.
    expect(r.checks[0]!.findings).toHaveLength(8);
  });

  it('reports each run on its own: plan version (current or replaced), dry or live, outcome, what a live run relied on', async () => {
    const ledger = await openLedger();
    const f = await executorFixture({ ledger });
    const { trace } = traceDir();
    // Version 1's dry-run fails (a dry shell step checks its command exists, and this one does not).
    const v1 = tracePlan(trace, { main: [{ id: 's1' }] }, { id: 'p-1' });
    v1.phases[0]!.steps[0]!.params = { command: '/nonexistent/deploy-tool' };
    const s1 = await f.executor.storePlan(v1, operator);
    const dry1 = await f.executor.run({
      plan: 'p-1',
      planHash: s1.planHash,
      dryRun: true,
      principal: operator,
    });
    expect(dry1.state).toBe('hold');
    const v2 = tracePlan(trace, { main: [{ id: 's1' }, { id: 's2' }] }, { id: 'p-1', goal: 'fixed' });
    const s2 = await f.executor.storePlan(v2, operator, { replaces: s1.planHash });
    const dry2 = await f.executor.run({
      plan: 'p-1',
      planHash: s2.planHash,
      dryRun: true,
      principal: operator,
    });
    const live2 = await f.executor.run({
      plan: 'p-1',
      planHash: s2.planHash,
      dryRun: false,
      principal: operator,
    });
    expect(live2.state).toBe('succeeded');
    const seen: { runId: string; planHash: string; phases: readonly string[] }[] = [];
    const r = await auditPlan({
      planId: 'p-1',
      ledger: createLogAuditLedger({ storage: ledger.storage, log: ledger.log }),
      trust: TRUST,
      compliance: { plan: v2 },
      checks: ['receipts', 'compliance'],
      receipts: ledger.log,
      currentPlanHash: s2.planHash,
      reliance: async (run) => {
        seen.push(run);
        return { dryRun: { runId: dry2.runId }, go: { pollId: 'gl-1', outcome: 'go', receiptIndex: 7 } };
      },
    });
    expect(r.runs.map((x) => [x.runId, x.current, x.dryRun, x.outcome, x.steps])).toEqual([
      [dry1.runId, false, true, 'failed', 1],
      [dry2.runId, true, true, 'passed', 2],
      [live2.runId, true, false, 'passed', 2],
    ]);
    // Only the live run is asked what it relied on, with its own hash and phases.
    expect(seen).toEqual([{ runId: live2.runId, planHash: s2.planHash, phases: ['main'] }]);
    expect(r.runs[2]!.reliedOn).toEqual({
      dryRun: { runId: dry2.runId },
      go: { pollId: 'gl-1', outcome: 'go', receiptIndex: 7 },
    });
    const rec = decodeReceipt((await (await ledger.log.idle(), ledger.log.getEntry(r.receipt.index))).bytes);
    expect(rec.body.runs).toEqual([
      { runId: dry1.runId, planHash: s1.planHash, current: false, dryRun: true, outcome: 'failed' },
      { runId: dry2.runId, planHash: s2.planHash, current: true, dryRun: true, outcome: 'passed' },
      {
        runId: live2.runId,
        planHash: s2.planHash,
        current: true,
        dryRun: false,
        outcome: 'passed',
        dryRunOf: dry2.runId,
        go: 'gl-1',
      },
    ]);
  });

  it('a failed run is reported failed with its steps, whatever the checks say', async () => {
    const ledger = await openLedger();
    const f = await executorFixture({ ledger });
    const { trace } = traceDir();
    const plan = tracePlan(trace, { main: [{ id: 's1', exit: 4, rollback: false }] }, { id: 'p-1' });
    const stored = await f.executor.storePlan(plan, operator);
    await f.executor.run({ plan: 'p-1', planHash: stored.planHash, dryRun: true, principal: operator });
    const live = await f.executor.run({
      plan: 'p-1',
      planHash: stored.planHash,
      dryRun: false,
      principal: operator,
    });
    expect(live.state).toBe('hold');
    const r = await auditPlan({
      planId: 'p-1',
      ledger: createLogAuditLedger({ storage: ledger.storage, log: ledger.log }),
      trust: TRUST,
      checks: ['receipts'],
      receipts: ledger.log,
    });
    expect(r.runs.at(-1)).toMatchObject({
      runId: live.runId,
      dryRun: false,
      outcome: 'failed',
      problems: ['main/s1: failed'],
    });
  });

  it('a run the policy denied at a step fails compliance', async () => {
    const ledger = await openLedger();
    const f = await executorFixture({
      ledger,
      rule: (req) => !(req.action === 'execute' && req.context.stepId === 's2'),
    });
    const { trace } = traceDir();
    const plan = tracePlan(trace, { main: [{ id: 's1' }, { id: 's2' }] }, { id: 'p-1' });
    const stored = await f.executor.storePlan(plan, operator);
    const dry = await f.executor.run({
      plan: plan.id,
      planHash: stored.planHash,
      dryRun: true,
      principal: operator,
    });
    expect(dry.state).toBe('hold');
    const r = await auditPlan({
      planId: 'p-1',
      ledger: createLogAuditLedger({ storage: ledger.storage, log: ledger.log }),
      trust: TRUST,
      executedSteps: journalExecutedSteps(f.executor),
      receipts: ledger.log,
    });
    expect(r.checks.map((c) => `${c.name}:${c.result}`)).toEqual([
      'receipts:pass',
      'health:fail',
      'compliance:fail',
    ]);
    expect(failures(r, 'compliance')).toEqual(['step main/s2 #2: policy denied it (recorded deny)']);
  });
});
