// Rendering a template: the parameters are checked against the template's JSON Schema (defaults filled in) before
// anything else, then every file of the chosen version whose condition holds is rendered. Pure apart from reading
// the template's files; the same template version and parameters always give the same tree, byte for byte, which
// is what lets a node recompute a spawn's digest and `update` rebuild the merge base.
import { Ajv, type ErrorObject } from 'ajv';
import { filesOfVersion, getTemplate, sourceText, type LoadedTemplate } from './catalog.ts';
import { SpawnError } from './errors.ts';
import { checkServiceName, pascalCase, snakeCase } from './names.ts';
import { holds, renderText, type Vars } from './text.ts';
import { treeDigest, type Tree } from './tree.ts';

/** Parameters after validation: the schema's defaults filled in. */
export type Params = Readonly<Record<string, string | number | boolean>>;

/** What a spawn would write. */
export interface Rendered {
  readonly template: string;
  readonly version: string;
  readonly service: string;
  readonly params: Params;
  readonly files: Tree;
  /** Per path, what the file is for. */
  readonly purposes: ReadonlyMap<string, string>;
  readonly treeSha256: string;
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true });
const validators = new WeakMap<LoadedTemplate, ReturnType<typeof ajv.compile>>();

function problem(e: ErrorObject): string {
  const where = e.instancePath ? `--${e.instancePath.slice(1)}` : 'parameters';
  if (e.keyword === 'additionalProperties')
    return `unknown parameter "${(e.params as { additionalProperty: string }).additionalProperty}"`;
  if (e.keyword === 'enum')
    return `${where} must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
  return `${where} ${e.message ?? 'is invalid'}`;
}

/** Checks parameters against the template's schema; returns them with defaults. */
export function checkParams(t: LoadedTemplate, params: Readonly<Record<string, unknown>>): Params {
  let validate = validators.get(t);
  if (!validate) {
    validate = ajv.compile(t.parameters);
    validators.set(t, validate);
  }
  const copy: Record<string, unknown> = structuredClone({ ...params });
  if (!validate(copy)) {
    const problems = (validate.errors ?? []).map(problem);
    throw new SpawnError('INVALID_PARAMS', `template ${t.id}: ${problems.join('; ')}`, { problems });
  }
  for (const [k, v] of Object.entries(copy))
    if (!['string', 'number', 'boolean'].includes(typeof v))
      throw new SpawnError('TEMPLATE_INVALID', `template ${t.id}: parameter ${k} is not a scalar`);
  return copy as Params;
}

/** The variables a template's files see: the parameters and the name in the forms files need. */
function variables(template: string, service: string, params: Params): Vars {
  return {
    // Options some templates have: every template's files may test them (a service has no queue).
    db: 'none',
    queue: 'none',
    ...params,
    template,
    name: service,
    Name: pascalCase(service),
    name_snake: snakeCase(service),
  };
}

/** Renders `template` at `version` (default: newest) for a service. Throws before reading any file on bad input. */
export function render(req: {
  template: string;
  service: string;
  params?: Readonly<Record<string, unknown>>;
  version?: string;
}): Rendered {
  const service = checkServiceName(req.service);
  const t = getTemplate(req.template);
  const version = req.version ?? t.version;
  const sources = filesOfVersion(t, version);
  const params = checkParams(t, req.params ?? {});
  const vars = variables(t.id, service, params);
  const files = new Map<string, string>();
  const purposes = new Map<string, string>();
  for (const [path, { source, spec }] of [...sources].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (spec.when !== undefined && !holds(spec.when, vars, path)) continue;
    files.set(path, renderText(sourceText(source), vars, `${t.id}/${path}`));
    purposes.set(path, spec.purpose);
  }
  return {
    template: t.id,
    version,
    service,
    params,
    files,
    purposes,
    treeSha256: treeDigest(files),
  };
}
