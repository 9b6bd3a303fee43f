// API tokens, roles and tenant scope: what is stored (only a hash), how a bearer token is checked (every failure
// the same UNAUTHENTICATED, audiences, expiry, revocation), and what each role may do where.
import { describe, expect, it } from 'vitest';
import {
  AuthError,
  ROLES,
  ROLE_PERMISSIONS,
  authenticate,
  authorize,
  authorizeResource,
  bearerToken,
  can,
  createMemoryTokenStore,
  createToken,
  publicTokenView,
  readableTenants,
  tokenActor,
  type Principal,
} from '../src/index.ts';

/** The secret part of `vm_<16 hex id>_<secret>` (the secret's base64url may itself hold '_'). */
const secretOf = (token: string): string => token.slice('vm_'.length + 16 + 1);
const T0 = 1_767_225_600_000;

const failure = async (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected an AuthError');
    },
    (e: unknown) => {
      expect(e).toBeInstanceOf(AuthError);
      return e as AuthError;
    },
  );

describe('tokens', () => {
  it('stores only the SHA-256 of the secret, and the token authenticates as its record', async () => {
    const store = createMemoryTokenStore();
    const { record, token } = await createToken(store, {
      name: 'ops',
      role: 'operator',
      tenant: 'acme',
      now: T0,
    });
    expect(token).toMatch(/^vm_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(secretOf(token)).toHaveLength(43);
    const stored = (await store.getToken(record.id))!;
    expect(JSON.stringify(stored)).not.toContain(secretOf(token));
    expect(stored.secretHash).toMatch(/^[0-9a-f]{64}$/);
    expect(publicTokenView(stored)).not.toHaveProperty('secretHash');
    const p = await authenticate(store, token, T0);
    expect(p).toMatchObject({ tokenId: record.id, name: 'ops', role: 'operator', tenant: 'acme' });
    expect(tokenActor(p)).toBe(`token:acme/ops#${record.id}`);
  });

  it('refuses a missing, malformed, unknown, wrong, revoked or expired token with UNAUTHENTICATED', async () => {
    const store = createMemoryTokenStore();
    const { record, token } = await createToken(store, {
      role: 'viewer',
      tenant: 'acme',
      ttlMs: 1000,
      now: T0,
    });
    const wrongSecret = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
    const unknown = `vm_${'0'.repeat(16)}_${secretOf(token)}`;
    for (const t of [undefined, 'nope', unknown, wrongSecret])
      expect((await failure(authenticate(store, t, T0))).code).toBe('UNAUTHENTICATED');
    expect((await failure(authenticate(store, token, T0 + 1000))).message).toBe('token expired');
    await store.revokeToken(record.id, T0 + 1);
    expect((await failure(authenticate(store, token, T0 + 2))).message).toBe('token revoked');
  });

  it('binds a token to its audiences: one issued for MCP is refused at the API', async () => {
    const store = createMemoryTokenStore();
    const { token } = await createToken(store, { role: 'agent', tenant: 'acme', audience: ['mcp'] });
    expect((await authenticate(store, token, Date.now(), 'mcp')).audience).toEqual(['mcp']);
    expect((await failure(authenticate(store, token, Date.now(), 'api'))).message).toMatch(
      /audience \(api\)/,
    );
  });

  it('refuses bad input before storing anything: role, tenant, name, a live name twice', async () => {
    const store = createMemoryTokenStore();
    for (const input of [
      { role: 'root', tenant: 'acme' },
      { role: 'viewer', tenant: 'Acme Corp' },
      { role: 'viewer', tenant: 'acme', name: 'bad\nname' },
      { role: 'viewer', tenant: 'acme', audience: ['ftp'] },
    ])
      expect((await failure(createToken(store, input))).code).toBe('INVALID_ARGUMENT');
    await createToken(store, { name: 'ci', role: 'viewer', tenant: 'acme' });
    expect(
      (await failure(createToken(store, { name: 'ci', role: 'viewer', tenant: 'acme' }))).message,
    ).toMatch(/already has a live token named "ci"/);
    // The same name in another tenant is another holder.
    await createToken(store, { name: 'ci', role: 'viewer', tenant: 'beta' });
    expect(await store.listTokens()).toHaveLength(2);
  });

  it('reads the bearer token from an Authorization header only in the Bearer form', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer   abc ')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(bearerToken('Bearer a b')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
});

describe('roles and scope', () => {
  const who = (role: Principal['role'], tenant = 'acme'): Principal => ({
    tokenId: '0123456789abcdef',
    name: role,
    role,
    tenant,
    audience: null,
    pollRoles: null,
  });

  it('gives each role exactly its permissions, and admin all of them', () => {
    for (const r of ROLES)
      for (const perm of ROLE_PERMISSIONS.admin)
        expect(can(who(r), perm)).toBe(ROLE_PERMISSIONS[r].includes(perm));
    expect(can(who('viewer'), 'tokens:manage')).toBe(false);
  });

  it('keeps a tenant token in its tenant; a * token reads every tenant', () => {
    expect(() => authorize(who('admin'), 'tokens:manage', 'acme')).not.toThrow();
    expect(() => authorize(who('admin'), 'tokens:manage', 'beta')).toThrow(/scoped to tenant acme, not beta/);
    // For a resource the caller did not name, the refusal does not reveal its tenant.
    expect(() => authorizeResource(who('admin'), 'tokens:manage', 'beta')).toThrow(
      /this resource is outside it/,
    );
    expect(() => authorizeResource(who('admin'), 'tokens:manage', 'beta')).not.toThrow(/beta/);
    expect(readableTenants(who('viewer'))).toEqual(['acme']);
    expect(readableTenants(who('admin', '*'))).toBeUndefined();
  });
});
