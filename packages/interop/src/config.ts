// Configuration shapes of agent interop (remote A2A agents, external MCP servers) and the caller-context patterns.
// No SDK imports: the node's config loader and the core gateway use these without loading the MCP or A2A SDKs.
import { z } from 'zod';

/** A caller's purpose (policy context `purpose`), as the edges accept it. */
export const PURPOSE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9 _.:-]{0,199}$/;
/** A caller's residency (policy context `residency`), as the edges accept it. */
export const RESIDENCY_PATTERN = /^[a-z]{2,16}$/;

/** A zod refinement: an issue at [i, 'name'] for each item whose name an earlier item already has. */
function uniqueNames(noun: string) {
  return (items: readonly { name: string }[], ctx: z.RefinementCtx): void => {
    const seen = new Set<string>();
    items.forEach((item, i) => {
      if (seen.has(item.name))
        ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate ${noun} "${item.name}"` });
      seen.add(item.name);
    });
  };
}

/** Config of one remote A2A agent (`interop.agents[]` in the node's config). */
export const A2aAgentConfigSchema = z
  .object({
    /** The name tools and policy use (context.agent, resource a2a/<name>). */
    name: z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'must be lowercase letters, digits, _ or -'),
    /** The agent's base URL; its card is read from <url>/.well-known/agent-card.json. */
    url: z.string().refine(
      (u) => {
        try {
          return /^https?:$/.test(new URL(u).protocol);
        } catch {
          return false;
        }
      },
      { message: 'must be an http(s) URL' },
    ),
    /** Where the agent runs (resource.region, checked against the caller's residency), e.g. "eu-west-1". */
    region: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be a region such as eu-west-1')
      .optional(),
    /** Name of the environment variable holding the bearer token (read by the entry point only). */
    apiKeyEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must be an environment variable name')
      .optional(),
    /** Time limit of one request to the agent, card fetch included. */
    timeoutMs: z.number().int().min(100).max(600_000).default(30_000),
  })
  .strict();
export type A2aAgentConfig = z.infer<typeof A2aAgentConfigSchema>;

/** The configured agents, names unique. */
export const A2aAgentsConfigSchema = z.array(A2aAgentConfigSchema).max(100).superRefine(uniqueNames('agent'));

/** One agent the client may call; `token` is the bearer token value (the entry point reads apiKeyEnv). */
export interface A2aAgentEndpoint {
  readonly name: string;
  readonly url: string;
  readonly region?: string;
  readonly token?: string;
  /** Default 30 s. */
  readonly timeoutMs?: number;
}

const NAME = /^[a-z][a-z0-9_-]{0,63}$/;
const httpUrl = z.string().refine(
  (u) => {
    try {
      return /^https?:$/.test(new URL(u).protocol);
    } catch {
      return false;
    }
  },
  { message: 'must be an http(s) URL' },
);

/** One external MCP server (`interop.mcpServers[]` in the node's config). */
export const McpServerConfigSchema = z
  .object({
    /** The name tools and policy use (context.server, resource <server>/<tool>). */
    name: z.string().regex(NAME, 'must be lowercase letters, digits, _ or -'),
    description: z.string().max(500).optional(),
    /** Streamable HTTP endpoint (exactly one of url or command). */
    url: httpUrl.optional(),
    /** stdio: the command to start (exactly one of url or command) and its arguments. */
    command: z.string().min(1).max(4096).optional(),
    args: z.array(z.string().max(4096)).max(100).default([]),
    /** Extra HTTP headers (values are secrets: never logged, never in errors). */
    headers: z.record(z.string().max(4096)).optional(),
    /** Name of the environment variable holding a bearer token (read by the entry point only). */
    bearerTokenEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must be an environment variable name')
      .optional(),
    /** Where the server runs (resource.region, checked against the caller's residency), e.g. "eu-west-1". */
    region: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be a region such as eu-west-1')
      .optional(),
    /** Only these tools may be called (absent: every tool the server lists). */
    allowTools: z.array(z.string().min(1).max(128)).max(500).optional(),
    /** Time limit of one request to the server (connecting included). */
    timeoutMs: z.number().int().min(100).max(600_000).default(30_000),
  })
  .strict()
  .refine((s) => (s.url === undefined) !== (s.command === undefined), {
    message: 'give exactly one of url (Streamable HTTP) or command (stdio)',
  });
export type McpServerConfig = z.infer<typeof McpServerConfigSchema>;

/** The configured servers, names unique. */
export const McpServersConfigSchema = z
  .array(McpServerConfigSchema)
  .max(50)
  .superRefine(uniqueNames('server'));

/** One server the pool may call; `bearerToken` is the token value (the entry point reads bearerTokenEnv). */
export type McpServerEndpoint = Omit<McpServerConfig, 'bearerTokenEnv' | 'args' | 'timeoutMs'> & {
  readonly args?: readonly string[];
  readonly timeoutMs?: number;
  readonly bearerToken?: string;
};

/** Refuses agents without a valid name and http(s) URL, or with a name used twice (the eager and lazy clients). */
export function checkA2aAgents(agents: readonly A2aAgentEndpoint[]): void {
  for (const a of agents)
    if (!A2aAgentConfigSchema.pick({ name: true, url: true }).strip().safeParse(a).success)
      throw new Error(`A2A agent "${String(a.name).slice(0, 64)}" needs a valid name and an http(s) URL`);
  if (new Set(agents.map((a) => a.name)).size !== agents.length)
    throw new Error('A2A agent names must be unique');
}

/** What A2aAgentsPort.agents() tells: names, URLs and regions, never tokens. */
export function a2aAgentList(
  agents: readonly A2aAgentEndpoint[],
): { name: string; url: string; region?: string }[] {
  return agents.map((a) => ({ name: a.name, url: a.url, ...(a.region ? { region: a.region } : {}) }));
}

/** Refuses a server name used twice (the eager and lazy pools). */
export function checkMcpServers(servers: readonly McpServerEndpoint[]): void {
  if (new Set(servers.map((s) => s.name)).size !== servers.length)
    throw new Error('MCP server names must be unique');
}

/** What ExternalMcpPort.servers() tells: names, regions and descriptions, never headers or tokens. */
export function mcpServerList(
  servers: readonly McpServerEndpoint[],
): { name: string; region?: string; description?: string }[] {
  return servers.map((s) => ({
    name: s.name,
    ...(s.region ? { region: s.region } : {}),
    ...(s.description ? { description: s.description } : {}),
  }));
}
