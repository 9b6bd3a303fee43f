// Cheap check of the columns stored beside a leaf against its canonical receipt bytes, without parsing.
// Plain JavaScript (typed by envelope.d.ts for importers, and type-checked itself through these JSDoc types) so that verification's reader threads, which run without the
// TypeScript loader, use this very implementation too.

/**
 * True when bytes[end - text.length, end) lie at or after `start` and hold exactly the ASCII string `text`.
 * @param {Uint8Array} bytes
 * @param {number} start
 * @param {number} end
 * @param {string} text
 * @returns {boolean}
 */
function endsWithAscii(bytes, start, end, text) {
  const off = end - text.length;
  if (off < start) return false;
  for (let i = 0; i < text.length; i++) if (bytes[off + i] !== text.charCodeAt(i)) return false;
  return true;
}

/**
 * Where the last `text` ending before `before` (and starting at or after `start`) begins, or -1.
 * @param {Uint8Array} bytes
 * @param {number} start
 * @param {string} text
 * @param {number} before
 * @returns {number}
 */
function lastIndexOfAscii(bytes, start, text, before) {
  for (let i = before - text.length; i >= start; i--)
    if (endsWithAscii(bytes, start, i + text.length, text)) return i;
  return -1;
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
const PARENTS_OPEN = ',"parents":[';

// Kinds and tenants repeat across a log, and times within a millisecond, so their canonical member text
// is memoized (bounded). JSON.stringify of a printable-ASCII string is its RFC 8785 form.
/** @type {{ kind: Map<unknown, string | undefined>; tenant: Map<unknown, string | undefined> }} */
const partCache = { kind: new Map(), tenant: new Map() };
let tailMs = NaN;
let tailText = '';

/**
 * The canonical `,"name":value` member text of a column value, or undefined when it is not printable ASCII.
 * @param {'kind' | 'tenant'} name
 * @param {unknown} value
 * @returns {string | undefined}
 */
function columnPart(name, value) {
  const cache = partCache[name];
  let part = cache.get(value);
  if (part === undefined && !cache.has(value)) {
    part =
      typeof value === 'string' && PRINTABLE_ASCII.test(value)
        ? `,"${name}":` + JSON.stringify(value)
        : undefined;
    if (cache.size > 10_000) cache.clear();
    cache.set(value, part);
  }
  return part;
}

/**
 * Checks the columns stored beside a leaf (kind, tenant, time in Unix ms) against the leaf's canonical
 * bytes: the canonical envelope always ends with `,"kind":K[,"parents":[...]],"tenant":T,"time":"ISO","v":1}`
 * and parents hold no strings that could mimic it. Returns the first field that disagrees, or undefined.
 * The bytes are bytes[start, end) (default: all of them), so a caller can check a slice without a view.
 * @param {Uint8Array} bytes
 * @param {{ kind: string; tenant: string; time: number }} columns
 * @param {number} [start]
 * @param {number} [end]
 * @returns {'kind' | 'tenant' | 'time' | undefined}
 */
export function envelopeMismatch(bytes, columns, start = 0, end = bytes.length) {
  if (columns.time !== tailMs) {
    tailMs = columns.time;
    tailText = Number.isFinite(tailMs) ? ',"time":"' + new Date(tailMs).toISOString() + '","v":1}' : '';
  }
  const timeTail = tailText;
  if (!timeTail || !endsWithAscii(bytes, start, end, timeTail)) return 'time';
  let at = end - timeTail.length;
  const tenantPart = columnPart('tenant', columns.tenant);
  if (tenantPart === undefined || !endsWithAscii(bytes, start, at, tenantPart)) return 'tenant';
  at -= tenantPart.length;
  if (at > start && bytes[at - 1] === 0x5d /* ] */) {
    const p = lastIndexOfAscii(bytes, start, PARENTS_OPEN, at);
    if (p < 0) return 'kind';
    at = p;
  }
  const kindPart = columnPart('kind', columns.kind);
  return kindPart !== undefined && endsWithAscii(bytes, start, at, kindPart) ? undefined : 'kind';
}
