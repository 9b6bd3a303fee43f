// The job file of `vm run` and the plan it becomes: one phase `run` with one `shell` step per job step, so the
// executor governs it like any other plan (policy, autonomy and approvals, journal, dry-run, tripwires, receipts).
import type { Plan } from '@vaultmesh/control';
import { CliError, EXIT } from '../../exit.ts';

/** One step of a job file: a command line run without a shell. */
export interface JobStep {
  readonly name: string;
  readonly run: readonly string[];
  readonly timeoutMs: number;
}

/** A validated job file, with step defaults filled in. */
export interface JobFile {
  readonly id: string;
  readonly goal?: string;
  readonly steps: readonly JobStep[];
}

/** The one phase of a job's plan (what `vm approve <planId> --phase run` approves). */
export const JOB_PHASE = 'run';
/** The environment a job's plan targets: the machine `vm run` runs on. */
export const JOB_ENVIRONMENT = 'local';

// Plan ids and step ids end up in store keys and receipts: the executor's id rule, which ':' aside is this one.
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const MAX_ID_CHARS = 128;
const MAX_STEPS = 100;
const MAX_ARGS = 256;
const MAX_ARG_CHARS = 4096;
/** Default and largest step timeout (ms). */
export const DEFAULT_STEP_TIMEOUT_MS = 60_000;
const MAX_STEP_TIMEOUT_MS = 3_600_000;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function unknownFields(obj: Record<string, unknown>, allowed: string[], at: string): string[] {
  return Object.keys(obj)
    .filter((k) => !allowed.includes(k))
    .map((k) => `${at}unknown field "${k}" (allowed: ${allowed.join(', ')})`);
}

function stepProblems(s: unknown, at: string, names: Set<string>): string[] {
  if (!isObject(s)) return [`${at}must be an object`];
  const problems = unknownFields(s, ['name', 'run', 'timeoutMs'], at);
  if (typeof s.name !== 'string' || s.name.length > 100 || !ID_RE.test(s.name))
    problems.push(`${at}"name" must be 1..100 characters of letters, digits, ".", "_" or "-"`);
  else if (names.has(s.name)) problems.push(`${at}duplicate step name "${s.name}"`);
  else names.add(s.name);
  const run = s.run;
  if (
    !Array.isArray(run) ||
    run.length < 1 ||
    run.length > MAX_ARGS ||
    !run.every((a) => typeof a === 'string' && a.length <= MAX_ARG_CHARS && !a.includes('\0')) ||
    run[0] === ''
  )
    problems.push(
      `${at}"run" must be an array of 1..${MAX_ARGS} strings (argv, no shell), the first non-empty`,
    );
  const t = s.timeoutMs;
  if (t !== undefined && (!Number.isInteger(t) || (t as number) < 1 || (t as number) > MAX_STEP_TIMEOUT_MS))
    problems.push(`${at}"timeoutMs" must be an integer of 1..${MAX_STEP_TIMEOUT_MS}`);
  return problems;
}

/**
 * Parses and validates a job file (`{id, goal?, steps: [{name, run: [argv0, ...], timeoutMs?}]}`), listing every
 * problem; unknown fields are errors. Throws CliError(USAGE).
 */
export function parseJobFile(text: string, source: string): JobFile {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new CliError(EXIT.USAGE, `${source}: not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(doc)) throw new CliError(EXIT.USAGE, `${source}: the job file must be a JSON object`);
  const problems = unknownFields(doc, ['id', 'goal', 'steps'], '');
  if (typeof doc.id !== 'string' || doc.id.length > MAX_ID_CHARS || !ID_RE.test(doc.id))
    problems.push(
      `"id" must be 1..${MAX_ID_CHARS} characters of letters, digits, ".", "_" or "-", starting with a letter or digit`,
    );
  if (
    doc.goal !== undefined &&
    (typeof doc.goal !== 'string' || doc.goal.length < 1 || doc.goal.length > 2000)
  )
    problems.push('"goal" must be a string of 1..2000 characters');
  const steps: JobStep[] = [];
  if (!Array.isArray(doc.steps) || doc.steps.length < 1 || doc.steps.length > MAX_STEPS) {
    problems.push(`"steps" must be an array of 1..${MAX_STEPS} steps`);
  } else {
    const names = new Set<string>();
    doc.steps.forEach((s: unknown, i: number) => {
      const found = stepProblems(s, `steps[${i}]: `, names);
      problems.push(...found);
      if (found.length === 0) {
        const step = s as { name: string; run: string[]; timeoutMs?: number };
        steps.push({ name: step.name, run: step.run, timeoutMs: step.timeoutMs ?? DEFAULT_STEP_TIMEOUT_MS });
      }
    });
  }
  if (problems.length > 0) throw new CliError(EXIT.USAGE, `${source}: ${problems.join('; ')}`);
  return { id: doc.id as string, ...(doc.goal !== undefined ? { goal: doc.goal as string } : {}), steps };
}

/**
 * The plan a job becomes: one phase `run`, one `shell` step per job step (`command` = `run[0]`, `args` = the rest,
 * the step's timeout), each an irreversible write of high risk, which no autonomy tier runs without an approval
 * (unless the node's operator lists that exact command line as read-only: control.shell.readOnlyCommands).
 */
export function jobPlan(job: JobFile, o: { tenant: string; createdBy: string; now: Date }): Plan {
  return {
    v: 1,
    id: job.id,
    goal: job.goal ?? `run ${job.id}`,
    target: { environment: JOB_ENVIRONMENT, tenant: o.tenant },
    phases: [
      {
        id: JOB_PHASE,
        steps: job.steps.map((s) => ({
          id: s.name,
          action: 'shell',
          params: { command: s.run[0]!, args: s.run.slice(1) },
          risk: 'high' as const,
          reversible: false,
          timeoutMs: s.timeoutMs,
        })),
      },
    ],
    preconditions: [],
    gates: [],
    createdBy: o.createdBy,
    createdAt: o.now.toISOString(),
  };
}
