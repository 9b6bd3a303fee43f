// Reads the one-sentence code tables the docs write for each error class:
// "`X` (...) maps as: `A`, `B` → 400; `C` → 404." (also "→ rejected"), as { A: 400, B: 400, C: 404 }.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './vm.ts';

/** The documented map of one error class in docs/<doc>; each value a number where it reads as one. */
export function documentedTable(doc: string, errorClass: string): Record<string, number | string> {
  const text = readFileSync(join(ROOT, 'docs', doc), 'utf8');
  const m = new RegExp('`' + errorClass + '` \\([^)]*\\) maps as: ([^\\n]*?)\\.(?: |$)', 'm').exec(text);
  if (!m) throw new Error(`docs/${doc} does not document ${errorClass}`);
  const out: Record<string, number | string> = {};
  for (const group of m[1]!.split(';')) {
    const [codes, to] = group.split('→');
    const value = to!.trim();
    for (const c of codes!.matchAll(/`([A-Z_]+)`/g)) out[c[1]!] = /^\d+$/.test(value) ? Number(value) : value;
  }
  return out;
}
