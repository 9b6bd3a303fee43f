import { readNabCorpus } from './src/nab/corpus.ts';
import { runDetector, sweepCorpus, scoreDetector, nullBaseline } from './src/nab/run.ts';
import { DEFAULT_DETECTOR } from './src/detector.ts';
const c = readNabCorpus('/work/shared/nab');
const nul = nullBaseline(c);
for (const arg of process.argv.slice(2)) {
  const o = { ...DEFAULT_DETECTOR, ...JSON.parse(arg) };
  const r = scoreDetector(c, sweepCorpus(c, runDetector(c, 'psi', o)), nul);
  console.log(arg, r.map((x) => x.normalized!.toFixed(1)).join(' '));
}
