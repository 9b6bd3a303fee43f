// The MCP face of the gateway (official TypeScript SDK): every gateway tool as an MCP tool with its input and output
// schemas and annotations, receipts, checkpoints, plans and policies as resources, and two prompts. One server is
// bound to one authenticated caller; every tool call and resource read goes through the gateway (policy + receipt).
// Gateway errors become isError tool results (DESIGN.md: MCP edge), never protocol errors, so agents see the reason.
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  ErrorCode,
  McpError,
  type CallToolResult,
  type ReadResourceResult,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { InteropError } from './errors.ts';
import type { Caller, ToolGateway } from './gateway.ts';
import type { InteropServices } from './services.ts';

export const MCP_SERVER_NAME = 'vaultmesh';

/** Options of one MCP server instance. */
export interface McpServerOptions {
  readonly gateway: ToolGateway<InteropServices>;
  /** The authenticated caller every request of this server acts as. */
  readonly caller: Caller;
  readonly version: string;
}

/** The text an agent sees for a failed call: the code, then the reason. */
export function toolErrorText(err: unknown): string {
  if (err instanceof InteropError) return `${err.code}: ${err.message}`;
  return `FAILED: ${(err as Error)?.message ?? String(err)}`;
}

/** Builds an McpServer over the gateway for one caller. */
export function createVaultMeshMcpServer(opts: McpServerOptions): McpServer {
  const { gateway, caller } = opts;
  const server = new McpServer(
    { name: MCP_SERVER_NAME, title: 'VaultMesh', version: opts.version },
    {
      capabilities: { tools: {}, resources: {}, prompts: {}, logging: {} },
      instructions:
        'VaultMesh is a verifiable control plane. Every tool call is checked by Cedar policy with your token’s ' +
        'identity and tenant and recorded on an append-only Merkle ledger. Plan changes with create_plan, ' +
        'dry_run_plan before execute_plan, request_approval where a human must agree, and prove what happened ' +
        'with prove_receipt.',
    },
  );

  const call = async (name: string, args: unknown, progress?: (d: number, t?: number, m?: string) => void) =>
    gateway.call(name, args, caller, { onProgress: progress });

  for (const tool of gateway.list()) {
    server.registerTool(
      tool.name,
      {
        title: tool.title,
        description: tool.description,
        // Strict, as published (additionalProperties: false) and as every other edge checks: the SDK would strip
        // unknown keys from a raw shape, so an agent's typo would pass unnoticed. (The union of both kinds of
        // schema is too wide for the SDK's overloads; each alone is what it takes.)
        inputSchema: (tool.publishedInput ?? z.object(tool.input).strict()) as unknown as typeof tool.input,
        outputSchema: tool.output,
        annotations: { title: tool.title, ...tool.annotations },
      },
      async (args: Record<string, unknown>, extra): Promise<CallToolResult> => {
        const token = extra._meta?.progressToken;
        const progress =
          token === undefined
            ? undefined
            : (done: number, total?: number, message?: string) => {
                void extra
                  .sendNotification({
                    method: 'notifications/progress',
                    params: { progressToken: token, progress: done, total, message },
                  })
                  .catch(() => undefined);
              };
        try {
          const r = await gateway.call(tool.name, args, caller, {
            onProgress: progress,
            signal: extra.signal,
          });
          return {
            content: [{ type: 'text', text: JSON.stringify(r.output) }],
            structuredContent: r.output,
            _meta: { 'vaultmesh/receipt': r.receipt },
          };
        } catch (err) {
          return { isError: true, content: [{ type: 'text', text: toolErrorText(err) }] };
        }
      },
    );
  }

  const json = (uri: string, value: unknown): ReadResourceResult => ({
    contents: [{ uri, mimeType: 'application/json', text: JSON.stringify(value, null, 2) }],
  });
  // Resource reads fail as protocol errors (there is no isError for resources); the message keeps the reason.
  const read = async (uri: string, tool: string, args: Record<string, unknown>) => {
    try {
      return json(uri, (await call(tool, args)).output);
    } catch (err) {
      throw new Error(toolErrorText(err));
    }
  };

  server.registerResource(
    'checkpoint',
    'vaultmesh://checkpoint',
    { title: 'Latest signed checkpoint', mimeType: 'application/json' },
    async (uri) => read(uri.href, 'get_checkpoint', {}),
  );
  server.registerResource(
    'policies',
    'vaultmesh://policies/active',
    { title: 'Active Cedar policy set', mimeType: 'application/json' },
    async (uri) => read(uri.href, 'get_policies', {}),
  );
  server.registerResource(
    'receipt',
    new ResourceTemplate('vaultmesh://receipts/{index}', {
      list: async () => {
        const r = await call('search_receipts', { limit: 50 }).catch(() => undefined);
        const items = (r?.output.items ?? []) as { index: number; receipt: { kind: string } }[];
        return {
          resources: items.map((i) => ({
            uri: `vaultmesh://receipts/${i.index}`,
            name: `receipt ${i.index} (${i.receipt.kind})`,
            mimeType: 'application/json',
          })),
        };
      },
    }),
    { title: 'Receipt with its inclusion proof', mimeType: 'application/json' },
    async (uri, vars) => {
      const index = Number(vars.index);
      if (!/^[0-9]+$/.test(String(vars.index)) || !Number.isSafeInteger(index))
        throw new Error('INVALID_INPUT: the receipt index must be a non-negative integer');
      return read(uri.href, 'prove_receipt', { index });
    },
  );
  server.registerResource(
    'plan',
    new ResourceTemplate('vaultmesh://plans/{planId}', {
      list: async () => {
        const r = await call('run_query', { pqid: 'plans.recent', params: { limit: 50 } }).catch(
          () => undefined,
        );
        const items = (r?.output.result as { items?: { planId: string; goal: string }[] })?.items ?? [];
        return {
          resources: items.map((p) => ({
            uri: `vaultmesh://plans/${encodeURIComponent(p.planId)}`,
            name: p.goal.slice(0, 80),
            mimeType: 'application/json',
          })),
        };
      },
    }),
    { title: 'Stored plan', mimeType: 'application/json' },
    async (uri, vars) => read(uri.href, 'get_plan', { planId: decodeURIComponent(String(vars.planId)) }),
  );

  server.registerPrompt(
    'plan_deployment',
    {
      title: 'Plan a deployment',
      description: 'Walks through a governed deployment: plan, dry-run, approval, live run, audit and proof.',
      argsSchema: {
        service: z.string().describe('Service (DNS label)'),
        version: z.string().describe('Version to deploy'),
        environment: z.string().describe('Target environment, e.g. staging or prod'),
        tenant: z.string().optional().describe('Tenant; defaults to your token’s tenant'),
      },
    },
    ({ service, version, environment, tenant }) => ({
      messages: [
        {
          role: 'user',
          content: {
            type: 'text',
            text:
              `Deploy ${service} version ${version} to ${environment}${tenant ? ` for tenant ${tenant}` : ''} ` +
              'through VaultMesh, step by step:\n' +
              '1. Call create_plan with a deploy intent (kind "deploy", service, image, version, currentVersion, ' +
              'replicas, healthUrl, environment, tenant). Show me the phases, steps and the planHash.\n' +
              '2. Call dry_run_plan with the planId and planHash. If any step fails or is denied, stop and explain.\n' +
              '3. If a step needs a human, call request_approval for that phase with a short reason and wait for ' +
              'me to pass you the approval token.\n' +
              '4. Call execute_plan with the approvals. If a tripwire halts the run, report the evidence.\n' +
              '5. Call audit_plan, then prove_receipt for the audit receipt, and summarise what the ledger proves.',
          },
        },
      ],
    }),
  );
  server.registerPrompt(
    'investigate_incident',
    {
      title: 'Investigate an incident',
      description:
        'Gathers what the ledger knows about an incident: held runs, denials, recent changes, proofs.',
      argsSchema: {
        symptom: z.string().describe('What is wrong, in a sentence'),
        service: z.string().optional().describe('The affected service, if known'),
      },
    },
    ({ symptom, service }) => ({
      messages: [
        {
          role: 'user',
          content: {
            type: 'text',
            text:
              `Investigate this incident: ${symptom}${service ? ` (service ${service})` : ''}.\n` +
              'Use only VaultMesh tools, read-only:\n' +
              '1. run_query "runs.recent" with state "hold", and "runs.recent" without a state: which runs ' +
              'changed something recently and which stopped, with their hold reasons.\n' +
              '2. run_query "policy.denies.recent": was anything refused?\n' +
              `3. search_receipts${service ? ` with text "${service}"` : ''} for deploy, step and audit receipts.\n` +
              '4. For each receipt you rely on, prove_receipt so the timeline is verifiable.\n' +
              'Report a timeline (time, receipt index, what happened) and your best explanation, and say what ' +
              'you could not verify.',
          },
        },
      ],
    }),
  );
  standardRpcErrors(server);
  return server;
}

type RequestHandler = (request: { method: string; params?: unknown }, extra: unknown) => Promise<unknown>;

/**
 * JSON-RPC error codes as the specs say: a request whose params do not parse is -32602 Invalid params (JSON-RPC
 * 2.0 §5.1; the SDK answers -32603 for them), and a resource that does not exist is -32002 (MCP, resources). The
 * SDK keeps its request handlers in a private map; each is wrapped once, after every tool and resource is
 * registered.
 */
function standardRpcErrors(server: McpServer): void {
  const handlers = (server.server as unknown as { _requestHandlers?: Map<string, RequestHandler> })
    ._requestHandlers;
  if (!(handlers instanceof Map)) return; // an SDK without the map: its own codes stand
  for (const [method, handler] of handlers)
    handlers.set(method, async (request, extra) => {
      try {
        return await handler(request, extra);
      } catch (err) {
        if ((err as Error)?.name === 'ZodError' || Array.isArray((err as { issues?: unknown })?.issues))
          throw new McpError(ErrorCode.InvalidParams, `Invalid params for ${method}: ${describeZod(err)}`);
        if (method === 'resources/read' && isMissingResource(err)) {
          const uri = (request.params as { uri?: unknown } | undefined)?.uri;
          throw new McpError(-32002, 'Resource not found', { uri });
        }
        throw err;
      }
    });
}

function describeZod(err: unknown): string {
  const issues = (err as { issues?: { path?: unknown[]; message?: string }[] }).issues ?? [];
  return issues
    .slice(0, 5)
    .map((i) => `${(i.path ?? []).join('.') || '(params)'}: ${i.message ?? 'invalid'}`)
    .join('; ');
}

const isMissingResource = (err: unknown): boolean =>
  (err instanceof McpError && err.code === ErrorCode.InvalidParams && /not found/i.test(err.message)) ||
  /^NOT_FOUND: /.test((err as Error)?.message ?? '');
