// The built-in VaultMesh tools that agents call through the gateway (MCP, A2A, REST): ledger, plans, approvals,
// go/no-go, readiness and persisted queries, one module per area. Each declares its schemas and annotations; none
// decides anything about authorization itself (the gateway asks policy first, and the control plane asks again for
// what it runs).
import type { ToolGateway, ToolSpec } from '../gateway.ts';
import type { QueryRegistry } from '../queries.ts';
import type { InteropServices } from '../services.ts';
import { gatesTools } from './gates.ts';
import { ledgerTools } from './ledger.ts';
import { plansTools } from './plans.ts';
import { queriesTools } from './queries.ts';

export { readScope } from './shared.ts';
/** A principal for tests and local callers. */
export type { Principal } from '@vaultmesh/types';

/** The order agents see the tools in (tools/list). */
const ORDER = [
  'record_decision',
  'search_receipts',
  'get_receipt',
  'prove_receipt',
  'verify_ledger',
  'create_plan',
  'dry_run_plan',
  'execute_plan',
  'resume_run',
  'cancel_run',
  'audit_plan',
  'request_approval',
  'golive_status',
  'readiness',
  'get_checkpoint',
  'get_plan',
  'get_policies',
  'list_queries',
  'run_query',
];

/** Builds the tool list (each a ToolSpec over InteropServices). */
export function builtinTools(queries: QueryRegistry): ToolSpec<InteropServices>[] {
  const all = [...ledgerTools(), ...plansTools(), ...gatesTools(), ...queriesTools(queries)];
  return all.sort((a, b) => ORDER.indexOf(a.name) - ORDER.indexOf(b.name));
}

/** Registers the built-in tools on a gateway. */
export function registerBuiltinTools(gateway: ToolGateway<InteropServices>, queries: QueryRegistry): void {
  for (const t of builtinTools(queries)) gateway.register(t);
}
