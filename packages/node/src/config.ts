// The one place configuration is loaded: defaults < config file < environment < flags, validated by one
// schema that rejects unknown keys.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  A2aAgentsConfigSchema,
  McpServersConfigSchema,
  type A2aAgentConfig,
  type McpServerConfig,
} from '@vaultmesh/interop/core';
import { ProvidersConfigSchema, type ProviderConfig, type Treaty } from '@vaultmesh/aurora';
import { MAX_BAKE_MS, MIN_ANALYSIS_INTERVAL_MS } from '@vaultmesh/control';
import { loadTreaties } from './aurora.ts';
import type { StorageConfig } from './storage.ts';
import { z } from 'zod';

const BackoffSchema = z
  .object({
    baseMs: z.number().int().min(1).max(3_600_000).default(1_000),
    maxMs: z.number().int().min(1).max(86_400_000).default(300_000),
  })
  .strict();

/** One RFC 3161 timestamp authority. `caFile` holds the PEM trust anchor(s) its signer must chain to. */
export const TsaConfigSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .max(100)
      .regex(/^[A-Za-z0-9._:-]+$/, 'name may use letters, digits and . _ : -'),
    url: z
      .string()
      .url()
      .refine((u) => /^https?:/.test(u), 'url must be http or https'),
    caFile: z.string().min(1),
    policy: z
      .string()
      .regex(/^[0-2](\.[0-9]+)+$/, 'policy must be a dotted OID')
      .optional(),
    hashAlgorithm: z.enum(['sha256', 'sha384', 'sha512']).default('sha256'),
    timeoutMs: z.number().int().min(100).max(300_000).default(10_000),
    backoff: BackoffSchema.optional(),
  })
  .strict();

export const AnchorConfigSchema = z
  .object({
    /** Seal (publish a checkpoint) at least this often when the log grew; 0 = only by checkpointIntervalMs. */
    sealIntervalMs: z.number().int().min(0).max(86_400_000).default(60_000),
    /** Seal early once this many entries are unsealed. */
    sealMaxBatch: z.number().int().min(1).max(10_000_000).default(10_000),
    tickMs: z.number().int().min(10).max(3_600_000).default(1_000),
    backoff: BackoffSchema.default({}),
    tsas: z.array(TsaConfigSchema).max(16).default([]),
  })
  .strict()
  .refine((a) => new Set(a.tsas.map((t) => t.name)).size === a.tsas.length, 'tsas: names must be unique');

/**
 * Where the ledger and every other store live: the SQLite file in the data directory (default), or a PostgreSQL
 * database (VM_DATABASE_URL sets driver postgres and the url; a password may also come from PGPASSWORD).
 */
export const StorageConfigSchema = z
  .object({
    driver: z.enum(['sqlite', 'postgres']).default('sqlite'),
    url: z
      .string()
      .refine((u) => /^postgres(ql)?:\/\/[^/]/.test(u), 'url must be a postgres:// URL')
      .optional(),
    /** The schema (namespace) of the node's tables; several logs may share one database under different schemas. */
    schema: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'schema must be a lowercase SQL identifier')
      .optional(),
    /** Connections per node (each node of a cluster has its own pool). */
    poolSize: z.number().int().min(2).max(200).optional(),
  })
  .strict()
  .refine(
    (s) => s.driver !== 'postgres' || s.url !== undefined,
    'storage.url is required for driver postgres',
  )
  .refine((s) => s.driver !== 'sqlite' || s.url === undefined, 'storage.url needs driver "postgres"');

/** Control-plane configuration; file paths are relative to the config file. */
export const ControlConfigSchema = z
  .object({
    /** Cedar policy file (validated strictly at start; an invalid set refuses to start). Default: the shipped set. */
    policiesFile: z.string().min(1).optional(),
    /** Tripwire rules (JSON or YAML). */
    tripwiresFile: z.string().min(1).optional(),
    /** Prometheus base URL for tripwire queries (default: the node's own counters). */
    prometheusUrl: z.string().url().optional(),
    kubeconfig: z.string().min(1).optional(),
    kubeContext: z.string().min(1).optional(),
    /** Limit of one Cedar evaluation in ms (its own time: the lesser of wall-clock and CPU); over it is a deny. */
    policyTimeoutMs: z.number().int().min(1).max(60_000).optional(),
    /** Fraction of policy allows recorded as receipts (denies always are). */
    sampleAllows: z.number().min(0).max(1).default(1),
    /** `readiness` plan gates: a checklist per tenant (JSON or YAML) and an observations file; Prometheus if set. */
    readiness: z
      .object({
        checklists: z.record(z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/), z.string().min(1)).default({}),
        observedFile: z.string().min(1).optional(),
      })
      .strict()
      .default({}),
    /** Four eyes: whoever stored a plan cannot approve it (default on; per tenant overrides). */
    fourEyes: z
      .object({
        default: z.boolean().default(true),
        tenants: z.record(z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/), z.boolean()).default({}),
      })
      .strict()
      .default({}),
    /** Where steps (http, probe, preconditions) and audit health probes may send requests. */
    outbound: z
      .object({
        /** Tenant (or "*") → host names, *.wildcards, IP addresses or CIDRs; a tenant without a list is open. */
        allow: z.record(z.string().min(1).max(63), z.array(z.string().min(1).max(253)).max(1000)).default({}),
        /** Host names and CIDRs no step reaches; default: link-local and cloud metadata addresses. */
        deny: z.array(z.string().min(1).max(253)).max(1000).optional(),
      })
      .strict()
      .default({}),
    /**
     * Continuous analysis of live runs: the tripwire rules measured every intervalMs while a run runs and for bakeMs
     * after its last step; more than failureLimit failed (or inconclusiveLimit consecutive inconclusive)
     * measurements stop the run. Plans may only tighten these.
     */
    analysis: z
      .object({
        intervalMs: z.number().int().min(MIN_ANALYSIS_INTERVAL_MS).max(3_600_000).optional(),
        bakeMs: z.number().int().min(0).max(MAX_BAKE_MS).optional(),
        failureLimit: z.number().int().min(0).max(1000).optional(),
        inconclusiveLimit: z.number().int().min(0).max(1000).optional(),
      })
      .strict()
      .default({}),
    /** Shell steps: which exact command lines are reads, and which commands are refused in any plan. */
    shell: z
      .object({
        /** Exact command lines ([command, ...args]) governed as reads; every other command is a write. */
        readOnlyCommands: z
          .array(z.array(z.string().min(1).max(4096)).min(1).max(256))
          .max(1000)
          .default([]),
        /** Destructive-command rules added to the shipped ones (regular expressions over the command line). */
        denyCommands: z
          .array(
            z
              .object({
                id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/),
                pattern: z
                  .string()
                  .min(1)
                  .max(1000)
                  .refine((p) => {
                    try {
                      new RegExp(p);
                      return true;
                    } catch {
                      return false;
                    }
                  }, 'must be a valid regular expression'),
                reason: z.string().min(1).max(200),
              })
              .strict(),
          )
          .max(200)
          .default([]),
      })
      .strict()
      .default({}),
    /**
     * Return a policy deny only once its receipt is durable (an fsync per deny). Default false: deny receipts are
     * batched into the next group commit like allows, never sampled (see packages/policy recording.ts).
     */
    durablePolicyDenies: z.boolean().default(false),
    /**
     * An OpenAI-compatible chat API as an extra strategist for free-text goals (off by default). The key is read
     * from the environment variable named by apiKeyEnv, never from the file.
     */
    openai: z
      .object({
        baseUrl: z.string().url(),
        model: z.string().min(1).max(200),
        apiKeyEnv: z
          .string()
          .regex(/^[A-Z_][A-Z0-9_]*$/, 'apiKeyEnv must name an environment variable')
          .default('VM_OPENAI_API_KEY'),
        timeoutMs: z.number().int().min(100).max(600_000).default(60_000),
      })
      .strict()
      .optional(),
  })
  .strict();
export type ControlConfig = z.infer<typeof ControlConfigSchema>;

/** Agent interop: the node's public URL (for its A2A agent card), tool time limit, remote A2A agents. */
export const InteropConfigSchema = z
  .object({
    /** The node's base URL as agents reach it (the A2A agent card names it); default http://<host>:<port>. */
    publicUrl: z.string().url().optional(),
    /** Default time limit of one agent tool call. */
    toolTimeoutMs: z.number().int().min(100).max(600_000).default(30_000),
    /** Remote A2A agents that POST /a2a/perform (tool a2a_perform) may ask persisted queries. */
    agents: A2aAgentsConfigSchema.default([]),
    /** External MCP servers whose tools agents may call through call_external_tool (policy and receipts apply). */
    mcpServers: McpServersConfigSchema.default([]),
    /**
     * Host names /mcp answers to besides the loopback names, the listen host and publicUrl's host (DNS-rebinding
     * protection: the Host header, and a browser's Origin, must name one of them).
     */
    allowedHosts: z.array(z.string().min(1).max(253)).max(100).default([]),
    /** Limits of /mcp sessions: in all, per token (its oldest is closed), per tenant (429), idle expiry. */
    mcpSessions: z
      .object({
        maxSessions: z.number().int().min(1).max(100_000).optional(),
        maxSessionsPerToken: z.number().int().min(1).max(10_000).optional(),
        maxSessionsPerTenant: z.number().int().min(1).max(100_000).optional(),
        idleMs: z.number().int().min(1000).max(86_400_000).optional(),
      })
      .strict()
      .default({}),
  })
  .strict();

/** Aurora: GPU compute providers, treaties and the router's knobs (provider keys come from the environment). */
export const AuroraConfigSchema = z
  .object({
    /** Providers the router places on (vast, akash, render, k8s, local); keys from each apiKeyEnv. */
    providers: ProvidersConfigSchema.default([]),
    /** Treaties (YAML or JSON): SLO targets, price caps, allowed regions per provider. */
    treatiesFile: z.string().min(1).optional(),
    /** Placement attempts (failover) before a job is unplaced. */
    maxAttempts: z.number().int().min(1).max(10).default(3),
    /** Time limit of one provider call (listing offers, submit, status, cancel). */
    providerTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
    /** LinUCB exploration of a new model. */
    alpha: z.number().min(0).max(10).default(0.25),
    /** Weight of the price in the reward the model learns (0: success only). */
    costWeight: z.number().min(0).max(1).default(0.3),
  })
  .strict();

/** Federation: the anti-entropy loop that witnesses and mirrors peers (peers live in the data directory). */
/** One series the Ψ-Field watches: a metric of this node (sampled in process) or a Prometheus query. */
export const PsiSeriesConfigSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/, 'must be 1-128 of A-Z a-z 0-9 _ . : -'),
    /** A metric of the node's own /metrics (counters and histogram _count/_sum become a rate per second). */
    metric: z
      .string()
      .regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/)
      .optional(),
    /** Label → regular expression (whole value, as PromQL's =~) selecting the metric's series to sum. */
    match: z.record(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/), z.string().max(500)).optional(),
    /** A PromQL query through control.prometheusUrl (its value at each sampling instant). */
    query: z.string().min(1).max(4000).optional(),
    /**
     * The bounds of its values where they are known (e.g. 0 and 100 for a CPU percentage): the context detector then
     * runs beside the model (docs/psi.md). A value outside counts as the nearest bound.
     */
    range: z
      .object({ min: z.number().finite(), max: z.number().finite() })
      .strict()
      .refine((r) => r.min < r.max, { message: 'range.min must be below range.max' })
      .optional(),
  })
  .strict()
  .refine((s) => (s.metric === undefined) !== (s.query === undefined), {
    message: 'give exactly one of metric (this node) and query (Prometheus)',
  });

/** The Ψ-Field: which series the node watches, how often it samples them, and when a point is an anomaly. */
export const PsiConfigSchema = z
  .object({
    intervalMs: z.number().int().min(100).max(3_600_000).default(15_000),
    /** Anomaly likelihood at and above which an anomaly episode opens (and a `psi` receipt is recorded). */
    anomalyThreshold: z.number().gt(0).max(1).default(0.9999),
    /** Record a `psi` receipt when an anomaly episode opens (on the leader of a cluster). */
    receipts: z.boolean().default(true),
    /**
     * Forecast commitments: every `batch` points of a series, a `psi` receipt with each point's value and the forecast
     * made at it `horizon` points ahead (horizon ≥ batch, so each forecast is in the ledger before its outcome);
     * false for none.
     */
    commitments: z
      .union([
        z.literal(false),
        z
          .object({
            horizon: z.number().int().min(1).max(10_000).default(20),
            batch: z.number().int().min(1).max(200).default(20),
          })
          .strict()
          .refine((c) => c.horizon >= c.batch, { message: 'horizon must be at least batch' }),
      ])
      .default({ horizon: 20, batch: 20 }),
    series: z.array(PsiSeriesConfigSchema).max(200).default([]),
  })
  .strict()
  .refine((c) => new Set(c.series.map((s) => s.name)).size === c.series.length, {
    message: 'series names must be unique',
  });

export const FederationConfigSchema = z
  .object({
    /** Cadence of witness + mirror rounds; 0 turns the loop off (vm federate sync still works). */
    intervalMs: z.number().int().min(0).max(86_400_000).default(30_000),
    /** Time limit of one request to a peer. */
    timeoutMs: z.number().int().min(100).max(600_000).default(15_000),
    /** Entries per verified mirror chunk (each chunk is proven against the peer's signed checkpoint). */
    chunkEntries: z.number().int().min(256).max(1_000_000).default(8192),
    backoff: BackoffSchema.default({}),
  })
  .strict();

export type TsaConfig = z.infer<typeof TsaConfigSchema>;
export type AnchorConfig = z.infer<typeof AnchorConfigSchema>;

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
    /**
     * Per-token limits of the REST API: sustained writes per second and their burst, and denied requests per minute
     * before a token is refused (429 with Retry-After) until the minute has passed.
     */
    rateLimits: z
      .object({
        writesPerSecond: z.number().positive().max(100_000).optional(),
        writeBurst: z.number().int().min(1).max(1_000_000).optional(),
        deniesPerMinute: z.number().int().min(1).max(1_000_000).optional(),
      })
      .strict()
      .default({}),
    bodyLimitBytes: z
      .number()
      .int()
      .min(1024)
      .max(16 * 1024 * 1024)
      .default(128 * 1024),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    mode: z.enum(['dry-run', 'live']).default('dry-run'),
    /** The node's storage (see StorageConfigSchema). */
    storage: StorageConfigSchema.default({}),
    /**
     * Several nodes of one log (PostgreSQL): the leader lease's time to live. The leader signs checkpoints and runs
     * the anchor scheduler and the federation loop; when it dies another node takes over within about this long.
     */
    cluster: z
      .object({ leaseTtlMs: z.number().int().min(500).max(600_000).default(3000) })
      .strict()
      .default({}),
    /** Sealer and anchor scheduler (RFC 3161 timestamps of checkpoints). */
    anchor: AnchorConfigSchema.default({}),
    /** The control plane: policy, tripwires, metric source, Kubernetes. */
    control: ControlConfigSchema.default({}),
    /** MCP and A2A: remote agents and external MCP servers. */
    interop: InteropConfigSchema.default({}),
    /** Federation with peer nodes (vm federate peers add ...). */
    federation: FederationConfigSchema.default({}),
    /** The Aurora router (GPU workload placement). */
    aurora: AuroraConfigSchema.default({}),
    /** Ψ-Field: forecasts and anomaly scores of the node's own metrics and of Prometheus queries. */
    psi: PsiConfigSchema.default({}),
  })
  .strict();

/** The configuration as loaded: the validated file, env and flags, with `control.openaiApiKey` read from the
 * environment variable that `control.openai.apiKeyEnv` names (never from the file). */
export type NodeConfig = Omit<z.infer<typeof ConfigSchema>, 'control' | 'interop' | 'aurora'> & {
  /** With each provider's key read from the environment variable its apiKeyEnv names, and the treaties loaded. */
  readonly aurora: Omit<z.infer<typeof AuroraConfigSchema>, 'providers'> & {
    readonly providers: readonly (ProviderConfig & { readonly apiKey?: string })[];
    readonly treaties: readonly Treaty[];
  };
  readonly control: z.infer<typeof ControlConfigSchema> & { readonly openaiApiKey?: string };
  /** With each agent's bearer token read from the environment variable its apiKeyEnv names. */
  readonly interop: Omit<z.infer<typeof InteropConfigSchema>, 'agents' | 'mcpServers'> & {
    readonly agents: readonly (A2aAgentConfig & { readonly token?: string })[];
    /** With each server's bearer token read from the environment variable its bearerTokenEnv names. */
    readonly mcpServers: readonly (McpServerConfig & { readonly bearerToken?: string })[];
  };
};
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
  if (env.VM_DATABASE_URL)
    fromEnv.storage = {
      ...((fromFile.storage as Record<string, unknown> | undefined) ?? {}),
      driver: 'postgres',
      url: env.VM_DATABASE_URL,
      ...(env.VM_DATABASE_SCHEMA ? { schema: env.VM_DATABASE_SCHEMA } : {}),
    };
  const flags = Object.fromEntries(Object.entries(opts.flags ?? {}).filter(([, v]) => v !== undefined));
  const parsed = ConfigSchema.safeParse({ ...fromFile, ...fromEnv, ...flags });
  if (!parsed.success) {
    throw new ConfigError(
      'invalid configuration: ' +
        parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '),
    );
  }
  const base = file ? dirname(resolve(file)) : process.cwd();
  const anchor = {
    ...parsed.data.anchor,
    tsas: parsed.data.anchor.tsas.map((t) => ({ ...t, caFile: resolve(base, t.caFile) })),
  };
  const c = parsed.data.control;
  const rel = (f: string | undefined) => (f === undefined ? undefined : resolve(base, f));
  let openaiApiKey: string | undefined;
  if (c.openai) {
    openaiApiKey = env[c.openai.apiKeyEnv];
    if (!openaiApiKey)
      throw new ConfigError(
        `control.openai is set but the environment variable ${c.openai.apiKeyEnv} is empty`,
      );
  }
  const agents = parsed.data.interop.agents.map((a) => {
    if (a.apiKeyEnv === undefined) return a;
    const token = env[a.apiKeyEnv];
    if (!token)
      throw new ConfigError(
        `interop.agents: agent ${a.name} names apiKeyEnv ${a.apiKeyEnv}, but that environment variable is empty`,
      );
    return { ...a, token };
  });
  const mcpServers = parsed.data.interop.mcpServers.map((m) => {
    if (m.bearerTokenEnv === undefined) return m;
    const bearerToken = env[m.bearerTokenEnv];
    if (!bearerToken)
      throw new ConfigError(
        `interop.mcpServers: server ${m.name} names bearerTokenEnv ${m.bearerTokenEnv}, but that environment variable is empty`,
      );
    return { ...m, bearerToken };
  });
  const interop = { ...parsed.data.interop, agents, mcpServers };
  const a = parsed.data.aurora;
  const providers = a.providers.map((p) => {
    if (p.apiKeyEnv === undefined) return p;
    const apiKey = env[p.apiKeyEnv];
    // Hosted providers need their key; the k8s token is optional (a cluster may trust the network instead).
    if (!apiKey && (p.type === 'vast' || p.type === 'akash' || p.type === 'render'))
      throw new ConfigError(
        `aurora.providers: provider ${p.name ?? p.type} (${p.type}) needs its API key in the environment variable ${p.apiKeyEnv}, which is empty`,
      );
    return apiKey ? { ...p, apiKey } : p;
  });
  let treaties: Treaty[];
  try {
    treaties = loadTreaties(rel(a.treatiesFile));
  } catch (err) {
    throw new ConfigError(`aurora.treatiesFile: ${(err as Error).message}`);
  }
  const aurora = { ...a, providers, treaties, treatiesFile: rel(a.treatiesFile) };
  const control = {
    ...c,
    openaiApiKey,
    policiesFile: rel(c.policiesFile),
    tripwiresFile: rel(c.tripwiresFile),
    kubeconfig: rel(c.kubeconfig),
    readiness: {
      checklists: Object.fromEntries(
        Object.entries(c.readiness.checklists).map(([t, f]) => [t, resolve(base, f)]),
      ),
      ...(c.readiness.observedFile ? { observedFile: resolve(base, c.readiness.observedFile) } : {}),
    },
  };
  return { ...parsed.data, anchor, control, interop, aurora, dataDir: resolve(parsed.data.dataDir) };
}

/**
 * The node key passphrase: the file `file` names (e.g. a --passphrase-file flag), else the file named by
 * VM_KEY_PASSPHRASE_FILE, else VM_KEY_PASSPHRASE; one trailing newline of a file is dropped. Undefined when
 * none is set. It is kept out of NodeConfig so that it can never reach a log line or an error message.
 */
export function readKeyPassphrase(env: NodeJS.ProcessEnv, file?: string): string | undefined {
  if (file === undefined && env.VM_KEY_PASSPHRASE_FILE && env.VM_KEY_PASSPHRASE)
    throw new ConfigError('set VM_KEY_PASSPHRASE or VM_KEY_PASSPHRASE_FILE, not both');
  const path = file ?? (env.VM_KEY_PASSPHRASE_FILE || undefined);
  if (path !== undefined) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new ConfigError(
        `passphrase file ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    const passphrase = text.replace(/\r?\n$/, '');
    if (passphrase.length === 0) throw new ConfigError(`passphrase file ${path} is empty`);
    return passphrase;
  }
  return env.VM_KEY_PASSPHRASE || undefined;
}

/**
 * The storage a configuration names, for openNode: PostgreSQL when it is set; undefined for the SQLite default, so
 * a data directory bound to PostgreSQL (storage.json) keeps its database.
 */
export function nodeStorageConfig(config: Pick<NodeConfig, 'storage'>): StorageConfig | undefined {
  const s = config.storage;
  if (s.driver !== 'postgres' || s.url === undefined) return undefined;
  return {
    driver: 'postgres',
    url: s.url,
    ...(s.schema ? { schema: s.schema } : {}),
    ...(s.poolSize ? { poolSize: s.poolSize } : {}),
  };
}
