// The published plan format: JSON Schemas (draft 2020-12) of plans, strategist intents and every registered
// action's params, generated from the very zod schemas that validate them, so the documentation cannot drift from
// what the node accepts. Served by the node (GET /api/schemas/…) and committed under docs/schemas/.
import { z } from 'zod/v4';
import type { ActionRegistry } from './actions.ts';
import { planJsonSchema } from './plan.ts';
import { IntentSchema } from './strategist.ts';

/** The published schemas by file name: plan.schema.json, intent.schema.json, actions.schema.json. */
export function controlSchemas(actions: ActionRegistry): Record<string, Record<string, unknown>> {
  const params: Record<string, unknown> = {};
  for (const [name, action] of [...actions].sort(([a], [b]) => a.localeCompare(b))) {
    try {
      params[name] = z.toJSONSchema(action.params as unknown as z.ZodType, { io: 'input' });
    } catch {
      params[name] = { description: `${name}: params that cannot be expressed in JSON Schema; see the docs` };
    }
  }
  return {
    'plan.schema.json': { title: 'VaultMesh plan, version 1', ...planJsonSchema() },
    'intent.schema.json': {
      title: 'VaultMesh strategist intent',
      ...(z.toJSONSchema(IntentSchema, { io: 'input' }) as Record<string, unknown>),
    },
    'actions.schema.json': {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      title: 'VaultMesh action params, by action name (a plan step’s params)',
      type: 'object',
      properties: params,
    },
  };
}
