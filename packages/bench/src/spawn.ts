// Spawn: the time to generate each template (render with its parameters checked, stage beside the target, move it
// into place with its manifest and sums), excluding `npm install` and the node's record round trip, beside writing
// the same files with plain writeFileSync in the same run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manifestOf, render, spawnedTree, stageTree, writeFiles } from '@vaultmesh/spawn';
import { percentile, type BenchResult } from './result.ts';

const RUNS = 30;
const VARIANTS: [string, Record<string, unknown>][] = [
  ['service', { db: 'postgres' }],
  ['worker', { queue: 'nats' }],
  ['mcp-server', {}],
];

/** Generates a template into `dir` as `vm spawn create` does locally. */
function spawnLocal(dir: string, template: string, params: Record<string, unknown>): void {
  const r = render({ template, service: 'bench-svc', params });
  stageTree(dir, spawnedTree(r, manifestOf(r, 'default'))).commit();
}

export async function benchSpawn(): Promise<BenchResult[]> {
  const root = mkdtempSync(join(tmpdir(), 'vm-bench-spawn-'));
  const out: BenchResult[] = [];
  try {
    for (const [template, params] of VARIANTS) {
      const tree = render({ template, service: 'bench-svc', params }).files;
      const spawnMs: number[] = [];
      const writeMs: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        let t = performance.now();
        spawnLocal(join(root, `${template}-s${i}`), template, params);
        spawnMs.push(performance.now() - t);
        t = performance.now();
        writeFiles(join(root, `${template}-w${i}`), tree);
        writeMs.push(performance.now() - t);
      }
      const value = percentile(spawnMs, 50);
      const baseline = percentile(writeMs, 50);
      out.push({
        name: `spawn ${template} p50 (no npm install)`,
        value,
        unit: 'ms',
        baselineName: 'plain write of its files',
        baseline,
        ratio: value / baseline,
        target: '≤ 100 ms',
        pass: value <= 100,
      });
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return out;
}
