// The Cedar policy engine: strict validation on load, fail-closed decisions (any error, malformed request or
// timeout is a deny), and a policy-set hash that names exactly what decided.
import { createHash } from 'node:crypto';
// Must run before Cedar is used: see v8-guard.ts.
import './v8-guard.ts';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import type { PolicyDecider, PolicyDecision, PolicyRequest } from '@vaultmesh/types';
import { PolicyError, type PolicyProblem } from './errors.ts';
import { MalformedRequest, toCedarRequest, type CedarRequest } from './request.ts';
import { VAULTMESH_SCHEMA } from './schema.ts';

/** A Cedar schema: Cedar schema text, or its JSON form. */
export type CedarSchema = cedar.Schema;

/**
 * Default limit of one evaluation; one that takes longer is a deny. An evaluation takes well under 1 ms. What is
 * measured is the evaluation itself: the smaller of its wall-clock time and the process CPU time it used, so a
 * process descheduled on a busy machine (wall-clock grows, CPU does not) or busy worker threads (CPU grows, the
 * wall-clock does not) never turn a legitimate request into a deny; only an evaluation that really works that long
 * does. Configurable per node (control.policyTimeoutMs).
 */
export const DEFAULT_TIMEOUT_MS = 100;

/** Process CPU time (user + system) in ms. */
const processCpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
/** Largest policy text accepted (characters); larger sets are refused as POLICY_INVALID. */
export const MAX_POLICY_CHARS = 1_000_000;
/** Most policies in one set. */
export const MAX_POLICIES = 10_000;

/** Options of createPolicyEngine and validatePolicies. */
export interface PolicyEngineOptions {
  /** The policy set in Cedar's policy language. Policies are named by their @id("...") annotation, else policyN. */
  readonly policies: string;
  /** Schema to validate against (strict mode); default: the VaultMesh schema (src/vaultmesh.cedarschema). */
  readonly schema?: CedarSchema;
  /** Limit of one evaluation in ms (default 100), measured as in DEFAULT_TIMEOUT_MS; over it is a deny. */
  readonly timeoutMs?: number;
  /** Clock in ms (default: performance.timeOrigin + performance.now()); times decisions and fills context.time. */
  readonly now?: () => number;
  /** Process CPU clock in ms (default: process.cpuUsage user + system); times evaluations with `now`. */
  readonly cpuNow?: () => number;
}

/** The outcome of validating a policy set: ok with its hash, or every error found. */
export interface PolicyValidation {
  readonly ok: boolean;
  /** Policy ids in source order. */
  readonly policyIds: readonly string[];
  readonly errors: readonly PolicyProblem[];
  /** Strict-mode warnings (e.g. a policy that can never apply); they do not refuse the set. */
  readonly warnings: readonly PolicyProblem[];
  /** SHA-256 (hex) of the canonical policy set and schema; present when ok. */
  readonly policySetHash?: string;
}

/** A loaded, strictly validated policy set that decides requests; implements the PolicyDecider port. */
export interface PolicyEngine extends PolicyDecider {
  readonly policySetHash: string;
  readonly policyIds: readonly string[];
  readonly warnings: readonly PolicyProblem[];
  readonly timeoutMs: number;
  /** Decides a request; never rejects (any failure is a deny with its error). */
  decide(req: PolicyRequest): Promise<PolicyDecision>;
  /** The same decision, synchronously (Cedar evaluation is synchronous). Never throws. */
  decideSync(req: PolicyRequest): PolicyDecision;
}

/** Converts a Cedar source location (offset into `text` from `base`) into a 1-based line and column. */
function locate(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

function problem(
  policyId: string | null,
  err: cedar.DetailedError,
  text?: string,
  base?: number,
): PolicyProblem {
  const start = err.sourceLocations?.[0]?.start;
  const at =
    text !== undefined && base !== undefined && start !== undefined ? locate(text, base + start) : {};
  return { policyId, message: err.message, ...at, ...(err.help ? { help: err.help } : {}) };
}

/** JSON with object keys sorted (RFC 8785 order for the strings and integers Cedar's JSON forms contain). */
function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

interface Parsed {
  validation: PolicyValidation;
  /** id → policy text, for Cedar. */
  byId: Record<string, string>;
  /** The schema in Cedar's JSON form (parsed once; Cedar parses JSON schemas faster than schema text). */
  schema: cedar.SchemaJson<string>;
}

let defaultSchemaJson: cedar.SchemaJson<string> | undefined;

/** Parses a schema into its JSON form; throws PolicyError SCHEMA_INVALID when it does not parse. */
function schemaJsonOf(schema: CedarSchema): cedar.SchemaJson<string> {
  if (schema === VAULTMESH_SCHEMA && defaultSchemaJson) return defaultSchemaJson;
  const parsed = cedar.schemaToJson(schema);
  if (parsed.type === 'failure') {
    const errors = parsed.errors.map((e) =>
      problem(null, e, typeof schema === 'string' ? schema : undefined, 0),
    );
    throw new PolicyError('SCHEMA_INVALID', `the Cedar schema does not parse: ${errors[0]?.message ?? ''}`, {
      errors,
    });
  }
  if (schema === VAULTMESH_SCHEMA) defaultSchemaJson = parsed.json;
  return parsed.json;
}

/** Splits, names and strictly validates a policy set; throws PolicyError SCHEMA_INVALID for a bad schema. */
function parseAndValidate(opts: { policies: string; schema?: CedarSchema }): Parsed {
  const text = opts.policies;
  if (typeof text !== 'string')
    throw new PolicyError('INVALID_ARGUMENT', 'policies must be Cedar policy text');
  const schema = schemaJsonOf(opts.schema ?? VAULTMESH_SCHEMA);
  const refuse = (errors: PolicyProblem[]): Parsed => ({
    validation: { ok: false, policyIds: [], errors, warnings: [] },
    byId: {},
    schema,
  });
  if (text.length > MAX_POLICY_CHARS)
    return refuse([
      { policyId: null, message: `the policy text is longer than ${MAX_POLICY_CHARS} characters` },
    ]);
  const parse = cedar.checkParsePolicySet({ staticPolicies: text });
  if (parse.type === 'failure') return refuse(parse.errors.map((e) => problem(null, e, text, 0)));
  const split = cedar.policySetTextToParts(text);
  if (split.type === 'failure') return refuse(split.errors.map((e) => problem(null, e, text, 0)));
  if (split.policy_templates.length > 0)
    return refuse([{ policyId: null, message: 'policy templates are not supported; write static policies' }]);
  if (split.policies.length > MAX_POLICIES)
    return refuse([{ policyId: null, message: `more than ${MAX_POLICIES} policies` }]);

  // Cedar returns the parts ordered by its internal names, not by position: restore source order.
  const located = split.policies
    .map((part) => ({ part, first: text.indexOf(part) }))
    .sort((a, b) => (a.first < 0 ? 1 : b.first < 0 ? -1 : a.first - b.first));
  let cursor = 0;
  const parts = located.map(({ part }) => {
    const offset = text.indexOf(part, cursor);
    if (offset >= 0) cursor = offset + part.length;
    return { part, offset: offset >= 0 ? offset : undefined };
  });

  const errors: PolicyProblem[] = [];
  const byId: Record<string, string> = {};
  const offsets = new Map<string, number | undefined>();
  const json: Record<string, unknown> = {};
  parts.forEach(({ part, offset }, i) => {
    const pj = cedar.policyToJson(part);
    if (pj.type === 'failure') {
      errors.push(...pj.errors.map((e) => problem(null, e, text, offset)));
      return;
    }
    const annotated = pj.json.annotations?.['id'];
    const id = annotated ?? `policy${i}`;
    const at = offset !== undefined ? locate(text, offset) : {};
    if (id.length === 0 || id.startsWith('error:')) {
      errors.push({ policyId: id, message: `policy id "${id}" is empty or reserved (error:*)`, ...at });
    } else if (Object.hasOwn(byId, id)) {
      errors.push({ policyId: id, message: `duplicate policy id "${id}"`, ...at });
    } else {
      byId[id] = part;
      offsets.set(id, offset);
      json[id] = pj.json;
    }
  });
  if (errors.length > 0) return refuse(errors);

  const result = cedar.validate({
    schema,
    policies: { staticPolicies: byId },
    validationSettings: { mode: 'strict' },
  });
  if (result.type === 'failure') return refuse(result.errors.map((e) => problem(null, e)));
  for (const e of result.validationErrors)
    errors.push(problem(e.policyId, e.error, text, offsets.get(e.policyId)));
  const warnings: PolicyProblem[] = [
    ...result.validationWarnings.map((w) => problem(w.policyId, w.error, text, offsets.get(w.policyId))),
    ...result.otherWarnings.map((w) => problem(null, w)),
  ];
  const policyIds = Object.keys(byId);
  if (errors.length > 0) return { validation: { ok: false, policyIds, errors, warnings }, byId, schema };

  // The hash covers each policy's JSON form (so whitespace and comments do not change it, ids and logic do)
  // and the schema's JSON form, serialized with sorted keys.
  const policySetHash = createHash('sha256')
    .update(stableJson({ v: 1, policies: json, schema }))
    .digest('hex');
  return { validation: { ok: true, policyIds, errors: [], warnings, policySetHash }, byId, schema };
}

/** Validates a policy set strictly against the schema and reports every error (never throws for bad policies). */
export function validatePolicies(opts: { policies: string; schema?: CedarSchema }): PolicyValidation {
  return parseAndValidate(opts).validation;
}

/** One line per problem: `policy "<id>" line L:C: message`. */
export function formatProblem(p: PolicyProblem): string {
  const who = p.policyId === null ? 'policy set' : `policy "${p.policyId}"`;
  const where = p.line !== undefined ? ` (line ${p.line}:${p.column ?? 1})` : '';
  return `${who}${where}: ${p.message}`;
}

const defaultNow = () => performance.timeOrigin + performance.now();

/**
 * Loads a policy set: refuses it whole (PolicyError POLICY_INVALID, details.errors = every problem) unless it parses
 * and validates strictly against the schema. The returned engine fails closed: any Cedar failure, evaluation
 * error (even when another policy would allow), malformed or oversized request, or a decision slower than
 * `timeoutMs` is a deny whose `errors` say why.
 */
export function createPolicyEngine(opts: PolicyEngineOptions): PolicyEngine {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!(typeof timeoutMs === 'number' && timeoutMs > 0 && Number.isFinite(timeoutMs)))
    throw new PolicyError('INVALID_ARGUMENT', 'timeoutMs must be a positive number of milliseconds');
  const now = opts.now ?? defaultNow;
  const cpuNow = opts.cpuNow ?? processCpuMs;
  const { validation, byId, schema } = parseAndValidate({ policies: opts.policies, schema: opts.schema });
  if (!validation.ok || !validation.policySetHash) {
    const n = validation.errors.length;
    throw new PolicyError(
      'POLICY_INVALID',
      `policy set refused: ${n} error${n === 1 ? '' : 's'}\n${validation.errors.map((e) => `  ${formatProblem(e)}`).join('\n')}`,
      { errors: validation.errors },
    );
  }
  const policySetHash = validation.policySetHash;
  // Cedar keeps parsed sets in a per-thread cache; naming them by hash makes reloading the same set free.
  const cacheId = `vaultmesh-${policySetHash}`;
  const pre = [
    cedar.preparseSchema(cacheId, schema),
    cedar.preparsePolicySet(cacheId, { staticPolicies: byId }),
  ];
  for (const p of pre) {
    if (p.type === 'failure')
      throw new PolicyError(
        'POLICY_INVALID',
        `policy set refused: ${p.errors[0]?.message ?? 'preparse failed'}`,
        {
          errors: p.errors.map((e) => problem(null, e)),
        },
      );
  }

  const deny = (reasons: string[], errors: string[]): PolicyDecision => ({
    decision: 'deny',
    reasons,
    errors,
    policySetHash,
  });

  function evaluate(req: PolicyRequest): PolicyDecision {
    const t0 = now();
    let call: CedarRequest;
    try {
      call = toCedarRequest(req, t0);
    } catch (err) {
      if (err instanceof MalformedRequest)
        return deny(['error:request'], [`malformed request: ${err.message}`]);
      throw err;
    }
    const w0 = now();
    const c0 = cpuNow();
    const answer = cedar.statefulIsAuthorized({
      ...call,
      preparsedPolicySetId: cacheId,
      preparsedSchemaName: cacheId,
      validateRequest: true,
    });
    // Cedar in wasm is synchronous and cannot be interrupted, so the limit is checked once it returns, on the
    // evaluation alone (see DEFAULT_TIMEOUT_MS).
    const wall = now() - w0;
    const cpu = cpuNow() - c0;
    const elapsed = Math.min(wall, cpu);
    if (!(elapsed <= timeoutMs))
      return deny(
        ['error:timeout'],
        [
          `evaluation took ${elapsed.toFixed(1)} ms (wall ${wall.toFixed(1)} ms, CPU ${cpu.toFixed(1)} ms), over the ${timeoutMs} ms limit`,
        ],
      );
    // A failure here means the request, its entities or its context break the schema.
    if (answer.type === 'failure')
      return deny(
        ['error:request'],
        answer.errors.map((e) => `request does not match the schema: ${e.message}`),
      );
    const { decision, diagnostics } = answer.response;
    // Cedar skips a policy whose evaluation errors and may still allow; VaultMesh denies instead.
    if (diagnostics.errors.length > 0)
      return deny(
        diagnostics.errors.map((e) => `error:${e.policyId}`),
        diagnostics.errors.map((e) => `policy "${e.policyId}": ${e.error.message}`),
      );
    return { decision, reasons: [...diagnostics.reason], errors: [], policySetHash };
  }

  function decideSync(req: PolicyRequest): PolicyDecision {
    try {
      return evaluate(req);
    } catch (err) {
      return deny(
        ['error:internal'],
        [`policy evaluation failed: ${(err as Error)?.message ?? String(err)}`],
      );
    }
  }

  // V8 compiles wasm functions lazily on first call, which makes the first real decision tens of ms slower than
  // the rest; decide two throwaway requests (one refused by the schema, one evaluated) so no caller pays it.
  for (const action of ['vaultmesh-warm-up', 'read'])
    decideSync({
      principal: { type: 'service', id: 'warm-up', role: 'viewer', tenant: 'warm-up' },
      action,
      resource: { type: 'ledger', id: 'warm-up', tenant: 'warm-up' },
      context: {},
    });

  return {
    policySetHash,
    policyIds: validation.policyIds,
    warnings: validation.warnings,
    timeoutMs,
    decideSync,
    decide: async (req) => decideSync(req),
  };
}
