#!/usr/bin/env node
// `npm test`: lint, format check, type-checks and every test (vitest). Ends with "N passed, N failed".
// The static checks run beside vitest (most test time is waiting on processes and disks, not on the CPU); their
// output is printed, in order, once each has finished, so the log stays readable.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
let passed = 0;
let failed = 0;

/** Runs a command, collecting its output; resolves with its exit status and output. */
function collect(args) {
  return new Promise((resolve) => {
    const child = spawn(npx, args, { env: process.env });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', (err) => resolve({ status: 1, out: out + String(err) + '\n' }));
    child.on('close', (status) => resolve({ status, out }));
  });
}

/** Runs a command with its output passed through as it comes. */
function inherit(args) {
  return new Promise((resolve) => {
    const child = spawn(npx, args, { stdio: 'inherit', env: process.env });
    child.on('error', () => resolve(1));
    child.on('close', (status) => resolve(status));
  });
}

const STATIC = [
  ['lint (eslint)', ['--no-install', 'eslint', '.']],
  ['format (prettier --check)', ['--no-install', 'prettier', '--check', '.', '--log-level', 'warn']],
  ['type-check (tsc --noEmit, strict)', ['--no-install', 'tsc', '-p', 'tsconfig.json', '--noEmit']],
  // The plain-JS worker files (they run without the TypeScript loader), type-checked through their JSDoc.
  [
    'type-check workers (tsc --noEmit, checkJs)',
    ['--no-install', 'tsc', '-p', 'tsconfig.workers.json', '--noEmit'],
  ],
];

/** The static checks one after another (they share the CPU with vitest, not with each other). */
async function staticChecks() {
  const results = [];
  for (const [name, args] of STATIC) results.push({ name, ...(await collect(args)) });
  return results;
}

const dir = mkdtempSync(join(tmpdir(), 'vm-test-'));
const report = join(dir, 'vitest.json');
const checks = staticChecks();
process.stdout.write('\n== tests (vitest)\n');
const extra = process.argv.slice(2);
const status = await inherit([
  '--no-install',
  'vitest',
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${report}`,
  ...extra,
]);
try {
  const json = JSON.parse(readFileSync(report, 'utf8'));
  passed += json.numPassedTests;
  failed += json.numFailedTests;
  // A suite that fails to load (syntax error, missing module) has no tests: count it as a failure.
  for (const f of json.testResults ?? [])
    if (f.status === 'failed' && (f.assertionResults ?? []).length === 0) failed++;
  if (json.numPendingTests || json.numTodoTests) {
    process.stdout.write(
      `(${json.numPendingTests + json.numTodoTests} tests skipped; see the vitest output above for why)\n`,
    );
  }
} catch {
  failed++;
  process.stdout.write(`vitest produced no report (exit ${status})\n`);
}
if (status !== 0 && failed === 0) failed++;
rmSync(dir, { recursive: true, force: true });

for (const c of await checks) {
  process.stdout.write(`\n== ${c.name}\n${c.out}`);
  if (c.status === 0) {
    passed++;
    process.stdout.write(`== ${c.name}: ok\n`);
  } else {
    failed++;
    process.stdout.write(`== ${c.name}: FAILED (exit ${c.status})\n`);
  }
}
process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exit(failed === 0 ? 0 : 1);
