// Test parts for the executor: a real Log (memory storage, real Ed25519 key) as the ReceiptWriter, simple in-test
// implementations of the policy, autonomy and tripwire ports (the real ones live in other files and packages),
// and real local HTTP servers.
import { generateNodeKey, nodeHasher } from '@vaultmesh/attest';
import { decodeReceipt, type Receipt } from '@vaultmesh/ledger';
import { Log, createMemoryStorage, type LogStorage } from '@vaultmesh/log';
import type {
  AutonomyGate,
  FiredTripwire,
  LedgerQuery,
  PolicyDecider,
  PolicyDecision,
  PolicyRequest,
  Principal,
  StepFacts,
  TripwireCheck,
} from '../../src/index.ts';

export const ORIGIN = 'test.vaultmesh/control';
const key = generateNodeKey(ORIGIN);

export const operator: Principal = { type: 'person', id: 'ops@acme', role: 'operator', tenant: 'acme' };
export const approver: Principal = { type: 'person', id: 'lead@acme', role: 'admin', tenant: 'acme' };
export const viewer: Principal = { type: 'person', id: 'guest@acme', role: 'viewer', tenant: 'acme' };

/** A real Log over the given (default: memory) storage; it is the ReceiptWriter (same append signature). */
export async function openLedger(storage: LogStorage = createMemoryStorage()) {
  const log = await Log.open({ storage, origin: ORIGIN, signer: key.signer, hasher: nodeHasher });
  /** Every receipt, decoded from its stored leaf bytes. */
  const all = async (): Promise<Receipt[]> => {
    const out: Receipt[] = [];
    for (let i = 0; i < log.size; i++) out.push(decodeReceipt((await log.getEntry(i)).bytes));
    return out;
  };
  /** LedgerQuery over the same storage (for `ledger` preconditions). */
  const query: LedgerQuery = {
    async hasReceipt(q) {
      const entries = await storage.listEntries({ kind: q.kind, tenants: [q.tenant], limit: 1000 });
      return entries.some((e) => {
        const body = decodeReceipt(e.bytes).body;
        return Object.entries(q.body).every(([k, v]) => body[k] === v);
      });
    },
  };
  return { log, storage, receipts: log, all, query };
}

/** A policy decider whose rule and policy set hash a test can change. Denies by default what `rule` denies. */
export function testPolicy(rule: (req: PolicyRequest) => boolean = () => true) {
  const state = { hash: 'a'.repeat(64), rule, requests: [] as PolicyRequest[] };
  const decider: PolicyDecider & { state: typeof state } = {
    state,
    get policySetHash() {
      return state.hash;
    },
    async decide(req): Promise<PolicyDecision> {
      state.requests.push(req);
      const allow = state.rule(req);
      return {
        decision: allow ? 'allow' : 'deny',
        reasons: [allow ? 'test-allow' : 'test-deny'],
        errors: [],
        policySetHash: state.hash,
      };
    },
  };
  return decider;
}

/** Steps of risk in `needApproval` need a human; everything else is automatic. */
export function testAutonomy(
  needApproval: readonly StepFacts['risk'][] = ['high', 'critical'],
): AutonomyGate & {
  seen: StepFacts[];
} {
  const seen: StepFacts[] = [];
  return {
    seen,
    async decide(step) {
      seen.push(step);
      return needApproval.includes(step.risk)
        ? { mode: 'approval-required', tier: 'T1', reason: `${step.risk} risk needs a human` }
        : { mode: 'auto', tier: 'T1', reason: 'low enough risk' };
    },
  };
}

/** Tripwires a test arms: `arm(stepId, wire)` fires `wire` before that step. */
export function testTripwires(): TripwireCheck & {
  arm(stepId: string, t: FiredTripwire): void;
  clear(): void;
} {
  const armed = new Map<string, FiredTripwire>();
  return {
    arm: (id, t) => void armed.set(id, t),
    clear: () => armed.clear(),
    async check(step) {
      const t = armed.get(step.stepId);
      return t ? [t] : [];
    },
  };
}

export { localServer } from '../../src/testing/local-server.ts';
