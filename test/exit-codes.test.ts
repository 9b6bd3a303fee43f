// docs/cli.md documents how each package's error codes map to `vm` exit codes; this compares every documented
// sentence with the table the CLI uses (packages/cli/src/exit.ts), both ways: a code documented wrong, a code
// missing from the docs, or a code the docs name that no longer exists fails here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT_TABLES } from '@vaultmesh/cli';
import { ROOT } from './helpers/vm.ts';

const DOC = readFileSync(join(ROOT, 'docs', 'cli.md'), 'utf8');

/** The documented map of one error class: "`X` (...) maps as: `A`, `B` → 2; `C` → 3." */
function documented(errorClass: string): Record<string, number> {
  const m = new RegExp('`' + errorClass + '` \\([^)]*\\) maps as: ([^\\n]*?)\\.(?: |$)', 'm').exec(DOC);
  if (!m) throw new Error(`docs/cli.md does not document ${errorClass}`);
  const out: Record<string, number> = {};
  for (const group of m[1]!.split(';')) {
    const [codes, exit] = group.split('→');
    for (const c of codes!.matchAll(/`([A-Z_]+)`/g)) out[c[1]!] = Number(exit!.trim());
  }
  return out;
}

describe('exit codes: docs/cli.md and the CLI agree', () => {
  it.each(Object.keys(EXIT_TABLES))('%s', (errorClass) => {
    expect(documented(errorClass)).toEqual({ ...EXIT_TABLES[errorClass as keyof typeof EXIT_TABLES] });
  });
});
