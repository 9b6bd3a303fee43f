// The layering, checked: the package graph is rebuilt from every workspace package.json and from every import of a
// workspace package under each package's src/, and must equal the graph written in docs/architecture.md (the
// `package-graph` block). Declared and used dependencies must agree, the graph must have no cycle, and no source file
// may grow past 900 lines.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { apiSection, packageDirs, withApiSection } from '../scripts/package-api.ts';
import { ROOT } from './helpers/vm.ts';

const SCOPE = '@vaultmesh/';
/** The largest source file the layout allows (issue 14: small rooms). */
const MAX_FILE_LINES = 900;
/** The workspace packages and the server app, relative to the root (the same list the README generator uses). */
const DIRS = packageDirs().map((d) => relative(ROOT, d));

const shortName = (name: string) => name.slice(SCOPE.length);

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(ts|js|mjs)$/.test(e.name)) out.push(p);
  }
  return out;
}

/** Workspace packages a source text imports (static, dynamic and type imports, re-exports, require). */
export function importedPackages(text: string): Set<string> {
  const out = new Set<string>();
  const re =
    /(?:from\s+|import\s*\(\s*|require\s*\(\s*|resolve\s*\(\s*|import\s+)['"]@vaultmesh\/([a-z0-9-]+)/g;
  for (const m of text.matchAll(re)) out.add(m[1]!);
  return out;
}

interface Pkg {
  readonly name: string;
  readonly declared: Set<string>;
  readonly used: Set<string>;
}

const PACKAGES: Pkg[] = DIRS.map((dir) => {
  const json = JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8')) as {
    name: string;
    dependencies?: Record<string, string>;
  };
  const name = shortName(json.name);
  const declared = new Set(
    Object.keys(json.dependencies ?? {})
      .filter((d) => d.startsWith(SCOPE))
      .map(shortName),
  );
  const used = new Set<string>();
  for (const f of sourceFiles(join(ROOT, dir, 'src')))
    for (const p of importedPackages(readFileSync(f, 'utf8'))) if (p !== name) used.add(p);
  return { name, declared, used };
});

/** The graph written in docs/architecture.md. */
function documentedGraph(): Map<string, string[]> {
  const doc = readFileSync(join(ROOT, 'docs', 'architecture.md'), 'utf8');
  const block = /```package-graph\n([\s\S]*?)```/.exec(doc);
  if (!block) throw new Error('docs/architecture.md has no package-graph block');
  const g = new Map<string, string[]>();
  for (const line of block[1]!.split('\n')) {
    if (!line.trim() || line.startsWith('#')) continue;
    const [from, to] = line.split('→').map((x) => x.trim());
    g.set(from!, to ? to.split(',').map((x) => x.trim()) : []);
  }
  return g;
}

const sorted = (s: Iterable<string>) => [...s].sort();

describe('architecture: the package graph', () => {
  it('every package uses exactly the workspace packages its package.json declares', () => {
    const drift = PACKAGES.filter((p) => sorted(p.used).join() !== sorted(p.declared).join()).map((p) => ({
      package: p.name,
      undeclared: sorted([...p.used].filter((x) => !p.declared.has(x))),
      unused: sorted([...p.declared].filter((x) => !p.used.has(x))),
    }));
    expect(drift).toEqual([]);
  });

  it('equals the graph written in docs/architecture.md', () => {
    const built = Object.fromEntries(PACKAGES.map((p) => [p.name, sorted(p.used)]));
    const documented = Object.fromEntries([...documentedGraph()].map(([k, v]) => [k, sorted(v)]));
    expect(documented).toEqual(built);
  });

  it('has no cycle', () => {
    const edges = new Map(PACKAGES.map((p) => [p.name, [...p.used]]));
    const state = new Map<string, 'visiting' | 'done'>();
    const cycles: string[] = [];
    const visit = (n: string, path: string[]) => {
      if (state.get(n) === 'done') return;
      if (state.get(n) === 'visiting') return void cycles.push([...path, n].join(' → '));
      state.set(n, 'visiting');
      for (const m of edges.get(n) ?? []) visit(m, [...path, n]);
      state.set(n, 'done');
    };
    for (const n of edges.keys()) visit(n, []);
    expect(cycles).toEqual([]);
  });

  it('has small rooms: no source file over 900 lines', () => {
    const big = [...DIRS, join('apps', 'dashboard', 'public')]
      .flatMap((d) => sourceFiles(join(ROOT, d, d.endsWith('public') ? '' : 'src')))
      .map((f) => ({ file: f.slice(ROOT.length + 1), lines: readFileSync(f, 'utf8').split('\n').length }))
      .filter((f) => f.lines > MAX_FILE_LINES && !f.file.includes('/vendor/'));
    expect(big).toEqual([]);
  });

  it('exports explicitly: no `export *` barrel in any package source', () => {
    const barrels = DIRS.flatMap((d) => sourceFiles(join(ROOT, d, 'src')))
      .filter((f) => /^export \* from /m.test(readFileSync(f, 'utf8')))
      .map((f) => f.slice(ROOT.length + 1));
    expect(barrels).toEqual([]);
  });

  it('each package README lists exactly what its entry points export (npx tsx scripts/package-api.ts --write)', () => {
    const drift = packageDirs()
      .filter((d) => {
        const readme = readFileSync(join(d, 'README.md'), 'utf8');
        return withApiSection(readme, apiSection(d)) !== readme;
      })
      .map((d) => d.slice(ROOT.length + 1));
    expect(drift).toEqual([]);
  });

  it('finds every import form (the scanner itself)', () => {
    const text = [
      "import { a } from '@vaultmesh/ledger';",
      "import type { B } from '@vaultmesh/types';",
      "export { c } from '@vaultmesh/net';",
      "const d = await import('@vaultmesh/log');",
      "import '@vaultmesh/auth';",
      "import { e } from '@vaultmesh/control/errors';",
      "const f = import.meta.resolve('@vaultmesh/dashboard/public/index.html');",
    ].join('\n');
    expect(sorted(importedPackages(text))).toEqual([
      'auth',
      'control',
      'dashboard',
      'ledger',
      'log',
      'net',
      'types',
    ]);
  });
});
