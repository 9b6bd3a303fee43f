// The governed tool gateway: schema first, then policy, then the tool; a tool cannot touch any service before an
// allow; time limits, output schemas and the `tool` receipt of every call that ran.
import type { PolicyDecider, PolicyDecision, PolicyRequest, ReceiptWriter } from '@vaultmesh/control';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  InteropError,
  createQueryRegistry,
  createToolGateway,
  externalMcpTools,
  registerA2aPerformTool,
  registerBuiltinTools,
  type Caller,
  type InteropServices,
  type ToolGateway,
} from '../src/index.ts';

const HASH = 'a'.repeat(64);
const caller: Caller = {
  principal: { type: 'agent', id: 'agent:t', role: 'agent', tenant: 'acme' },
  purpose: 'testing',
  via: 'mcp',
};

/** Valid arguments for every built-in tool: a new tool must be added here, or the coverage test fails. */
const SAMPLE_ARGS: Record<string, Record<string, unknown>> = {
  record_decision: { title: 't' },
  search_receipts: { kind: 'decision' },
  get_receipt: { index: 0 },
  prove_receipt: { index: 0 },
  verify_ledger: {},
  create_plan: {
    intent: { kind: 'scale', tenant: 'acme', environment: 'staging', service: 'api', replicas: 3 },
  },
  dry_run_plan: { planId: 'p', planHash: HASH },
  execute_plan: { planId: 'p', planHash: HASH },
  audit_plan: { planId: 'p' },
  resume_run: { runId: 'r' },
  cancel_run: { runId: 'r' },
  request_approval: { planId: 'p', planHash: HASH, phaseId: 'apply', reason: 'r' },
  golive_status: {},
  readiness: {},
  get_checkpoint: {},
  get_plan: { planId: 'p' },
  get_policies: {},
  list_queries: {},
  run_query: { pqid: 'receipts.recent' },
  a2a_perform: { agent: 'peer', pqid: 'ledger.status' },
  list_external_tools: { server: 'ext' },
  call_external_tool: { server: 'ext', tool: 'echo', arguments: {} },
};

type Event =
  { what: 'decide'; request: PolicyRequest } | { what: 'service'; name: string } | { what: 'append' };

/** Services whose every property access is logged: anything a tool touches shows up in `events`. */
function spiedServices(events: Event[]): InteropServices {
  const spy = (name: string): unknown =>
    new Proxy(
      {},
      {
        get(_t, prop) {
          if (prop === 'then') return undefined;
          events.push({ what: 'service', name: `${name}.${String(prop)}` });
          return (..._args: unknown[]) => {
            const failed = Promise.reject(new Error(`fake ${name}.${String(prop)}`));
            failed.catch(() => undefined); // a tool may hold it without awaiting; never unhandled
            return failed;
          };
        },
      },
    );
  return {
    ledger: spy('ledger') as InteropServices['ledger'],
    control: spy('control') as InteropServices['control'],
    node: spy('node') as InteropServices['node'],
    external: spy('external') as InteropServices['external'],
    agents: spy('agents') as InteropServices['agents'],
  };
}

function decider(events: Event[], decision: 'allow' | 'deny' | 'throw'): PolicyDecider {
  return {
    policySetHash: HASH,
    async decide(request): Promise<PolicyDecision> {
      events.push({ what: 'decide', request });
      if (decision === 'throw') throw new Error('wasm trap');
      return {
        decision,
        reasons: decision === 'deny' ? ['forbid-test'] : ['permit-test'],
        errors: [],
        policySetHash: HASH,
      };
    },
  };
}

function writer(events: Event[], appended: { kind: string; body: Record<string, unknown> }[]): ReceiptWriter {
  return {
    async append(input) {
      events.push({ what: 'append' });
      appended.push({ kind: input.kind, body: input.body });
      return { index: appended.length - 1, leafHash: HASH };
    },
  };
}

function builtinGateway(decision: 'allow' | 'deny' | 'throw') {
  const events: Event[] = [];
  const appended: { kind: string; body: Record<string, unknown> }[] = [];
  const gateway = createToolGateway<InteropServices>({
    decider: decider(events, decision),
    receipts: writer(events, appended),
    services: spiedServices(events),
  });
  registerBuiltinTools(gateway, createQueryRegistry());
  // The tools a node adds when configured (remote A2A agents) must obey the same order.
  registerA2aPerformTool(gateway, [{ name: 'peer', region: 'eu-west-1' }]);
  for (const t of externalMcpTools([{ name: 'ext', url: 'http://127.0.0.1:9/mcp' }])) gateway.register(t);
  return { gateway, events, appended };
}

describe('the tool gateway', () => {
  it('has sample arguments for every built-in and configured tool (so the next tests cover them all)', () => {
    const { gateway } = builtinGateway('deny');
    expect(
      gateway
        .list()
        .map((t) => t.name)
        .sort(),
    ).toEqual(Object.keys(SAMPLE_ARGS).sort());
  });

  it.each(['deny', 'throw'] as const)(
    'no tool reaches any service or the ledger when policy says %s: the call is DENIED',
    async (mode) => {
      const { gateway, events, appended } = builtinGateway(mode);
      for (const tool of gateway.list()) {
        events.length = 0;
        const err = await gateway.call(tool.name, SAMPLE_ARGS[tool.name], caller).catch((e: unknown) => e);
        expect(err, tool.name).toBeInstanceOf(InteropError);
        expect((err as InteropError).code, tool.name).toBe('DENIED');
        expect(
          events.map((e) => e.what),
          tool.name,
        ).toEqual(['decide']);
      }
      expect(appended).toEqual([]);
    },
  );

  it('create_plan checks the real intent schema on every edge: a bad intent is refused before policy, nothing recorded', async () => {
    const { gateway, events, appended } = builtinGateway('allow');
    const err = (await gateway
      .call('create_plan', { intent: { kind: 'scale', service: 'api', replicas: -1, typo: true } }, caller)
      .catch((e: unknown) => e)) as InteropError;
    expect(err.code).toBe('INVALID_INPUT');
    expect(err.message).toMatch(/\/intent/);
    expect(events).toEqual([]);
    expect(appended).toEqual([]);
  });

  it('every tool asks policy once, as tool:<name> with the caller’s identity, before it touches anything', async () => {
    const { gateway, events } = builtinGateway('allow');
    for (const tool of gateway.list()) {
      events.length = 0;
      await gateway.call(tool.name, SAMPLE_ARGS[tool.name], caller).catch(() => undefined);
      const first = events[0];
      expect(first?.what, tool.name).toBe('decide');
      expect(
        events.filter((e) => e.what === 'decide'),
        tool.name,
      ).toHaveLength(1);
      const req = (first as { request: PolicyRequest }).request;
      expect(req.action).toBe(`tool:${tool.name}`);
      expect(req.principal).toEqual(caller.principal);
      expect(req.resource).toMatchObject({ type: 'tool', tenant: 'acme' });
      expect(req.context).toMatchObject({
        purpose: 'testing',
        transport: 'mcp',
        readOnly: tool.annotations.readOnlyHint,
        destructive: tool.annotations.destructiveHint,
      });
    }
  });

  it('refuses an unknown tool and arguments outside the schema before policy, and records nothing', async () => {
    const { gateway, events, appended } = builtinGateway('allow');
    const cases: [string, unknown, RegExp][] = [
      ['no_such_tool', {}, /unknown tool "no_such_tool"/],
      ['get_receipt', { index: 'zero' }, /index: Expected number/],
      ['get_receipt', { index: 1, extra: true }, /Unrecognized key\(s\) in object: 'extra'/],
      ['record_decision', {}, /title: Required/],
      ['run_query', { pqid: 'drop table' }, /not a persisted query/],
      ['record_decision', 'not an object', /Expected object/],
    ];
    for (const [name, args, message] of cases) {
      const err = (await gateway.call(name, args, caller).catch((e: unknown) => e)) as InteropError;
      expect(err.code).toBe('INVALID_INPUT');
      expect(err.message).toMatch(message);
    }
    expect(events).toEqual([]);
    expect(appended).toEqual([]);
  });

  it('records each call that ran as a tool receipt: digests of arguments and result, never their values', async () => {
    const events: Event[] = [];
    const appended: { kind: string; body: Record<string, unknown> }[] = [];
    const g: ToolGateway<{ secret: string }> = createToolGateway({
      decider: decider(events, 'allow'),
      receipts: writer(events, appended),
      services: { secret: 's3cr3t' },
    });
    g.register({
      name: 'echo',
      title: 'Echo',
      description: 'echo',
      input: { text: z.string() },
      output: { text: z.string() },
      annotations: { readOnlyHint: true, destructiveHint: false },
      run: async (a) => ({ text: a.text }),
    });
    const r = await g.call('echo', { text: 'password=hunter2' }, caller);
    expect(r.output).toEqual({ text: 'password=hunter2' });
    expect(appended).toHaveLength(1);
    expect(appended[0]!.kind).toBe('tool');
    expect(appended[0]!.body).toMatchObject({ tool: 'echo', via: 'mcp', outcome: 'ok', purpose: 'testing' });
    expect(JSON.stringify(appended[0])).not.toContain('hunter2');
  });

  it('stops a call at its time limit (TIMEOUT, recorded) and refuses output outside the tool’s schema', async () => {
    const events: Event[] = [];
    const appended: { kind: string; body: Record<string, unknown> }[] = [];
    const g = createToolGateway<object>({
      decider: decider(events, 'allow'),
      receipts: writer(events, appended),
      services: {},
      timeoutMs: 50,
    });
    let aborted = false;
    g.register({
      name: 'slow',
      title: 'Slow',
      description: 'never ends',
      input: {},
      output: {},
      annotations: { readOnlyHint: true, destructiveHint: false },
      run: (_a, ctx) =>
        new Promise(() => {
          ctx.signal.addEventListener('abort', () => (aborted = true));
        }),
    });
    g.register({
      name: 'liar',
      title: 'Liar',
      description: 'bad output',
      input: {},
      output: { n: z.number() },
      annotations: { readOnlyHint: true, destructiveHint: false },
      run: async () => ({ n: 'not a number' }) as unknown as { n: number },
    });
    const t = (await g.call('slow', {}, caller).catch((e: unknown) => e)) as InteropError;
    expect(t.code).toBe('TIMEOUT');
    expect(aborted).toBe(true);
    expect(appended[0]!.body).toMatchObject({ tool: 'slow', outcome: 'timeout' });
    const l = (await g.call('liar', {}, caller).catch((e: unknown) => e)) as InteropError;
    expect(l.code).toBe('FAILED');
    expect(l.message).toMatch(/outside its schema/);
    expect(appended[1]!.body).toMatchObject({ tool: 'liar', outcome: 'failed' });
  });

  it('acts in the caller’s tenant, or the named one; a "*" caller without a tenant acts in "default"', async () => {
    const { gateway, events } = builtinGateway('deny');
    await gateway.call('readiness', {}, caller).catch(() => undefined);
    await gateway.call('search_receipts', { tenant: 'globex' }, caller).catch(() => undefined);
    await gateway
      .call('readiness', {}, { ...caller, principal: { ...caller.principal, tenant: '*' } })
      .catch(() => undefined);
    const tenants = events.map((e) => (e as { request: PolicyRequest }).request.resource.tenant);
    // A caller naming another tenant is still asked about (and Cedar denies it outside its scope).
    expect(tenants).toEqual(['acme', 'globex', 'default']);
  });
});
