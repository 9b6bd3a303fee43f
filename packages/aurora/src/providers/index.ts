// Provider registry: one config schema for every adapter (discriminated on `type`) and createProvider.
// The entry point validates the config file with ProviderConfigSchema (unknown keys rejected), reads the env var named
// by `apiKeyEnv` itself and passes its value as `apiKey`; this library never reads process.env, and an API key can
// never come from the config file (the schemas are strict and have no key field).
import { z } from 'zod';
import { AuroraError } from '../errors.ts';
import type { ComputeProvider } from '../provider.ts';
import { AkashOptionsSchema, createAkashProvider } from './akash.ts';
import type { FetchFn } from './http.ts';
import { formatIssues } from './http.ts';
import { createK8sProvider, K8sOptionsSchema } from './k8s.ts';
import { createLocalProvider, LocalOptionsSchema } from './local.ts';
import { createRenderProvider, RenderOptionsSchema } from './render.ts';
import { createVastProvider, VastOptionsSchema } from './vast.ts';

export {
  AKASH_DEFAULT_BASE_URL,
  AkashOptionsSchema,
  createAkashProvider,
  generateAkashSdl,
} from './akash.ts';
export type { AkashOptions } from './akash.ts';
export { createHttpClient, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT_MS } from './http.ts';
export type { FetchFn, HttpClient, HttpClientOptions } from './http.ts';
export { createK8sProvider, K8S_DEFAULT_BASE_URL, K8sOptionsSchema } from './k8s.ts';
export type { K8sOptions } from './k8s.ts';
export { createLocalProvider, LocalOptionsSchema } from './local.ts';
export type { LocalOptions, LocalProvider } from './local.ts';
export {
  createRenderProvider,
  RENDER_DEFAULT_BASE_URL,
  RenderOptionsSchema,
  RenderPlanSchema,
} from './render.ts';
export type { RenderOptions } from './render.ts';
export { createVastProvider, VAST_DEFAULT_BASE_URL, VastOptionsSchema } from './vast.ts';
export type { VastOptions } from './vast.ts';
export { gpuModelMatches, offerFits } from './common.ts';

/** Name of the environment variable holding a provider's key (read by the entry point, never here). */
const EnvVarName = z.string().regex(/^[A-Z_][A-Z0-9_]{0,127}$/, 'must be an environment variable name');

/** One provider's configuration; `type` picks the adapter, the rest are that adapter's options. */
export const ProviderConfigSchema = z.discriminatedUnion('type', [
  VastOptionsSchema.extend({
    type: z.literal('vast'),
    apiKeyEnv: EnvVarName.default('VAST_API_KEY'),
  }).strict(),
  AkashOptionsSchema.extend({
    type: z.literal('akash'),
    apiKeyEnv: EnvVarName.default('AKASH_CONSOLE_API_KEY'),
  }).strict(),
  RenderOptionsSchema.extend({
    type: z.literal('render'),
    apiKeyEnv: EnvVarName.default('RENDER_API_KEY'),
  }).strict(),
  K8sOptionsSchema.extend({ type: z.literal('k8s'), apiKeyEnv: EnvVarName.optional() }).strict(),
  LocalOptionsSchema.extend({ type: z.literal('local'), apiKeyEnv: EnvVarName.optional() }).strict(),
]);
export type ProviderConfig = z.infer<typeof ProviderConfigSchema>;
export type ProviderConfigInput = z.input<typeof ProviderConfigSchema>;

/** A list of provider configs with unique names. */
export const ProvidersConfigSchema = z
  .array(ProviderConfigSchema)
  .max(100)
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    for (const [i, p] of list.entries()) {
      const n = p.name ?? p.type;
      if (seen.has(n))
        ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate provider name "${n}"` });
      seen.add(n);
    }
  });

/**
 * Builds the adapter a config names. `apiKey` is the value of the env var named by `apiKeyEnv` (required for vast,
 * akash and render; the k8s bearer token is optional). INVALID_ARGUMENT for a bad config (never quoting the key).
 */
export function createProvider(
  config: ProviderConfigInput & { apiKey?: string },
  deps: { fetch?: FetchFn } = {},
): ComputeProvider {
  const { apiKey, ...rest } = config;
  const parsed = ProviderConfigSchema.safeParse(rest);
  if (!parsed.success)
    throw new AuroraError(
      'INVALID_ARGUMENT',
      `invalid provider config: ${formatIssues(parsed.error.issues)}`,
    );
  const c = parsed.data;
  switch (c.type) {
    case 'vast': {
      const { type: _t, apiKeyEnv: _e, ...o } = c;
      return createVastProvider({ ...o, apiKey: apiKey ?? '' }, deps);
    }
    case 'akash': {
      const { type: _t, apiKeyEnv: _e, ...o } = c;
      return createAkashProvider({ ...o, apiKey: apiKey ?? '' }, deps);
    }
    case 'render': {
      const { type: _t, apiKeyEnv: _e, ...o } = c;
      return createRenderProvider({ ...o, apiKey: apiKey ?? '' }, deps);
    }
    case 'k8s': {
      const { type: _t, apiKeyEnv: _e, ...o } = c;
      return createK8sProvider({ ...o, ...(apiKey !== undefined ? { apiKey } : {}) }, deps);
    }
    case 'local': {
      const { type: _t, apiKeyEnv: _e, ...o } = c;
      return createLocalProvider(o);
    }
  }
}
