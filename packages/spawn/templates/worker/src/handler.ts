// The job handler: this worker's own work goes here. Throw to have the message retried; throw a PermanentError for
// a message no retry can fix (it goes to the dead-letter queue at once). Handlers must be idempotent: delivery is
// at least once, so the same job can arrive again after a crash or a lost ack.
import type { Logger } from 'pino';
import { PermanentError } from './retry.js';

export interface Job {
  readonly id: string;
  readonly task: string;
}

export type Handler = (body: string, log: Logger) => Promise<void>;

/** Parses a job, refusing what no retry could fix. */
export function parseJob(body: string): Job {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new PermanentError('the message is not JSON');
  }
  const job = value as Partial<Job> | null;
  if (typeof job?.id !== 'string' || typeof job.task !== 'string')
    throw new PermanentError('a job needs string fields "id" and "task"');
  return { id: job.id, task: job.task };
}

export const handleJob: Handler = async (body, log) => {
  const job = parseJob(body);
  log.info({ jobId: job.id, task: job.task }, 'handled job');
};
