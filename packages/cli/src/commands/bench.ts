// vm bench: the benchmark suite (each figure next to its baseline measured in the same run).
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('bench')
    .description('run the benchmarks and print each figure beside its same-run baseline')
    .option('--size <n>', 'entries in the large log for proof/verify/memory benchmarks', '1000000')
    .option(
      '--only <names>',
      'comma-separated subset: append,proof,verify,memory,httpsig,bundle,policy,executor,mcp,mirror',
    )
    .option('--json <file>', 'also write the results as JSON')
    .action(async (o: { size: string; only?: string; json?: string }) => {
      const { runBenchmarks } = await import('../../../../bench/run.ts');
      await runBenchmarks({ size: Number(o.size), only: o.only?.split(','), jsonFile: o.json });
    });
}
