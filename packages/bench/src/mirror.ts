// Verified federation mirroring of a peer's log against plain appends of the same entries.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createProgress } from './progress.ts';
import { appendMany } from './append.ts';
import type { BenchResult } from './result.ts';

/**
 * Federation mirroring: node A pulls 100,000 receipts from node B over loopback HTTP (C2SP entry bundles, every
 * chunk proven against B's signed checkpoint by a consistency proof, committed with its compact range), vs B's own
 * durable append rate of the same receipts measured in the same run.
 */
export async function benchMirror(n = 100_000): Promise<BenchResult[]> {
  const { loadConfig, startNode } = await import('@vaultmesh/node');
  const { createToken } = await import('@vaultmesh/auth');
  const dir = mkdtempSync(join(tmpdir(), 'vm-bench-fed-'));
  const cfg = (name: string) => {
    const file = join(dir, `${name}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        port: 0,
        dataDir: join(dir, name),
        logLevel: 'silent',
        federation: { intervalMs: 0 },
      }),
    );
    return file;
  };
  const b = await startNode(loadConfig({ configFile: cfg('b') }));
  let a: Awaited<ReturnType<typeof startNode>> | undefined;
  try {
    const appendStart = performance.now();
    await appendMany(b.node.log, n);
    await b.node.log.idle();
    const appendSecs = (performance.now() - appendStart) / 1000;
    await b.node.log.checkpoint();
    const { token } = await createToken(b.node.storage, { name: 'peer-a', role: 'auditor', tenant: '*' });
    a = await startNode(loadConfig({ configFile: cfg('a') }), { env: { TOKEN_B: token } });
    await a.federation.store.putPeer({
      name: 'b',
      url: b.url,
      origin: b.node.origin,
      verifierKey: b.node.key.verifierKeyText,
      tokenEnv: 'TOKEN_B',
      addedAt: new Date().toISOString(),
      trusted: true,
    });
    const progress = createProgress('mirroring 100k');
    const t = performance.now();
    const r = await a.federation.syncPeer('b', { onProgress: (d, total) => progress.update(d, total) });
    progress.done();
    const secs = (performance.now() - t) / 1000;
    if (r.mirror.size < n) throw new Error(`mirrored only ${r.mirror.size} of ${n}`);
    const rate = r.mirror.fetched / secs;
    const raw = n / appendSecs;
    return [
      {
        name: `federation mirror, ${n.toLocaleString('en')} receipts over HTTP, verified (receipts/s)`,
        value: rate,
        unit: '/s',
        baselineName: 'the same node’s durable append rate of those receipts',
        baseline: raw,
        ratio: rate / raw,
        target: '(report)',
        pass: true,
      },
    ];
  } finally {
    await a?.stop();
    await b.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
