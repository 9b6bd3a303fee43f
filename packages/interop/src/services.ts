// Ports: what the interop tools need from the node. @vaultmesh/node adapts the Log, the SQLite storage and the control
// plane to them; tests may build them over in-memory parts. Tools see these only after policy allowed the call.
import type {
  ApprovalView,
  GolivePoll,
  Plan,
  RunRecord,
  RunResult,
  StoredPlan,
  StrategistRequest,
} from '@vaultmesh/control';
import type { Principal, ReceiptWriter } from '@vaultmesh/types';

/** A receipt as the API shows it. */
export interface ReceiptView {
  readonly index: number;
  readonly leafHash: string;
  readonly receipt: {
    readonly v: number;
    readonly kind: string;
    readonly actor: string;
    readonly tenant: string;
    readonly time: string;
    readonly body: Record<string, unknown>;
    readonly parents?: { index: number; leafHash: string }[];
  };
}

/** A signed checkpoint as the API shows it. */
export interface CheckpointView {
  readonly origin: string;
  readonly size: number;
  readonly rootHash: string;
  /** The C2SP signed note, verifiable offline with `verifierKey`. */
  readonly note: string;
  readonly verifierKey: string;
}

/** Port: the ledger, read and append. `append` resolves once the receipt is durable. */
export interface LedgerPort {
  readonly append: ReceiptWriter['append'];
  /** Receipts in the given tenants (every tenant when absent), filtered and paged like GET /api/ledger/receipts. */
  list(q: {
    tenants?: readonly string[];
    kind?: string;
    text?: string;
    after?: number;
    before?: number;
    order: 'asc' | 'desc';
    limit: number;
  }): Promise<ReceiptView[]>;
  /** One receipt; rejects (LogError NOT_FOUND) when there is none at index. */
  get(index: number): Promise<ReceiptView>;
  /** The latest signed checkpoint, publishing one first if `index` is not covered yet. */
  checkpointCovering(index?: number): Promise<CheckpointView | undefined>;
  /** RFC 9162 inclusion proof of `index` in the tree of `size` entries (hex hashes). */
  inclusionProof(index: number, size: number): Promise<{ leafHash: string; proof: string[] }>;
  /** Checks signatures, roots and consistency of every stored checkpoint (`vm audit verify` without --full). */
  verify(opts: { onProgress?: (done: number, total: number) => void }): Promise<{
    ok: boolean;
    size: number;
    checkpointsChecked: number;
    problems: string[];
  }>;
}

/** A pending request for a human approval (an approver answers it with `vm approve`). */
export interface ApprovalRequest {
  readonly id: string;
  readonly planId: string;
  readonly planHash: string;
  readonly tenant: string;
  readonly scope: { readonly phaseId: string } | { readonly stepId: string };
  readonly reason: string;
  readonly requestedBy: string;
  readonly requestedAt: string;
}

/** Port: the control plane (absent on a node without one: plan tools then answer UNAVAILABLE). */
export interface ControlPort {
  readonly policySetHash: string;
  /** The active Cedar policy set as text. */
  policyText(): string;
  plan(req: StrategistRequest): Promise<Plan>;
  storePlan(plan: unknown, principal: Principal): Promise<StoredPlan>;
  getPlan(planId: string): Promise<StoredPlan>;
  listPlans(opts: { limit: number }): Promise<StoredPlan[]>;
  run(req: {
    plan: string;
    planHash: string;
    phaseId?: string;
    dryRun: boolean;
    principal: Principal;
    approvals?: string[];
    purpose?: string;
    residency?: string;
  }): Promise<RunResult>;
  /** Continues a held or interrupted run (approvals presented now), never repeating a done step. */
  resume(runId: string, req: { principal: Principal; approvals?: string[] }): Promise<RunResult>;
  /** Stops a running or held run, rolling back its completed steps unless rollback is false. */
  cancel(
    runId: string,
    req: { principal: Principal; rollback?: boolean; reason?: string },
  ): Promise<RunResult>;
  listRuns(planId?: string): Promise<RunRecord[]>;
  /** One run's record, or undefined. */
  getRun(runId: string): Promise<RunRecord | undefined>;
  audit(req: { planId: string; checks: string[]; principal: Principal }): Promise<{
    result: 'pass' | 'fail';
    receipt?: { index: number; leafHash: string };
    checks: unknown;
  }>;
  listApprovals(planId?: string): Promise<ApprovalView[]>;
  requestApproval(req: Omit<ApprovalRequest, 'id' | 'requestedAt'>): Promise<ApprovalRequest>;
  listApprovalRequests(planId?: string): Promise<ApprovalRequest[]>;
  listPolls(): Promise<GolivePoll[]>;
  /** Whether live mode may be entered: the latest closed go/no-go poll said go. */
  promotionAllowed(): Promise<boolean>;
}

/** Port: external MCP servers listed in config (mcp-client.ts); every call has a time limit. */
export interface ExternalMcpPort {
  servers(): readonly { readonly name: string; readonly region?: string; readonly description?: string }[];
  listTools(
    server: string,
    opts: { signal?: AbortSignal },
  ): Promise<{ name: string; description?: string; inputSchema: unknown; annotations?: unknown }[]>;
  callTool(
    server: string,
    tool: string,
    args: Record<string, unknown>,
    opts: { signal?: AbortSignal; timeoutMs?: number },
  ): Promise<{ isError: boolean; content: unknown[]; structuredContent?: unknown }>;
  close(): Promise<void>;
}

/** Port: remote A2A agents listed in config (a2a.ts); every call has a time limit. */
export interface A2aAgentsPort {
  agents(): readonly { readonly name: string; readonly url: string; readonly region?: string }[];
  /** Sends one task to a named agent and waits for its final state. */
  send(
    agent: string,
    message: { pqid: string; params: Record<string, unknown>; tenant: string; purpose?: string },
    opts: { signal?: AbortSignal; timeoutMs?: number },
  ): Promise<{ taskId: string; state: string; result: unknown }>;
}

/** Everything the built-in tools reach. */
export interface InteropServices {
  readonly ledger: LedgerPort;
  readonly control?: ControlPort;
  /** External MCP servers (absent: none configured). */
  readonly external?: ExternalMcpPort;
  /** Remote A2A agents (absent: none configured). */
  readonly agents?: A2aAgentsPort;
  /** The node's mode and health facts for the readiness tool. */
  readonly node: {
    readonly origin: string;
    readonly mode: 'dry-run' | 'live';
    readonly keySealed: boolean;
    /** Whether the ledger storage answers. */
    storageOk(): Promise<boolean>;
  };
}
