// vm mcp strategist|executor|auditor and vm approve: the control plane on the local data directory, with live
// progress. The caller is the local operator (an admin of every tenant, "cli:<user>"); Cedar still decides.
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Principal, RunEvent, RunResult } from '@vaultmesh/control';
import {
  createControlPlane,
  loadConfig,
  openNode,
  type ControlPlane,
  type OpenedNode,
} from '@vaultmesh/node';
import { dataDir, keyOptions, localActor, withData } from '../context.ts';
import { CliError, EXIT } from '../exit.ts';
import { readManifests } from '../manifests.ts';
import { registerMcpClientCommands } from './mcp-client.ts';
import { registerMcpServe } from './mcp-serve.ts';
import { print, printJson } from '../output.ts';

interface Common {
  data?: string;
  config?: string;
  json?: boolean;
}

/** The local operator as a control-plane principal. */
export function localPrincipal(): Principal {
  return { type: 'person', id: localActor(), role: 'admin', tenant: '*' };
}

/** Opens the node and its control plane for one command, then closes both. */
export async function withControl<T>(
  o: Common,
  fn: (c: ControlPlane, node: OpenedNode) => Promise<T>,
): Promise<T> {
  const cfg = loadConfig({ env: process.env, configFile: o.config });
  const node = await openNode(dataDir(o), keyOptions());
  try {
    const control = createControlPlane(node, cfg.control);
    try {
      return await fn(control, node);
    } finally {
      await control.close().catch(() => undefined);
    }
  } finally {
    await node.close();
  }
}

function readJson(file: string, what: string): unknown {
  if (!existsSync(file)) throw new CliError(EXIT.NOT_FOUND, `${what} ${file} does not exist`);
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CliError(EXIT.USAGE, `${what} ${file} is not JSON: ${(err as Error).message}`);
  }
}

/** The intent file, with the manifests under `manifests` added (a deploy intent only). */
function intentWithManifests(file: string, manifests: string | undefined): unknown {
  const intent = readJson(file, 'intent file');
  if (manifests === undefined) return intent;
  if ((intent as { kind?: unknown } | null)?.kind !== 'deploy')
    throw new CliError(EXIT.USAGE, '--manifests goes with a deploy intent');
  return { ...(intent as Record<string, unknown>), manifests: readManifests(manifests) };
}

/** One human line per run event. */
export function eventLine(e: RunEvent): string {
  switch (e.type) {
    case 'run-started':
      return `▶ run ${e.runId} (${e.dryRun ? 'dry-run' : 'LIVE'}) phases ${e.phases.join(', ')}${e.resumed ? ' (resumed)' : ''}`;
    case 'step-started':
      return `  … ${e.phaseId}/${e.stepId} ${e.action}${e.rollback ? ' (rollback)' : ''}`;
    case 'step-finished':
      // A step held for a human is waiting, not refused: say so instead of showing a denial.
      if (e.status === 'denied' && e.reason === 'approval-required')
        return `  ⏸ ${e.phaseId}/${e.stepId} waits for an approval`;
      // A rollback that undid its step succeeded: it is not shown with the failure mark.
      return `  ${e.status === 'succeeded' || e.status === 'rolled-back' ? '✓' : e.status === 'skipped' ? '·' : e.status === 'unverifiable' ? '?' : '✗'} ${e.phaseId}/${e.stepId} ${e.status}${e.rollback ? ' (rollback)' : ''}${e.error ? `: ${e.error}` : ''}${e.summary ? `\n      ${e.summary}` : ''}${e.status === 'unverifiable' && e.reason ? `\n      ${e.reason}` : ''}`;
    case 'analysis': {
      const t = e.tally;
      const counts = `${t.pass} pass, ${t.fail} fail, ${t.inconclusive} inconclusive`;
      if (e.record === 'summary')
        return `  ≈ analysis ${e.result} (${t.measurements} measurement(s): ${counts})${e.stop ? `: ${e.stop.action} — ${e.stop.reason}` : ''}`;
      return `  ${e.result === 'pass' ? '≈' : '!'} analysis at ${e.phaseId}/${e.stepId}: ${e.result} (${counts})${e.stop ? ` → ${e.stop.action}: ${e.stop.reason}` : ''}`;
    }
    case 'run-finished':
      return `■ run ${e.runId} ${e.state}${e.hold ? ` (${e.hold.reason}: ${e.hold.message})` : ''}`;
  }
}

function printRun(r: RunResult, json?: boolean): void {
  if (json) printJson(r);
  if (r.state !== 'succeeded')
    throw new CliError(
      EXIT.FAILED,
      `run ${r.runId} ended ${r.state}${r.hold ? `: ${r.hold.reason} — ${r.hold.message}` : ''}`,
    );
}

const withCfg = (c: Command) =>
  withData(c)
    .option('-c, --config <file>', 'node config with a "control" section (env VM_CONFIG)')
    .option('--json', 'machine-readable output');

export function register(program: Command): void {
  const mcp = program
    .command('mcp')
    .description(
      'the control plane on the local node: strategist (plan), executor (run), auditor (verify); serve (MCP over stdio)',
    );
  registerMcpServe(mcp);
  registerMcpClientCommands(mcp);

  withCfg(
    mcp
      .command('strategist')
      .description(
        'make and store a plan from an intent file (deploy, rollback, scale, rotate-key, route-gpu-job), a plan file, or a free-text goal (the model-backed strategist: control.openai)',
      )
      .option('--intent <file>', 'intent JSON, e.g. {"kind":"deploy","service":"api",...}')
      .option(
        '--manifests <path>',
        "with a deploy --intent: the service's Kubernetes manifests (a file, a folder, or a kustomize folder such as a spawned service's k8s/)",
      )
      .option('--plan <file>', 'a complete plan JSON to validate and store instead')
      .option(
        '--goal <text>',
        'a free-text goal for the model-backed strategist (needs --tenant and --environment)',
      )
      .option('--tenant <tenant>', 'with --goal: the target tenant')
      .option('--environment <name>', 'with --goal: the target environment')
      .option('--namespace <name>', 'with --goal: the target namespace')
      .option('--region <name>', 'with --goal: the target region'),
  ).action(
    async (
      o: Common & {
        intent?: string;
        manifests?: string;
        plan?: string;
        goal?: string;
        tenant?: string;
        environment?: string;
        namespace?: string;
        region?: string;
      },
    ) => {
      if ([o.intent, o.plan, o.goal].filter((x) => x !== undefined).length !== 1)
        throw new CliError(EXIT.USAGE, 'give exactly one of --intent, --plan or --goal');
      if (o.goal !== undefined && (!o.tenant || !o.environment))
        throw new CliError(EXIT.USAGE, "--goal needs --tenant and --environment (the plan's target)");
      if (o.goal === undefined && (o.tenant || o.environment || o.namespace || o.region))
        throw new CliError(EXIT.USAGE, '--tenant, --environment, --namespace and --region go with --goal');
      if (o.manifests !== undefined && o.intent === undefined)
        throw new CliError(EXIT.USAGE, '--manifests goes with a deploy --intent');
      await withControl(o, async (c) => {
        const plan = o.intent
          ? await c.strategist.plan({ intent: intentWithManifests(o.intent, o.manifests) })
          : o.goal !== undefined
            ? await c.strategist.plan({
                goal: o.goal,
                target: {
                  tenant: o.tenant!,
                  environment: o.environment!,
                  ...(o.namespace ? { namespace: o.namespace } : {}),
                  ...(o.region ? { region: o.region } : {}),
                },
              })
            : readJson(o.plan!, 'plan file');
        const stored = await c.executor.storePlan(plan, localPrincipal());
        if (o.json) return printJson(stored);
        print(`plan ${stored.plan.id} stored: ${stored.plan.goal}`);
        print(`  hash ${stored.planHash}`);
        for (const ph of stored.plan.phases)
          print(
            `  phase ${ph.id}${ph.gate?.approval ? ' (approval gate)' : ''}: ${ph.steps.map((s) => `${s.id}[${s.action}]`).join(' → ')}`,
          );
      });
    },
  );

  withCfg(
    mcp
      .command('executor <planId>')
      .description('run a stored plan (dry-run unless --live), printing each step as it happens')
      .requiredOption(
        '--plan-hash <hash>',
        'the plan hash you reviewed (a re-plan or policy change makes it stale)',
      )
      .option('--phase <id>', 'one phase (default: all, in order)')
      .option('--live', 'run live (needs a successful dry-run of the same plan hash first)')
      .option('--approval <token...>', 'approval tokens for gated phases or steps')
      .option(
        '--resume <runId>',
        'resume a held or interrupted run (of this plan and hash) instead of starting one',
      )
      .option(
        '--rerun-started',
        'with --resume: run again a step that was started but not finished (after you checked its effect)',
      )
      .option(
        '--cancel <runId>',
        'cancel a held or interrupted run of this plan, rolling back its completed steps',
      )
      .option('--no-rollback', 'with --cancel: stop without rolling back')
      .option('--reason <text>', 'with --cancel: why (goes into the receipt)'),
  ).action(
    async (
      planId: string,
      o: Common & {
        planHash: string;
        phase?: string;
        live?: boolean;
        approval?: string[];
        resume?: string;
        rerunStarted?: boolean;
        cancel?: string;
        rollback: boolean;
        reason?: string;
      },
    ) => {
      if (o.resume && o.cancel) throw new CliError(EXIT.USAGE, 'give --resume or --cancel, not both');
      if (o.rerunStarted && !o.resume) throw new CliError(EXIT.USAGE, '--rerun-started goes with --resume');
      await withControl(o, async (c) => {
        const principal = localPrincipal();
        const show = (e: RunEvent) => {
          if (!o.json) print(eventLine(e));
        };
        const existing = o.resume ?? o.cancel;
        if (existing) {
          // The run must be of the plan and the hash this command names (a re-planned hash is not resumed blindly).
          const found = await c.executor.getRun(existing);
          if (!found) throw new CliError(EXIT.NOT_FOUND, `no run ${existing}`);
          if (found.run.planId !== planId)
            throw new CliError(EXIT.USAGE, `run ${existing} is of plan ${found.run.planId}, not ${planId}`);
          if (found.run.planHash !== o.planHash)
            throw new CliError(
              EXIT.CONFLICT,
              `run ${existing} runs plan hash ${found.run.planHash}, not the --plan-hash given (${o.planHash})`,
            );
          const unsub = c.subscribe(existing, show, { follow: true });
          try {
            const r = o.resume
              ? await c.executor.resume(existing, {
                  principal,
                  approvals: o.approval,
                  ...(o.rerunStarted ? { rerunStarted: true } : {}),
                })
              : await c.executor.cancel(existing, {
                  principal,
                  rollback: o.rollback,
                  ...(o.reason !== undefined ? { reason: o.reason } : {}),
                });
            if (o.cancel) {
              if (o.json) printJson(r);
              else print(`run ${r.runId} cancelled${o.rollback ? ' (completed steps rolled back)' : ''}`);
              return;
            }
            return printRun(r, o.json);
          } finally {
            unsub?.();
          }
        }
        const { runId, done } = await c.startRun({
          plan: planId,
          planHash: o.planHash,
          phaseId: o.phase,
          dryRun: !o.live,
          principal,
          approvals: o.approval,
        });
        const unsub = c.subscribe(runId, show);
        const r = await done;
        unsub?.();
        printRun(r, o.json);
      });
    },
  );

  withCfg(
    mcp
      .command('auditor <planId>')
      .description(
        'audit a plan: step receipts proven against signed checkpoints, health probes, policy and approvals',
      )
      .option(
        '--checks <list>',
        'comma-separated subset of receipts,health,compliance',
        'receipts,health,compliance',
      ),
  ).action(async (planId: string, o: Common & { checks: string }) => {
    await withControl(o, async (c) => {
      const report = await c.audit({ planId, checks: o.checks.split(','), principal: localPrincipal() });
      if (o.json) printJson(report);
      else {
        print(`${report.result === 'pass' ? 'PASS' : 'FAIL'}: audit of plan ${planId}`);
        for (const ch of report.checks) {
          print(`  ${ch.result === 'pass' ? '✓' : '✗'} ${ch.name}`);
          for (const f of ch.findings.filter((x) => !x.ok)) print(`      ✗ ${f.subject}: ${f.detail}`);
        }
        if (report.runs.length) print('  runs:');
        for (const run of report.runs) {
          const relied = run.reliedOn
            ? ` (relied on dry-run ${run.reliedOn.dryRun?.runId ?? 'none'}, go/no-go ${run.reliedOn.go ? `${run.reliedOn.go.pollId} ${run.reliedOn.go.outcome}` : 'none'})`
            : '';
          print(
            `    ${run.outcome === 'passed' ? '✓' : run.outcome === 'unverifiable' ? '?' : '✗'} ${run.runId} ${run.dryRun ? 'dry-run' : 'LIVE'} of ${run.current ? 'the current plan' : `replaced version ${run.planHash.slice(0, 12)}`}: ${run.outcome}${relied}`,
          );
          for (const p of run.problems) print(`        ${p}`);
        }
      }
      if (report.result !== 'pass') throw new CliError(EXIT.FAILED, `audit of plan ${planId} failed`);
    });
  });

  withCfg(
    program
      .command('approve <planId>')
      .description(
        'issue a single-use approval token bound to a plan hash and one phase or step (printed once)',
      )
      .requiredOption('--plan-hash <hash>', 'the plan hash being approved')
      .option('--phase <id>', 'approve a whole phase')
      .option('--step <id>', 'approve one step')
      .option('--reason <text>', 'why (recorded)'),
  ).action(
    async (
      planId: string,
      o: Common & { planHash: string; phase?: string; step?: string; reason?: string },
    ) => {
      if (!o.phase === !o.step) throw new CliError(EXIT.USAGE, 'give exactly one of --phase or --step');
      await withControl(o, async (c) => {
        const issued = await c.approvals.issue({
          planId,
          planHash: o.planHash,
          scope: o.phase ? { phaseId: o.phase } : { stepId: o.step! },
          principal: localPrincipal(),
          reason: o.reason,
        });
        if (o.json) return printJson(issued);
        print(
          `approval ${issued.id} for plan ${planId} ${o.phase ? `phase ${o.phase}` : `step ${o.step}`} (single use)`,
        );
        print(issued.token);
      });
    },
  );
}
