// Composition of agent interop for one node: the LedgerPort and ControlPort adapters over the opened node and its
// control plane, the persisted-query registry, and the governed tool gateway (policy: the control plane's recording
// decider, so every tool decision is a `policy` receipt) with the built-in tools registered.
import { randomUUID } from 'node:crypto';
import { PLANS, promotionAllowed, type StoredPlan } from '@vaultmesh/control';
import {
  createLazyA2aAgentsClient,
  createLazyMcpClientPool,
  externalMcpTools,
  type McpServerEndpoint,
  registerA2aPerformTool,
  type A2aAgentEndpoint,
  createLogLedgerPort,
  createQueryRegistry,
  createToolGateway,
  registerBuiltinTools,
  type ApprovalRequest,
  type ControlPort,
  type InteropServices,
  type QueryRegistry,
  type ToolGateway,
} from '@vaultmesh/interop/core';
import type { ControlPlane } from './control.ts';
import { verifyNode, type OpenedNode } from './node.ts';

/** ControlStore collection of agents' pending approval requests (id = request id). */
export const APPROVAL_REQUESTS = 'approval-requests';

export interface InteropOptions {
  readonly dataDir: string;
  readonly mode: 'dry-run' | 'live';
  /** Default time limit of one tool call. Default 30 s. */
  readonly toolTimeoutMs?: number;
  /** Remote A2A agents (tokens already read from the environment); with any, tool a2a_perform is registered. */
  readonly agents?: readonly A2aAgentEndpoint[];
  /** External MCP servers (tokens already read); with any, list_external_tools and call_external_tool are registered. */
  readonly mcpServers?: readonly McpServerEndpoint[];
}

/** What the edges (MCP, A2A, REST, CLI) use. */
export interface Interop {
  readonly gateway: ToolGateway<InteropServices>;
  readonly services: InteropServices;
  readonly queries: QueryRegistry;
  /** Closes connections to external MCP servers (stdio servers are child processes). */
  close(): Promise<void>;
}

function controlPort(control: ControlPlane): ControlPort {
  return {
    policySetHash: control.policy.policySetHash,
    policyText: () => control.policyText,
    plan: (req) => control.strategist.plan(req),
    storePlan: (plan, principal) => control.executor.storePlan(plan, principal),
    getPlan: (id) => control.executor.getPlan(id),
    async listPlans({ limit }) {
      const docs = await control.store.list<StoredPlan>(PLANS);
      return docs
        .map((d) => d.doc)
        .sort((a, b) => b.storedAt.localeCompare(a.storedAt))
        .slice(0, limit);
    },
    // Through startRun, so a run an agent starts streams its events to /api/runs/:id/events like any other.
    run: async (req) => (await control.startRun(req)).done,
    resume: (runId, req) => control.executor.resume(runId, req),
    cancel: (runId, req) => control.executor.cancel(runId, req),
    listRuns: (planId) => control.executor.listRuns(planId),
    getRun: async (runId) => (await control.executor.getRun(runId))?.run,
    async audit(req) {
      const r = await control.audit(req);
      return { result: r.result, receipt: r.receipt, checks: r.checks };
    },
    listApprovals: (planId) => control.listApprovals(planId),
    async requestApproval(req) {
      const doc: ApprovalRequest = {
        ...req,
        id: `areq-${randomUUID()}`,
        requestedAt: new Date().toISOString(),
      };
      await control.store.put(APPROVAL_REQUESTS, doc.id, doc, { expectedVersion: 0 });
      return doc;
    },
    async listApprovalRequests(planId) {
      const docs = await control.store.list<ApprovalRequest>(APPROVAL_REQUESTS);
      return docs
        .map((d) => d.doc)
        .filter((r) => planId === undefined || r.planId === planId)
        .sort((a, b) => b.requestedAt.localeCompare(a.requestedAt));
    },
    listPolls: () => control.golive.listPolls(),
    promotionAllowed: () => promotionAllowed(control.store),
  };
}

/** Builds the interop services and gateway of a node (the control plane is required: it holds the decider). */
export function createInterop(node: OpenedNode, control: ControlPlane, opts: InteropOptions): Interop {
  const ledger = createLogLedgerPort({
    log: node.log,
    storage: node.storage,
    verifierKeyText: node.key.verifierKeyText,
    async verify({ onProgress }) {
      const r = await verifyNode(opts.dataDir, { onProgress });
      return {
        ok: r.ok,
        size: r.size,
        checkpointsChecked: r.checkpointsChecked,
        problems: r.problems.map((p) => p.message),
      };
    },
  });
  const agents = opts.agents ?? [];
  const mcpServers = opts.mcpServers ?? [];
  const external = mcpServers.length ? createLazyMcpClientPool(mcpServers) : undefined;
  const services: InteropServices = {
    ledger,
    control: controlPort(control),
    ...(agents.length ? { agents: createLazyA2aAgentsClient(agents) } : {}),
    ...(external ? { external } : {}),
    node: {
      origin: node.origin,
      mode: opts.mode,
      keySealed: node.keySealed,
      storageOk: () =>
        node.storage.size().then(
          () => true,
          () => false,
        ),
    },
  };
  const queries = createQueryRegistry();
  const gateway = createToolGateway<InteropServices>({
    decider: control.policy,
    receipts: node.log,
    services,
    timeoutMs: opts.toolTimeoutMs,
  });
  registerBuiltinTools(gateway, queries);
  if (agents.length) registerA2aPerformTool(gateway, agents);
  if (mcpServers.length) for (const t of externalMcpTools(mcpServers)) gateway.register(t);
  return { gateway, services, queries, close: async () => external?.close() };
}
