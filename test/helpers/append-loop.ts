// Crash-test child: appends decision receipts with many appends in flight (so group commit batches them),
// printing "<index> <leafHash>" for each append only after its promise resolved (it is then durable), and
// "cp <size> <rootHex>" after each published checkpoint, and "batch <n>" whenever a group commit is larger
// than every earlier one. Runs until killed.
// Usage: node --import tsx test/helpers/append-loop.ts <dataDir> [concurrency] [checkpointEvery]
import { toHex } from '@vaultmesh/ledger';
import { openNode } from '@vaultmesh/node';

const dataDir = process.argv[2];
if (!dataDir) {
  process.stderr.write('usage: append-loop.ts <dataDir> [concurrency] [checkpointEvery]\n');
  process.exit(2);
}
const concurrency = Number(process.argv[3] ?? 32);
const checkpointEvery = Number(process.argv[4] ?? 200);

// Writes to a pipe are synchronous on Linux, so a printed line is in the pipe before the next append starts.
const out = (line: string): void => void process.stdout.write(line + '\n');

let largestBatch = 0;
const node = await openNode(dataDir, {
  log: {
    onCommit: ({ entries }) => {
      if (entries > largestBatch) out(`batch ${(largestBatch = entries)}`);
    },
  },
});
const { log } = node;
out(`ready ${log.size}`);

let acknowledged = 0;
let seq = 0;
const fail = (err: unknown): void => {
  process.stderr.write(`append-loop failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
};

async function checkpoint(): Promise<void> {
  const cp = await log.checkpoint();
  out(`cp ${cp.size} ${toHex(cp.root)}`);
}

async function worker(w: number): Promise<void> {
  for (;;) {
    const n = seq++;
    const r = await log.append({
      kind: 'decision',
      actor: `crash-worker-${w}`,
      tenant: `t${n % 3}`,
      body: { title: `crash test ${process.pid} #${n}`, rationale: 'x'.repeat(n % 50), status: 'accepted' },
    });
    out(`${r.index} ${r.leafHash}`);
    if (++acknowledged % checkpointEvery === 0) checkpoint().catch(fail);
  }
}

for (let w = 0; w < concurrency; w++) worker(w).catch(fail);
