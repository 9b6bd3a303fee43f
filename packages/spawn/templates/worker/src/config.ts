// Configuration from the environment, checked once at start: a bad value stops the worker with a message naming
// the variable, instead of failing later.

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

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const QUEUE = /^[a-z][a-z0-9-]{0,62}$/;

function integer(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new Error(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  return n;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const queueUrl = env['QUEUE_URL'];
  if (!queueUrl) throw new Error('QUEUE_URL is not set (the {{queue}} broker to consume from)');
  const queue = env['QUEUE_NAME'] ?? '{{name}}';
  if (!QUEUE.test(queue))
    throw new Error(`QUEUE_NAME must be lower-case letters, digits and '-', got "${queue}"`);
  const logLevel = env['LOG_LEVEL'] ?? 'info';
  if (!LEVELS.includes(logLevel))
    throw new Error(`LOG_LEVEL must be one of ${LEVELS.join(', ')}, got "${logLevel}"`);
  const retryBaseMs = integer(env, 'RETRY_BASE_MS', 1_000, 1, 3_600_000);
  return {
    queueUrl,
    queue,
    host: env['HOST'] ?? '0.0.0.0',
    port: integer(env, 'PORT', {{port}}, 0, 65535),
    logLevel,
    maxAttempts: integer(env, 'MAX_ATTEMPTS', 5, 1, 100),
    retryBaseMs,
    retryMaxMs: integer(env, 'RETRY_MAX_MS', 300_000, retryBaseMs, 86_400_000),
    concurrency: integer(env, 'CONCURRENCY', 4, 1, 256),
    shutdownGraceMs: integer(env, 'SHUTDOWN_GRACE_MS', 20_000, 0, 600_000),
  };
}
