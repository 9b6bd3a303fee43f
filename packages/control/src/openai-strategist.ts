// An AI strategist over any OpenAI-compatible Chat Completions API (POST {baseUrl}/chat/completions, JSON mode).
// The model's answer is attacker-controlled input: it is parsed, forced onto the request's target, stamped with
// our own createdBy/createdAt and validated with the plan schema; anything else is PLAN_INVALID. Off by default:
// the composition root creates it only when configured. The API key goes in the Authorization header only and is
// redacted from every error message.
import { BodyTooLargeError, readBoundedText } from '@vaultmesh/net';
import { ControlError } from './errors.ts';
import { parsePlan, planJsonSchema, type Plan } from './plan.ts';
import type { Strategist, StrategistRequest } from './strategist.ts';

/** Options of the OpenAI-compatible strategist. */
export interface OpenAiStrategistOptions {
  /** e.g. "https://api.openai.com/v1" or a local server's ".../v1". */
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly model: string;
  readonly fetch?: typeof fetch;
  /** Whole-request budget; default 60 s. */
  readonly timeoutMs?: number;
  readonly now?: () => number;
  /** Largest response body read; default 1 MiB. */
  readonly maxResponseBytes?: number;
}

/** The system prompt: the task, the rules and the plan JSON Schema. */
export function strategistSystemPrompt(): string {
  return [
    'You are the VaultMesh strategist. Turn the operator request into one change plan.',
    'Answer with a single JSON object that validates against the JSON Schema below, and nothing else.',
    'Rules: ids use only A-Z a-z 0-9 _ . : - ; every step names a registered action (shell, http, probe, wait,',
    'ledger.record, k8s.apply, k8s.rollout, k8s.scale, route.submit) with its params; give every reversible',
    'step a rollback; mark read-only steps readOnly; use the target you are given unchanged.',
    'JSON Schema of the plan:',
    JSON.stringify(planJsonSchema()),
  ].join('\n');
}

/** Reads at most `max` bytes of a response body as text. */
async function readText(res: Response, max: number): Promise<string> {
  try {
    return await readBoundedText(res, { limit: max, what: 'strategist response' });
  } catch (e) {
    if (e instanceof BodyTooLargeError)
      throw new ControlError('UPSTREAM_FAILED', `strategist response is larger than ${max} bytes`);
    throw e;
  }
}

/** Creates the strategist. */
export function createOpenAiStrategist(opts: OpenAiStrategistOptions): Strategist {
  const f = opts.fetch ?? fetch;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const max = opts.maxResponseBytes ?? 1024 * 1024;
  const now = opts.now ?? Date.now;
  const url = `${opts.baseUrl.replace(/\/+$/, '')}/chat/completions`;
  const redact = (s: string) => (opts.apiKey ? s.split(opts.apiKey).join('[redacted]') : s);
  const fail = (
    code: 'UPSTREAM_FAILED' | 'PLAN_INVALID',
    msg: string,
    details?: Record<string, unknown>,
  ): never => {
    throw new ControlError(code, redact(msg), details);
  };
  return {
    name: `openai:${opts.model}`,
    async plan(req: StrategistRequest): Promise<Plan> {
      const target = 'target' in req ? req.target : undefined;
      const body = {
        model: opts.model,
        temperature: 0,
        response_format: { type: 'json_object' },
        messages: [
          { role: 'system', content: strategistSystemPrompt() },
          { role: 'user', content: JSON.stringify(req) },
        ],
      };
      let res: Response;
      let text: string;
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        res = await f(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${opts.apiKey}` },
          body: JSON.stringify(body),
          signal,
        });
        // Whatever the model API sends back is scrubbed of our key before anything else sees it (a plan, a receipt).
        text = redact(await readText(res, max));
      } catch (e) {
        if (e instanceof ControlError) throw new ControlError(e.code, redact(e.message));
        return signal.aborted
          ? fail('UPSTREAM_FAILED', `strategist ${opts.model} timed out after ${timeoutMs} ms`, { timeoutMs })
          : fail('UPSTREAM_FAILED', `strategist request failed: ${(e as Error).message}`);
      }
      if (!res.ok) fail('UPSTREAM_FAILED', `strategist answered HTTP ${res.status}`, { status: res.status });
      let content: unknown;
      try {
        content = (JSON.parse(text) as { choices?: { message?: { content?: unknown } }[] }).choices?.[0]
          ?.message?.content;
      } catch {
        fail('UPSTREAM_FAILED', 'strategist response is not JSON');
      }
      if (typeof content !== 'string')
        return fail('UPSTREAM_FAILED', 'strategist response has no choices[0].message.content');
      let proposed: unknown;
      try {
        proposed = JSON.parse(content);
      } catch {
        return fail('PLAN_INVALID', 'plan is invalid: the assistant message is not JSON', {
          problems: ['(root): not JSON'],
        });
      }
      if (typeof proposed !== 'object' || proposed === null || Array.isArray(proposed))
        return fail('PLAN_INVALID', 'plan is invalid: the assistant message is not a JSON object', {
          problems: ['(root): not an object'],
        });
      // Who and when are ours to say, not the model's.
      const stamped = {
        ...proposed,
        createdBy: `strategist:openai:${opts.model}`.slice(0, 200),
        createdAt: new Date(now()).toISOString(),
      };
      let plan: Plan;
      try {
        plan = parsePlan(stamped);
      } catch (e) {
        const ce = e as ControlError;
        return fail('PLAN_INVALID', ce.message, ce.details);
      }
      if (
        target &&
        (plan.target.tenant !== target.tenant || plan.target.environment !== target.environment)
      ) {
        const problems = [
          `/target: the plan targets ${plan.target.tenant}/${plan.target.environment}, the request ${target.tenant}/${target.environment}`,
        ];
        fail('PLAN_INVALID', `plan is invalid: ${problems[0]}`, { problems });
      }
      return plan;
    },
  };
}
