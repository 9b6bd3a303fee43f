// docs/api.md documents how each error class's codes map to HTTP statuses; this compares every documented sentence
// with the table the REST edge uses (packages/api/src/status-tables.ts), both ways: a code documented wrong, a code
// missing from the docs, or a code the docs name that no longer exists fails here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { STATUS_TABLES } from '@vaultmesh/api';
import { A2A_TASK_STATES } from '@vaultmesh/interop/core';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/vm.ts';

const DOC = readFileSync(join(ROOT, 'docs', 'api.md'), 'utf8');

/** The documented map of one error class: "`X` (...) maps as: `A`, `B` → 400; `C` → 404." */
function documented(errorClass: string): Record<string, number> {
  const m = new RegExp('`' + errorClass + '` \\([^)]*\\) maps as: ([^\\n]*?)\\.(?: |$)', 'm').exec(DOC);
  if (!m) throw new Error(`docs/api.md does not document ${errorClass}`);
  const out: Record<string, number> = {};
  for (const group of m[1]!.split(';')) {
    const [codes, status] = group.split('→');
    for (const c of codes!.matchAll(/`([A-Z_]+)`/g)) out[c[1]!] = Number(status!.trim());
  }
  return out;
}

describe('HTTP statuses: docs/api.md and the REST edge agree', () => {
  it.each(Object.keys(STATUS_TABLES))('%s', (errorClass) => {
    expect(documented(errorClass)).toEqual({ ...STATUS_TABLES[errorClass as keyof typeof STATUS_TABLES] });
  });
});

describe('A2A task states: docs/interop.md and the JSON-RPC edge agree', () => {
  it('InteropError', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'interop.md'), 'utf8');
    const m = /`InteropError` \([^)]*\) maps as: ([^\n]*?)\. /.exec(doc);
    expect(m, 'docs/interop.md documents the InteropError table').not.toBeNull();
    const documented: Record<string, string> = {};
    for (const group of m![1]!.split(';')) {
      const [codes, state] = group.split('→');
      for (const c of codes!.matchAll(/`([A-Z_]+)`/g)) documented[c[1]!] = state!.trim();
    }
    expect(documented).toEqual({ ...A2A_TASK_STATES });
  });
});
