// The Plan: a versioned, strictly validated description of a change (phases of steps, preconditions, gates),
// and its hash bound to the policy set that will judge it (a re-plan or a policy change gives a new hash).
import { createHash } from 'node:crypto';
import { canonicalBytes } from '@vaultmesh/ledger';
// zod/v4 (shipped inside zod 3.25) because it converts the schema to JSON Schema: the OpenAI strategist's
// system prompt carries exactly the schema this file validates with, so the two cannot drift apart.
import { z } from 'zod/v4';
import { AnalysisSchema } from './analysis.ts';
import { ControlError } from './errors.ts';
import { schemaProblems } from './schema-pointer.ts';

/** The only plan format version. */
export const PLAN_VERSION = 1;
/** Canonical plans larger than this are refused (they are stored whole and shown to approvers). */
export const MAX_PLAN_BYTES = 256 * 1024;

// Ids end up in store keys such as `${runId}/${phaseId}/${stepId}`, so they never contain '/'.
const Id = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/,
    'must be 1-128 of A-Z a-z 0-9 _ . : - (starting alphanumeric)',
  );
// Same rule as the receipt envelope's tenant, since step receipts are written under the plan's tenant.
const Tenant = z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, 'must match ^[a-z0-9][a-z0-9_.-]{0,62}$');
const Name = z.string().min(1).max(200);
const Params = z.record(z.string(), z.unknown());
const TimeoutMs = z.number().int().min(1).max(3_600_000);

/** Step risk, lowest to highest; autonomy tiers decide on it. */
export const RISKS = ['low', 'medium', 'high', 'critical'] as const;

/** What a plan acts on. */
export const TargetSchema = z.strictObject({
  environment: Name,
  namespace: Name.optional(),
  region: Name.optional(),
  tenant: Tenant,
});

/** How to undo a step: an action of the registry with its params. */
export const RollbackSchema = z.strictObject({
  action: Name,
  params: Params,
  timeoutMs: TimeoutMs.optional(),
});

/** One action of a phase. */
export const StepSchema = z.strictObject({
  id: Id,
  action: Name,
  params: Params,
  risk: z.enum(RISKS),
  reversible: z.boolean(),
  readOnly: z.boolean().optional(),
  aggregation: z.boolean().optional(),
  rollback: RollbackSchema.optional(),
  timeoutMs: TimeoutMs.optional(),
  /**
   * Try again after a failure, up to `attempts` tries in all, waiting backoffMs, then twice that, ... (at most 10
   * minutes) between them. Only for actions that are idempotent for the step's params.
   */
  retry: z
    .strictObject({
      attempts: z.number().int().min(2).max(10),
      backoffMs: z.number().int().min(100).max(600_000),
    })
    .optional(),
});

/** An ordered group of steps, run (dry, then live) as a unit; `gate.approval` asks a human before it goes live. */
export const PhaseSchema = z.strictObject({
  id: Id,
  name: Name.optional(),
  steps: z.array(StepSchema).min(1).max(100),
  gate: z.strictObject({ approval: z.boolean().optional() }).optional(),
});

/** Kinds of preconditions: an HTTP GET's status, a health probe, or a receipt present in the ledger. */
export const PRECONDITION_KINDS = ['http', 'probe', 'ledger'] as const;

/** Something that must hold when a run starts (checked again on every run, dry or live). */
export const PreconditionSchema = z.strictObject({
  id: Id,
  kind: z.enum(PRECONDITION_KINDS),
  params: Params,
});

/** Kinds of plan gates: a human approval, or a go/no-go or readiness verdict from a GateCheck. */
export const GATE_KINDS = ['approval', 'golive', 'readiness'] as const;

/** A gate in front of a phase's live run. */
export const GateSchema = z.strictObject({
  id: Id,
  kind: z.enum(GATE_KINDS),
  phaseId: Id,
  params: Params.optional(),
});

/** The plan schema, version 1 (unknown fields anywhere are refused). */
export const PlanSchema = z
  .strictObject({
    v: z.literal(PLAN_VERSION),
    id: Id,
    goal: z.string().min(1).max(2000),
    target: TargetSchema,
    phases: z.array(PhaseSchema).min(1).max(50),
    preconditions: z.array(PreconditionSchema).max(50),
    gates: z.array(GateSchema).max(50),
    /** Continuous analysis of live runs: may only tighten the node's settings (analysis.ts). */
    analysis: AnalysisSchema.optional(),
    createdBy: Name,
    createdAt: z.iso.datetime(),
  })
  .superRefine((plan, ctx) => {
    const seen = new Map<string, string>();
    const unique = (kind: string, id: string, path: (string | number)[]) => {
      const k = `${kind}:${id}`;
      if (seen.has(k)) ctx.addIssue({ code: 'custom', path, message: `duplicate ${kind} id "${id}"` });
      seen.set(k, id);
    };
    plan.phases.forEach((p, i) => {
      unique('phase', p.id, ['phases', i, 'id']);
      p.steps.forEach((s, j) => unique('step', s.id, ['phases', i, 'steps', j, 'id']));
    });
    plan.preconditions.forEach((p, i) => unique('precondition', p.id, ['preconditions', i, 'id']));
    const phaseIds = new Set(plan.phases.map((p) => p.id));
    plan.gates.forEach((g, i) => {
      unique('gate', g.id, ['gates', i, 'id']);
      if (!phaseIds.has(g.phaseId))
        ctx.addIssue({ code: 'custom', path: ['gates', i, 'phaseId'], message: `no phase "${g.phaseId}"` });
    });
  });

/** A validated plan. */
export type Plan = z.infer<typeof PlanSchema>;
export type PlanTarget = Plan['target'];
export type PlanPhase = Plan['phases'][number];
export type PlanStep = PlanPhase['steps'][number];
export type PlanPrecondition = Plan['preconditions'][number];
export type PlanGate = Plan['gates'][number];
export type StepRisk = (typeof RISKS)[number];

let planSchemaJson: Record<string, unknown> | undefined;
/** The plan schema as JSON Schema (draft 2020-12), for prompts and API documentation. */
export function planJsonSchema(): Record<string, unknown> {
  planSchemaJson ??= z.toJSONSchema(PlanSchema) as Record<string, unknown>;
  return structuredClone(planSchemaJson);
}

/** One line per problem, each naming where it is (a JSON pointer) and what is wrong. */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((i) => `${i.path.length ? '/' + i.path.join('/') : '(root)'}: ${i.message}`);
}

/** Validates an untrusted value as a plan; throws PLAN_INVALID naming every problem (details.problems). */
export function parsePlan(value: unknown): Plan {
  const r = PlanSchema.safeParse(value);
  if (!r.success) {
    const problems = describeIssues(r.error.issues);
    // Each problem also points into the published plan schema (details.errors).
    const errors = schemaProblems(r.error.issues, 'plan.schema.json', planJsonSchema(), value);
    throw new ControlError('PLAN_INVALID', `plan is invalid: ${problems.join('; ')}`, { problems, errors });
  }
  let size: number;
  try {
    size = canonicalBytes(r.data).length;
  } catch (e) {
    const problems = [`(root): not canonical JSON: ${(e as Error).message}`];
    throw new ControlError('PLAN_INVALID', `plan is invalid: ${problems[0]}`, { problems });
  }
  if (size > MAX_PLAN_BYTES) {
    const problems = [`(root): plan is ${size} bytes; the limit is ${MAX_PLAN_BYTES}`];
    throw new ControlError('PLAN_INVALID', `plan is invalid: ${problems[0]}`, { problems });
  }
  return r.data;
}

/**
 * SHA-256 (hex) of the RFC 8785 bytes of { plan, policySetHash }: the identity an approval, a dry-run record and a
 * live run are bound to, like a saved Terraform plan. Any change to the plan or to the policy set changes it.
 */
export function planHash(plan: Plan, policySetHash: string): string {
  return createHash('sha256').update(canonicalBytes({ plan, policySetHash })).digest('hex');
}

/** The phase with this id, or NOT_FOUND. */
export function findPhase(plan: Plan, phaseId: string): PlanPhase {
  const p = plan.phases.find((x) => x.id === phaseId);
  if (!p) throw new ControlError('NOT_FOUND', `plan ${plan.id} has no phase "${phaseId}"`);
  return p;
}
