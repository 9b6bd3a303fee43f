#!/usr/bin/env node
// `npm test`: lint, format check, type-check, then every test (vitest). Ends with "N passed, N failed".
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
let passed = 0;
let failed = 0;

function step(name, args) {
  process.stdout.write(`\n== ${name}\n`);
  const r = spawnSync(npx, args, { stdio: 'inherit', env: process.env });
  if (r.status === 0) {
    passed++;
    process.stdout.write(`== ${name}: ok\n`);
  } else {
    failed++;
    process.stdout.write(`== ${name}: FAILED (exit ${r.status})\n`);
  }
}

step('lint (eslint)', ['--no-install', 'eslint', '.']);
step('format (prettier --check)', ['--no-install', 'prettier', '--check', '.', '--log-level', 'warn']);
step('type-check (tsc --noEmit, strict)', ['--no-install', 'tsc', '-p', 'tsconfig.json', '--noEmit']);
// The plain-JS worker files (they run without the TypeScript loader), type-checked through their JSDoc.
step('type-check workers (tsc --noEmit, checkJs)', [
  '--no-install',
  'tsc',
  '-p',
  'tsconfig.workers.json',
  '--noEmit',
]);

const dir = mkdtempSync(join(tmpdir(), 'vm-test-'));
const report = join(dir, 'vitest.json');
process.stdout.write('\n== tests (vitest)\n');
const extra = process.argv.slice(2);
const r = spawnSync(
  npx,
  [
    '--no-install',
    'vitest',
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${report}`,
    ...extra,
  ],
  {
    stdio: 'inherit',
    env: process.env,
  },
);
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
  process.stdout.write(`vitest produced no report (exit ${r.status})\n`);
}
if (r.status !== 0 && failed === 0) failed++;
rmSync(dir, { recursive: true, force: true });
process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exit(failed === 0 ? 0 : 1);
