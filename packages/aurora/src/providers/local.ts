// The `local` provider: really runs a workload's `command` (an argv array, never a shell) on this machine with
// child_process.spawn. One offer describes this machine (gpuModel "cpu" or configured, gpuCount configured, price 0,
// region "local"); it is withheld while `maxConcurrent` jobs run. Each job keeps only a bounded tail of its stdout
// and stderr. status reports running / succeeded / failed (with the exit code or signal); cancel sends SIGTERM, then
// SIGKILL after `graceMs`. Jobs it never started are NOT_FOUND; finished jobs are remembered up to
// `maxRetainedJobs`.
// Running a command is an action with effects, so the provider runs only the exact argv lists the operator approved
// in `commands` (none by default): a workload with any other command gets no offer here and its submit is refused
// (POLICY_DENIED). Routing (Cedar `route`) alone never decides what runs on this machine. The child gets only the `env` option as its environment (the library never reads process.env,
// and provider keys must not leak into workloads); `image` is ignored.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { AuroraError } from '../errors.ts';
import type { ComputeProvider, ProviderJob } from '../provider.ts';
import type { Offer } from '../workload.ts';
import { checkJobId, checkOffer, offerFits, parseWorkload, throwIfAborted } from './common.ts';
import { formatIssues } from './http.ts';

export const LocalOptionsSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-z][a-z0-9_-]{0,63}$/)
      .default('local'),
    gpuModel: z.string().min(1).max(100).default('cpu'),
    gpuCount: z.number().int().min(0).max(1024).default(1),
    /** GPU memory per GPU, GiB (0 for "cpu"). */
    memoryGiB: z.number().min(0).max(4096).default(0),
    maxConcurrent: z.number().int().min(1).max(1024).default(2),
    /** Time between SIGTERM and SIGKILL on cancel, ms. */
    graceMs: z.number().int().min(0).max(600_000).default(5_000),
    /** Bytes of stdout and of stderr kept per job (the tail). */
    tailBytes: z
      .number()
      .int()
      .min(0)
      .max(16 * 1024 * 1024)
      .default(8 * 1024),
    /** Finished jobs remembered for status. */
    maxRetainedJobs: z.number().int().min(1).max(100_000).default(100),
    cwd: z.string().min(1).max(4096).optional(),
    /** The whole environment of spawned commands. */
    env: z.record(z.string()).default({}),
    /** Operator-approved commands: exact argv lists; nothing else runs (none by default). */
    commands: z
      .array(z.array(z.string().min(1).max(4096)).min(1).max(256))
      .max(1000)
      .default([]),
  })
  .strict();
export type LocalOptions = z.input<typeof LocalOptionsSchema>;

/** The local provider, plus access to a job's output tails and a way to stop everything (for shutdown). */
export interface LocalProvider extends ComputeProvider {
  /** The kept tails of a job's stdout and stderr; NOT_FOUND for unknown jobs. */
  output(jobId: string): { stdout: string; stderr: string };
  /** Cancels every running job (SIGTERM, then SIGKILL after the grace period) and waits for them to exit. */
  shutdown(): Promise<void>;
}

const OFFER_ID = /^local$/;
const JOB_ID = /^local-[0-9a-f]{16}$/;

/** Keeps the last `max` bytes written to it. */
class Tail {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private readonly max: number) {}
  push(chunk: Buffer): void {
    if (this.max === 0) return;
    const joined = Buffer.concat([this.buf, chunk]);
    this.buf = joined.length > this.max ? joined.subarray(joined.length - this.max) : joined;
  }
  text(): string {
    return this.buf.toString('utf8');
  }
}

interface LocalJob {
  readonly id: string;
  readonly child: ChildProcess;
  readonly stdout: Tail;
  readonly stderr: Tail;
  readonly done: Promise<void>;
  state: ProviderJob['state'];
  exitCode: number | null;
  exitSignal: NodeJS.Signals | null;
  cancelRequested: boolean;
}

/** Creates the local provider; INVALID_ARGUMENT for bad options. */
export function createLocalProvider(options: LocalOptions = {}): LocalProvider {
  const parsed = LocalOptionsSchema.safeParse(options);
  if (!parsed.success)
    throw new AuroraError('INVALID_ARGUMENT', `local: invalid options: ${formatIssues(parsed.error.issues)}`);
  const opts = parsed.data;
  const name = opts.name;
  const jobs = new Map<string, LocalJob>();

  const running = () => [...jobs.values()].filter((j) => j.state === 'running').length;
  const approved = new Set(opts.commands.map((argv) => JSON.stringify(argv)));
  const isApproved = (argv: readonly string[] | undefined): boolean =>
    argv !== undefined && approved.has(JSON.stringify(argv));
  const offer: Offer = {
    provider: name,
    offerId: 'local',
    gpuModel: opts.gpuModel,
    gpuCount: opts.gpuCount,
    memoryGiB: opts.memoryGiB,
    pricePerHour: 0,
    region: 'local',
  };

  const find = (jobId: string): LocalJob => {
    const job = jobs.get(checkJobId(name, jobId, JOB_ID));
    if (job === undefined) throw new AuroraError('NOT_FOUND', `${name}: no job ${jobId} was started here`);
    return job;
  };

  const prune = () => {
    const finished = [...jobs.values()].filter((j) => j.state !== 'running');
    for (const j of finished.slice(0, Math.max(0, finished.length - opts.maxRetainedJobs))) jobs.delete(j.id);
  };

  const toJob = (job: LocalJob): ProviderJob => {
    let detail: string;
    if (job.state === 'running') detail = `pid ${job.child.pid ?? '?'}`;
    else if (job.exitSignal !== null) detail = `killed by ${job.exitSignal}`;
    else detail = `exit code ${job.exitCode ?? '?'}`;
    if (job.state === 'failed') {
      const err = job.stderr.text().trim();
      if (err.length > 0) detail += `; stderr: ${err.slice(-300)}`;
    }
    return { provider: name, jobId: job.id, state: job.state, detail, region: 'local', pricePerHour: 0 };
  };

  /** SIGTERM, then SIGKILL after the grace period; resolves when the process has exited. */
  const stop = async (job: LocalJob): Promise<void> => {
    if (job.state !== 'running') return;
    job.cancelRequested = true;
    job.child.kill('SIGTERM');
    const exited = await Promise.race([job.done.then(() => true), sleep(opts.graceMs).then(() => false)]);
    if (!exited) job.child.kill('SIGKILL');
    await job.done;
  };

  return {
    name,
    async listOffers(workload, o) {
      const w = parseWorkload(name, workload);
      throwIfAborted(name, o?.signal);
      if (running() >= opts.maxConcurrent || !isApproved(w.command)) return [];
      return offerFits(offer, w) ? [offer] : [];
    },

    async submit(workload, off, o) {
      const w = parseWorkload(name, workload);
      checkOffer(name, off, OFFER_ID);
      throwIfAborted(name, o?.signal);
      const argv = w.command;
      if (argv === undefined || argv.length === 0 || argv[0] === '')
        throw new AuroraError('INVALID_ARGUMENT', `${name}: the workload has no command to run`);
      if (!isApproved(argv))
        throw new AuroraError(
          'POLICY_DENIED',
          `${name}: the command is not on this provider's operator-approved list (aurora.providers[].commands)`,
        );
      if (running() >= opts.maxConcurrent)
        throw new AuroraError('PROVIDER_FAILED', `${name}: at capacity (${opts.maxConcurrent} jobs running)`);

      const child = spawn(argv[0] as string, argv.slice(1), {
        cwd: opts.cwd,
        env: { ...opts.env },
        shell: false,
        stdio: ['ignore', 'pipe', 'pipe'],
        windowsHide: true,
      });
      // Register the job before any await, so concurrent submits see it (capacity) and no event is missed.
      let resolveDone: () => void = () => undefined;
      const job: LocalJob = {
        id: `local-${randomBytes(8).toString('hex')}`,
        child,
        stdout: new Tail(opts.tailBytes),
        stderr: new Tail(opts.tailBytes),
        done: new Promise<void>((resolve) => {
          resolveDone = resolve;
        }),
        state: 'running',
        exitCode: null,
        exitSignal: null,
        cancelRequested: false,
      };
      jobs.set(job.id, job);
      child.stdout?.on('data', (c: Buffer) => job.stdout.push(c));
      child.stderr?.on('data', (c: Buffer) => job.stderr.push(c));
      child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
        job.exitCode = code;
        job.exitSignal = signal;
        job.state = job.cancelRequested ? 'cancelled' : code === 0 ? 'succeeded' : 'failed';
        resolveDone();
        prune();
      });
      try {
        await new Promise<void>((resolve, reject) => {
          child.once('spawn', resolve);
          child.once('error', reject);
        });
      } catch (err) {
        jobs.delete(job.id);
        const code = (err as NodeJS.ErrnoException).code ?? 'error';
        throw new AuroraError('PROVIDER_FAILED', `${name}: could not start the command (${code})`);
      }
      child.on('error', () => undefined); // later errors (a failed kill) must not crash the process
      return toJob(job);
    },

    async status(jobId, o) {
      throwIfAborted(name, o?.signal);
      return toJob(find(jobId));
    },

    async cancel(jobId, o) {
      const job = find(jobId);
      throwIfAborted(name, o?.signal);
      const stopping = stop(job);
      if (o?.signal !== undefined) {
        const signal = o.signal;
        const aborted = new Promise<never>((_, reject) =>
          signal.addEventListener(
            'abort',
            () =>
              reject(
                new AuroraError(
                  'PROVIDER_TIMEOUT',
                  `${name}: aborted by the caller while stopping ${job.id}`,
                  {
                    reason: 'aborted',
                  },
                ),
              ),
            { once: true },
          ),
        );
        await Promise.race([stopping, aborted]);
      } else await stopping;
      return toJob(job);
    },

    output(jobId) {
      const job = find(jobId);
      return { stdout: job.stdout.text(), stderr: job.stderr.text() };
    },

    async shutdown() {
      await Promise.all([...jobs.values()].map((j) => stop(j)));
    },
  };
}
