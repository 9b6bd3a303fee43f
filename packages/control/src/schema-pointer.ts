// Validation errors that point into the published schemas (schemas.ts): each problem names where it is in the value
// (a JSON pointer, RFC 6901) and which part of which schema it broke (the schema file and a pointer into it), so a
// client can show the rule next to the mistake. Pure.

/** One problem, located in the value and in the schema. */
export interface SchemaProblem {
  /** JSON pointer into the value ("" for the root). */
  readonly pointer: string;
  readonly message: string;
  /** The published schema file (GET /api/schemas/<schema>, docs/schemas/<schema>). */
  readonly schema: string;
  /** JSON pointer into that schema, as a URI fragment ("#/properties/phases/items/..."). */
  readonly schemaPointer: string;
}

/** A validator's issue: where (path segments) and what. */
export interface PathIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

type Node = Record<string, unknown>;
const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);
const escape = (s: string) => s.replaceAll('~', '~0').replaceAll('/', '~1');

/** A JSON pointer (RFC 6901) from path segments. */
export function jsonPointer(path: readonly PropertyKey[]): string {
  return path.map((p) => '/' + escape(String(p))).join('');
}

function resolveRef(root: Node, node: Node): { node: Node; at: string } | undefined {
  const ref = node.$ref;
  if (typeof ref !== 'string' || !ref.startsWith('#/')) return undefined;
  let cur: unknown = root;
  for (const part of ref.slice(2).split('/'))
    cur = isNode(cur) ? cur[part.replaceAll('~1', '/').replaceAll('~0', '~')] : undefined;
  return isNode(cur) ? { node: cur, at: ref } : undefined;
}

/** The branch of a union that fits the value: the one whose constant discriminator matches, else one with `key`. */
function branchOf(branches: unknown[], value: unknown, key: PropertyKey): number {
  if (isNode(value))
    for (let i = 0; i < branches.length; i++) {
      const props = (branches[i] as Node | undefined)?.properties;
      if (!isNode(props)) continue;
      const discriminated = Object.entries(props).some(
        ([k, p]) => isNode(p) && 'const' in p && value[k] === p.const,
      );
      if (discriminated) return i;
    }
  return branches.findIndex((b) => isNode(b) && isNode(b.properties) && String(key) in b.properties);
}

/**
 * The schema location (a "#/..." fragment) that governs `path` in `value`: properties and items are followed,
 * union branches chosen by their discriminator, $refs resolved. Stops at the deepest node the schema describes
 * (an unknown key points at its object).
 */
export function schemaPointer(schema: unknown, path: readonly PropertyKey[], value: unknown): string {
  if (!isNode(schema)) return '#';
  let node: Node = schema;
  let at = '#';
  let cur = value;
  for (const seg of path) {
    for (let hops = 0; hops < 8; hops++) {
      const r = resolveRef(schema, node);
      if (r) ({ node, at } = r);
      const union = (['oneOf', 'anyOf'] as const).find((k) => Array.isArray(node[k]));
      if (!union) break;
      const branches = node[union] as unknown[];
      const i = branchOf(branches, cur, seg);
      if (i < 0 || !isNode(branches[i])) return at;
      node = branches[i];
      at += `/${union}/${i}`;
    }
    if (typeof seg === 'number' && isNode(node.items)) {
      node = node.items;
      at += '/items';
    } else if (isNode(node.properties) && isNode(node.properties[String(seg)])) {
      node = node.properties[String(seg)] as Node;
      at += `/properties/${escape(String(seg))}`;
    } else if (isNode(node.additionalProperties)) {
      node = node.additionalProperties;
      at += '/additionalProperties';
    } else return at;
    cur = Array.isArray(cur) || isNode(cur) ? (cur as Record<PropertyKey, unknown>)[seg as never] : undefined;
  }
  return at;
}

/** Problems from a validator's issues, located in `value` and in the published `schema` (named `schemaName`). */
export function schemaProblems(
  issues: readonly PathIssue[],
  schemaName: string,
  schema: unknown,
  value: unknown,
  o: { pointerPrefix?: string; schemaPrefix?: string } = {},
): SchemaProblem[] {
  return issues.map((i) => {
    const inner = schemaPointer(schema, i.path, value);
    return {
      pointer: `${o.pointerPrefix ?? ''}${jsonPointer(i.path)}`,
      message: i.message,
      schema: schemaName,
      schemaPointer: o.schemaPrefix ? `${o.schemaPrefix}${inner.slice(1)}` : inner,
    };
  });
}
