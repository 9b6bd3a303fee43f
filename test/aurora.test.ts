// Aurora end to end: a real node (startNode) whose config names two providers — Vast.ai's REST API served by a local
// fake in Vast's recorded response shape (the real service cannot be reached from here), and the `local` adapter
// that really runs the workload's command — and the real `vm` binary driving it through the REST API:
// route (recommend), submit with failover, status, train, the signed canary SLO report, metrics, and bad input.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dsseVerifierFromNoteKey, parseEnvelope, verifyEnvelope } from '@vaultmesh/attest';
import { createToken } from '@vaultmesh/auth';
import { canonicalize, decodeReceipt, parseVerifierKey } from '@vaultmesh/ledger';
import { loadConfig, startNode, type RunningNode } from '@vaultmesh/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runVm } from './helpers/vm.ts';

const VAST_KEY = 'vast-secret-key-3f9a17c2';
const FIXTURES = join(ROOT, 'packages', 'aurora', 'test', 'fixtures');
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');

let dir: string;
let node: RunningNode;
let cfgFile: string;
let vast: Server;
let vastUrl = '';
const vastSeen: string[] = [];
let operator = '';
let admin = '';

async function startVast(): Promise<void> {
  vast = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      vastSeen.push(`${req.method} ${req.url}`);
      const json = (status: number, text: string) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(text);
      };
      if (req.headers.authorization !== `Bearer ${VAST_KEY}`) return json(401, '{"error":"bad key"}');
      if (req.method === 'POST' && req.url?.startsWith('/api/v0/bundles'))
        return json(200, fixture('vast-bundles.json'));
      // Renting fails: the host is gone (the router must fail over).
      if (req.method === 'PUT' && req.url?.startsWith('/api/v0/asks/'))
        return json(500, '{"success":false,"error":"host unavailable"}');
      return json(404, '{"error":"not found"}');
    });
  });
  await new Promise<void>((r) => vast.listen(0, '127.0.0.1', r));
  vastUrl = `http://127.0.0.1:${(vast.address() as AddressInfo).port}`;
}

const env = (token: string) => ({ VM_URL: node.url, VM_TOKEN: token });

function workload(name: string, extra: Record<string, unknown> = {}): string {
  const file = join(dir, `${name}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      id: name,
      tenant: 'acme',
      gpu: { count: 1 },
      command: TRAIN,
      hours: 2,
      ...extra,
    }),
  );
  return file;
}

// The one command the operator approved for the local provider (it runs nothing else).
const TRAIN = [process.execPath, '-e', 'setTimeout(() => console.log("trained"), 300)'];

async function boot(): Promise<void> {
  node = await startNode(loadConfig({ configFile: cfgFile, env: { VAST_KEY } }));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vm-aurora-'));
  await startVast();
  writeFileSync(
    join(dir, 'treaties.yaml'),
    'treaties:\n  - id: vast-eu\n    provider: vast\n    priceCapPerHour: 5\n    slo: { rttP95Ms: 350 }\n  - id: local-lab\n    provider: local\n',
  );
  cfgFile = join(dir, 'node.json');
  writeFileSync(
    cfgFile,
    JSON.stringify({
      port: 0,
      dataDir: join(dir, 'data'),
      logLevel: 'silent',
      aurora: {
        treatiesFile: 'treaties.yaml',
        providers: [
          {
            type: 'vast',
            baseUrl: `${vastUrl}/api/v0`,
            apiKeyEnv: 'VAST_KEY',
            regionMap: { de: 'eu-central-1', us: 'us-east-1', ca: 'ca-central-1' },
            verifiedOnly: false,
          },
          { type: 'local', gpuCount: 1, gpuModel: 'cpu', commands: [TRAIN, [join(dir, 'no-such-binary')]] },
        ],
      },
    }),
  );
  await boot();
  operator = (await createToken(node.node.storage, { name: 'ops', role: 'operator', tenant: 'acme' })).token;
  admin = (await createToken(node.node.storage, { name: 'root', role: 'admin', tenant: '*' })).token;
}, 60_000);

afterAll(async () => {
  await node?.stop();
  await new Promise<void>((r) => (vast ? vast.close(() => r()) : r()));
  rmSync(dir, { recursive: true, force: true });
});

describe('vm deploy and vm aurora against a running node', () => {
  it('route: offers of both providers are scored; residency and treaties filter; nothing is placed', async () => {
    const r = await runVm(['deploy', 'route', workload('probe'), '--residency', 'eu', '--json'], {
      env: env(operator),
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const d = JSON.parse(r.stdout) as {
      candidates: { provider: string; region: string; offerId: string }[];
      denied: { location: string; reasons: string[] }[];
      offers: { seen: number };
      receipt: { index: number };
    };
    expect(d.offers.seen).toBe(5); // 4 Vast offers + this machine
    // The Canadian 8-GPU offer is above the treaty's price cap; us and local regions are outside "eu".
    expect(d.candidates.map((c) => `${c.provider}/${c.region}`)).toEqual(['vast/eu-central-1']);
    expect(d.denied.map((x) => x.location)).toEqual(['local/local', 'vast/unknown', 'vast/us-east-1']);
    expect(d.denied[0]!.reasons).toEqual(['residency-eu']);
    const entry = await node.node.log.getEntry(d.receipt.index);
    expect(decodeReceipt(entry.bytes)).toMatchObject({
      kind: 'route',
      actor: expect.stringMatching(/^token:acme\/ops#[0-9a-f]{16}$/),
      body: { phase: 'recommend' },
    });
    expect(vastSeen.filter((s) => s.startsWith('PUT'))).toEqual([]);
  });

  it('submit: a job whose command cannot start fails over to Vast, which cannot rent: unplaced (exit 1)', async () => {
    // Approved by the operator but missing on disk: the spawn fails.
    const file = workload('broken', {
      command: [join(dir, 'no-such-binary')],
      image: 'ghcr.io/acme/train:1',
    });
    const r = await runVm(['deploy', 'submit', file, '--json'], { env: env(operator) });
    expect(r.code).toBe(1);
    const job = JSON.parse(r.stdout) as {
      state: string;
      attempts: { provider: string; ok: boolean; error?: string }[];
    };
    expect(job.state).toBe('unplaced');
    // This machine is free, so it is tried first; then the best Vast offer, whose rent answers 500.
    // Each failed location is blocked for the job: the next attempt is another Vast region, then attempts run out.
    expect(job.attempts.map((a) => [a.provider, a.ok])).toEqual([
      ['local', false],
      ['vast', false],
      ['vast', false],
    ]);
    expect(job.attempts[1]!.error).toMatch(/PROVIDER_FAILED/);
    expect(job.attempts[1]!.error).not.toContain(VAST_KEY);
    expect(vastSeen.filter((s) => s.startsWith('PUT /api/v0/asks/'))).toHaveLength(2);
  });

  it('submit: the local machine really runs the job; status follows it to succeeded', async () => {
    const r = await runVm(['deploy', 'submit', workload('train'), '--json'], { env: env(operator) });
    expect(r.code).toBe(0);
    const job = JSON.parse(r.stdout) as { id: string; state: string; provider: string };
    expect(job.provider).toBe('local');
    let state = job.state;
    for (let i = 0; i < 50 && state !== 'succeeded'; i++) {
      await new Promise((res) => setTimeout(res, 100));
      const s = await runVm(['deploy', 'status', job.id, '--json'], { env: env(operator) });
      state = (JSON.parse(s.stdout) as { state: string }).state;
    }
    expect(state).toBe('succeeded');
    const list = await runVm(['deploy', 'status'], { env: env(operator) });
    expect(list.stdout).toContain(job.id);
    // The Vast key is in no receipt.
    const all = await node.node.storage.getEntries(0, await node.node.storage.size());
    expect(all.some((e) => Buffer.from(e.bytes).toString().includes(VAST_KEY))).toBe(false);
    expect(all.filter((e) => e.kind === 'route').length).toBeGreaterThanOrEqual(6);
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    expect(metrics).toMatch(/vaultmesh_aurora_attempts_total\{provider="vast",result="failed"\} 2/);
    expect(metrics).toMatch(/vaultmesh_aurora_jobs_total\{result="placed"\} 1/);
    expect(metrics).toMatch(/vaultmesh_aurora_jobs_total\{result="unplaced"\} 1/);
  });

  it('bad input changes nothing: an invalid workload exits 2 naming the field, a missing file 3, no token 4', async () => {
    const before = await node.node.storage.size();
    const bad = await runVm(['deploy', 'submit', workload('bad', { gpu: { count: 0 } })], {
      env: env(operator),
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/gpu\.count/);
    const missing = await runVm(['deploy', 'route', join(dir, 'nope.json')], { env: env(operator) });
    expect(missing.code).toBe(3);
    const noToken = await runVm(['deploy', 'route', workload('probe')], { env: { VM_URL: node.url } });
    expect(noToken.code).toBe(4);
    expect(await node.node.storage.size()).toBe(before);
  });

  it('train: a model from the stored outcomes, recorded, active, and loaded again after a restart', async () => {
    const refused = await runVm(['aurora', 'train'], { env: env(operator) });
    expect(refused.code).toBe(4);
    const out = join(dir, 'model.json');
    const r = await runVm(['aurora', 'train', '--out', out, '--json'], { env: env(admin) });
    expect(r.code).toBe(0);
    const t = JSON.parse(r.stdout) as { hash: string; outcomes: number; receipt: { index: number } };
    expect(t.outcomes).toBe(4);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toMatchObject({ algorithm: 'linucb', updates: 4 });
    const receipt = decodeReceipt((await node.node.log.getEntry(t.receipt.index)).bytes);
    expect(receipt.body).toMatchObject({ modelHash: t.hash, tags: ['aurora', 'model'] });
    await node.stop();
    await boot();
    const models = await runVm(['aurora', 'models', '--json'], { env: env(admin) });
    expect((JSON.parse(models.stdout) as { active: string }).active).toBe(t.hash);
  });

  it('slo-report: writes canary_slo_report.json with per-KPI compliance, DSSE-signed by the node, recorded', async () => {
    const outDir = join(dir, 'slo');
    const r = await runVm(
      ['aurora', 'slo-report', '--treaty', 'local-lab', '--window', '1h', '--out', outDir],
      {
        env: env(admin),
      },
    );
    expect(r.stderr).not.toMatch(/Error/);
    const report = JSON.parse(readFileSync(join(outDir, 'canary_slo_report.json'), 'utf8')) as {
      kpis: { name: string; compliant: boolean; samples: number }[];
      complianceRate: number;
      compliant: boolean;
    };
    expect(report.kpis.map((k) => k.name)).toEqual([
      'fill_rate_p95',
      'rtt_p95_ms',
      'provenance_coverage',
      'policy_latency_p99_ms',
    ]);
    expect(r.code).toBe(report.compliant ? 0 : 1);
    expect(report.kpis.find((k) => k.name === 'fill_rate_p95')).toMatchObject({
      samples: 2,
      value: 0.5,
      compliant: false,
    });
    const envelope = parseEnvelope(readFileSync(join(outDir, 'canary_slo_report.dsse.json')));
    const key = dsseVerifierFromNoteKey(parseVerifierKey(node.node.key.verifierKeyText));
    const verified = verifyEnvelope(envelope, {
      trusted: [key],
      payloadTypes: ['application/vnd.vaultmesh.canary-slo-report+json'],
    });
    expect(Buffer.from(verified.payload).toString()).toBe(canonicalize(report));
    const unknown = await runVm(['aurora', 'slo-report', '--treaty', 'nope'], { env: env(admin) });
    expect(unknown.code).toBe(3);
  });
  it('a plan step route.submit reaches the router: a dry run scores the job as the plan’s tenant and places nothing', async () => {
    const call = async (path: string, body: unknown) => {
      const res = await fetch(node.url + path, {
        method: 'POST',
        headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const plan = await call('/api/agent/mcp/strategist/plan', {
      intent: {
        kind: 'route-gpu-job',
        tenant: 'acme',
        environment: 'gpu',
        jobId: 'plan-job',
        image: 'img:1',
        gpu: { count: 1 },
        command: TRAIN,
      },
    });
    expect(plan.status).toBe(201);
    const before = await node.node.storage.size();
    const run = await call('/api/agent/mcp/executor/run', {
      planId: (plan.body.plan as { id: string }).id,
      planHash: plan.body.planHash,
      wait: true,
    });
    expect(run.status).toBe(200);
    expect(run.body.state).toBe('succeeded');
    const receipts = (await node.node.storage.getEntries(before, await node.node.storage.size())).map((e) =>
      decodeReceipt(e.bytes),
    );
    const route = receipts.find((r) => r.kind === 'route');
    expect(route).toMatchObject({
      actor: expect.stringMatching(/^token:acme\/ops#[0-9a-f]{16}$/),
      tenant: 'acme',
      body: { jobId: 'plan-job', phase: 'recommend', provider: 'local' },
    });
    expect(receipts.some((r) => r.kind === 'step')).toBe(true);
    expect(receipts.some((r) => r.kind === 'route' && r.body.phase === 'attempt')).toBe(false);
  });

  it('an agent cannot run a command on the node through the local provider: only approved commands run', async () => {
    const agent = (await createToken(node.node.storage, { name: 'bot', role: 'agent', tenant: 'acme' }))
      .token;
    const marker = join(dir, 'owned');
    const res = await fetch(`${node.url}/api/aurora/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agent}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        workload: {
          id: 'hostile',
          tenant: 'acme',
          gpu: { count: 1 },
          command: ['/bin/sh', '-c', `id > ${marker}`],
        },
      }),
    });
    const job = (await res.json()) as { state: string; provider?: string };
    expect(res.status).toBe(422);
    expect(job.state).toBe('unplaced');
    expect(job.provider).toBeUndefined();
    await new Promise((r) => setTimeout(r, 200));
    expect(existsSync(marker)).toBe(false);
  });
});
