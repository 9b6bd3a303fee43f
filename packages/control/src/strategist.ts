// The built-in strategist: a deterministic planner for typed intents (deploy, rollback, scale, rotate-key,
// route-gpu-job). The same intent and clock give a byte-identical plan: ids derive from the intent's hash and
// createdAt comes from the injected clock. Free-text goals go to an OpenAI-compatible strategist when one is
// configured (openai-strategist.ts; off by default).
import { createHash } from 'node:crypto';
import { canonicalize } from '@vaultmesh/ledger';
import { z } from 'zod/v4';
import { ControlError } from './errors.ts';
import { comparable } from './k8s-diff.ts';
import { schemaProblems } from './schema-pointer.ts';
import {
  describeIssues,
  parsePlan,
  type Plan,
  type PlanPhase,
  type PlanStep,
  type PlanTarget,
} from './plan.ts';

const Word = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a DNS label (a-z 0-9 -)');
const Tenant = z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, 'must match ^[a-z0-9][a-z0-9_.-]{0,62}$');
const Text = z.string().min(1).max(200);
const HttpUrl = z.url({ protocol: /^https?$/ });
const Common = {
  tenant: Tenant,
  environment: Text,
  namespace: Word.optional(),
  region: Text.optional(),
};

/** A Kubernetes object as a deploy intent carries it (e.g. what `vm spawn` generated under k8s/). */
const KubeObject = z
  .object({
    apiVersion: z.string().min(1).max(200),
    kind: z.string().min(1).max(100),
    metadata: z
      .object({
        name: z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'must be a Kubernetes name'),
      })
      .loose(),
  })
  .loose();

/** deploy: canary first (its percent of replicas), then the full rollout. */
export const DeployIntentSchema = z.strictObject({
  kind: z.literal('deploy'),
  ...Common,
  service: Word,
  /** Image repository without tag, e.g. "registry.example/shop/api". */
  image: z.string().min(1).max(500),
  version: Text,
  /** The version running now (the rollback target). */
  currentVersion: Text,
  canaryPercent: z.number().int().min(1).max(100).default(10),
  replicas: z.number().int().min(1).max(10_000),
  healthUrl: HttpUrl,
  canaryHealthUrl: HttpUrl.optional(),
  /** Container name in the pod; default the service name. */
  container: z.string().min(1).max(253).optional(),
  /** Ask a human before the full rollout; default true when the environment looks like production. */
  approveFullRollout: z.boolean().optional(),
  /**
   * The service's own manifests (e.g. a spawned service's k8s/). The others than its Deployment are applied before
   * the canary, and the canary is that Deployment's pod template (probes, resources, security context) on the new
   * version.
   */
  manifests: z.array(KubeObject).min(1).max(50).optional(),
});

/** rollback: set the service back to a known version. */
export const RollbackIntentSchema = z.strictObject({
  kind: z.literal('rollback'),
  ...Common,
  service: Word,
  image: z.string().min(1).max(500),
  toVersion: Text,
  /** The version running now; when given, the rollback itself can be undone. */
  fromVersion: Text.optional(),
  container: z.string().min(1).max(253).optional(),
  healthUrl: HttpUrl.optional(),
});

/** scale: set a deployment's replicas. */
export const ScaleIntentSchema = z.strictObject({
  kind: z.literal('scale'),
  ...Common,
  service: Word,
  replicas: z.number().int().min(0).max(10_000),
  currentReplicas: z.number().int().min(0).max(10_000).optional(),
  healthUrl: HttpUrl.optional(),
});

/** rotate-key: rotate a node's key with `vm key rotate` on its data directory (the node must be stopped). */
export const RotateKeyIntentSchema = z.strictObject({
  kind: z.literal('rotate-key'),
  ...Common,
  keyName: Text,
  dataDir: z.string().min(1).max(4096),
  /** The vm command (a name on PATH or an absolute path); default "vm". */
  vmCommand: z.string().min(1).max(4096).default('vm'),
  passphraseFile: z.string().min(1).max(4096).optional(),
});

/** route-gpu-job: hand a GPU job to the Aurora router. */
export const RouteGpuJobIntentSchema = z.strictObject({
  kind: z.literal('route-gpu-job'),
  ...Common,
  jobId: Word,
  image: z.string().min(1).max(500),
  gpu: z.strictObject({ model: Text.optional(), count: z.number().int().min(1).max(1024) }),
  command: z.array(z.string().max(4096)).max(256).optional(),
  maxPricePerHour: z.number().positive().optional(),
  regions: z.array(Text).max(50).optional(),
});

/** Every intent the built-in strategist plans. */
export const IntentSchema = z.discriminatedUnion('kind', [
  DeployIntentSchema,
  RollbackIntentSchema,
  ScaleIntentSchema,
  RotateKeyIntentSchema,
  RouteGpuJobIntentSchema,
]);
export type Intent = z.infer<typeof IntentSchema>;
export type IntentKind = Intent['kind'];

/** A planning request: a typed intent, or a free-text goal for an AI strategist. */
export type StrategistRequest =
  | { readonly intent: unknown }
  | { readonly goal: string; readonly target: PlanTarget; readonly context?: Record<string, unknown> };

/** Turns a request into a plan (always schema-valid, or a ControlError). */
export interface Strategist {
  readonly name: string;
  plan(req: StrategistRequest): Promise<Plan>;
}

/** Options of the built-in planner. */
export interface BuiltinStrategistOptions {
  /** The clock for createdAt (ms since the epoch); default Date.now. */
  readonly now?: () => number;
  /** createdBy of the plans; default "strategist:builtin". */
  readonly createdBy?: string;
}

let intentSchemaJson: Record<string, unknown> | undefined;
/** The intent schema as JSON Schema (draft 2020-12), as published (intent.schema.json). */
export function intentJsonSchema(): Record<string, unknown> {
  intentSchemaJson ??= z.toJSONSchema(IntentSchema, { io: 'input' }) as Record<string, unknown>;
  return structuredClone(intentSchemaJson);
}

/** Validates an untrusted intent; INVALID_ARGUMENT naming each problem (and where in intent.schema.json). */
export function parseIntent(value: unknown): Intent {
  const r = IntentSchema.safeParse(value);
  if (!r.success) {
    const problems = describeIssues(r.error.issues);
    const errors = schemaProblems(r.error.issues, 'intent.schema.json', intentJsonSchema(), value);
    throw new ControlError('INVALID_ARGUMENT', `intent is invalid: ${problems.join('; ')}`, {
      problems,
      errors,
    });
  }
  return r.data;
}

const targetOf = (i: Intent): PlanTarget => ({
  environment: i.environment,
  tenant: i.tenant,
  ...(i.namespace !== undefined ? { namespace: i.namespace } : {}),
  ...(i.region !== undefined ? { region: i.region } : {}),
});

const looksLikeProduction = (env: string) => /^(prod|production|live)([-_.].*)?$/i.test(env);

function probe(id: string, url: string, timeoutMs = 120_000): PlanStep {
  return {
    id,
    action: 'probe',
    params: { url, intervalMs: 2000 },
    risk: 'low',
    reversible: true,
    readOnly: true,
    timeoutMs,
  };
}

type DeployIntent = z.infer<typeof DeployIntentSchema>;
type Json = Record<string, unknown>;
const isJson = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The canary Deployment: the service's own Deployment (when the intent carries it) renamed, scaled to the canary's
 * replicas, labelled track=canary and running the new image, so it has the same probes, resources and security
 * context; else a minimal one.
 */
export function canaryManifest(
  i: DeployIntent,
  opts: { name: string; replicas: number; container: string; image: string },
): Json {
  const base = i.manifests?.find((m) => m.kind === 'Deployment' && m.metadata.name === i.service);
  if (!base) {
    const labels = { app: i.service, track: 'canary' };
    return {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: opts.name, labels },
      spec: {
        replicas: opts.replicas,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: { containers: [{ name: opts.container, image: opts.image }] },
        },
      },
    };
  }
  // A new object: nothing the server owns (status, versions, managed fields, last-applied) comes along.
  const d = comparable(base) as Json & { metadata: Json; spec?: unknown };
  const spec = isJson(d.spec) ? d.spec : {};
  const template = isJson(spec['template']) ? spec['template'] : {};
  const tMeta = isJson(template['metadata']) ? template['metadata'] : {};
  const selector = isJson(spec['selector']) ? spec['selector'] : {};
  const match = isJson(selector['matchLabels']) ? selector['matchLabels'] : {};
  const podSpec = isJson(template['spec']) ? template['spec'] : {};
  const containers = Array.isArray(podSpec['containers']) ? podSpec['containers'] : [];
  const track = { track: 'canary' };
  return {
    ...d,
    metadata: {
      ...d.metadata,
      name: opts.name,
      labels: { ...(isJson(d.metadata['labels']) ? d.metadata['labels'] : {}), ...track },
    },
    spec: {
      ...spec,
      replicas: opts.replicas,
      selector: { ...selector, matchLabels: { ...match, ...track } },
      template: {
        ...template,
        metadata: { ...tMeta, labels: { ...(isJson(tMeta['labels']) ? tMeta['labels'] : {}), ...track } },
        spec: {
          ...podSpec,
          containers: containers.map((c: unknown) =>
            isJson(c) && c['name'] === opts.container ? { ...c, image: opts.image } : c,
          ),
        },
      },
    },
  };
}

/** The intent's manifests other than the service's own Deployment (applied before the canary). */
function supportingManifests(i: DeployIntent): Json[] {
  return (i.manifests ?? []).filter((m) => !(m.kind === 'Deployment' && m.metadata.name === i.service));
}

function deployPhases(i: DeployIntent): PlanPhase[] {
  const container = i.container ?? i.service;
  const canary = `${i.service}-canary`;
  const canaryReplicas = Math.max(1, Math.ceil((i.replicas * i.canaryPercent) / 100));
  const newImage = `${i.image}:${i.version}`;
  const oldImage = `${i.image}:${i.currentVersion}`;
  const retireCanary = { action: 'k8s.scale', params: { deployment: canary, replicas: 0 } };
  const manifest = canaryManifest(i, { name: canary, replicas: canaryReplicas, container, image: newImage });
  const supporting = supportingManifests(i);
  const approve = i.approveFullRollout ?? looksLikeProduction(i.environment);
  return [
    {
      id: 'preflight',
      name: 'the running version is healthy',
      steps: [probe('probe-current', i.healthUrl, 60_000)],
    },
    ...(supporting.length > 0
      ? [
          {
            id: 'manifests',
            name: `the service's manifests (${[...new Set(supporting.map((m) => m.kind))].join(', ')})`,
            steps: [
              {
                id: 'apply-manifests',
                action: 'k8s.apply',
                params: { manifests: supporting },
                risk: 'medium' as const,
                // Server-side apply of objects that may have existed before: nothing to undo them to.
                reversible: false,
                timeoutMs: 120_000,
              },
            ],
          },
        ]
      : []),
    {
      id: 'canary',
      name: `canary: ${i.canaryPercent}% (${canaryReplicas} of ${i.replicas} replicas) on ${i.version}`,
      steps: [
        {
          id: 'canary-apply',
          action: 'k8s.apply',
          params: { manifests: [manifest] },
          risk: 'medium',
          reversible: true,
          rollback: retireCanary,
          timeoutMs: 60_000,
        },
        {
          id: 'canary-rollout',
          action: 'k8s.rollout',
          params: { deployment: canary, container, image: newImage },
          risk: 'medium',
          reversible: true,
          rollback: retireCanary,
          timeoutMs: 600_000,
        },
        probe('canary-probe', i.canaryHealthUrl ?? i.healthUrl),
      ],
    },
    {
      id: 'full',
      name: `full rollout of ${i.version}`,
      steps: [
        {
          id: 'rollout',
          action: 'k8s.rollout',
          params: { deployment: i.service, container, image: newImage },
          risk: 'high',
          reversible: true,
          rollback: { action: 'k8s.rollout', params: { deployment: i.service, container, image: oldImage } },
          timeoutMs: 900_000,
        },
        probe('probe-new', i.healthUrl),
        {
          id: 'canary-retire',
          action: 'k8s.scale',
          params: retireCanary.params,
          risk: 'low',
          reversible: true,
          rollback: { action: 'k8s.scale', params: { deployment: canary, replicas: canaryReplicas } },
          timeoutMs: 300_000,
        },
      ],
      ...(approve ? { gate: { approval: true } } : {}),
    },
  ];
}

function phasesOf(i: Intent): { goal: string; phases: PlanPhase[] } {
  switch (i.kind) {
    case 'deploy':
      return {
        goal: `deploy ${i.service} ${i.version} (from ${i.currentVersion}) to ${i.environment}, canary ${i.canaryPercent}%`,
        phases: deployPhases(i),
      };
    case 'rollback': {
      const container = i.container ?? i.service;
      const steps: PlanStep[] = [
        {
          id: 'rollout',
          action: 'k8s.rollout',
          params: { deployment: i.service, container, image: `${i.image}:${i.toVersion}` },
          risk: 'high',
          reversible: i.fromVersion !== undefined,
          ...(i.fromVersion !== undefined
            ? {
                rollback: {
                  action: 'k8s.rollout',
                  params: { deployment: i.service, container, image: `${i.image}:${i.fromVersion}` },
                },
              }
            : {}),
          timeoutMs: 900_000,
        },
      ];
      if (i.healthUrl) steps.push(probe('probe', i.healthUrl));
      return {
        goal: `roll ${i.service} back to ${i.toVersion} in ${i.environment}`,
        phases: [{ id: 'rollback', steps }],
      };
    }
    case 'scale': {
      const steps: PlanStep[] = [
        {
          id: 'scale',
          action: 'k8s.scale',
          params: { deployment: i.service, replicas: i.replicas },
          risk: i.replicas === 0 ? 'high' : 'medium',
          reversible: i.currentReplicas !== undefined,
          ...(i.currentReplicas !== undefined
            ? {
                rollback: {
                  action: 'k8s.scale',
                  params: { deployment: i.service, replicas: i.currentReplicas },
                },
              }
            : {}),
          timeoutMs: 600_000,
        },
      ];
      if (i.healthUrl && i.replicas > 0) steps.push(probe('probe', i.healthUrl));
      return {
        goal: `scale ${i.service} to ${i.replicas} replicas in ${i.environment}`,
        phases: [{ id: 'scale', steps }],
      };
    }
    case 'rotate-key': {
      const data = ['--data', i.dataDir];
      const status = (id: string): PlanStep => ({
        id,
        action: 'shell',
        params: { command: i.vmCommand, args: ['key', 'status', ...data, '--json'], idempotent: true },
        risk: 'low',
        reversible: false, // a shell command: a write unless the operator lists it as read-only
        readOnly: true,
        timeoutMs: 60_000,
      });
      const rotateArgs = [
        'key',
        'rotate',
        ...data,
        ...(i.passphraseFile ? ['--passphrase-file', i.passphraseFile] : []),
        '--json',
      ];
      return {
        goal: `rotate key ${i.keyName} of the node at ${i.dataDir} (${i.environment})`,
        phases: [
          {
            id: 'rotate',
            name: `rotate ${i.keyName}`,
            gate: { approval: true },
            steps: [
              status('key-status'),
              // Not reversible: the old key is retired and the rotation is recorded in the ledger.
              {
                id: 'key-rotate',
                action: 'shell',
                params: { command: i.vmCommand, args: rotateArgs },
                risk: 'critical',
                reversible: false,
                timeoutMs: 300_000,
              },
              status('key-verify'),
            ],
          },
        ],
      };
    }
    case 'route-gpu-job': {
      const { kind: _k, tenant: _t, environment: _e, namespace: _n, region: _r, ...job } = i;
      return {
        goal: `route GPU job ${i.jobId} (${i.gpu.count}x ${i.gpu.model ?? 'any GPU'})`,
        phases: [
          {
            id: 'route',
            steps: [
              {
                id: 'submit',
                action: 'route.submit',
                params: job,
                risk: 'medium',
                reversible: false,
                timeoutMs: 120_000,
              },
            ],
          },
        ],
      };
    }
  }
}

/** The plan for an intent: deterministic (ids from the intent's hash, createdAt from `now`). */
export function planIntent(intent: unknown, opts: BuiltinStrategistOptions = {}): Plan {
  const i = parseIntent(intent);
  const digest = createHash('sha256').update(canonicalize(i)).digest('hex').slice(0, 12);
  const subject =
    'service' in i ? i.service : 'jobId' in i ? i.jobId : i.keyName.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  const { goal, phases } = phasesOf(i);
  return parsePlan({
    v: 1,
    id: `${i.kind}-${subject}-${digest}`.slice(0, 128),
    goal,
    target: targetOf(i),
    phases,
    preconditions: [],
    gates: [],
    createdBy: opts.createdBy ?? 'strategist:builtin',
    createdAt: new Date((opts.now ?? Date.now)()).toISOString(),
  });
}

/** The built-in strategist: intents only (a free-text goal is INVALID_ARGUMENT). */
export function createBuiltinStrategist(opts: BuiltinStrategistOptions = {}): Strategist {
  return {
    name: 'builtin',
    async plan(req) {
      if (!('intent' in req))
        throw new ControlError(
          'INVALID_ARGUMENT',
          `the built-in strategist plans intents (${IntentSchema.options.map((o) => o.shape.kind.value).join(', ')}), not free-text goals`,
        );
      return planIntent(req.intent, opts);
    },
  };
}

/** Intents to the built-in planner; free-text goals to `ai` when configured (else UNAVAILABLE: off by default). */
export function createStrategist(opts: BuiltinStrategistOptions & { ai?: Strategist } = {}): Strategist {
  const builtin = createBuiltinStrategist(opts);
  return {
    name: opts.ai ? `builtin+${opts.ai.name}` : 'builtin',
    async plan(req) {
      if ('intent' in req) return builtin.plan(req);
      if (!opts.ai)
        throw new ControlError(
          'UNAVAILABLE',
          'free-text goals need an OpenAI-compatible strategist, which is off by default',
        );
      return opts.ai.plan(req);
    },
  };
}
