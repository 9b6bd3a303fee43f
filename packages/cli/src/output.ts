// Output helpers: JSON for scripts on stdout, human text on stdout, progress and diagnostics on stderr.

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function print(line = ''): void {
  process.stdout.write(line + '\n');
}

/** Left-aligned text table. */
export function printTable(rows: string[][], header: string[]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  print(fmt(header));
  for (const r of rows) print(fmt(r));
}

/** A progress bar on stderr: redrawn in place on a TTY, a line every 10% otherwise. Silent when quiet. */
export function createProgress(label: string, opts: { quiet?: boolean } = {}) {
  const tty = process.stderr.isTTY === true;
  const started = Date.now();
  let lastDecile = -1;
  let lastDraw = 0;
  return {
    update(done: number, total: number) {
      if (opts.quiet || total <= 0) return;
      const frac = Math.min(1, done / total);
      if (tty) {
        const now = Date.now();
        if (now - lastDraw < 100 && done < total) return;
        lastDraw = now;
        const width = 30;
        const filled = Math.round(frac * width);
        const secs = (now - started) / 1000;
        const rate = secs > 0 ? Math.round(done / secs) : 0;
        process.stderr.write(
          `\r${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ${done}/${total} ${rate}/s `,
        );
      } else {
        const decile = Math.floor(frac * 10);
        if (decile > lastDecile) {
          lastDecile = decile;
          process.stderr.write(`${label}: ${decile * 10}% (${done}/${total})\n`);
        }
      }
    },
    done() {
      if (opts.quiet) return;
      if (tty) process.stderr.write('\n');
    },
  };
}

/** Short summary of a receipt body for tables. */
export function summarize(body: Record<string, unknown>): string {
  for (const k of ['title', 'goal', 'service', 'subject', 'action', 'jobId', 'peer']) {
    const v = body[k];
    if (typeof v === 'string') return v.length > 60 ? v.slice(0, 57) + '...' : v;
  }
  return JSON.stringify(body).slice(0, 60);
}
