// Configuration from the environment, checked once at start: a bad value stops the service with a message naming
// the variable, instead of failing later.

export interface Config {
  readonly host: string;
  readonly port: number;
  readonly logLevel: string;
  /** How long SIGTERM waits for in-flight requests before closing anyway. */
  readonly shutdownGraceMs: number;
{{#if db == postgres}}
  readonly databaseUrl: string;
{{/if}}
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

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
  const logLevel = env['LOG_LEVEL'] ?? 'info';
  if (!LEVELS.includes(logLevel))
    throw new Error(`LOG_LEVEL must be one of ${LEVELS.join(', ')}, got "${logLevel}"`);
{{#if db == postgres}}
  const databaseUrl = env['DATABASE_URL'];
  if (!databaseUrl)
    throw new Error('DATABASE_URL is not set (postgres://user:password@host:5432/db)');
{{/if}}
  return {
    host: env['HOST'] ?? '0.0.0.0',
    port: integer(env, 'PORT', {{port}}, 0, 65535),
    logLevel,
    shutdownGraceMs: integer(env, 'SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
{{#if db == postgres}}
    databaseUrl,
{{/if}}
  };
}
