// The one place configuration is loaded: defaults < config file < environment < flags, validated by one
// schema that rejects unknown keys.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';

export const ConfigSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(5000),
    dataDir: z.string().min(1).default('./data'),
    /** Checkpoint origin; default "vaultmesh.local/<node id>". */
    origin: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[^\s+]+$/, 'origin must have no spaces or "+"')
      .optional(),
    checkpointIntervalMs: z.number().int().min(0).max(86_400_000).default(5_000),
    maxBatch: z.number().int().min(1).max(65_536).default(2048),
    bodyLimitBytes: z
      .number()
      .int()
      .min(1024)
      .max(16 * 1024 * 1024)
      .default(128 * 1024),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    mode: z.enum(['dry-run', 'live']).default('dry-run'),
  })
  .strict();

export type NodeConfig = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;

/** Thrown for any invalid configuration, with every problem listed. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const ENV_KEYS: Record<string, keyof ConfigInput> = {
  VM_HOST: 'host',
  VM_PORT: 'port',
  VM_DATA_DIR: 'dataDir',
  VM_ORIGIN: 'origin',
  VM_CHECKPOINT_INTERVAL_MS: 'checkpointIntervalMs',
  VM_LOG_LEVEL: 'logLevel',
  VM_MODE: 'mode',
  VM_MAX_BATCH: 'maxBatch',
  VM_BODY_LIMIT_BYTES: 'bodyLimitBytes',
};
const NUMERIC = new Set<keyof ConfigInput>(['port', 'checkpointIntervalMs', 'maxBatch', 'bodyLimitBytes']);

/** Loads and validates configuration. `flags` win over env, env over the file, the file over defaults. */
export function loadConfig(
  opts: { flags?: Partial<ConfigInput>; env?: NodeJS.ProcessEnv; configFile?: string } = {},
): NodeConfig {
  const env = opts.env ?? {};
  let fromFile: Record<string, unknown> = {};
  const file = opts.configFile ?? env.VM_CONFIG;
  if (file) {
    if (!existsSync(file)) throw new ConfigError(`config file ${file} does not exist`);
    try {
      fromFile = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new ConfigError(`config file ${file} is not valid JSON: ${(e as Error).message}`);
    }
  }
  const fromEnv: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(ENV_KEYS)) {
    const v = env[name];
    if (v === undefined || v === '') continue;
    fromEnv[key] = NUMERIC.has(key) && /^[0-9]+$/.test(v) ? Number(v) : v;
  }
  const flags = Object.fromEntries(Object.entries(opts.flags ?? {}).filter(([, v]) => v !== undefined));
  const parsed = ConfigSchema.safeParse({ ...fromFile, ...fromEnv, ...flags });
  if (!parsed.success) {
    throw new ConfigError(
      'invalid configuration: ' +
        parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '),
    );
  }
  return { ...parsed.data, dataDir: resolve(parsed.data.dataDir) };
}
