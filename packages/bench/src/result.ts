// One benchmark line (a figure, its same-run baseline, their ratio, the target) and the table they print as.

/** One benchmark line: a figure, its same-run baseline, their ratio, and the target. */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  baselineName: string;
  baseline: number;
  /** value / baseline. */
  ratio: number;
  target: string;
  pass: boolean;
}

export const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

const fmt = (x: number) =>
  x >= 1000 ? Math.round(x).toLocaleString('en-US') : x >= 10 ? x.toFixed(1) : x.toFixed(3);

/** Prints results as a table: figure | baseline | ratio | target | pass. */
export function printResults(results: BenchResult[]): void {
  const rows = results.map((r) => [
    r.name,
    fmt(r.value),
    `${fmt(r.baseline)} (${r.baselineName})`,
    `${r.ratio.toFixed(2)}x`,
    r.target,
    r.pass ? 'PASS' : 'MISS',
  ]);
  const head = ['benchmark', 'value', 'baseline (same run)', 'ratio', 'target', ''];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  console.log('\n' + line(head));
  for (const r of rows) console.log(line(r));
}
