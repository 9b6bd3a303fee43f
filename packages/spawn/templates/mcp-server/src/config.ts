// Configuration from the environment, checked once at start: a bad value stops the server with a message naming
// the variable, instead of failing later.
import { integerFromEnv } from './env.js';

export interface Config {
  readonly host: string;
  readonly port: number;
  /** When set, /mcp requires "Authorization: Bearer <token>". */
  readonly token: string | undefined;
  /** Origins a browser may call /mcp from (requests with another Origin are refused: DNS rebinding). */
  readonly allowedOrigins: readonly string[];
  readonly shutdownGraceMs: number;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const token = env['MCP_TOKEN'];
  if (token !== undefined && token.length > 0 && token.length < 16)
    throw new Error('MCP_TOKEN must be at least 16 characters');
  return {
    host: env['HOST'] ?? '0.0.0.0',
    port: integerFromEnv(env, 'PORT', {{port}}, 0, 65535),
    token: token || undefined,
    allowedOrigins: (env['ALLOWED_ORIGINS'] ?? '')
      .split(',')
      .map((o) => o.trim())
      .filter((o) => o.length > 0),
    shutdownGraceMs: integerFromEnv(env, 'SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
  };
}
