// vm demo: the whole control-plane story on the embedded default, in one command. A local demo service (v1)
// takes traffic; a canary deploy of v2 is planned, dry-run, approved and run live; v2 is broken (an injected
// fault), so the error-budget burn-rate tripwire fires and halts the run, the canary is rolled back, the plan is
// audited and the evidence of the halted step is exported and verified offline.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { verifyEvidenceBundle } from '@vaultmesh/attest';
import { setAutonomy, type RunEvent } from '@vaultmesh/control';
import { createControlPlane, exportEvidence, initNode, logKeyTexts, openNode } from '@vaultmesh/node';
import { CliError, EXIT } from '../exit.ts';
import { print, printJson } from '../output.ts';
import { eventLine, localPrincipal } from './mcp.ts';

const REQUESTS = 'demo_http_requests_total';
const ERRORS = 'demo_http_errors_total';

/** The demo service: GET /api answers from the current version, or (half the time) from the canary if deployed. */
function startService(
  stateDir: string,
  count: (name: string) => void,
): Promise<{ url: string; server: Server }> {
  const read = (f: string) =>
    existsSync(join(stateDir, f)) ? readFileSync(join(stateDir, f), 'utf8').trim() : undefined;
  let n = 0;
  const server = createServer((req, res) => {
    const canary = read('canary-version');
    const useCanary =
      req.url === '/canary/health' || (req.url === '/api' && canary !== undefined && n++ % 2 === 0);
    const version = useCanary ? canary : read('current-version');
    // The injected fault: version v2 answers 500.
    const broken = version === undefined || (version === 'v2' && existsSync(join(stateDir, 'fault')));
    if (req.url === '/api') {
      count(REQUESTS);
      if (broken) count(ERRORS);
    }
    res.writeHead(broken ? 500 : 200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ version: version ?? null, ok: !broken }));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve({ url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`, server });
    }),
  );
}

function demoPlan(url: string, stateDir: string) {
  const write = (file: string, text: string) => ({
    command: 'sh',
    args: ['-c', `printf '%s\\n' "$1" > "$2"`, 'sh', text, join(stateDir, file)],
  });
  return {
    v: 1,
    id: 'demo-canary',
    goal: 'canary deploy of the demo service v2, then promote',
    target: { environment: 'demo', namespace: 'shop', tenant: 'demo' },
    phases: [
      {
        id: 'preflight',
        steps: [
          {
            id: 'health-v1',
            action: 'probe',
            params: { url: `${url}/health`, intervalMs: 250 },
            risk: 'low',
            reversible: true,
            readOnly: true,
            timeoutMs: 5000,
          },
        ],
      },
      {
        id: 'canary',
        gate: { approval: true },
        steps: [
          {
            id: 'deploy-canary',
            action: 'shell',
            params: write('canary-version', 'v2'),
            risk: 'medium',
            reversible: true,
            rollback: {
              action: 'shell',
              params: { command: 'rm', args: ['-f', join(stateDir, 'canary-version')] },
            },
          },
          { id: 'bake', action: 'wait', params: { ms: 1500 }, risk: 'low', reversible: true, readOnly: true },
        ],
      },
      {
        id: 'promote',
        gate: { approval: true },
        steps: [
          {
            id: 'promote-v2',
            action: 'shell',
            params: write('current-version', 'v2'),
            risk: 'high',
            reversible: true,
            rollback: { action: 'shell', params: write('current-version', 'v1') },
          },
          {
            id: 'health-v2',
            action: 'probe',
            params: { url: `${url}/health`, intervalMs: 250 },
            risk: 'low',
            reversible: true,
            readOnly: true,
            timeoutMs: 5000,
          },
        ],
      },
    ],
    preconditions: [],
    gates: [],
    createdBy: 'vm demo',
    createdAt: new Date().toISOString(),
  };
}

export function register(program: Command): void {
  program
    .command('demo')
    .description(
      'run the whole story on a fresh embedded node: plan a canary deploy, dry-run, approve, run live, trip a wire on an injected fault, roll back, audit, export evidence',
    )
    .option('-d, --data <dir>', 'data directory for the demo node (default: a new temporary directory)')
    .option('--keep', 'keep the temporary data directory')
    .option('--json', 'print a JSON summary at the end')
    .action(async (o: { data?: string; keep?: boolean; json?: boolean }) => {
      const root = o.data ?? mkdtempSync(join(tmpdir(), 'vm-demo-'));
      const dataDir = join(root, 'data');
      const stateDir = join(root, 'service');
      mkdirSync(stateDir, { recursive: true });
      writeFileSync(join(stateDir, 'current-version'), 'v1\n');
      const rules = join(root, 'tripwires.json');
      writeFileSync(
        rules,
        JSON.stringify({
          rules: [
            {
              id: 'error-budget-fast-burn',
              kind: 'burn-rate',
              description: '99% SLO: 14.4x burn over 1h and 5m (Google SRE workbook, ch. 5)',
              objective: 0.99,
              burnRate: 14.4,
              query: `increase(${ERRORS}[$window]) / increase(${REQUESTS}[$window])`,
              long: '1h',
              short: '5m',
              action: 'halt',
              noData: 'ignore',
            },
          ],
        }),
      );
      const say = (s: string) => {
        if (!o.json) print(s);
      };
      if (existsSync(dataDir))
        throw new CliError(EXIT.CONFLICT, `${dataDir} already exists; give an empty --data`);
      await initNode(dataDir, { origin: 'demo.vaultmesh.local/log' });
      const node = await openNode(dataDir);
      const control = createControlPlane(node, { tripwiresFile: rules });
      const svc = await startService(stateDir, (name) => control.counters.add(name));
      let traffic: ReturnType<typeof setInterval> | undefined;
      // Paths are printed only where they outlive the demo: a temporary directory is removed at the end.
      const kept = Boolean(o.data || o.keep);
      const summary: Record<string, unknown> = kept ? { dataDir } : { dataDir: null, removed: true };
      try {
        say(
          `1. demo service v1 on ${svc.url}; node data ${kept ? `in ${dataDir}` : 'in a temporary directory, removed at the end (--keep keeps it)'}`,
        );
        traffic = setInterval(() => void fetch(`${svc.url}/api`).catch(() => undefined), 20);
        const principal = localPrincipal();
        await setAutonomy({
          store: control.store,
          receipts: node.log,
          actor: principal.id,
          tenant: 'demo',
          tier: 'T1',
          rationale: 'demo: read-only steps run on their own; every change needs an approval',
        });
        say('   autonomy for tenant demo: T1 (read-only steps automatic; changes need approvals)');
        // The strategist stores the plan and a human approves it: four eyes (whoever stored a plan cannot approve it).
        const strategist = {
          type: 'service' as const,
          id: 'vm-demo:strategist',
          role: 'operator' as const,
          tenant: 'demo',
        };
        const stored = await control.executor.storePlan(demoPlan(svc.url, stateDir), strategist);
        say(
          `2. planned ${stored.plan.id}: ${stored.plan.goal}\n   hash ${stored.planHash} (plan receipt #${stored.receipt?.index ?? '?'})`,
        );
        const show = (e: RunEvent) => say('   ' + eventLine(e));
        const run = async (dryRun: boolean, approvals?: string[]) => {
          const { runId, done } = await control.startRun({
            plan: stored.plan.id,
            planHash: stored.planHash,
            dryRun,
            principal,
            approvals,
          });
          const unsub = control.subscribe(runId, show);
          const r = await done;
          unsub?.();
          return r;
        };
        say('3. dry-run (nothing is changed; shell steps only report what they would run)');
        const dry = await run(true);
        if (dry.state !== 'succeeded') throw new CliError(EXIT.FAILED, `the dry-run ended ${dry.state}`);
        say('4. approvals for the gated phases (single use, bound to the plan hash)');
        const tokens: string[] = [];
        for (const phaseId of ['canary', 'promote']) {
          const a = await control.approvals.issue({
            planId: stored.plan.id,
            planHash: stored.planHash,
            scope: { phaseId },
            principal,
            reason: 'demo',
          });
          tokens.push(a.token);
          say(`   approved phase ${phaseId} (approval ${a.id})`);
        }
        say('5. injecting a fault: v2 answers 500; running live');
        writeFileSync(join(stateDir, 'fault'), 'v2 is broken\n');
        const live = await run(false, tokens);
        summary.live = { runId: live.runId, state: live.state, hold: live.hold };
        const version = readFileSync(join(stateDir, 'current-version'), 'utf8').trim();
        const canary = existsSync(join(stateDir, 'canary-version'));
        say(
          `6. run ${live.state}${live.hold ? ` (${live.hold.reason}: ${live.hold.message})` : ''}; service now ${version}${canary ? ' with a canary' : ', canary rolled back'}`,
        );
        clearInterval(traffic);
        traffic = undefined;
        const report = await control.audit({
          planId: stored.plan.id,
          checks: ['receipts', 'compliance'],
          principal,
        });
        summary.audit = { result: report.result, receipt: report.receipt };
        say(
          `7. audit of the plan: ${report.result.toUpperCase()} (${report.checks.map((c) => `${c.name} ${c.result}`).join(', ')}), audit receipt #${report.receipt.index}`,
        );
        const steps = await node.storage.listEntries({ kind: 'step', order: 'desc', limit: 50 });
        const halted =
          steps.find((e) => /"status":"(halted|failed)"/.test(new TextDecoder().decode(e.bytes))) ??
          steps[0]!;
        await node.log.idle();
        await node.log.checkpoint();
        const bundle = await exportEvidence(node.log, node.storage, halted.index, {
          logKeys: await logKeyTexts(node.storage, node.key.verifierKeyText),
          trust: new Map(),
        });
        const bundlePath = join(root, `evidence-${halted.index}.json`);
        writeFileSync(bundlePath, JSON.stringify(bundle, null, 2) + '\n');
        const check = verifyEvidenceBundle(bundle, {
          logKeys: [node.key.verifierKeyText],
          requireTimestamp: false,
        });
        summary.evidence = { index: halted.index, ...(kept ? { file: bundlePath } : {}), ok: check.ok };
        say(
          `8. evidence of step receipt #${halted.index} ${kept ? `written to ${bundlePath}` : 'exported'}; verified offline: ${check.ok ? 'OK' : 'FAILED'} (no TSA configured, so untimestamped)`,
        );
        if (kept)
          say(
            `   check it yourself: vm verify ${bundlePath} --trust-key ${join(dataDir, 'keys', 'node.key.pub')} --allow-untimestamped`,
          );
        const ok =
          live.state === 'hold' &&
          /tripwire/.test(live.hold?.reason ?? '') &&
          !canary &&
          version === 'v1' &&
          check.ok;
        summary.ok = ok;
        if (o.json) printJson(summary);
        if (!ok) throw new CliError(EXIT.FAILED, 'the demo did not end as expected (see above)');
      } finally {
        if (traffic) clearInterval(traffic);
        await new Promise((r) => svc.server.close(r));
        await control.close().catch(() => undefined);
        await node.close();
        if (!kept) rmSync(root, { recursive: true, force: true });
        else say(`data kept in ${root}`);
      }
    });
}
