// Reading configuration from the environment: a bad value stops the process with a message naming the variable,
// instead of failing later.

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** An integer variable within [min, max], or `fallback` when unset or empty. */
export function integerFromEnv(
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

/** LOG_LEVEL, one of LOG_LEVELS (default info). */
export function logLevelFromEnv(env: NodeJS.ProcessEnv): string {
  const level = env['LOG_LEVEL'] ?? 'info';
  if (!LOG_LEVELS.includes(level))
    throw new Error(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${level}"`);
  return level;
}
