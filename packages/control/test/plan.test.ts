// The plan schema and the plan hash.
import { createHash } from 'node:crypto';
import { canonicalBytes } from '@vaultmesh/ledger';
import { describe, expect, it } from 'vitest';
import { ControlError, parsePlan, planHash, planJsonSchema, type Plan } from '../src/index.ts';
import { samplePlan } from './helpers/plans.ts';

function problemsOf(value: unknown): string[] {
  try {
    parsePlan(value);
  } catch (e) {
    expect(e).toBeInstanceOf(ControlError);
    expect((e as ControlError).code).toBe('PLAN_INVALID');
    return (e as ControlError).details!.problems as string[];
  }
  throw new Error('plan was accepted');
}

describe('plan schema', () => {
  it('accepts a valid plan and returns it unchanged', () => {
    const p = samplePlan();
    expect(parsePlan(JSON.parse(JSON.stringify(p)))).toEqual(p);
  });

  it('refuses unknown fields anywhere, naming where they are', () => {
    expect(problemsOf({ ...samplePlan(), extra: 1 })).toEqual(['(root): Unrecognized key: "extra"']);
    const p = samplePlan();
    (p.phases[0]!.steps[0] as Record<string, unknown>).sudo = true;
    (p.target as Record<string, unknown>).cluster = 'x';
    expect(problemsOf(p)).toEqual([
      '/target: Unrecognized key: "cluster"',
      '/phases/0/steps/0: Unrecognized key: "sudo"',
    ]);
  });

  it('names every problem: bad risk, missing fields, version, bad ids, tenant and time', () => {
    const p = samplePlan({
      v: 2 as 1,
      createdAt: 'yesterday',
      target: { environment: 'x', tenant: 'Acme!' },
    });
    (p.phases[0]!.steps[0] as Record<string, unknown>).risk = 'extreme';
    delete (p.phases[0]!.steps[1] as Record<string, unknown>).reversible;
    p.phases[0]!.id = 'a/b';
    const problems = problemsOf(p);
    expect(problems.some((x) => x.startsWith('/v:'))).toBe(true);
    expect(problems.some((x) => x.startsWith('/createdAt:'))).toBe(true);
    expect(problems.some((x) => x.startsWith('/target/tenant:'))).toBe(true);
    expect(problems.some((x) => x.startsWith('/phases/0/id:'))).toBe(true);
    expect(problems.some((x) => x.startsWith('/phases/0/steps/0/risk:'))).toBe(true);
    expect(problems.some((x) => x.startsWith('/phases/0/steps/1/reversible:'))).toBe(true);
  });

  it('refuses duplicate ids and gates in front of phases that do not exist', () => {
    const p = samplePlan({ gates: [{ id: 'g', kind: 'golive', phaseId: 'nope' }] });
    p.phases.push({ id: 'main', steps: [{ ...p.phases[0]!.steps[0]! }] });
    expect(problemsOf(p)).toEqual([
      '/phases/1/id: duplicate phase id "main"',
      '/phases/1/steps/0/id: duplicate step id "s1"',
      '/gates/0/phaseId: no phase "nope"',
    ]);
  });

  it('is published as a strict JSON Schema (for prompts and API docs)', () => {
    const s = planJsonSchema() as { required: string[]; additionalProperties: boolean };
    expect(s.additionalProperties).toBe(false);
    expect(s.required).toEqual(expect.arrayContaining(['v', 'id', 'goal', 'target', 'phases', 'createdAt']));
  });
});

describe('planHash', () => {
  it('is SHA-256 of the RFC 8785 bytes of { plan, policySetHash }', () => {
    const p = samplePlan();
    const policy = 'b'.repeat(64);
    const expected = createHash('sha256')
      .update(canonicalBytes({ plan: p, policySetHash: policy }))
      .digest('hex');
    expect(planHash(p, policy)).toBe(expected);
    // Key order does not matter (canonical JSON), so a plan read back from storage hashes the same.
    const reordered = Object.fromEntries(Object.entries(p).reverse()) as Plan;
    expect(planHash(reordered, policy)).toBe(expected);
  });

  it('changes on any re-plan and on a policy change', () => {
    const p = samplePlan();
    const h = planHash(p, 'a'.repeat(64));
    expect(planHash(p, 'b'.repeat(64))).not.toBe(h);
    const q = structuredClone(p);
    (q.phases[0]!.steps[1]!.params as { ms: number }).ms = 2;
    expect(planHash(q, 'a'.repeat(64))).not.toBe(h);
    expect(planHash({ ...p, goal: 'restart the api now' }, 'a'.repeat(64))).not.toBe(h);
  });
});
