// The published plan format: JSON Schemas (draft 2020-12) of plans, strategist intents and every registered
// action's params, generated from the very zod schemas that validate them, so the documentation cannot drift from
// what the node accepts. Served by the node (GET /api/schemas/…) and committed under docs/schemas/.
import { z } from 'zod/v4';
import type { ActionRegistry } from './actions.ts';
import { planJsonSchema, type Plan } from './plan.ts';
import { jsonPointer, schemaPointer, type SchemaProblem } from './schema-pointer.ts';
import { intentJsonSchema } from './strategist.ts';

/** The published schemas by file name: plan.schema.json, intent.schema.json, actions.schema.json. */
export function controlSchemas(actions: ActionRegistry): Record<string, Record<string, unknown>> {
  const params: Record<string, unknown> = {};
  for (const [name] of [...actions].sort(([a], [b]) => a.localeCompare(b)))
    params[name] = actionParamsJsonSchema(actions, name);
  return {
    'plan.schema.json': { title: 'VaultMesh plan, version 1', ...planJsonSchema() },
    'intent.schema.json': {
      title: 'VaultMesh strategist intent',
      ...intentJsonSchema(),
    },
    'actions.schema.json': {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      title: 'VaultMesh action params, by action name (a plan step’s params)',
      type: 'object',
      properties: params,
    },
  };
}

/** One action's params as JSON Schema (as actions.schema.json publishes it under properties/<name>). */
function actionParamsJsonSchema(actions: ActionRegistry, name: string): Record<string, unknown> {
  const action = actions.get(name);
  if (!action) return {};
  try {
    return z.toJSONSchema(action.params as unknown as z.ZodType, { io: 'input' }) as Record<string, unknown>;
  } catch {
    return { description: `${name}: params that cannot be expressed in JSON Schema; see the docs` };
  }
}

const unescape = (s: string) => s.replaceAll('~1', '/').replaceAll('~0', '~');

/**
 * Locates the executor's plan problems ("<pointer>: <message>") in the published schemas: a step's or rollback's
 * params in actions.schema.json (under the action's name), everything else in plan.schema.json.
 */
export function locatePlanProblems(
  problems: readonly string[],
  plan: Plan,
  actions: ActionRegistry,
): SchemaProblem[] {
  return problems.map((p) => {
    const m = /^(\/\S*): (.*)$/s.exec(p);
    if (!m) return { pointer: '', message: p, schema: 'plan.schema.json', schemaPointer: '#' };
    const [, pointer, message] = m as unknown as [string, string, string];
    const path = pointer
      .split('/')
      .slice(1)
      .map((x) => (/^[0-9]+$/.test(x) ? Number(x) : unescape(x)));
    const at = path.indexOf('params');
    const owner = at >= 0 ? (lookup(plan, path.slice(0, at)) as { action?: unknown } | undefined) : undefined;
    if (owner && typeof owner.action === 'string' && actions.has(owner.action)) {
      const inner = path.slice(at + 1);
      const params = lookup(plan, path.slice(0, at + 1));
      const within = schemaPointer(actionParamsJsonSchema(actions, owner.action), inner, params);
      return {
        pointer: jsonPointer(path),
        message,
        schema: 'actions.schema.json',
        schemaPointer: `#/properties/${owner.action.replaceAll('~', '~0').replaceAll('/', '~1')}${within.slice(1)}`,
      };
    }
    return {
      pointer: jsonPointer(path),
      message,
      schema: 'plan.schema.json',
      schemaPointer: schemaPointer(planJsonSchema(), path, plan),
    };
  });
}

function lookup(value: unknown, path: readonly PropertyKey[]): unknown {
  let cur = value;
  for (const seg of path)
    cur = typeof cur === 'object' && cur !== null ? (cur as Record<PropertyKey, unknown>)[seg] : undefined;
  return cur;
}
