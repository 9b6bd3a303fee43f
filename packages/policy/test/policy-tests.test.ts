// Policy test files: the format, and runPolicyTests reporting each case as pass or fail.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_POLICIES_PATH,
  PolicyError,
  createPolicyEngine,
  parsePolicyTestFile,
  readDefaultPolicies,
  readPolicyFile,
  readPolicyTestFile,
  runPolicyTests,
} from '../src/index.ts';

const DEFAULT_TESTS = join(DEFAULT_POLICIES_PATH, '..', 'default.tests.json');
// A generous limit: these tests check outcomes, and CI's shared cores can stall any one decision.
const engine = createPolicyEngine({ policies: readDefaultPolicies(), timeoutMs: 10_000 });
const dir = mkdtempSync(join(tmpdir(), 'vm-policy-tests-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const request = {
  principal: { type: 'person', id: 'v', role: 'viewer', tenant: 'acme' },
  action: 'read',
  resource: { type: 'ledger', id: 'main', tenant: 'acme' },
  context: {},
};

function thrown(fn: () => unknown): PolicyError {
  try {
    fn();
  } catch (err) {
    if (err instanceof PolicyError) return err;
    throw err;
  }
  throw new Error('expected a PolicyError');
}

describe('policy test files', () => {
  it('the shipped default.tests.json passes against the default set it names', async () => {
    const { file, policiesPath } = readPolicyTestFile(DEFAULT_TESTS);
    expect(policiesPath).toBe(DEFAULT_POLICIES_PATH);
    const e = createPolicyEngine({ policies: readPolicyFile(policiesPath!), timeoutMs: 10_000 });
    const report = await runPolicyTests(e, file);
    expect(report.results.filter((r) => !r.pass)).toEqual([]);
    expect(report.failed).toBe(0);
    expect(report.passed).toBe(file.cases.length);
    expect(report.policySetHash).toBe(engine.policySetHash);
  });

  it('reports a wrong decision and wrong reasons as failed cases, without throwing', async () => {
    const file = parsePolicyTestFile({
      cases: [
        { name: 'viewer reads', request, expect: 'allow', reasons: ['viewer-read'] },
        { name: 'viewer may not read (wrong)', request, expect: 'deny' },
        { name: 'wrong reason', request, expect: 'allow', reasons: ['admin'] },
        { name: 'malformed request is denied', request: { ...request, action: 'read:x' }, expect: 'deny' },
      ],
    });
    const report = await runPolicyTests(engine, file);
    expect(report).toMatchObject({ passed: 2, failed: 2 });
    expect(report.results.map((r) => [r.name, r.pass])).toEqual([
      ['viewer reads', true],
      ['viewer may not read (wrong)', false],
      ['wrong reason', false],
      ['malformed request is denied', true],
    ]);
    expect(report.results[1]!.message).toBe('expected deny, got allow');
    expect(report.results[2]!.message).toBe('expected reasons [admin], got [viewer-read]');
  });

  it.each([
    ['not an object', []],
    ['no cases', { cases: [] }],
    ['an unknown top-level key', { cases: [{ name: 'a', request, expect: 'allow' }], extra: 1 }],
    ['an unknown case key', { cases: [{ name: 'a', request, expect: 'allow', expected: 'allow' }] }],
    ['a bad expect', { cases: [{ name: 'a', request, expect: 'permit' }] }],
    [
      'duplicate names',
      {
        cases: [
          { name: 'a', request, expect: 'allow' },
          { name: 'a', request, expect: 'deny' },
        ],
      },
    ],
    ['reasons that are not strings', { cases: [{ name: 'a', request, expect: 'allow', reasons: [1] }] }],
  ])('refuses a file with %s (TEST_FILE_INVALID)', (_name, value) => {
    expect(thrown(() => parsePolicyTestFile(value)).code).toBe('TEST_FILE_INVALID');
  });

  it('refuses a file that is not JSON, and reports a missing file as NOT_FOUND', () => {
    const path = join(dir, 'broken.json');
    writeFileSync(path, '{ cases: ');
    expect(thrown(() => readPolicyTestFile(path)).code).toBe('TEST_FILE_INVALID');
    expect(thrown(() => readPolicyTestFile(join(dir, 'missing.json'))).code).toBe('NOT_FOUND');
  });
});
