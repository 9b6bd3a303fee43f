// Autonomy tiers, the autonomy gate, simulations and their enactment. The ControlStore is the real in-memory
// driver; the ReceiptWriter fake validates and encodes every receipt with the real ledger code (createReceiptLeaf),
// so a body the ledger would refuse fails here too.
import { createHash } from 'node:crypto';
import { canonicalBytes, createReceiptLeaf, type Receipt } from '@vaultmesh/ledger';
import { describe, expect, it } from 'vitest';
import {
  AUTONOMY_APPROVALS_COLLECTION,
  AUTONOMY_COLLECTION,
  ControlError,
  autonomyAuthorizer,
  createAutonomyGate,
  createEnactApproval,
  createMemoryControlStore,
  decideAutonomy,
  enactAutonomy,
  getAutonomy,
  listAutonomy,
  parseAutonomyScenario,
  setAutonomy,
  simulateAutonomy,
  tierAllows,
  verifySimulation,
  type AutonomyTier,
  type ControlStore,
  type PolicyDecider,
  type PolicyRequest,
  type Principal,
  type ReceiptWriter,
  type StepFacts,
} from '../src/index.ts';

function recordingWriter(): ReceiptWriter & { receipts: Receipt[] } {
  const receipts: Receipt[] = [];
  return {
    receipts,
    async append(input) {
      const parents = input.parents?.map((p) => (typeof p === 'number' ? fail('numeric parent') : { ...p }));
      const { parents: _raw, ...fields } = input;
      const leaf = createReceiptLeaf({ ...fields, ...(parents ? { parents } : {}) }, Date.now());
      receipts.push(leaf.receipt);
      return {
        index: receipts.length - 1,
        leafHash: createHash('sha256').update(leaf.leafInput).digest('hex'),
      };
    },
  };
}
const fail = (m: string): never => {
  throw new Error(m);
};

async function rejection(p: Promise<unknown>): Promise<ControlError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ControlError) return e;
    throw e;
  }
  throw new Error('expected a ControlError');
}

const step = (over: Partial<StepFacts> = {}): StepFacts => ({
  planId: 'p-1',
  planHash: 'a'.repeat(64),
  runId: 'r-1',
  phaseId: 'ph-1',
  stepId: 's-1',
  action: 'k8s.scale',
  tenant: 'acme',
  risk: 'low',
  reversible: false,
  readOnly: false,
  aggregation: false,
  dryRun: false,
  ...over,
});

const READ = { readOnly: true, reversible: true, aggregation: false };
const REVERSIBLE = { readOnly: false, reversible: true, aggregation: false };
const IRREVERSIBLE = { readOnly: false, reversible: false, aggregation: false };
const AGGREGATION = { readOnly: false, reversible: false, aggregation: true };

const admin: Principal = { type: 'person', id: 'alice', role: 'admin', tenant: '*' };

describe('tier rules, exactly as the product spec states them', () => {
  it.each<[AutonomyTier, boolean, boolean, boolean, boolean]>([
    // tier   read   reversible  irreversible  aggregation
    ['T0', false, false, false, false],
    ['T1', true, false, false, false],
    ['T2', true, true, false, false],
    ['T3', true, false, false, true],
  ])(
    '%s runs alone: read-only %s, reversible %s, irreversible %s, aggregation %s',
    (tier, r, rev, irr, agg) => {
      expect(tierAllows(tier, READ)).toBe(r);
      expect(tierAllows(tier, REVERSIBLE)).toBe(rev);
      expect(tierAllows(tier, IRREVERSIBLE)).toBe(irr);
      expect(tierAllows(tier, AGGREGATION)).toBe(agg);
    },
  );

  it('T3 is not a superset of T2: a reversible write that T2 runs alone needs approval under T3', () => {
    const s = { ...REVERSIBLE, risk: 'low' as const };
    expect(decideAutonomy({ tier: 'T2', requireHitl: false }, s).mode).toBe('auto');
    const t3 = decideAutonomy({ tier: 'T3', requireHitl: false }, s);
    expect(t3).toMatchObject({ mode: 'approval-required', tier: 'T3' });
    expect(t3.reason).toContain('reversible');
  });

  it('T0 asks for approval even for read-only steps', () => {
    expect(decideAutonomy({ tier: 'T0', requireHitl: false }, { ...READ, risk: 'low' })).toMatchObject({
      mode: 'approval-required',
      tier: 'T0',
    });
  });

  it('requireHitl forces approval for every step that is not read-only, whatever the tier', () => {
    for (const tier of ['T1', 'T2', 'T3'] as const) {
      expect(decideAutonomy({ tier, requireHitl: true }, { ...REVERSIBLE, risk: 'low' }).mode).toBe(
        'approval-required',
      );
      expect(decideAutonomy({ tier, requireHitl: true }, { ...AGGREGATION, risk: 'low' }).mode).toBe(
        'approval-required',
      );
      expect(decideAutonomy({ tier, requireHitl: true }, { ...READ, risk: 'low' }).mode).toBe('auto');
    }
    expect(
      decideAutonomy({ tier: 'T2', requireHitl: true }, { ...REVERSIBLE, risk: 'low' }).reason,
    ).toContain('requireHitl');
  });

  it('a risk ceiling asks for approval for riskier steps and only adds approvals', () => {
    const settings = { tier: 'T2' as const, requireHitl: false, maxAutoRisk: 'medium' as const };
    expect(decideAutonomy(settings, { ...REVERSIBLE, risk: 'medium' }).mode).toBe('auto');
    const high = decideAutonomy(settings, { ...READ, risk: 'high' });
    expect(high.mode).toBe('approval-required');
    expect(high.reason).toContain('ceiling medium');
    expect(decideAutonomy(settings, { ...IRREVERSIBLE, risk: 'low' }).mode).toBe('approval-required');
  });
});

describe('createAutonomyGate', () => {
  it('treats a tenant without settings as T0 (fail closed)', async () => {
    const gate = createAutonomyGate(createMemoryControlStore());
    const d = await gate.decide(step({ readOnly: true }));
    expect(d).toMatchObject({ mode: 'approval-required', tier: 'T0' });
    expect(d.reason).toContain('no autonomy settings');
  });

  it('follows the tier stored by setAutonomy, per tenant', async () => {
    const store = createMemoryControlStore();
    await setAutonomy({ store, receipts: recordingWriter(), actor: 'cli:alice', tenant: 'acme', tier: 'T2' });
    const gate = createAutonomyGate(store);
    expect((await gate.decide(step({ reversible: true }))).mode).toBe('auto');
    expect((await gate.decide(step({ reversible: false }))).mode).toBe('approval-required');
    expect((await gate.decide(step({ tenant: 'other', readOnly: true }))).tier).toBe('T0');
  });

  it('never throws: a store that fails asks for approval with the reason', async () => {
    const broken: ControlStore = {
      ...createMemoryControlStore(),
      get: async () => {
        throw new Error('disk on fire');
      },
    };
    const d = await createAutonomyGate(broken).decide(step({ readOnly: true }));
    expect(d.mode).toBe('approval-required');
    expect(d.reason).toContain('disk on fire');
  });

  it('asks for approval when the stored setting is malformed', async () => {
    const store = createMemoryControlStore();
    await store.put(AUTONOMY_COLLECTION, 'acme', { tier: 'T9', requireHitl: 'no' });
    const d = await createAutonomyGate(store).decide(step({ readOnly: true }));
    expect(d.mode).toBe('approval-required');
    expect(d.reason).toContain('could not be read');
  });
});

describe('setAutonomy', () => {
  it('records a decision receipt tagged autonomy, then stores the settings', async () => {
    const store = createMemoryControlStore();
    const receipts = recordingWriter();
    const change = await setAutonomy({
      store,
      receipts,
      actor: 'cli:alice',
      tenant: 'acme',
      tier: 'T3',
      requireHitl: true,
      rationale: 'aggregations are safe here',
    });
    expect(receipts.receipts).toHaveLength(1);
    const r = receipts.receipts[0]!;
    expect(r).toMatchObject({ kind: 'decision', actor: 'cli:alice', tenant: 'acme' });
    expect(r.body).toMatchObject({
      title: 'autonomy of acme set to T3 (human in the loop)',
      rationale: 'aggregations are safe here',
      tags: ['autonomy'],
      tenant: 'acme',
      tier: 'T3',
      requireHitl: true,
      previousTier: 'T0',
    });
    expect(change.receipt.index).toBe(0);
    expect(await getAutonomy(store, 'acme')).toMatchObject({
      source: 'stored',
      tier: 'T3',
      requireHitl: true,
      updatedBy: 'cli:alice',
      receipt: change.receipt,
    });
    expect((await listAutonomy(store)).map((s) => s.tenant)).toEqual(['acme']);
  });

  it("chains each change of a tenant to that tenant's previous autonomy receipt", async () => {
    const store = createMemoryControlStore();
    const receipts = recordingWriter();
    const first = await setAutonomy({ store, receipts, actor: 'a', tenant: 'acme', tier: 'T1' });
    await setAutonomy({ store, receipts, actor: 'a', tenant: 'acme', tier: 'T2' });
    expect(receipts.receipts[1]!.parents).toEqual([first.receipt]);
    expect(receipts.receipts[1]!.body).toMatchObject({ previousTier: 'T1', tier: 'T2' });
  });

  it('asks authorize first; a denial or a throwing hook writes nothing', async () => {
    const store = createMemoryControlStore();
    const receipts = recordingWriter();
    const asked: unknown[] = [];
    const deny = async (a: unknown) => (asked.push(a), false);
    const e = await rejection(
      setAutonomy({ store, receipts, actor: 'a', tenant: 'acme', tier: 'T2', authorize: deny }),
    );
    expect(e.code).toBe('POLICY_DENIED');
    expect(asked).toEqual([{ action: 'autonomy:set', tenant: 'acme', tier: 'T2', requireHitl: false }]);
    const boom = async () => {
      throw new Error('policy engine down');
    };
    const e2 = await rejection(
      setAutonomy({ store, receipts, actor: 'a', tenant: 'acme', tier: 'T2', authorize: boom }),
    );
    expect(e2.code).toBe('POLICY_DENIED');
    expect(e2.message).toContain('policy engine down');
    expect(receipts.receipts).toHaveLength(0);
    expect((await getAutonomy(store, 'acme')).source).toBe('default');
  });

  it('autonomyAuthorizer asks the PolicyDecider about autonomy:set on the tenant and passes only an allow', async () => {
    const seen: PolicyRequest[] = [];
    const decider = (decision: 'allow' | 'deny'): PolicyDecider => ({
      policySetHash: '0'.repeat(64),
      async decide(req) {
        seen.push(req);
        return { decision, reasons: [], errors: [], policySetHash: '0'.repeat(64) };
      },
    });
    const store = createMemoryControlStore();
    const receipts = recordingWriter();
    const opts = { store, receipts, actor: 'a', tenant: 'acme', tier: 'T1' as const };
    await setAutonomy({ ...opts, authorize: autonomyAuthorizer(decider('allow'), admin, () => 0) });
    expect(seen[0]).toEqual({
      principal: admin,
      action: 'autonomy:set',
      resource: { type: 'tenant', id: 'acme', tenant: 'acme' },
      context: { time: '1970-01-01T00:00:00.000Z', tier: 'T1', requireHitl: false },
    });
    const e = await rejection(
      setAutonomy({ ...opts, authorize: autonomyAuthorizer(decider('deny'), admin) }),
    );
    expect(e.code).toBe('POLICY_DENIED');
  });

  it('refuses a tenant that is not a receipt tenant and a tier that does not exist', async () => {
    const store = createMemoryControlStore();
    const receipts = recordingWriter();
    expect(
      (await rejection(setAutonomy({ store, receipts, actor: 'a', tenant: 'Acme!', tier: 'T1' }))).code,
    ).toBe('INVALID_ARGUMENT');
    const bad = 'T4' as AutonomyTier;
    expect(
      (await rejection(setAutonomy({ store, receipts, actor: 'a', tenant: 'acme', tier: bad }))).code,
    ).toBe('INVALID_ARGUMENT');
  });
});

const scenario = {
  tenant: 'acme',
  tier: 'T2',
  ops: [
    { action: 'http.get', readOnly: true, reversible: true, risk: 'low', outcome: 'success' },
    { action: 'k8s.scale', readOnly: false, reversible: true, risk: 'medium', outcome: 'success' },
    {
      action: 'k8s.scale',
      readOnly: false,
      reversible: true,
      risk: 'medium',
      outcome: 'failure',
      compensates: true,
    },
    { action: 'db.migrate', readOnly: false, reversible: false, risk: 'high', outcome: 'success' },
    {
      action: 'stats.sum',
      readOnly: false,
      reversible: false,
      aggregation: true,
      risk: 'low',
      outcome: 'success',
    },
  ],
  expect: { successRate: { min: 0.8 }, compensationRate: { max: 0.2 } },
};

describe('simulateAutonomy', () => {
  it('classifies each op as the gate would and computes the success and compensation rates', () => {
    const r = simulateAutonomy(scenario);
    expect(r.ops.map((o) => o.mode)).toEqual([
      'auto',
      'auto',
      'auto',
      'approval-required',
      'approval-required',
    ]);
    expect(r.totals).toEqual({
      executions: 5,
      auto: 3,
      approvalRequired: 2,
      successes: 4,
      failures: 1,
      compensations: 1,
    });
    expect(r.successRate).toBe(0.8);
    expect(r.compensationRate).toBe(0.2);
    expect(r.checks).toEqual([
      { name: 'successRate', actual: 0.8, min: 0.8, pass: true },
      { name: 'compensationRate', actual: 0.2, max: 0.2, pass: true },
    ]);
    expect(r.passed).toBe(true);
  });

  it('the same scenario under T3 sends the reversible writes to approval and lets the aggregation run', () => {
    const r = simulateAutonomy({ ...scenario, tier: 'T3' });
    expect(r.ops.map((o) => o.mode)).toEqual([
      'auto',
      'approval-required',
      'approval-required',
      'approval-required',
      'auto',
    ]);
  });

  it('fails when an expectation does not hold', () => {
    const r = simulateAutonomy({ ...scenario, expect: { successRate: { min: 0.9 } } });
    expect(r.passed).toBe(false);
    expect(r.checks).toEqual([{ name: 'successRate', actual: 0.8, min: 0.9, pass: false }]);
  });

  it('is deterministic, and its digest is SHA-256 of the RFC 8785 bytes of the result without the digest', () => {
    const a = simulateAutonomy(scenario);
    const b = simulateAutonomy(structuredClone(scenario));
    expect(a).toEqual(b);
    const { digest, ...rest } = a;
    expect(digest).toBe(createHash('sha256').update(canonicalBytes(rest)).digest('hex'));
    expect(simulateAutonomy({ ...scenario, tier: 'T1' }).digest).not.toBe(digest);
  });

  it('reads YAML and JSON scenario files to the same result', () => {
    const yaml = `tenant: acme
tier: T2
ops:
  - { action: http.get, readOnly: true, reversible: true, risk: low, outcome: success }
  - { action: k8s.scale, readOnly: false, reversible: true, risk: medium, outcome: success }
  - { action: k8s.scale, readOnly: false, reversible: true, risk: medium, outcome: failure, compensates: true }
  - { action: db.migrate, readOnly: false, reversible: false, risk: high, outcome: success }
  - { action: stats.sum, readOnly: false, reversible: false, aggregation: true, risk: low, outcome: success }
expect:
  successRate: { min: 0.8 }
  compensationRate: { max: 0.2 }
`;
    const fromYaml = simulateAutonomy(parseAutonomyScenario(yaml));
    const fromJson = simulateAutonomy(parseAutonomyScenario(JSON.stringify(scenario)));
    expect(fromYaml.digest).toBe(fromJson.digest);
  });

  it('draws outcomes only from a seed, and the same seed draws the same outcomes', () => {
    const random = {
      tenant: 'acme',
      tier: 'T1',
      repeat: 2000,
      ops: [
        {
          action: 'http.get',
          readOnly: true,
          reversible: true,
          risk: 'low',
          failureRate: 0.1,
          compensates: true,
        },
      ],
      expect: { successRate: { min: 0.85 } },
    };
    const e = (() => {
      try {
        simulateAutonomy(random);
      } catch (err) {
        return err as ControlError;
      }
      throw new Error('expected a refusal');
    })();
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toContain('need a seed');
    const a = simulateAutonomy({ ...random, seed: 'fixed' });
    expect(simulateAutonomy({ ...random, seed: 'fixed' }).digest).toBe(a.digest);
    expect(simulateAutonomy({ ...random, seed: 'other' }).digest).not.toBe(a.digest);
    expect(a.totals.executions).toBe(2000);
    expect(a.totals.failures).toBeGreaterThan(140); // 10% of 2000 = 200, drawn uniformly
    expect(a.totals.failures).toBeLessThan(260);
    expect(a.totals.compensations).toBe(a.totals.failures);
  });

  it('refuses scenarios of more than 100,000 executions (results are re-simulated on enactment)', () => {
    expect(() =>
      simulateAutonomy({ ...scenario, repeat: 10_000, ops: Array(11).fill(scenario.ops[0]) }),
    ).toThrowError(/at most 100000/);
  });

  it('refuses unknown fields and names every problem', () => {
    expect(() =>
      simulateAutonomy({ ...scenario, tier: 'T7', extra: 1, ops: [{ action: 'x', readOnly: true }] }),
    ).toThrowError(/\/tier.*\/ops\/0|\/ops\/0.*\/tier/s);
    expect(() => parseAutonomyScenario('tenant: [unclosed')).toThrowError(/neither valid JSON nor YAML/);
  });
});

describe('enactAutonomy', () => {
  async function setup(sc: unknown = scenario) {
    const store = createMemoryControlStore();
    const receipts = recordingWriter();
    const sim = JSON.parse(JSON.stringify(simulateAutonomy(sc))) as ReturnType<typeof simulateAutonomy>;
    return { store, receipts, sim };
  }

  it('applies the simulated tier with a valid approval and records receipts bound to the simulation', async () => {
    const { store, receipts, sim } = await setup();
    const approval = await createEnactApproval(admin, sim.digest, { store, fromSim: sim, receipts });
    expect(approval.token).toMatch(/^vmae_[0-9a-f]{16}\.[A-Za-z0-9_-]{43}$/);
    const stored = await store.get<{ secretHash: string }>(AUTONOMY_APPROVALS_COLLECTION, approval.id);
    expect(JSON.stringify(stored)).not.toContain(approval.token.split('.')[1]); // only the hash is kept
    const out = await enactAutonomy({
      store,
      receipts,
      fromSim: sim,
      approvalToken: approval.token,
      actor: 'cli:bob',
    });
    expect(out).toMatchObject({ approvalId: approval.id, simDigest: sim.digest });
    expect(await getAutonomy(store, 'acme')).toMatchObject({
      tier: 'T2',
      simDigest: sim.digest,
      approvalId: approval.id,
    });
    const [approved, enacted] = receipts.receipts;
    expect(approved!.body).toMatchObject({
      tags: ['autonomy', 'approval'],
      simDigest: sim.digest,
      tier: 'T2',
    });
    expect(enacted!.body).toMatchObject({
      tags: ['autonomy'],
      tenant: 'acme',
      tier: 'T2',
      requireHitl: false,
      simDigest: sim.digest,
      approvalId: approval.id,
      approvedBy: 'alice',
    });
    expect(enacted!.parents).toEqual([approval.receipt]);
  });

  it('accepts a token once', async () => {
    const { store, receipts, sim } = await setup();
    const { token } = await createEnactApproval(admin, sim.digest, { store });
    await enactAutonomy({ store, receipts, fromSim: sim, approvalToken: token, actor: 'a' });
    const e = await rejection(
      enactAutonomy({ store, receipts, fromSim: sim, approvalToken: token, actor: 'a' }),
    );
    expect(e.code).toBe('APPROVAL_INVALID');
    expect(e.message).toContain('already used');
  });

  it('refuses a simulation that did not pass, even with an approval of its digest', async () => {
    const { store, receipts, sim } = await setup({ ...scenario, expect: { successRate: { min: 0.99 } } });
    const e0 = await rejection(createEnactApproval(admin, sim.digest, { store, fromSim: sim }));
    expect(e0.code).toBe('SIMULATION_REJECTED');
    const { token } = await createEnactApproval(admin, sim.digest, { store }); // digest only: not checked here
    const e = await rejection(
      enactAutonomy({ store, receipts, fromSim: sim, approvalToken: token, actor: 'a' }),
    );
    expect(e.code).toBe('SIMULATION_REJECTED');
    expect(e.message).toContain('did not pass');
    expect((await getAutonomy(store, 'acme')).tier).toBe('T0');
  });

  it('refuses a result edited after the simulation (its digest no longer matches)', async () => {
    const { store, receipts, sim } = await setup();
    const { token } = await createEnactApproval(admin, sim.digest, { store, fromSim: sim });
    const edited = { ...sim, scenario: { ...sim.scenario, tier: 'T3' } };
    const e = await rejection(
      enactAutonomy({ store, receipts, fromSim: edited, approvalToken: token, actor: 'a' }),
    );
    expect(e.code).toBe('SIMULATION_REJECTED');
    const claimsPass = { ...sim, passed: true, successRate: 1 };
    expect(() => verifySimulation(claimsPass)).toThrowError(/does not match its digest/);
  });

  it('refuses a consistent forgery: a re-simulated result is not the one that was approved', async () => {
    const { store, receipts, sim } = await setup();
    const { token } = await createEnactApproval(admin, sim.digest, { store, fromSim: sim });
    const forged = simulateAutonomy({ ...scenario, tier: 'T3' }); // passes, and its digest is honest
    const e = await rejection(
      enactAutonomy({ store, receipts, fromSim: forged, approvalToken: token, actor: 'a' }),
    );
    expect(e.code).toBe('APPROVAL_INVALID');
    expect(e.message).toContain('another simulation');
  });

  it('refuses malformed, unknown, wrong-secret and expired tokens', async () => {
    const { store, receipts, sim } = await setup();
    let t = 1_000;
    const issued = await createEnactApproval(admin, sim.digest, { store, ttlMs: 500, now: () => t });
    const enact = (approvalToken: string) =>
      rejection(enactAutonomy({ store, receipts, fromSim: sim, approvalToken, actor: 'a', now: () => t }));
    expect((await enact('not-a-token')).message).toContain('malformed');
    expect((await enact(`vmae_${'0'.repeat(16)}.${'A'.repeat(43)}`)).message).toContain('unknown');
    expect((await enact(`vmae_${issued.id}.${'A'.repeat(43)}`)).message).toContain('unknown');
    t = 1_500;
    const e = await enact(issued.token);
    expect(e.code).toBe('APPROVAL_INVALID');
    expect(e.message).toContain('expired');
  });

  it('treats a stored approval that lost a field as unknown, never as unexpired', async () => {
    const { store, receipts, sim } = await setup();
    const issued = await createEnactApproval(admin, sim.digest, { store });
    const d = await store.get<Record<string, unknown>>(AUTONOMY_APPROVALS_COLLECTION, issued.id);
    const { expiresAt: _gone, ...rest } = d!.doc;
    await store.put(AUTONOMY_APPROVALS_COLLECTION, issued.id, rest);
    const e = await rejection(
      enactAutonomy({ store, receipts, fromSim: sim, approvalToken: issued.token, actor: 'a' }),
    );
    expect(e.code).toBe('APPROVAL_INVALID');
  });

  it('a denied enactment leaves the token unused', async () => {
    const { store, receipts, sim } = await setup();
    const { token } = await createEnactApproval(admin, sim.digest, { store });
    const e = await rejection(
      enactAutonomy({
        store,
        receipts,
        fromSim: sim,
        approvalToken: token,
        actor: 'a',
        authorize: async () => false,
      }),
    );
    expect(e.code).toBe('POLICY_DENIED');
    await enactAutonomy({ store, receipts, fromSim: sim, approvalToken: token, actor: 'a' });
    expect((await getAutonomy(store, 'acme')).tier).toBe('T2');
  });

  it('only admins and operators whose scope covers the tenant can approve', async () => {
    const { store, receipts, sim } = await setup();
    const viewer: Principal = { ...admin, id: 'vic', role: 'viewer' };
    expect((await rejection(createEnactApproval(viewer, sim.digest, { store, fromSim: sim }))).code).toBe(
      'POLICY_DENIED',
    );
    const other: Principal = { ...admin, id: 'olga', role: 'operator', tenant: 'globex' };
    expect((await rejection(createEnactApproval(other, sim.digest, { store, fromSim: sim }))).code).toBe(
      'POLICY_DENIED',
    );
    // Without the simulation the scope is checked at enactment instead.
    const { token } = await createEnactApproval(other, sim.digest, { store });
    const e = await rejection(
      enactAutonomy({ store, receipts, fromSim: sim, approvalToken: token, actor: 'a' }),
    );
    expect(e.message).toContain('cannot approve for acme');
  });
});
