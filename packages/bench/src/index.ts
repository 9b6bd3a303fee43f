// @vaultmesh/bench: `npm run bench` (`vm bench`). Every figure is printed beside a baseline measured in the same
// run (ratios, not absolutes); each benchmark has its own file.
import { writeFileSync } from 'node:fs';
import { benchAppend } from './append.ts';
import { benchAppendPostgres } from './append-postgres.ts';
import { benchBundles } from './bundles.ts';
import { benchClusterHttp } from './cluster-http.ts';
import { benchExecutor } from './executor.ts';
import { benchFailover } from './failover.ts';
import { benchHttpSignature } from './http-signature.ts';
import { benchLarge } from './large.ts';
import { benchMcp } from './mcp.ts';
import { benchMirror } from './mirror.ts';
import { benchPolicy } from './policy.ts';
import { benchProofPostgres } from './proof-postgres.ts';
import { benchPsi } from './psi.ts';
import { printResults, type BenchResult } from './result.ts';
import { benchRoute } from './route.ts';
import { benchSpawn } from './spawn.ts';

/** Runs the selected benchmarks (all by default). */
export async function runBenchmarks(opts: {
  size: number;
  only?: string[];
  jsonFile?: string;
  /** The `vm` binary the HTTP benchmarks start a node with (the CLI passes its own). */
  vmBin: string;
}): Promise<BenchResult[]> {
  const only = new Set(
    opts.only ?? [
      'append',
      'append-pg',
      'proof',
      'verify',
      'memory',
      'httpsig',
      'bundle',
      'policy',
      'executor',
      'mcp',
      'mirror',
      'route',
      'failover',
      'cluster-http',
      'proof-pg',
      'psi',
      'spawn',
    ],
  );
  const results: BenchResult[] = [];
  if (only.has('append')) results.push(...(await benchAppend(200_000)));
  if (only.has('append-pg')) results.push(...(await benchAppendPostgres(50_000)));
  if (only.has('httpsig')) results.push(...(await benchHttpSignature()));
  if (only.has('bundle')) results.push(...(await benchBundles()));
  if (only.has('policy')) results.push(...(await benchPolicy()));
  if (only.has('executor')) results.push(...(await benchExecutor()));
  if (only.has('mcp')) results.push(...(await benchMcp()));
  if (only.has('mirror')) results.push(...(await benchMirror()));
  if (only.has('route')) results.push(...(await benchRoute()));
  if (only.has('psi')) results.push(...(await benchPsi()));
  if (only.has('spawn')) results.push(...(await benchSpawn()));
  if (only.has('failover')) results.push(...(await benchFailover(opts.vmBin)));
  if (only.has('cluster-http')) results.push(...(await benchClusterHttp(opts.vmBin)));
  if (only.has('proof-pg')) results.push(...(await benchProofPostgres(opts.size, opts.vmBin)));
  if (only.has('proof') || only.has('verify') || only.has('memory'))
    results.push(...(await benchLarge(opts.size, only, opts.vmBin)));
  printResults(results);
  if (opts.jsonFile) writeFileSync(opts.jsonFile, JSON.stringify(results, null, 2) + '\n');
  return results;
}
