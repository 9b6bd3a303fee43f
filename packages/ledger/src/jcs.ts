// RFC 8785 JSON Canonicalization Scheme (JCS).
import { utf8 } from './bytes.ts';
import { LedgerError } from './errors.ts';

// Printable ASCII without '"' or '\': such strings need no escaping at all (the common case).
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** RFC 8785 3.2.2.2: JSON.stringify escapes exactly '"', '\' and C0 controls (short forms or \u00xx). */
export function quote(s: string): string {
  if (PLAIN.test(s)) return '"' + s + '"';
  // Lone surrogates cannot be represented in UTF-8, so JCS forbids them.
  if (!(s as string & { isWellFormed(): boolean }).isWellFormed()) {
    throw new LedgerError('CANONICAL_JSON', 'string contains a lone surrogate');
  }
  return JSON.stringify(s);
}

export function serialize(value: unknown, depth: number): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'number':
      // RFC 8785 3.2.2.3: ECMAScript Number::toString (the same as JSON.stringify; -0 becomes "0").
      if (!Number.isFinite(value)) throw new LedgerError('CANONICAL_JSON', 'NaN and Infinity are not JSON');
      return '' + value;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (depth > 64) throw new LedgerError('CANONICAL_JSON', 'JSON nesting deeper than 64 levels');
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          const item: unknown = value[i];
          if (item === undefined) throw new LedgerError('CANONICAL_JSON', 'undefined inside an array');
          out += serialize(item, depth + 1);
        }
        return out + ']';
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new LedgerError('CANONICAL_JSON', 'only plain objects can be canonicalized');
      }
      const obj = value as Record<string, unknown>;
      // RFC 8785 3.2.3: sort by UTF-16 code units, which is the default string sort order.
      const keys = Object.keys(obj);
      if (keys.length > 1) keys.sort();
      let out = '{';
      let first = true;
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        const v = obj[k];
        if (v === undefined) continue;
        if (!first) out += ',';
        first = false;
        out += quote(k) + ':' + serialize(v, depth + 1);
      }
      return out + '}';
    }
    default:
      throw new LedgerError('CANONICAL_JSON', `cannot canonicalize a ${typeof value}`);
  }
}

/** RFC 8785 canonical JSON text of a JSON value (undefined object members are omitted). */
export function canonicalize(value: unknown): string {
  return serialize(value, 0);
}

/** UTF-8 bytes of the RFC 8785 canonical form. */
export function canonicalBytes(value: unknown): Uint8Array {
  return utf8(canonicalize(value));
}
