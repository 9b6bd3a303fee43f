// What a live apply would change, as `kubectl diff` shows it: the live object against the server's answer to a
// server-side apply dry-run (dryRun=All), both without the fields the server owns (status, resourceVersion,
// managedFields, ...). Pure: the k8s.apply action fetches both objects and calls this.

/** One changed field, at a JSON pointer (RFC 6901). Values are JSON, shortened; a Secret's are never shown. */
export interface FieldChange {
  readonly path: string;
  readonly op: 'add' | 'remove' | 'replace';
  readonly from?: unknown;
  readonly to?: unknown;
}

/** What applying one manifest would do. */
export interface ObjectChange {
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
  readonly action: 'create' | 'update' | 'unchanged';
  readonly changes: readonly FieldChange[];
  /** Changes left out beyond MAX_CHANGES. */
  readonly more?: number;
}

/** Changes listed per object; the rest are counted. */
export const MAX_CHANGES = 50;
const MAX_VALUE_CHARS = 200;
const SERVER_METADATA = [
  'managedFields',
  'resourceVersion',
  'generation',
  'uid',
  'creationTimestamp',
  'selfLink',
];
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
/** Kinds whose values are secret: their changes name the path only. */
const SECRET_KINDS = new Set(['Secret']);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const isObj = (v: unknown): v is Record<string, Json> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The object without what the server owns (status, versions, managed fields, the last-applied annotation). */
export function comparable(obj: unknown): Record<string, Json> {
  if (!isObj(obj)) return {};
  const { status: _status, metadata, ...rest } = obj;
  const m: Record<string, Json> = isObj(metadata) ? { ...metadata } : {};
  for (const k of SERVER_METADATA) delete m[k];
  if (isObj(m.annotations)) {
    const a = { ...m.annotations };
    delete a[LAST_APPLIED];
    if (Object.keys(a).length) m.annotations = a;
    else delete m.annotations;
  }
  return { ...rest, metadata: m };
}

const pointer = (parts: readonly (string | number)[]) =>
  parts.map((p) => '/' + String(p).replaceAll('~', '~0').replaceAll('/', '~1')).join('');

function shorten(v: Json): unknown {
  const text = JSON.stringify(v);
  return text.length <= MAX_VALUE_CHARS ? v : `${text.slice(0, MAX_VALUE_CHARS)}… (${text.length} chars)`;
}

function walk(a: Json | undefined, b: Json | undefined, path: (string | number)[], out: FieldChange[]) {
  if (a === undefined && b === undefined) return;
  if (a === undefined) return void out.push({ path: pointer(path), op: 'add', to: b });
  if (b === undefined) return void out.push({ path: pointer(path), op: 'remove', from: a });
  if (isObj(a) && isObj(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)].sort()))
      walk(a[k], b[k], [...path, k], out);
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) walk(a[i], b[i], [...path, i], out);
    return;
  }
  if (JSON.stringify(a) !== JSON.stringify(b))
    out.push({ path: pointer(path), op: 'replace', from: a, to: b });
}

/** The field changes from `live` to `next` (both as the server returns them). */
export function diffObjects(live: unknown, next: unknown, kind: string): FieldChange[] {
  const out: FieldChange[] = [];
  walk(comparable(live), comparable(next), [], out);
  const secret = SECRET_KINDS.has(kind);
  return out.map((c) => {
    const hide = secret && !c.path.startsWith('/metadata');
    const show = (v: unknown) => (hide ? '(redacted)' : shorten(v as Json));
    return {
      path: c.path,
      op: c.op,
      ...(c.op !== 'add' ? { from: show(c.from) } : {}),
      ...(c.op !== 'remove' ? { to: show(c.to) } : {}),
    };
  });
}

/** What applying a manifest would do: create (no live object), update (the changed fields) or nothing. */
export function describeChange(
  id: { kind: string; name: string; namespace?: string },
  live: unknown,
  dryRunResult: unknown,
): ObjectChange {
  const base = { kind: id.kind, name: id.name, ...(id.namespace ? { namespace: id.namespace } : {}) };
  if (live === undefined) {
    const all = diffObjects({}, dryRunResult, id.kind).filter((c) => !c.path.startsWith('/metadata/'));
    return { ...base, action: 'create', ...limit(all) };
  }
  const changes = diffObjects(live, dryRunResult, id.kind);
  return { ...base, action: changes.length ? 'update' : 'unchanged', ...limit(changes) };
}

function limit(changes: FieldChange[]): { changes: FieldChange[]; more?: number } {
  return changes.length <= MAX_CHANGES
    ? { changes }
    : { changes: changes.slice(0, MAX_CHANGES), more: changes.length - MAX_CHANGES };
}

/** One line: "Deployment shop/api: update (1 field), Service shop/api: create". */
export function changeSummary(changes: readonly ObjectChange[]): string {
  return changes
    .map((c) => {
      const n = c.changes.length + (c.more ?? 0);
      const what = c.action === 'update' ? `update (${n} field${n === 1 ? '' : 's'})` : c.action;
      return `${c.kind} ${c.namespace ? `${c.namespace}/` : ''}${c.name}: ${what}`;
    })
    .join(', ');
}
