// The OpenAI-compatible strategist against a local fake server (node:http on 127.0.0.1) answering in the
// Chat Completions response shape: a valid plan, an invalid plan, non-JSON content, HTTP 500 and a timeout.
// Nothing real was called: no OpenAI-compatible API is reachable from the test machine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlError, createOpenAiStrategist, type Plan } from '../src/index.ts';
import { localServer } from './helpers/harness.ts';
import { samplePlan } from './helpers/plans.ts';

const API_KEY = 'sk-test-5ecret-never-printed';
const target = { environment: 'staging', namespace: 'shop', tenant: 'acme' };

/** A Chat Completions response carrying `content` as the assistant message (recorded shape). */
function completion(content: string) {
  return {
    id: 'chatcmpl-test',
    object: 'chat.completion',
    created: 1_750_000_000,
    model: 'test-model',
    choices: [{ index: 0, message: { role: 'assistant', content }, logprobs: null, finish_reason: 'stop' }],
    usage: { prompt_tokens: 1000, completion_tokens: 200, total_tokens: 1200 },
  };
}

let mode: 'valid' | 'invalid' | 'not-json' | 'http-500' | 'hang' | 'other-tenant' | 'echo-key' = 'valid';
const requests: { headers: Record<string, unknown>; body: Record<string, unknown>; url: string }[] = [];
let srv: Awaited<ReturnType<typeof localServer>>;

beforeAll(async () => {
  srv = await localServer((req, res, body) => {
    requests.push({
      headers: req.headers,
      body: JSON.parse(body) as Record<string, unknown>,
      url: req.url ?? '',
    });
    const send = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    const { createdAt: _a, createdBy: _b, ...proposal } = samplePlan({ target });
    if (mode === 'valid') return send(200, completion(JSON.stringify(proposal)));
    if (mode === 'echo-key')
      return send(
        200,
        completion(JSON.stringify({ ...proposal, goal: `restart (called with key ${API_KEY})` })),
      );
    if (mode === 'other-tenant')
      return send(200, completion(JSON.stringify({ ...proposal, target: { ...target, tenant: 'evil' } })));
    if (mode === 'invalid') {
      const bad = structuredClone(proposal) as Record<string, unknown> & {
        phases: { steps: Record<string, unknown>[] }[];
      };
      bad.phases[0]!.steps[0]!.risk = 'yolo';
      bad.escalate = true;
      return send(200, completion(JSON.stringify(bad)));
    }
    if (mode === 'not-json') return send(200, completion('Sure! Here is your plan: step 1, restart.'));
    if (mode === 'http-500')
      return send(500, { error: { message: `internal error (key ${API_KEY})`, type: 'server_error' } });
    // hang: never answer
  });
});
afterAll(() => srv.close());

const strategist = (timeoutMs = 5_000) =>
  createOpenAiStrategist({
    baseUrl: `${srv.url}/v1/`,
    apiKey: API_KEY,
    model: 'test-model',
    timeoutMs,
    now: () => Date.parse('2025-06-01T00:00:00.000Z'),
  });

async function failure(p: Promise<Plan>): Promise<ControlError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(ControlError);
  expect(String((e as Error).message)).not.toContain(API_KEY);
  expect(JSON.stringify((e as ControlError).details ?? {})).not.toContain(API_KEY);
  return e as ControlError;
}

describe('OpenAI-compatible strategist', () => {
  it('posts a JSON-mode chat completion whose system prompt carries the plan JSON Schema, and returns the plan', async () => {
    mode = 'valid';
    const plan = await strategist().plan({ goal: 'restart the api', target });
    expect(plan.id).toBe('plan-1');
    expect(plan.createdBy).toBe('strategist:openai:test-model');
    expect(plan.createdAt).toBe('2025-06-01T00:00:00.000Z');
    const r = requests.at(-1)!;
    expect(r.url).toBe('/v1/chat/completions');
    expect(r.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(r.body).toMatchObject({
      model: 'test-model',
      response_format: { type: 'json_object' },
      temperature: 0,
    });
    const [system, user] = r.body.messages as { role: string; content: string }[];
    expect(system!.role).toBe('system');
    expect(system!.content).toContain('"additionalProperties":false');
    expect(system!.content).toContain('"reversible"');
    expect(JSON.parse(user!.content)).toEqual({ goal: 'restart the api', target });
  });

  it('refuses an invalid plan with PLAN_INVALID naming each problem', async () => {
    mode = 'invalid';
    const e = await failure(strategist().plan({ goal: 'restart', target }));
    expect(e.code).toBe('PLAN_INVALID');
    expect(e.details!.problems).toEqual(
      expect.arrayContaining([
        '(root): Unrecognized key: "escalate"',
        expect.stringMatching(/^\/phases\/0\/steps\/0\/risk:/),
      ]),
    );
  });

  it('refuses a plan for another tenant than the request', async () => {
    mode = 'other-tenant';
    const e = await failure(strategist().plan({ goal: 'restart', target }));
    expect(e.code).toBe('PLAN_INVALID');
    expect(e.message).toMatch(/targets evil\/staging/);
  });

  it('refuses an assistant message that is not JSON', async () => {
    mode = 'not-json';
    const e = await failure(strategist().plan({ goal: 'restart', target }));
    expect(e.code).toBe('PLAN_INVALID');
    expect(e.message).toMatch(/not JSON/);
  });

  it('reports HTTP 500 as UPSTREAM_FAILED without the API key, even when the server echoes it', async () => {
    mode = 'http-500';
    const e = await failure(strategist().plan({ goal: 'restart', target }));
    expect(e.code).toBe('UPSTREAM_FAILED');
    expect(e.details).toEqual({ status: 500 });
  });

  it('scrubs the API key from what the model sends back: an echo never reaches the plan', async () => {
    mode = 'echo-key';
    const plan = await strategist().plan({ goal: 'restart', target });
    expect(plan.goal).toBe('restart (called with key [redacted])');
    expect(JSON.stringify(plan)).not.toContain(API_KEY);
  });

  it('gives up after timeoutMs with UPSTREAM_FAILED', async () => {
    mode = 'hang';
    const e = await failure(strategist(300).plan({ goal: 'restart', target }));
    expect(e.code).toBe('UPSTREAM_FAILED');
    expect(e.message).toMatch(/timed out after 300 ms/);
  });
});
