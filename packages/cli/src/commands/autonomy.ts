// vm autonomy: per-tenant autonomy tiers on the local node (set, status), simulations of a tier (simulate), and
// enacting a simulated tier with a single-use approval (approve, enact). Changes are recorded as `decision`
// receipts in the local log. Local access to the data directory is admin access: the approver is the OS user.
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { AutonomySimulation, AutonomyStatus, AutonomyTier, Principal } from '@vaultmesh/control';
import { openNode } from '@vaultmesh/node';
import type { ControlStore } from '@vaultmesh/types';
import { dataDir, keyOptions, localActor, parseDuration, readJsonFile, withData } from '../context.ts';
import { CliError, EXIT } from '../exit.ts';
import { print, printJson, printTable } from '../output.ts';

/** @vaultmesh/control, loaded on first use so that other commands do not load the control plane. */
const lib = () => import('@vaultmesh/control');

const TIERS = ['T0', 'T1', 'T2', 'T3'];
const RISKS = ['low', 'medium', 'high', 'critical'];

export function register(program: Command): void {
  const autonomy = program
    .command('autonomy')
    .description(
      'autonomy tiers per tenant: which plan steps run without a human approval (T0 manual, T1 read-only, T2 reversible, T3 read-only + aggregations)',
    );
  registerSet(autonomy);
  registerStatus(autonomy);
  registerSimulate(autonomy);
  registerApprove(autonomy);
  registerEnact(autonomy);
}

/** Opens the node, hands its ControlStore and log to `fn`, and closes it. */
async function withControl<T>(
  o: { data?: string },
  fn: (store: ControlStore, node: Awaited<ReturnType<typeof openNode>>) => Promise<T>,
): Promise<T> {
  const node = await openNode(dataDir(o), keyOptions());
  try {
    return await fn(node.storage.controlStore(), node);
  } finally {
    await node.close();
  }
}

/** The local operator as a principal: whoever can open the data directory administers it. */
const localPrincipal = (): Principal => ({ type: 'person', id: localActor(), role: 'admin', tenant: '*' });

const receiptText = (r: { index: number }) => `receipt ${r.index}`;

function registerSet(autonomy: Command): void {
  withData(
    autonomy
      .command('set')
      .description("set a tenant's autonomy tier (recorded as a decision receipt tagged autonomy)")
      .requiredOption('-t, --tenant <tenant>', 'the tenant')
      .requiredOption('--tier <tier>', `one of ${TIERS.join(', ')}`)
      .option('--require-hitl', 'human in the loop: every step that is not read-only needs an approval')
      .option('--max-risk <risk>', `steps riskier than this always need an approval (${RISKS.join(', ')})`)
      .option('-r, --rationale <text>', 'why (goes into the receipt)')
      .option('--json', 'machine-readable output'),
  ).action(
    async (o: {
      data?: string;
      tenant: string;
      tier: string;
      requireHitl?: boolean;
      maxRisk?: string;
      rationale?: string;
      json?: boolean;
    }) => {
      if (!TIERS.includes(o.tier))
        throw new CliError(EXIT.USAGE, `--tier must be one of ${TIERS.join(', ')}`);
      if (o.maxRisk !== undefined && !RISKS.includes(o.maxRisk))
        throw new CliError(EXIT.USAGE, `--max-risk must be one of ${RISKS.join(', ')}`);
      const { setAutonomy } = await lib();
      const change = await withControl(o, (store, node) =>
        setAutonomy({
          store,
          receipts: node.log,
          actor: localActor(),
          tenant: o.tenant,
          tier: o.tier as AutonomyTier,
          requireHitl: o.requireHitl ?? false,
          ...(o.maxRisk ? { maxAutoRisk: o.maxRisk as 'low' } : {}),
          ...(o.rationale ? { rationale: o.rationale } : {}),
        }),
      );
      const s = change.settings;
      if (o.json) return printJson({ ...s, previousTier: change.previous.tier, receipt: change.receipt });
      print(
        `autonomy of ${s.tenant}: ${change.previous.tier} → ${s.tier}${s.requireHitl ? ' (human in the loop)' : ''}${
          s.maxAutoRisk ? `, max risk ${s.maxAutoRisk}` : ''
        }, ${receiptText(change.receipt)}`,
      );
    },
  );
}

function statusRow(s: AutonomyStatus): string[] {
  return s.source === 'stored'
    ? [
        s.tenant,
        s.tier,
        s.requireHitl ? 'yes' : 'no',
        s.maxAutoRisk ?? '-',
        s.updatedAt,
        s.updatedBy,
        String(s.receipt.index),
      ]
    : [s.tenant, `${s.tier} (default)`, s.requireHitl ? 'yes' : 'no', '-', '-', '-', '-'];
}

function registerStatus(autonomy: Command): void {
  withData(
    autonomy
      .command('status')
      .description(
        'show the autonomy settings of one tenant (T0 when it has none) or of every tenant that has some',
      )
      .option('-t, --tenant <tenant>', 'only this tenant')
      .option('--json', 'machine-readable output'),
  ).action(async (o: { data?: string; tenant?: string; json?: boolean }) => {
    const { getAutonomy, listAutonomy } = await lib();
    const items: AutonomyStatus[] = await withControl(o, async (store) =>
      o.tenant
        ? [await getAutonomy(store, o.tenant)]
        : (await listAutonomy(store)).map((s) => ({ ...s, source: 'stored' as const })),
    );
    if (o.json) return printJson(o.tenant ? items[0] : { items });
    if (items.length === 0) return print('no tenant has autonomy settings: every tenant is T0 (manual)');
    printTable(items.map(statusRow), ['TENANT', 'TIER', 'HITL', 'MAX-RISK', 'UPDATED', 'BY', 'RECEIPT']);
  });
}

function printSimulation(r: AutonomySimulation): void {
  print(`simulation of ${r.tenant} at ${r.tier}${r.requireHitl ? ' (human in the loop)' : ''}`);
  printTable(
    r.ops.map((op) => [
      String(op.index),
      op.action,
      op.mode,
      `${op.successes}/${op.runs}`,
      String(op.compensations),
      op.reason,
    ]),
    ['#', 'ACTION', 'MODE', 'OK', 'COMP', 'REASON'],
  );
  const t = r.totals;
  print(
    `${t.executions} execution(s): ${t.auto} automatic, ${t.approvalRequired} need approval; success rate ${r.successRate}, compensation rate ${r.compensationRate}`,
  );
  for (const c of r.checks)
    print(
      `${c.pass ? 'ok  ' : 'FAIL'} ${c.name} ${c.actual} ${c.min !== undefined ? `>= ${c.min}` : `<= ${c.max}`}`,
    );
  print(`${r.passed ? 'PASSED' : 'FAILED'}  digest ${r.digest}`);
}

function registerSimulate(autonomy: Command): void {
  autonomy
    .command('simulate <file>')
    .description(
      'run a scenario file (JSON or YAML) through a tier: which ops run alone, success and compensation rates; exits 1 when its expectations fail',
    )
    .option('-o, --out <file>', 'also write the result (the input of approve and enact) to this file')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, o: { out?: string; json?: boolean }) => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        throw new CliError(EXIT.NOT_FOUND, `cannot read scenario ${file}: ${(e as Error).message}`);
      }
      const { parseAutonomyScenario, simulateAutonomy } = await lib();
      const result = simulateAutonomy(parseAutonomyScenario(text));
      if (o.out) writeFileSync(o.out, JSON.stringify(result, null, 2) + '\n');
      if (o.json) printJson(result);
      else printSimulation(result);
      if (!result.passed) throw new CliError(EXIT.FAILED, 'the simulation did not meet its expectations');
    });
}

function registerApprove(autonomy: Command): void {
  withData(
    autonomy
      .command('approve')
      .description(
        'approve enacting a passed simulation: prints a single-use token, once (recorded as a decision receipt)',
      )
      .requiredOption('--from-sim <file>', 'the simulation result (vm autonomy simulate --json or --out)')
      .option('--ttl <duration>', 'how long the token stays valid (e.g. 15m, 1h)', '1h')
      .option('--json', 'machine-readable output'),
  ).action(async (o: { data?: string; fromSim: string; ttl: string; json?: boolean }) => {
    const fromSim = readJsonFile(o.fromSim, 'simulation result');
    const ttlMs = parseDuration(o.ttl);
    const { createEnactApproval, verifySimulation } = await lib();
    const sim = verifySimulation(fromSim);
    const issued = await withControl(o, (store, node) =>
      createEnactApproval(localPrincipal(), sim.digest, { store, fromSim, receipts: node.log, ttlMs }),
    );
    if (o.json)
      return printJson({
        ...issued,
        tenant: sim.tenant,
        tier: sim.tier,
        expiresAt: new Date(issued.expiresAt).toISOString(),
      });
    print(
      `approval ${issued.id} of simulation ${sim.digest} (${sim.tenant} → ${sim.tier}), expires ${new Date(issued.expiresAt).toISOString()}${
        issued.receipt ? `, ${receiptText(issued.receipt)}` : ''
      }`,
    );
    print(`token (shown once, single use): ${issued.token}`);
  });
}

function registerEnact(autonomy: Command): void {
  withData(
    autonomy
      .command('enact')
      .description(
        "apply a simulated tier: the simulation must re-run to its digest and have passed, and the approval token must be this simulation's",
      )
      .requiredOption('--approval-token <token>', 'the token printed by vm autonomy approve')
      .requiredOption('--from-sim <file>', 'the simulation result that was approved')
      .option('-r, --rationale <text>', 'why (goes into the receipt)')
      .option('--json', 'machine-readable output'),
  ).action(
    async (o: {
      data?: string;
      approvalToken: string;
      fromSim: string;
      rationale?: string;
      json?: boolean;
    }) => {
      const fromSim = readJsonFile(o.fromSim, 'simulation result');
      const { enactAutonomy } = await lib();
      const out = await withControl(o, (store, node) =>
        enactAutonomy({
          store,
          receipts: node.log,
          fromSim,
          approvalToken: o.approvalToken,
          actor: localActor(),
          ...(o.rationale ? { rationale: o.rationale } : {}),
        }),
      );
      if (o.json)
        return printJson({
          ...out.settings,
          previousTier: out.previous.tier,
          approvalId: out.approvalId,
          receipt: out.receipt,
        });
      print(
        `autonomy of ${out.settings.tenant}: ${out.previous.tier} → ${out.settings.tier} enacted from simulation ${out.simDigest} (approval ${out.approvalId}), ${receiptText(out.receipt)}`,
      );
    },
  );
}
