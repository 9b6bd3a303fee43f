// Configuration from the environment, checked once at start: a bad value stops the service with a message naming
// the variable, instead of failing later.
import { integerFromEnv, logLevelFromEnv } from './env.js';

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

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const logLevel = logLevelFromEnv(env);
{{#if db == postgres}}
  const databaseUrl = env['DATABASE_URL'];
  if (!databaseUrl)
    throw new Error('DATABASE_URL is not set (postgres://user:password@host:5432/db)');
{{/if}}
  return {
    host: env['HOST'] ?? '0.0.0.0',
    port: integerFromEnv(env, 'PORT', {{port}}, 0, 65535),
    logLevel,
    shutdownGraceMs: integerFromEnv(env, 'SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
{{#if db == postgres}}
    databaseUrl,
{{/if}}
  };
}
