// Cedar decisions through the fail-closed engine against the bare cedar-wasm call, same run.
import { generateNodeKey, nodeHasher } from '@vaultmesh/attest';
import { Log } from '@vaultmesh/log';
import { openSqliteStorage } from '@vaultmesh/store-sqlite';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createProgress } from './progress.ts';
import { percentile, type BenchResult } from './result.ts';

/**
 * Policy decision latency with its receipt: the recording decider over the shipped default policy set and a real
 * Log on SQLite (writer thread, synchronous=FULL), one decision at a time as a caller awaits it, vs raw Cedar
 * `statefulIsAuthorized` on the same Cedar requests (same preparsed set and schema, request built outside the
 * timed call). As in a node's default configuration, allows and denies return before their receipt is durable
 * (queued in decision order, group-committed, never sampled; `control.durablePolicyDenies` makes denies wait for
 * their fsync instead).
 */
export async function benchPolicy(rounds = 5, perRound = 4_000): Promise<BenchResult[]> {
  const policy = await import('@vaultmesh/policy');
  const cedar = await import('@cedar-policy/cedar-wasm/nodejs');
  const dir = mkdtempSync(join(tmpdir(), 'vm-bench-policy-'));
  const storage = openSqliteStorage({ path: join(dir, 'policy.db'), writerThread: true });
  const key = generateNodeKey('bench.vaultmesh/policy');
  const log = await Log.open({ storage, origin: key.name, signer: key.signer, hasher: nodeHasher });
  try {
    const text = policy.readDefaultPolicies();
    // A limit far above any decision: the bench measures the latency distribution, which a timeout would clip.
    const engine = policy.createPolicyEngine({ policies: text, timeoutMs: 10_000 });
    // As a node records them by default: allows and denies both batched into the next group commit, in order.
    const recorder = policy.createRecordingDecider(engine, log, { durableDenies: false });
    // Every role × action of the default set's matrix, in two tenants (about half allow, half deny).
    const roles = ['admin', 'operator', 'agent', 'auditor', 'viewer'] as const;
    const asks = [
      ['plan', { type: 'plan', id: 'p-1', tenant: 'acme', environment: 'prod', region: 'eu-west-1' }, {}],
      ['execute:shell', { type: 'plan', id: 'p-1', tenant: 'acme' }, {}],
      ['execute:probe', { type: 'plan', id: 'p-1', tenant: 'acme' }, { risk: 'low', readOnly: true }],
      ['execute:k8s.apply', { type: 'plan', id: 'p-1', tenant: 'acme' }, { dryRun: true }],
      ['approve', { type: 'plan', id: 'p-1', tenant: 'acme' }, {}],
      ['route', { type: 'provider', id: 'akash', tenant: 'acme', region: 'eu-west-1' }, { residency: 'eu' }],
      ['read', { type: 'ledger', id: 'main', tenant: 'acme' }, { purpose: 'audit' }],
      ['record', { type: 'ledger', id: 'main', tenant: 'acme' }, {}],
      ['tool:kubectl-get', { type: 'tool', id: 'kubectl-get', tenant: 'acme' }, {}],
    ] as const;
    const requests = roles.flatMap((role) =>
      asks.flatMap(([action, resource, context]) =>
        ['acme', 'globex'].map((tenant) => ({
          principal: { type: role === 'agent' ? 'agent' : 'person', id: `${role}-1`, role, tenant },
          action,
          resource: { ...resource },
          context: { ...context, time: '2026-01-01T00:00:00Z' },
        })),
      ),
    ) as unknown as Parameters<typeof engine.decide>[0][];
    const allows = requests.map((r) => engine.decideSync(r).decision === 'allow');
    // Raw Cedar: the same requests, already mapped, against the same set and schema preparsed under our own id.
    const rawId = 'bench-raw';
    const schemaJson = cedar.schemaToJson(policy.VAULTMESH_SCHEMA);
    if (schemaJson.type !== 'success') throw new Error('schema does not parse');
    cedar.preparseSchema(rawId, schemaJson.json);
    cedar.preparsePolicySet(rawId, { staticPolicies: text });
    const calls = requests.map((r) => ({
      ...policy.toCedarRequest(r, Date.now()),
      preparsedPolicySetId: rawId,
      preparsedSchemaName: rawId,
      validateRequest: true,
    }));
    const ours: { ms: number; allow: boolean }[] = [];
    const raw: { ms: number; allow: boolean }[] = [];
    // Each request is decided raw and by the recording decider back to back, in alternating order, so both sides
    // see the same machine load, heap and caches (a scavenge or a cold cache after an await lands on either).
    const raw1 = (k: number) => {
      const t = performance.now();
      const a = cedar.statefulIsAuthorized(calls[k]!);
      const ms = performance.now() - t;
      if (a.type !== 'success') throw new Error('raw Cedar call failed');
      return ms;
    };
    const ours1 = async (k: number) => {
      const t = performance.now();
      const d = await recorder.decide(requests[k]!);
      const ms = performance.now() - t;
      if (d.errors.length > 0) throw new Error(`decision failed: ${d.errors.join('; ')}`);
      return ms;
    };
    const run = async (n: number, keep: boolean) => {
      for (let i = 0; i < n; i++) {
        const k = i % requests.length;
        let r: number;
        let o: number;
        if (i % 2 === 0) {
          r = raw1(k);
          o = await ours1(k);
        } else {
          o = await ours1(k);
          r = raw1(k);
        }
        if (keep) {
          raw.push({ ms: r, allow: allows[k]! });
          ours.push({ ms: o, allow: allows[k]! });
        }
      }
    };
    await run(2_000, false); // warm-up (JIT, SQLite pages, writer thread)
    const bar = createProgress('policy decisions');
    for (let r = 0; r < rounds; r++) {
      await run(perRound, true);
      bar.update(r + 1, rounds);
    }
    bar.done();
    await recorder.flush();
    const p99 = (xs: { ms: number; allow: boolean }[], allow: boolean) =>
      percentile(
        xs.filter((x) => x.allow === allow).map((x) => x.ms),
        99,
      );
    const line = (allow: boolean, name: string): BenchResult => {
      const value = p99(ours, allow);
      const baseline = p99(raw, allow);
      return {
        name,
        value,
        unit: 'ms',
        baselineName: `raw Cedar statefulIsAuthorized p99, same ${allow ? 'allow' : 'deny'} requests`,
        baseline,
        ratio: value / baseline,
        target: '<= 2x raw p99 and < 2 ms',
        pass: value / baseline <= 2 && value < 2,
      };
    };
    return [
      line(true, 'policy allow + receipt p99 (ms, receipt in background)'),
      line(false, 'policy deny + receipt p99 (ms, receipt batched)'),
    ];
  } finally {
    await log.close();
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
