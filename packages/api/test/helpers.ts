// What the API tests share: a node in memory (log, tokens, metrics, app), tokens per role, seeding, and checks
// that a problem document has the right status and no secret.
import { createHash } from 'node:crypto';
import { generateNodeKey, nodeEd25519Verify, nodeHasher } from '@vaultmesh/attest';
import { createMemoryTokenStore, createToken, type Role, type TokenStore } from '@vaultmesh/auth';
import { fromHex, openNote, parseCheckpoint, type Checkpoint } from '@vaultmesh/ledger';
import { Log, LogError, createMemoryStorage, type LogStorage } from '@vaultmesh/log';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { buildApp, createNodeMetrics, type RateLimits } from '../src/index.ts';

export const ORIGIN = 'api.test.vaultmesh/log';
export const KEY = generateNodeKey(ORIGIN);
export const T0 = Date.parse('2026-01-01T00:00:00.000Z');

export interface TestNode {
  readonly app: FastifyInstance;
  readonly log: Log;
  readonly storage: LogStorage;
  readonly tokens: TokenStore;
  /** Receipt time source of the log (ms); tests move it. */
  readonly clock: { t: number };
  /** Issues a token straight into the store; its secret, secret part and hash are remembered as secrets. */
  mint(
    role: Role,
    tenant: string,
    extra?: { name?: string; ttlMs?: number; now?: number },
  ): Promise<{ id: string; token: string; auth: Record<string, string> }>;
  /** app.inject that fails the test if a remembered secret appears in a response. */
  send(opts: InjectOptions): Promise<LightMyRequestResponse>;
  /** Every response body seen so far (for the leak scan). */
  readonly seen: string[];
  readonly secrets: Set<string>;
  close(): Promise<void>;
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
export const sha256Hex = (s: string) => createHash('sha256').update(s).digest('hex');

export function rememberSecret(secrets: Set<string>, token: string): void {
  secrets.add(token);
  const secret = token.slice('vm_'.length + 16 + 1);
  secrets.add(secret);
  secrets.add(sha256Hex(secret));
}

export function assertNoSecret(secrets: Set<string>, res: LightMyRequestResponse, where: string): void {
  const haystack = res.body + '\n' + JSON.stringify(res.headers);
  for (const s of secrets) {
    if (haystack.includes(s)) throw new Error(`${where}: response contains a token secret`);
  }
}

export async function startNode(
  opts: { bodyLimit?: number; full?: { on: boolean }; rateLimits?: Partial<RateLimits> } = {},
): Promise<TestNode> {
  const base = createMemoryStorage();
  // `full` makes every commit fail as SQLite does on a full disk (the message its writer reports).
  const storage: LogStorage = opts.full
    ? Object.assign(Object.create(base) as LogStorage, {
        commit: async (batch: Parameters<LogStorage['commit']>[0]) => {
          if (opts.full!.on)
            throw new LogError('STORAGE', 'database error: database or disk is full', {
              cause: Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }),
            });
          return base.commit(batch);
        },
      })
    : base;
  const clock = { t: T0 };
  const log = await Log.open({
    storage,
    origin: ORIGIN,
    signer: KEY.signer,
    hasher: nodeHasher,
    now: () => clock.t,
  });
  const tokens = createMemoryTokenStore();
  const metrics = createNodeMetrics({ defaultMetrics: false });
  metrics.bindLog(() => log.stats());
  const app = await buildApp({
    log,
    storage,
    tokens,
    verifierKey: KEY.verifierKey,
    verifierKeyText: KEY.verifierKeyText,
    metrics,
    status: { mode: 'dry-run', storage: 'memory', keySealed: false, version: '0.0.0-test' },
    bodyLimit: opts.bodyLimit,
    maxWaitMs: 5_000,
    ...(opts.rateLimits ? { rateLimits: opts.rateLimits } : {}),
  });
  const secrets = new Set<string>();
  const seen: string[] = [];
  let n = 0;
  return {
    app,
    log,
    storage,
    tokens,
    clock,
    secrets,
    seen,
    async mint(role, tenant, extra = {}) {
      const { record, token } = await createToken(tokens, {
        name: extra.name ?? `${role}-${tenant === '*' ? 'all' : tenant}-${n++}`,
        role,
        tenant,
        ttlMs: extra.ttlMs,
        now: extra.now,
      });
      rememberSecret(secrets, token);
      return { id: record.id, token, auth: bearer(token) };
    },
    async send(o) {
      const res = await app.inject(o);
      seen.push(res.body);
      assertNoSecret(secrets, res, `${o.method ?? 'GET'} ${String(o.url)}`);
      return res;
    },
    async close() {
      await app.close();
      await log.close();
    },
  };
}

export const decision = (title: string, tenant = 'default') => ({
  kind: 'decision',
  actor: 'seed',
  tenant,
  body: { title },
});

export function expectProblem(res: LightMyRequestResponse, status: number, detail: RegExp): void {
  expect({ status: res.statusCode, body: res.body }).toMatchObject({ status });
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const p = res.json() as { status: number; detail: string; title: string; type: string; code: string };
  expect(p.status).toBe(status);
  expect(p.detail).toMatch(detail);
  expect(p.type).toMatch(/^https:\/\//);
  expect(p.title.length).toBeGreaterThan(0);
}

/** Opens a signed note with the node's key and returns the checkpoint it signs. */
export function signedCheckpoint(note: string): Checkpoint {
  return parseCheckpoint(openNote(note, [KEY.verifierKey], nodeEd25519Verify).text);
}

export async function seed(node: TestNode, count: number, make = (i: number) => decision(`decision ${i}`)) {
  const rs = await Promise.all(Array.from({ length: count }, (_, i) => node.log.append(make(i))));
  return rs.map((r) => fromHex(r.leafHash));
}

// ------------------------------------------------------------------------------------------------------------
