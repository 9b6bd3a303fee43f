export async function runBenchmarks(_opts: {
  size: number;
  only?: string[];
  jsonFile?: string;
}): Promise<void> {
  throw new Error('not yet');
}
