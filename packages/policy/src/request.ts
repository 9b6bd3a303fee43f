// Maps a PolicyRequest (the control plane's port) onto a Cedar authorization request over the VaultMesh schema.
// Attacker-controlled input: requests carry caller-supplied ids, tenants and context, so every field is checked
// for type and size here, before anything reaches Cedar; a request that breaks a rule is refused (a deny).
import type { PolicyRequest } from '@vaultmesh/types';
import { NAMESPACE } from './schema.ts';

/** Size limits on a request; anything larger is a malformed request (deny), which bounds evaluation cost. */
export const REQUEST_LIMITS = {
  /** Principal and resource ids. */
  idChars: 256,
  /** The action string, including a ":<step kind>" or ":<tool>" suffix. */
  actionChars: 200,
  /** environment, region, and the action suffix. */
  attrChars: 128,
  contextKeys: 32,
  contextKeyChars: 64,
  contextStringChars: 1024,
  /** Items of one array (Cedar set) in the context. */
  contextSetItems: 64,
} as const;

/** Principal.type → Cedar entity type. */
const PRINCIPAL_TYPES: Readonly<Record<string, string>> = {
  person: `${NAMESPACE}::Person`,
  agent: `${NAMESPACE}::Agent`,
  service: `${NAMESPACE}::Service`,
};

/** resource.type → Cedar entity type. */
const RESOURCE_TYPES: Readonly<Record<string, string>> = {
  plan: `${NAMESPACE}::Plan`,
  tenant: `${NAMESPACE}::Tenant`,
  environment: `${NAMESPACE}::Environment`,
  provider: `${NAMESPACE}::Provider`,
  ledger: `${NAMESPACE}::Ledger`,
  tool: `${NAMESPACE}::Tool`,
  template: `${NAMESPACE}::Template`,
};

const ROLES = new Set(['admin', 'operator', 'agent', 'auditor', 'viewer']);
/** The ledger's tenant rule (packages/ledger/src/receipt.ts); "*" is allowed for principals only. */
const TENANT = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
const ACTION = /^([a-z][a-z0-9_.-]*)(?::(.+))?$/;
const CONTEXT_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

type Scalar = string | boolean | number;
type ContextValue = Scalar | Scalar[];

/** A Cedar entity reference. */
export interface CedarUid {
  readonly type: string;
  readonly id: string;
}

/** The Cedar request a PolicyRequest maps to (the inputs of isAuthorized, less policies and schema). */
export interface CedarRequest {
  readonly principal: CedarUid;
  readonly action: CedarUid;
  readonly resource: CedarUid;
  readonly context: Record<string, ContextValue>;
  readonly entities: {
    uid: CedarUid;
    attrs: Record<string, string>;
    parents: CedarUid[];
  }[];
}

/** Why a request was refused before evaluation. */
export class MalformedRequest extends Error {}

const isPlainObject = (v: unknown): v is Record<string, unknown> => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
};

function text(v: unknown, what: string, max: number): string {
  if (typeof v !== 'string' || v.length === 0)
    throw new MalformedRequest(`${what} must be a non-empty string`);
  if (v.length > max) throw new MalformedRequest(`${what} is longer than ${max} characters`);
  return v;
}

function scalar(v: unknown, what: string): Scalar {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    if (v.length > REQUEST_LIMITS.contextStringChars)
      throw new MalformedRequest(`${what} is longer than ${REQUEST_LIMITS.contextStringChars} characters`);
    return v;
  }
  // Cedar has 64-bit integers only; fractions and unsafe integers would change meaning on the way in.
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  throw new MalformedRequest(`${what} must be a string, a boolean or a safe integer`);
}

/** The context as Cedar sees it: known fields type-checked, dryRun and time filled in, action suffix merged. */
function toContext(raw: unknown, nowMs: number): Record<string, ContextValue> {
  if (raw === undefined) raw = {};
  if (!isPlainObject(raw)) throw new MalformedRequest('context must be a JSON object');
  const keys = Object.keys(raw);
  if (keys.length > REQUEST_LIMITS.contextKeys)
    throw new MalformedRequest(`context has more than ${REQUEST_LIMITS.contextKeys} keys`);
  const out: Record<string, ContextValue> = {};
  for (const k of keys) {
    const v = raw[k];
    if (v === undefined) continue;
    if (k.length > REQUEST_LIMITS.contextKeyChars || !CONTEXT_KEY.test(k))
      throw new MalformedRequest(
        `context key "${k.slice(0, 64)}" is not an identifier of at most 64 characters`,
      );
    if (Array.isArray(v)) {
      if (v.length > REQUEST_LIMITS.contextSetItems)
        throw new MalformedRequest(`context.${k} has more than ${REQUEST_LIMITS.contextSetItems} items`);
      out[k] = v.map((x, i) => scalar(x, `context.${k}[${i}]`));
    } else out[k] = scalar(v, `context.${k}`);
  }
  if (out['dryRun'] === undefined) out['dryRun'] = false;
  else if (typeof out['dryRun'] !== 'boolean') throw new MalformedRequest('context.dryRun must be a boolean');
  if (out['time'] === undefined) out['time'] = new Date(Math.floor(nowMs)).toISOString();
  else if (typeof out['time'] !== 'string' || !RFC3339.test(out['time']))
    throw new MalformedRequest('context.time must be an RFC 3339 date-time');
  return out;
}

/**
 * Maps a PolicyRequest onto a Cedar request. "execute:<kind>" becomes action "execute" with context.stepAction,
 * "tool:<name>" becomes action "tool" with context.tool; any other action string is the Cedar action id as is.
 * Throws MalformedRequest on any broken rule.
 */
export function toCedarRequest(req: PolicyRequest, nowMs: number): CedarRequest {
  const r: unknown = req;
  if (!isPlainObject(r)) throw new MalformedRequest('request must be an object');
  const p = r['principal'];
  const res = r['resource'];
  if (!isPlainObject(p)) throw new MalformedRequest('principal must be an object');
  if (!isPlainObject(res)) throw new MalformedRequest('resource must be an object');

  const pType = typeof p['type'] === 'string' ? PRINCIPAL_TYPES[p['type']] : undefined;
  if (!pType || !Object.hasOwn(PRINCIPAL_TYPES, p['type'] as string))
    throw new MalformedRequest('principal.type must be one of person, agent, service');
  const pId = text(p['id'], 'principal.id', REQUEST_LIMITS.idChars);
  const role = p['role'];
  if (typeof role !== 'string' || !ROLES.has(role))
    throw new MalformedRequest('principal.role must be one of admin, operator, agent, auditor, viewer');
  const pTenant = p['tenant'];
  if (typeof pTenant !== 'string' || (pTenant !== '*' && !TENANT.test(pTenant)))
    throw new MalformedRequest('principal.tenant must be a tenant name or "*"');

  const rType = typeof res['type'] === 'string' ? RESOURCE_TYPES[res['type']] : undefined;
  if (!rType || !Object.hasOwn(RESOURCE_TYPES, res['type'] as string))
    throw new MalformedRequest(
      'resource.type must be one of plan, tenant, environment, provider, ledger, tool',
    );
  const rId = text(res['id'], 'resource.id', REQUEST_LIMITS.idChars);
  // "*" names no tenant: a resource always belongs to exactly one, so a wildcard here is refused.
  const rTenant = res['tenant'];
  if (typeof rTenant !== 'string' || !TENANT.test(rTenant))
    throw new MalformedRequest('resource.tenant must be a tenant name (not "*")');
  const rAttrs: Record<string, string> = { tenant: rTenant };
  for (const k of ['environment', 'region'] as const) {
    if (res[k] !== undefined) rAttrs[k] = text(res[k], `resource.${k}`, REQUEST_LIMITS.attrChars);
  }

  const action = text(r['action'], 'action', REQUEST_LIMITS.actionChars);
  const m = ACTION.exec(action);
  if (!m) throw new MalformedRequest(`action "${action}" is not of the form name or name:argument`);
  const base = m[1]!;
  const context = toContext(r['context'], nowMs);
  // Only execute and tool carry an argument; any other "a:b" (e.g. "autonomy:set") is one Cedar action id,
  // which the schema must declare like any other action.
  const key = base === 'execute' ? 'stepAction' : base === 'tool' ? 'tool' : undefined;
  const actionId = m[2] !== undefined && !key ? action : base;
  if (m[2] !== undefined && key) {
    const arg = text(m[2], `the argument of action ${base}`, REQUEST_LIMITS.attrChars);
    if (context[key] !== undefined && context[key] !== arg)
      throw new MalformedRequest(`action "${action}" contradicts context.${key} "${String(context[key])}"`);
    context[key] = arg;
  }

  const principal = { type: pType, id: pId };
  const resource = { type: rType, id: rId };
  return {
    principal,
    action: { type: `${NAMESPACE}::Action`, id: actionId },
    resource,
    context,
    entities: [
      { uid: principal, attrs: { id: pId, role, tenant: pTenant }, parents: [] },
      { uid: resource, attrs: rAttrs, parents: [] },
    ],
  };
}
