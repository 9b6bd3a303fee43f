// Reading control-plane config files (autonomy scenarios, tripwire rules): JSON or YAML text into a plain value,
// and zod issues into one line per problem. Validation against a schema is the caller's job.
import { JSON_SCHEMA, loadAll, load as loadYaml } from 'js-yaml';
import type { z } from 'zod/v4';
import { ControlError } from './errors.ts';

/** Config texts larger than this are refused before parsing (they are small hand-written files). */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * Parses JSON (text starting with `{` or `[`) or YAML (anything else) into a plain value; INVALID_ARGUMENT on a
 * syntax error. YAML is read with the JSON schema only (no dates, no custom tags), so both give the same values.
 */
export function parseConfigText(text: string, what: string): unknown {
  return parse(
    text,
    what,
    (v) => v,
    (t) => loadYaml(t, { schema: JSON_SCHEMA }) as unknown,
  );
}

/**
 * Like parseConfigText, for a text that may hold several YAML documents (Kubernetes manifests): each document's
 * value, empty documents left out; JSON text is one document.
 */
export function parseConfigDocuments(text: string, what: string): unknown[] {
  return parse(
    text,
    what,
    (v) => [v],
    (t) => loadAll(t, undefined, { schema: JSON_SCHEMA }),
  ).filter((d) => d !== null && d !== undefined);
}

/** JSON (text starting with `{` or `[`) through `json`, anything else through `yaml`; bounded, errors named. */
function parse<T>(text: string, what: string, json: (value: unknown) => T, yaml: (text: string) => T): T {
  if (Buffer.byteLength(text) > MAX_CONFIG_BYTES)
    throw new ControlError('INVALID_ARGUMENT', `${what} is larger than ${MAX_CONFIG_BYTES} bytes`);
  const trimmed = text.trimStart();
  try {
    if (trimmed.startsWith('{') || trimmed.startsWith('[')) return json(JSON.parse(text));
    return yaml(text);
  } catch (e) {
    throw new ControlError(
      'INVALID_ARGUMENT',
      `${what} is neither valid JSON nor YAML: ${(e as Error).message}`,
    );
  }
}

/** One line per problem, each naming where it is (a JSON pointer) and what is wrong. */
export function issueLines(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((i) => `${i.path.length ? '/' + i.path.join('/') : '(root)'}: ${i.message}`);
}

/** Validates `value` with `schema`, or throws INVALID_ARGUMENT naming every problem (details.problems). */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) {
    const problems = issueLines(r.error.issues);
    throw new ControlError('INVALID_ARGUMENT', `${what} is invalid: ${problems.join('; ')}`, { problems });
  }
  return r.data;
}
