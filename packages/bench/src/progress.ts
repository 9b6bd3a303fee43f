// Progress of a long benchmark on stderr: one line per tenth done, so a run that takes minutes shows it is alive
// (and a log of it stays short).

/** A progress reporter: update(done, total) as work advances, done() at the end. */
export interface Progress {
  update(done: number, total: number): void;
  done(): void;
}

export function createProgress(label: string): Progress {
  let lastTenth = -1;
  return {
    update(done, total) {
      if (total <= 0) return;
      const tenth = Math.floor(Math.min(1, done / total) * 10);
      if (tenth <= lastTenth) return;
      lastTenth = tenth;
      process.stderr.write(`${label}: ${tenth * 10}% (${done}/${total})\n`);
    },
    done() {
      lastTenth = 10;
    },
  };
}
