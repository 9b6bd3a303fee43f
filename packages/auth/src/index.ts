// @vaultmesh/auth: API tokens (hashed at rest), roles, tenant scope. Decisions are values; storage is a port.
import { VaultMeshError } from '@vaultmesh/types';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const ROLES = ['admin', 'operator', 'agent', 'auditor', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export const PERMISSIONS = [
  'receipts:read',
  'receipts:write',
  'checkpoint:publish',
  'audit:run',
  'tokens:manage',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** What each role may do (within its tenant scope). */
export const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  admin: PERMISSIONS,
  operator: ['receipts:read', 'receipts:write', 'checkpoint:publish', 'audit:run'],
  agent: ['receipts:read', 'receipts:write'],
  auditor: ['receipts:read', 'audit:run'],
  viewer: ['receipts:read'],
};

/**
 * Audiences a token may be presented to: the REST API, the MCP endpoint (/mcp, stdio) and the A2A endpoints.
 * An edge refuses a token issued for other audiences (RFC 8707 / MCP authorization: tokens are bound to the
 * resource they were issued for).
 */
export const AUDIENCES = ['api', 'mcp', 'a2a'] as const;
export type Audience = (typeof AUDIENCES)[number];

/** A token's stored form. The secret itself is never stored, only its SHA-256. */
export interface TokenRecord {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  /** A tenant id, or "*" for every tenant. */
  readonly tenant: string;
  /** The audiences it is valid for; null or absent = every audience. */
  readonly audience?: readonly Audience[] | null;
  /** The go/no-go poll roles its holder votes as (e.g. ["sre"]); null or absent = none. */
  readonly pollRoles?: readonly string[] | null;
  readonly secretHash: string;
  readonly createdAt: number;
  readonly expiresAt: number | null;
  readonly revokedAt: number | null;
}

/** Durable token storage. `revoke` returns false when no such token exists. */
export interface TokenStore {
  insertToken(t: TokenRecord): Promise<void>;
  getToken(id: string): Promise<TokenRecord | undefined>;
  listTokens(): Promise<TokenRecord[]>;
  revokeToken(id: string, at: number): Promise<boolean>;
}

/** The authenticated caller. */
export interface Principal {
  readonly tokenId: string;
  readonly name: string;
  readonly role: Role;
  readonly tenant: string;
  /** The token's audiences (null = every audience). */
  readonly audience?: readonly Audience[] | null;
  /** The go/no-go poll roles the holder votes as (from the token, never from a request). */
  readonly pollRoles?: readonly string[] | null;
}

const POLL_ROLE_RE = /^[a-z][a-z0-9_-]{0,31}$/;

/** Parses go/no-go poll roles ("sre,security" or an array); INVALID_ARGUMENT for a malformed one. */
export function parsePollRoles(value: string | readonly string[]): string[] {
  const items = (typeof value === 'string' ? value.split(',') : [...value]).map((r) => r.trim());
  if (items.length === 0 || items.length > 20 || items.some((r) => !POLL_ROLE_RE.test(r)))
    throw new AuthError(
      'INVALID_ARGUMENT',
      'poll roles must be 1 to 20 names of a-z 0-9 _ - (starting with a letter, at most 32 characters)',
    );
  return [...new Set(items)].sort();
}

/** Parses an audience list ("api,mcp" or an array); INVALID_ARGUMENT for an unknown or empty one. */
export function parseAudience(value: string | readonly string[]): Audience[] {
  const items = (typeof value === 'string' ? value.split(',') : [...value]).map((a) => a.trim());
  if (items.length === 0 || items.some((a) => !(AUDIENCES as readonly string[]).includes(a)))
    throw new AuthError(
      'INVALID_ARGUMENT',
      `audience must be a list of ${AUDIENCES.join(', ')} (got "${items.join(',').slice(0, 100)}")`,
    );
  return [...new Set(items as Audience[])].sort();
}

export type AuthErrorCode = 'UNAUTHENTICATED' | 'FORBIDDEN' | 'INVALID_ARGUMENT' | 'NOT_FOUND';

/** The one error class of @vaultmesh/auth. Messages never contain the secret. */
export class AuthError extends VaultMeshError<AuthErrorCode> {
  constructor(code: AuthErrorCode, message: string) {
    super(code, message);
    this.name = 'AuthError';
  }
}

const TENANT_RE = /^(\*|[a-z0-9][a-z0-9_.-]{0,62})$/;
const TOKEN_RE = /^vm_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Creates a token; returns the record and the one-time plaintext (shown once, never stored). */
export async function createToken(
  store: TokenStore,
  input: {
    /** Unique among the tenant's live tokens; default "token-" + the first 8 digits of its id. */
    name?: string;
    role: string;
    tenant: string;
    ttlMs?: number;
    now?: number;
    audience?: readonly string[] | null;
    pollRoles?: readonly string[] | null;
  },
): Promise<{ record: TokenRecord; token: string }> {
  if (!(ROLES as readonly string[]).includes(input.role)) {
    throw new AuthError(
      'INVALID_ARGUMENT',
      `unknown role "${input.role}" (expected one of ${ROLES.join(', ')})`,
    );
  }
  if (!TENANT_RE.test(input.tenant))
    throw new AuthError('INVALID_ARGUMENT', `invalid tenant "${input.tenant}"`);
  const id = randomBytes(8).toString('hex');
  const name = input.name ?? `token-${id.slice(0, 8)}`;
  if (!name || name.length > 100 || [...name].some((c) => c.charCodeAt(0) < 0x20 || c === '\u007f'))
    throw new AuthError('INVALID_ARGUMENT', 'token name must be 1..100 printable characters');
  const audience = input.audience ? parseAudience(input.audience) : null;
  const pollRoles = input.pollRoles ? parsePollRoles(input.pollRoles) : null;
  const now = input.now ?? Date.now();
  // A name is unique among a tenant's live tokens, so a name never stands for two holders in one tenant.
  const clash = (await store.listTokens()).find(
    (t) =>
      t.tenant === input.tenant &&
      t.name === name &&
      t.revokedAt === null &&
      (t.expiresAt === null || t.expiresAt > now),
  );
  if (clash)
    throw new AuthError(
      'INVALID_ARGUMENT',
      `tenant ${input.tenant} already has a live token named "${name}" (id ${clash.id}); revoke it or choose another name`,
    );
  const secret = randomBytes(32).toString('base64url');
  const record: TokenRecord = {
    id,
    name,
    role: input.role as Role,
    tenant: input.tenant,
    audience,
    ...(pollRoles ? { pollRoles } : {}),
    secretHash: hashSecret(secret),
    createdAt: now,
    expiresAt: input.ttlMs ? now + input.ttlMs : null,
    revokedAt: null,
  };
  await store.insertToken(record);
  return { record, token: `vm_${id}_${secret}` };
}

/**
 * Authenticates a bearer token (attacker-controlled). Every failure is UNAUTHENTICATED with no detail leaked.
 * With `audience`, a token issued only for other audiences is refused too.
 */
export async function authenticate(
  store: TokenStore,
  token: string | undefined,
  now = Date.now(),
  audience?: Audience,
): Promise<Principal> {
  if (!token) throw new AuthError('UNAUTHENTICATED', 'missing bearer token');
  const m = TOKEN_RE.exec(token);
  if (!m) throw new AuthError('UNAUTHENTICATED', 'malformed bearer token');
  const rec = await store.getToken(m[1]!);
  const given = Buffer.from(hashSecret(m[2]!), 'hex');
  const want = Buffer.from(rec?.secretHash ?? '00'.repeat(32), 'hex');
  const match = given.length === want.length && timingSafeEqual(given, want);
  if (!rec || !match) throw new AuthError('UNAUTHENTICATED', 'invalid token');
  if (rec.revokedAt !== null) throw new AuthError('UNAUTHENTICATED', 'token revoked');
  if (rec.expiresAt !== null && rec.expiresAt <= now) throw new AuthError('UNAUTHENTICATED', 'token expired');
  const aud = rec.audience ?? null;
  if (audience !== undefined && aud !== null && !aud.includes(audience))
    throw new AuthError('UNAUTHENTICATED', `token is not valid for this audience (${audience})`);
  return {
    tokenId: rec.id,
    name: rec.name,
    role: rec.role,
    tenant: rec.tenant,
    audience: aud,
    pollRoles: rec.pollRoles ?? null,
  };
}

/**
 * How receipts, runs and policy name a token holder: tenant, name and token id, e.g. "token:acme/ops#9f2c4a1b7d3e5f60".
 * A name alone is neither unique nor tenant-qualified, so it never identifies anyone by itself.
 */
export function tokenActor(p: {
  readonly tokenId: string;
  readonly name: string;
  readonly tenant: string;
}): string {
  return `token:${p.tenant}/${p.name}#${p.tokenId}`;
}

/** Extracts the token from an Authorization header ("Bearer <token>"). */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(header.trim());
  return m?.[1];
}

/** True when the principal holds the permission. */
export function can(p: Principal, permission: Permission): boolean {
  return ROLE_PERMISSIONS[p.role].includes(permission);
}

/** True when the principal's scope covers the tenant. */
export function inScope(p: Principal, tenant: string): boolean {
  return p.tenant === '*' || p.tenant === tenant;
}

/** Throws FORBIDDEN unless the principal may do `permission` in `tenant` (if given). */
export function authorize(p: Principal, permission: Permission, tenant?: string): void {
  if (!can(p, permission)) throw new AuthError('FORBIDDEN', `role ${p.role} may not ${permission}`);
  if (tenant !== undefined && !inScope(p, tenant)) {
    throw new AuthError('FORBIDDEN', `token is scoped to tenant ${p.tenant}, not ${tenant}`);
  }
}

/** Like authorize, for a resource whose tenant the caller did not name: the refusal does not reveal it. */
export function authorizeResource(p: Principal, permission: Permission, tenant: string): void {
  authorize(p, permission);
  if (!inScope(p, tenant))
    throw new AuthError('FORBIDDEN', `token is scoped to tenant ${p.tenant}; this resource is outside it`);
}

/** The tenants a principal may read (undefined = all). */
export function readableTenants(p: Principal): string[] | undefined {
  return p.tenant === '*' ? undefined : [p.tenant];
}

/** Records suitable for listing: never includes the hash. */
export function publicTokenView(t: TokenRecord): Omit<TokenRecord, 'secretHash'> {
  const { secretHash: _omit, ...rest } = t;
  return rest;
}

/** A TokenStore in memory (tests, ephemeral nodes). */
export function createMemoryTokenStore(): TokenStore {
  const tokens = new Map<string, TokenRecord>();
  return {
    async insertToken(t) {
      if (tokens.has(t.id)) throw new AuthError('INVALID_ARGUMENT', 'duplicate token id');
      tokens.set(t.id, { ...t });
    },
    async getToken(id) {
      const t = tokens.get(id);
      return t ? { ...t } : undefined;
    },
    async listTokens() {
      return [...tokens.values()].sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
    },
    async revokeToken(id, at) {
      const t = tokens.get(id);
      if (!t || t.revokedAt !== null) return false;
      tokens.set(id, { ...t, revokedAt: at });
      return true;
    },
  };
}
