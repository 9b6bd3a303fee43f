// Policy test files: JSON lists of requests with the decision (and optionally the reasons) each must get.
//   { "policies": "default.cedar", "cases": [{ "name", "request": {...}, "expect": "allow" | "deny", "reasons": [...] }] }
// `policies` (optional) is a Cedar file relative to the test file; without it the caller's engine decides.
import { dirname, resolve } from 'node:path';
import type { PolicyDecider, PolicyRequest } from '@vaultmesh/types';
import { PolicyError } from './errors.ts';
import { readPolicyFile } from './schema.ts';

/** One case: a request and the decision it must get; `reasons`, when given, must match exactly (any order). */
export interface PolicyTestCase {
  readonly name: string;
  readonly request: PolicyRequest;
  readonly expect: 'allow' | 'deny';
  readonly reasons?: readonly string[];
}

/** A parsed policy test file. */
export interface PolicyTestFile {
  /** The Cedar file the cases are written for, as written in the file (relative to it). */
  readonly policies?: string;
  readonly cases: readonly PolicyTestCase[];
}

/** The outcome of one case. */
export interface PolicyTestResult {
  readonly name: string;
  readonly pass: boolean;
  readonly expect: 'allow' | 'deny';
  readonly decision: 'allow' | 'deny';
  readonly reasons: readonly string[];
  readonly errors: readonly string[];
  /** Why it failed, when it did. */
  readonly message?: string;
}

/** The outcome of a test file. */
export interface PolicyTestReport {
  readonly passed: number;
  readonly failed: number;
  readonly policySetHash: string;
  readonly results: readonly PolicyTestResult[];
}

const bad = (msg: string) => new PolicyError('TEST_FILE_INVALID', msg);
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks a parsed JSON value against the test-file format (unknown keys are refused); throws TEST_FILE_INVALID. */
export function parsePolicyTestFile(value: unknown, source = 'policy test file'): PolicyTestFile {
  if (!isObject(value)) throw bad(`${source}: must be a JSON object with "cases"`);
  for (const k of Object.keys(value))
    if (k !== 'policies' && k !== 'cases') throw bad(`${source}: unknown key "${k}"`);
  if (value['policies'] !== undefined && (typeof value['policies'] !== 'string' || value['policies'] === ''))
    throw bad(`${source}: "policies" must be a file name`);
  const cases = value['cases'];
  if (!Array.isArray(cases) || cases.length === 0) throw bad(`${source}: "cases" must be a non-empty array`);
  const names = new Set<string>();
  const out = cases.map((c: unknown, i): PolicyTestCase => {
    const at = `${source}: cases[${i}]`;
    if (!isObject(c)) throw bad(`${at} must be an object`);
    for (const k of Object.keys(c))
      if (!['name', 'request', 'expect', 'reasons'].includes(k)) throw bad(`${at}: unknown key "${k}"`);
    if (typeof c['name'] !== 'string' || c['name'] === '')
      throw bad(`${at}: "name" must be a non-empty string`);
    if (names.has(c['name'])) throw bad(`${at}: duplicate name "${c['name']}"`);
    names.add(c['name']);
    if (!isObject(c['request'])) throw bad(`${at}: "request" must be an object`);
    if (c['expect'] !== 'allow' && c['expect'] !== 'deny')
      throw bad(`${at}: "expect" must be "allow" or "deny"`);
    const reasons = c['reasons'];
    if (reasons !== undefined && (!Array.isArray(reasons) || !reasons.every((r) => typeof r === 'string')))
      throw bad(`${at}: "reasons" must be an array of strings`);
    return {
      name: c['name'],
      request: c['request'] as unknown as PolicyRequest,
      expect: c['expect'],
      ...(reasons !== undefined ? { reasons: reasons as string[] } : {}),
    };
  });
  return {
    ...(typeof value['policies'] === 'string' ? { policies: value['policies'] } : {}),
    cases: out,
  };
}

/** Reads and parses a test file; `policiesPath` is its `policies` resolved against the file's directory. */
export function readPolicyTestFile(path: string): { file: PolicyTestFile; policiesPath?: string } {
  const textValue = readPolicyFile(path, 'policy test file');
  let value: unknown;
  try {
    value = JSON.parse(textValue);
  } catch (err) {
    throw bad(`${path}: not JSON: ${(err as Error).message}`);
  }
  const file = parsePolicyTestFile(value, path);
  return file.policies !== undefined
    ? { file, policiesPath: resolve(dirname(path), file.policies) }
    : { file };
}

const sameSet = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');

/** Runs every case of a test file against a decider and reports each as pass or fail (never throws on a failure). */
export async function runPolicyTests(
  decider: PolicyDecider,
  file: PolicyTestFile,
): Promise<PolicyTestReport> {
  const results: PolicyTestResult[] = [];
  for (const c of file.cases) {
    const d = await decider.decide(c.request);
    let message: string | undefined;
    if (d.decision !== c.expect) message = `expected ${c.expect}, got ${d.decision}`;
    else if (c.reasons && !sameSet(c.reasons, d.reasons))
      message = `expected reasons [${c.reasons.join(', ')}], got [${d.reasons.join(', ')}]`;
    if (message && d.errors.length > 0) message += ` (${d.errors.join('; ')})`;
    results.push({
      name: c.name,
      pass: message === undefined,
      expect: c.expect,
      decision: d.decision,
      reasons: d.reasons,
      errors: d.errors,
      ...(message !== undefined ? { message } : {}),
    });
  }
  const failed = results.filter((r) => !r.pass).length;
  return { passed: results.length - failed, failed, policySetHash: decider.policySetHash, results };
}
