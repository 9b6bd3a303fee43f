// RFC 8785 (JCS) written straight into bytes: the append hot path. Same output, checks and errors as
// canonicalize()/canonicalReceipt() followed by UTF-8 encoding, without building the JSON text as a
// string first (no concatenated pieces, no flattening, no sort buffers: most of an append's garbage).
import { LedgerError } from './errors.ts';
import type { Receipt } from './receipt.ts';

// Node's Buffer (found on globalThis, as in bytes.ts: this package imports no node:* module). Browsers
// have none and take the string path.
interface NodeBytes extends Uint8Array {
  write(s: string, offset: number): number;
  copy(target: Uint8Array, targetStart: number, sourceStart: number, sourceEnd: number): number;
}
const NodeBuffer = (globalThis as { Buffer?: { allocUnsafe(n: number): NodeBytes } }).Buffer;

// Encodings are carved out of a shared slab (one allocation per 1 MiB of receipts); a slab is freed once
// no view into it is referenced any more.
const SLAB_SIZE = 1 << 20;
let buf: NodeBytes | undefined;
let pos = 0;
/** Where the encoding being written starts, and how long it may grow before it is abandoned. */
let start = 0;
let maxLength = 0;
/** Thrown (and caught in encode) when an encoding may exceed maxLength. */
const TOO_LONG: unique symbol = Symbol('too long');

function ensure(n: number): void {
  if (pos + n - start > maxLength) throw TOO_LONG;
  if (pos + n <= buf!.length) return;
  // Move the encoding so far to a fresh slab.
  const next = NodeBuffer!.allocUnsafe(Math.max(SLAB_SIZE, 2 * (pos - start + n)));
  buf!.copy(next, 0, start, pos);
  pos -= start;
  start = 0;
  buf = next;
}

/** Printable ASCII text that needs no escaping (numbers, literals and the envelope's punctuation). */
function ascii(text: string): void {
  const n = text.length;
  ensure(n);
  const b = buf!;
  let p = pos;
  for (let i = 0; i < n; i++) b[p++] = text.charCodeAt(i);
  pos = p;
}

/** RFC 8785 3.2.2.2, as quote() in jcs.ts: printable ASCII without '"' and '\' is copied as is. */
function string(s: string): void {
  const n = s.length;
  ensure(n + 2);
  const b = buf!;
  let p = pos;
  b[p++] = 0x22;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return escaped(s);
    b[p++] = c;
  }
  b[p++] = 0x22;
  pos = p;
}

function escaped(s: string): void {
  // Lone surrogates cannot be represented in UTF-8, so JCS forbids them.
  if (!(s as string & { isWellFormed(): boolean }).isWellFormed()) {
    throw new LedgerError('CANONICAL_JSON', 'string contains a lone surrogate');
  }
  const text = JSON.stringify(s);
  // UTF-8 needs at most 3 bytes per UTF-16 code unit.
  ensure(3 * text.length);
  pos += buf!.write(text, pos);
}

/** Sorts object keys by UTF-16 code units (the default sort order) without allocating for small objects. */
function sortKeys(keys: string[]): void {
  if (keys.length > 16) {
    keys.sort();
    return;
  }
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > k) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = k;
  }
}

function byte(b: number): void {
  ensure(1);
  buf![pos++] = b;
}

/** serialize() in jcs.ts, byte for byte and check for check. */
function value(v: unknown, depth: number): void {
  if (v === null) return ascii('null');
  switch (typeof v) {
    case 'string':
      return string(v);
    case 'number':
      if (!Number.isFinite(v)) throw new LedgerError('CANONICAL_JSON', 'NaN and Infinity are not JSON');
      return ascii('' + v);
    case 'boolean':
      return ascii(v ? 'true' : 'false');
    case 'object': {
      if (depth > 64) throw new LedgerError('CANONICAL_JSON', 'JSON nesting deeper than 64 levels');
      if (Array.isArray(v)) {
        byte(0x5b);
        for (let i = 0; i < v.length; i++) {
          if (i > 0) byte(0x2c);
          const item: unknown = v[i];
          if (item === undefined) throw new LedgerError('CANONICAL_JSON', 'undefined inside an array');
          value(item, depth + 1);
        }
        return byte(0x5d);
      }
      const proto: unknown = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        throw new LedgerError('CANONICAL_JSON', 'only plain objects can be canonicalized');
      }
      const obj = v as Record<string, unknown>;
      const keys = Object.keys(obj);
      sortKeys(keys);
      byte(0x7b);
      let first = true;
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        const item = obj[k];
        if (item === undefined) continue;
        if (!first) byte(0x2c);
        first = false;
        string(k);
        byte(0x3a);
        value(item, depth + 1);
      }
      return byte(0x7d);
    }
    default:
      throw new LedgerError('CANONICAL_JSON', `cannot canonicalize a ${typeof v}`);
  }
}

/**
 * Starts an encoding in the slab with one `prefix` byte; false where this path does not apply (no Node
 * Buffer). An encoding that might grow beyond `limit` bytes after the prefix is abandoned (see abandon).
 */
function begin(prefix: number, limit: number): boolean {
  if (!NodeBuffer) return false;
  if (!buf || buf.length - pos < 4096) {
    buf = NodeBuffer.allocUnsafe(SLAB_SIZE);
    pos = 0;
  }
  start = pos;
  maxLength = limit + 1;
  buf[pos++] = prefix;
  return true;
}

function finish(): Uint8Array {
  const out = buf!.subarray(start, pos);
  start = pos;
  return out;
}

/** Drops the encoding in progress: undefined when it was too long (the caller takes the string path). */
function abandon(err: unknown): undefined {
  pos = start;
  if (err === TOO_LONG) return undefined;
  throw err;
}

/**
 * `prefix` ‖ UTF-8 of canonicalize(v), as one view into the slab; undefined without a Node Buffer or when
 * the result might exceed `limit` bytes after the prefix (the string path then knows the exact length).
 */
export function canonicalBytesWithPrefix(prefix: number, v: unknown, limit: number): Uint8Array | undefined {
  if (!begin(prefix, limit)) return undefined;
  try {
    value(v, 0);
  } catch (err) {
    return abandon(err);
  }
  return finish();
}

/** `prefix` ‖ UTF-8 of canonicalReceipt(r) (envelope members in sorted order), or undefined as above. */
export function receiptBytesWithPrefix(prefix: number, r: Receipt, limit: number): Uint8Array | undefined {
  if (!begin(prefix, limit)) return undefined;
  try {
    ascii('{"actor":');
    string(r.actor);
    ascii(',"body":');
    value(r.body, 0);
    ascii(',"kind":');
    string(r.kind);
    if (r.parents !== undefined) {
      ascii(',"parents":');
      value(r.parents, 0);
    }
    ascii(',"tenant":');
    string(r.tenant);
    ascii(',"time":');
    string(r.time);
    ascii(',"v":');
    value(r.v, 0);
    byte(0x7d);
  } catch (err) {
    return abandon(err);
  }
  return finish();
}
