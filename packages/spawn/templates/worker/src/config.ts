// Configuration from the environment, checked once at start: a bad value stops the worker with a message naming
// the variable, instead of failing later.
import { integerFromEnv, logLevelFromEnv } from './env.js';

export interface Config {
  /** The broker URL (QUEUE_URL). */
  readonly queueUrl: string;
  /** Queue base name: jobs on "<queue>.jobs", dead letters on "<queue>.dead". */
  readonly queue: string;
  readonly host: string;
  readonly port: number;
  readonly logLevel: string;
  /** Deliveries of one message before it is dead-lettered (the first counts). */
  readonly maxAttempts: number;
  /** First retry delay; doubles per attempt, with jitter, up to retryMaxMs. */
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  /** Messages handled at once. */
  readonly concurrency: number;
  /** How long SIGTERM waits for handlers in flight before exiting anyway. */
  readonly shutdownGraceMs: number;
}

const QUEUE = /^[a-z][a-z0-9-]{0,62}$/;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const queueUrl = env['QUEUE_URL'];
  if (!queueUrl) throw new Error('QUEUE_URL is not set (the {{queue}} broker to consume from)');
  const queue = env['QUEUE_NAME'] ?? '{{name}}';
  if (!QUEUE.test(queue))
    throw new Error(`QUEUE_NAME must be lower-case letters, digits and '-', got "${queue}"`);
  const logLevel = logLevelFromEnv(env);
  const retryBaseMs = integerFromEnv(env, 'RETRY_BASE_MS', 1_000, 1, 3_600_000);
  return {
    queueUrl,
    queue,
    host: env['HOST'] ?? '0.0.0.0',
    port: integerFromEnv(env, 'PORT', {{port}}, 0, 65535),
    logLevel,
    maxAttempts: integerFromEnv(env, 'MAX_ATTEMPTS', 5, 1, 100),
    retryBaseMs,
    retryMaxMs: integerFromEnv(env, 'RETRY_MAX_MS', 300_000, retryBaseMs, 86_400_000),
    concurrency: integerFromEnv(env, 'CONCURRENCY', 4, 1, 256),
    shutdownGraceMs: integerFromEnv(env, 'SHUTDOWN_GRACE_MS', 20_000, 0, 600_000),
  };
}
