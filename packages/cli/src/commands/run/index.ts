// vm run: a job file's command lines, run through the executor like any plan: the job becomes a plan (one phase
// `run`, one `shell` step per job step), stored under policy; a dry-run, then the live run, which the tenant's
// autonomy tier holds for a human approval (exit 6) until `vm run FILE --resume RUN --approval TOKEN` continues it.
// When the run ends (succeeded, failed, held or cancelled) an RFC 9421-signed callback reports it.
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { createHttpSignatureKey, hmacKeyId, loadHmacKeyFile } from '@vaultmesh/attest';
import { ControlError, type RunEvent, type RunResult, type StoredPlan } from '@vaultmesh/control';
import { loadConfig, type ControlPlane } from '@vaultmesh/node';
import { parseIndex, withData } from '../../context.ts';
import { CliError, EXIT } from '../../exit.ts';
import { print, printJson } from '../../output.ts';
import { eventLine, localPrincipal, withControl } from '../mcp.ts';
import { callbackUrl, deliverCallback, type CallbackResult } from './callback.ts';
import { JOB_ENVIRONMENT, JOB_PHASE, jobPlan, parseJobFile, type JobFile } from './job.ts';
import { jobReport, type JobReport } from './outcome.ts';

export {
  DEFAULT_STEP_TIMEOUT_MS,
  JOB_PHASE,
  jobPlan,
  parseJobFile,
  type JobFile,
  type JobStep,
} from './job.ts';
export { deliverCallback, type CallbackResult } from './callback.ts';
export { jobReport, jobStatus, type JobReport, type JobStatus } from './outcome.ts';

interface RunOpts {
  data?: string;
  config?: string;
  callback?: string;
  hmacKeyFile?: string;
  tenant: string;
  approval?: string[];
  resume?: string;
  rerunStarted?: boolean;
  dryRun?: boolean;
  retries: string;
  retryDelay: string;
  json?: boolean;
}

/** Stores the job's plan: the same content is reused, a changed job file replaces its earlier version. */
async function storeJobPlan(c: ControlPlane, job: JobFile, tenant: string): Promise<StoredPlan> {
  let cur: StoredPlan | undefined;
  try {
    cur = await c.executor.getPlan(job.id);
  } catch (e) {
    if (!(e instanceof ControlError && e.code === 'NOT_FOUND')) throw e;
  }
  const principal = localPrincipal();
  const plan = jobPlan(job, { tenant, createdBy: principal.id, now: new Date() });
  if (cur) {
    const p = cur.plan;
    if (p.target.environment !== JOB_ENVIRONMENT || p.phases.length !== 1 || p.phases[0]!.id !== JOB_PHASE)
      throw new CliError(
        EXIT.CONFLICT,
        `plan id ${job.id} is taken by a plan that is not a job (environment ${p.target.environment}); give the job another id`,
      );
    if (p.target.tenant !== tenant)
      throw new CliError(
        EXIT.CONFLICT,
        `job ${job.id} was stored for tenant ${p.target.tenant}, not ${tenant}; give the job another id or --tenant ${p.target.tenant}`,
      );
  }
  return c.executor.storePlan(plan, principal, cur ? { replaces: cur.planHash } : {});
}

/** A run of this job that still holds its plan (running, or on a resumable hold): it must go on or be cancelled. */
async function assertNoActiveRun(c: ControlPlane, job: JobFile, file: string): Promise<void> {
  const active = (await c.executor.listRuns(job.id)).find(
    (r) => r.state === 'running' || (r.state === 'hold' && r.hold?.resumable),
  );
  if (!active) return;
  const why = active.hold ? `on hold: ${active.hold.reason}` : 'running, or its process died';
  throw new CliError(
    EXIT.CONFLICT,
    `job ${job.id} has a run that is not finished, ${active.runId} (${why}); continue it with "vm run ${file} --resume ${active.runId}${active.hold?.reason === 'approval-required' ? ' --approval <token>' : ''}", or cancel it with "vm mcp executor ${job.id} --plan-hash ${active.planHash} --cancel ${active.runId}"`,
  );
}

/** Starts a run (or resumes one) and prints its events as they happen; resolves with the result. */
async function drive(
  c: ControlPlane,
  start: () => Promise<RunResult>,
  runId: string | undefined,
  show: (e: RunEvent) => void,
): Promise<RunResult> {
  const unsub = runId ? c.subscribe(runId, show, { follow: true }) : undefined;
  try {
    return await start();
  } finally {
    unsub?.();
  }
}

async function startRun(
  c: ControlPlane,
  stored: StoredPlan,
  dryRun: boolean,
  approvals: readonly string[] | undefined,
  show: (e: RunEvent) => void,
): Promise<RunResult> {
  const { runId, done } = await c.startRun({
    plan: stored.plan.id,
    planHash: stored.planHash,
    dryRun,
    principal: localPrincipal(),
    ...(approvals ? { approvals } : {}),
  });
  return drive(c, () => done, runId, show);
}

/** Continues a held or interrupted run of this job; the job file must still be the plan the run runs. */
async function resumeRun(
  c: ControlPlane,
  job: JobFile,
  file: string,
  o: RunOpts,
  show: (e: RunEvent) => void,
): Promise<{ stored: StoredPlan; result: RunResult }> {
  const found = await c.executor.getRun(o.resume!);
  if (!found) throw new CliError(EXIT.NOT_FOUND, `no run ${o.resume}`);
  if (found.run.planId !== job.id)
    throw new CliError(EXIT.USAGE, `run ${o.resume} is of plan ${found.run.planId}, not of job ${job.id}`);
  const stored = await c.executor.getPlan(job.id);
  const plan = jobPlan(job, { tenant: o.tenant, createdBy: localPrincipal().id, now: new Date() });
  const same =
    JSON.stringify({ ...plan, createdAt: '' }) === JSON.stringify({ ...stored.plan, createdAt: '' });
  if (!same || stored.planHash !== found.run.planHash)
    throw new CliError(
      EXIT.CONFLICT,
      `${file} is not the plan run ${o.resume} runs (hash ${found.run.planHash}): the job file or the policy changed; start a new run with "vm run ${file}"`,
    );
  const result = await drive(
    c,
    () =>
      c.executor.resume(o.resume!, {
        principal: localPrincipal(),
        ...(o.approval ? { approvals: o.approval } : {}),
        ...(o.rerunStarted ? { rerunStarted: true } : {}),
      }),
    o.resume,
    show,
  );
  return { stored, result };
}

/** The lines that tell a human how the held run goes on. */
function holdAdvice(file: string, r: JobReport, fourEyes: boolean, storedBy: string): string[] {
  if (r.hold?.reason !== 'approval-required') return [];
  return [
    `run ${r.runId} waits for an approval of phase ${JOB_PHASE} of plan ${r.planId} (hash ${r.planHash}).`,
    fourEyes
      ? `An approver other than ${storedBy}, who stored the plan (four eyes), issues one:`
      : 'Issue one with:',
    `  vm approve ${r.planId} --plan-hash ${r.planHash} --phase ${JOB_PHASE}`,
    'then continue the run with it:',
    `  vm run ${file} --resume ${r.runId} --approval <token>`,
  ];
}

/** Exit code and message for a run that did not succeed (null when it did). */
function failure(r: JobReport): CliError | null {
  if (r.status === 'succeeded') return null;
  const why = r.hold ? `: ${r.hold.reason} — ${r.hold.message}` : '';
  const what = `${r.dryRun ? 'the dry-run of ' : ''}plan ${r.planId} (run ${r.runId})`;
  if (r.hold?.reason === 'approval-required')
    return new CliError(EXIT.PENDING, `${what} waits for an approval`);
  if (r.hold?.reason === 'policy-denied') return new CliError(EXIT.AUTH, `${what} was denied${why}`);
  return new CliError(EXIT.FAILED, `${what} ${r.status === 'held' ? 'is on hold' : r.status}${why}`);
}

export function register(program: Command): void {
  withData(
    program
      .command('run <job>')
      .description(
        "run a job file's command lines through the executor: stored as a plan, dry-run, then live once approved, with step receipts and an RFC 9421-signed callback",
      )
      .option('-t, --tenant <tenant>', 'tenant of the plan and its receipts', 'default')
      .option('--approval <token...>', 'approval tokens for the live run (vm approve ... --phase run)')
      .option('--resume <runId>', 'continue this held or interrupted run of the job (after an approval)')
      .option(
        '--rerun-started',
        'with --resume: run again a step that was started but not finished (after you checked its effect)',
      )
      .option('--dry-run', 'only the dry-run: check that every step can run, change nothing')
      .option('--callback <url>', 'POST the outcome here, signed per RFC 9421')
      .option(
        '--hmac-key-file <file>',
        'sign with this shared secret (keyid hmac:<file name>) instead of the node key',
      )
      .option('--retries <n>', 'callback retries after the first attempt', '3')
      .option('--retry-delay <ms>', 'first retry delay, doubled each time', '500')
      .option('-c, --config <file>', 'node config with a "control" section (env VM_CONFIG)')
      .option('--json', 'machine-readable output'),
  ).action(async (file: string, o: RunOpts) => {
    // Everything that can be checked is checked before anything runs or is recorded.
    if (!existsSync(file)) throw new CliError(EXIT.NOT_FOUND, `job file ${file} does not exist`);
    const job = parseJobFile(readFileSync(file, 'utf8'), file);
    if (o.rerunStarted && !o.resume) throw new CliError(EXIT.USAGE, '--rerun-started goes with --resume');
    if (o.dryRun && (o.resume || o.approval))
      throw new CliError(EXIT.USAGE, '--dry-run takes neither --resume nor --approval');
    const url = o.callback !== undefined ? callbackUrl(o.callback) : undefined;
    const retries = parseIndex(o.retries, '--retries');
    if (retries > 10) throw new CliError(EXIT.USAGE, '--retries must be at most 10');
    const retryDelayMs = parseIndex(o.retryDelay, '--retry-delay');
    const hmac = o.hmacKeyFile !== undefined ? loadHmacKeyFile(o.hmacKeyFile) : undefined;
    const log = (line: string) => (o.json ? process.stderr.write(line + '\n') : print(line));
    const show = (e: RunEvent) => log(eventLine(e));
    const fourEyesCfg = loadConfig({ env: process.env, configFile: o.config }).control.fourEyes;
    const fourEyes = fourEyesCfg?.tenants?.[o.tenant] ?? fourEyesCfg?.default ?? true;

    const { report, signer, storedBy } = await withControl(o, async (c, node) => {
      let stored: StoredPlan;
      let result: RunResult;
      if (o.resume) {
        ({ stored, result } = await resumeRun(c, job, file, o, show));
      } else {
        await assertNoActiveRun(c, job, file);
        stored = await storeJobPlan(c, job, o.tenant);
        log(
          `plan ${job.id} (${job.steps.length} step${job.steps.length > 1 ? 's' : ''}, hash ${stored.planHash}), plan receipt #${stored.receipt.index}`,
        );
        result = await startRun(c, stored, true, undefined, show);
        if (result.state === 'succeeded' && !o.dryRun)
          result = await startRun(c, stored, false, o.approval, show);
      }
      const journal = (await c.executor.getRun(result.runId))?.journal ?? [];
      return {
        report: jobReport(job, result, {
          origin: node.origin,
          tenant: stored.plan.target.tenant,
          planReceipt: stored.receipt,
          journal,
        }),
        signer: hmac
          ? { key: hmac, keyid: hmacKeyId(o.hmacKeyFile!) }
          : { key: createHttpSignatureKey('ed25519', node.key.privateKey), keyid: node.key.name },
        storedBy: stored.storedBy,
      };
    });
    for (const line of holdAdvice(file, report, fourEyes, storedBy)) log(line);

    let callback: CallbackResult | undefined;
    if (url !== undefined) {
      callback = await deliverCallback(url, JSON.stringify(report), signer, {
        retries,
        retryDelayMs,
        onAttempt: (l) => process.stderr.write(l + '\n'),
      });
      if (!callback.error)
        log(
          `callback POST ${url} -> ${callback.status} (attempt ${callback.attempts}, keyid ${signer.keyid})`,
        );
    }
    if (o.json) printJson({ ...report, callback: callback ?? null });
    if (callback?.error)
      throw new CliError(
        EXIT.FAILED,
        `callback to ${url} failed after ${callback.attempts} attempt(s): ${callback.error} (the receipts stay recorded)`,
      );
    const failed = failure(report);
    if (failed) throw failed;
  });
}
