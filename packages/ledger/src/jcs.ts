// RFC 8785 JSON Canonicalization Scheme (JCS).
import { utf8 } from './bytes.ts';
import { LedgerError } from './errors.ts';

function hasLoneSurrogate(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return true;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return true;
    }
  }
  return false;
}

function serialize(value: unknown, depth: number): string {
  if (depth > 64) throw new LedgerError('CANONICAL_JSON', 'JSON nesting deeper than 64 levels');
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      // RFC 8785 3.2.2.3: ECMAScript Number serialization, which JSON.stringify implements (and -0 -> "0").
      if (!Number.isFinite(value)) throw new LedgerError('CANONICAL_JSON', 'NaN and Infinity are not JSON');
      return JSON.stringify(value);
    case 'string':
      // RFC 8785 3.2.2.2: JSON.stringify escapes exactly ", \ and C0 controls (short forms or \u00xx).
      if (hasLoneSurrogate(value))
        throw new LedgerError('CANONICAL_JSON', 'string contains a lone surrogate');
      return JSON.stringify(value);
    case 'object': {
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
      const keys = Object.keys(obj).sort();
      let out = '{';
      let first = true;
      for (const k of keys) {
        const v = obj[k];
        if (v === undefined) continue;
        if (hasLoneSurrogate(k)) throw new LedgerError('CANONICAL_JSON', 'key contains a lone surrogate');
        if (!first) out += ',';
        first = false;
        out += JSON.stringify(k) + ':' + serialize(v, depth + 1);
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
