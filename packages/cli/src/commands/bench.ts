// vm bench: the benchmark suite (each figure next to its baseline measured in the same run).
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';

/** This CLI's binary, which the HTTP benchmarks start a node with. */
const VM_BIN = fileURLToPath(new URL('../../bin/vm.js', import.meta.url));

export function register(program: Command): void {
  program
    .command('bench')
    .description('run the benchmarks and print each figure beside its same-run baseline')
    .option('--size <n>', 'entries in the large log for proof/verify/memory benchmarks', '1000000')
    .option(
      '--only <names>',
      'comma-separated subset: append,append-pg,proof,verify,memory,httpsig,bundle,policy,executor,mcp,mirror,route,failover,cluster-http,proof-pg,psi,spawn',
    )
    .option('--json <file>', 'also write the results as JSON')
    .action(async (o: { size: string; only?: string; json?: string }) => {
      const { runBenchmarks } = await import('@vaultmesh/bench');
      await runBenchmarks({
        size: Number(o.size),
        only: o.only?.split(','),
        jsonFile: o.json,
        vmBin: VM_BIN,
      });
    });
}
