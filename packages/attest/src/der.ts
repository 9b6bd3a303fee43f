// A minimal, strict DER (X.690) reader and writer for the RFC 3161 / RFC 5652 / RFC 5280 structures this package
// handles. Everything it reads is attacker-controlled: every length is bounds-checked, only definite minimal
// lengths and low tag numbers are accepted (BER is rejected), and nothing recurses on input depth.
// Failures are AttestError 'TSA_MALFORMED' (RFC 3161 is the only DER this package parses) naming the field.
import { AttestError } from './errors.ts';

/** Universal and context tags used here (the whole identifier octet: class | constructed | number). */
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** The tag of a context-specific [n] element, constructed (EXPLICIT or IMPLICIT constructed) or primitive. */
export function contextTag(n: number, constructed: boolean): number {
  return 0x80 | (constructed ? 0x20 : 0) | n;
}

/** One decoded TLV. `bytes` is the whole encoding, `value` its contents; `offset` is from the start of the input. */
export interface DerElement {
  readonly tag: number;
  readonly bytes: Uint8Array;
  readonly value: Uint8Array;
  readonly offset: number;
}

function malformed(what: string, problem: string, offset?: number): never {
  throw new AttestError(
    'TSA_MALFORMED',
    `${what}: ${problem}${offset === undefined ? '' : ` (at byte ${offset})`}`,
    offset === undefined ? undefined : { offset },
  );
}

/** Reads one element at `pos` of `buf` (attacker-controlled); `base` is the absolute offset of `buf`. */
function readAt(buf: Uint8Array, pos: number, base: number, what: string): DerElement {
  const at = base + pos;
  if (pos + 2 > buf.length) malformed(what, 'truncated element header', at);
  const tag = buf[pos]!;
  if ((tag & 0x1f) === 0x1f)
    malformed(what, `high tag number form (0x${tag.toString(16)}) is not used here`, at);
  let len = buf[pos + 1]!;
  let hdr = 2;
  if (len === 0x80) malformed(what, 'indefinite length (BER) is not DER', at);
  if (len > 0x80) {
    const n = len & 0x7f;
    if (n > 4) malformed(what, `length of ${n} octets is too large`, at);
    if (pos + 2 + n > buf.length) malformed(what, 'truncated length', at);
    if (buf[pos + 2] === 0) malformed(what, 'non-minimal length encoding (leading zero)', at);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[pos + 2 + i]!;
    if (len < 0x80) malformed(what, 'non-minimal length encoding (long form for a short length)', at);
    hdr = 2 + n;
  }
  if (len > buf.length - pos - hdr)
    malformed(what, `length ${len} runs past the end of the input (${buf.length - pos - hdr} left)`, at);
  return {
    tag,
    bytes: buf.subarray(pos, pos + hdr + len),
    value: buf.subarray(pos + hdr, pos + hdr + len),
    offset: at,
  };
}

/** Decodes `input` as exactly one DER element (trailing bytes are an error). */
export function decodeDer(input: Uint8Array, what: string): DerElement {
  const el = readAt(input, 0, 0, what);
  if (el.bytes.length !== input.length)
    malformed(
      what,
      `${input.length - el.bytes.length} trailing byte(s) after the DER element`,
      el.bytes.length,
    );
  return el;
}

/** The elements inside a constructed element, in order. */
export function derChildren(el: DerElement, what: string): DerElement[] {
  if ((el.tag & 0x20) === 0)
    malformed(what, `expected a constructed element, got tag 0x${el.tag.toString(16)}`, el.offset);
  const out: DerElement[] = [];
  const base = el.offset + (el.bytes.length - el.value.length);
  let pos = 0;
  while (pos < el.value.length) {
    const child = readAt(el.value, pos, base, what);
    out.push(child);
    pos += child.bytes.length;
  }
  return out;
}

/** Checks the tag of an element. */
export function expectTag(el: DerElement | undefined, tag: number, what: string): DerElement {
  if (el === undefined) malformed(what, `missing (expected tag 0x${tag.toString(16)})`);
  if (el.tag !== tag)
    malformed(what, `expected tag 0x${tag.toString(16)}, got 0x${el.tag.toString(16)}`, el.offset);
  return el;
}

/** A cursor over the fields of a SEQUENCE (or SET, or EXPLICIT wrapper): required, optional, then end. */
export class DerFields {
  private readonly items: DerElement[];
  private i = 0;
  constructor(
    readonly el: DerElement,
    readonly what: string,
    tag: number = TAG.SEQUENCE,
  ) {
    expectTag(el, tag, what);
    this.items = derChildren(el, what);
  }
  /** The next field, which must have `tag`. */
  next(tag: number, field: string): DerElement {
    return expectTag(this.items[this.i++], tag, `${this.what}.${field}`);
  }
  /** The next field if it has `tag`, else undefined (the cursor stays). */
  optional(tag: number): DerElement | undefined {
    const el = this.items[this.i];
    if (el === undefined || el.tag !== tag) return undefined;
    this.i++;
    return el;
  }
  /** The next field whatever its tag; it must exist. */
  nextAny(field: string): DerElement {
    const el = this.items[this.i++];
    if (el === undefined) malformed(`${this.what}.${field}`, 'missing');
    return el;
  }
  /** The next field whatever its tag, or undefined at the end. */
  any(): DerElement | undefined {
    return this.items[this.i++];
  }
  /** Fails unless every field was consumed. */
  end(): void {
    const el = this.items[this.i];
    if (el !== undefined)
      malformed(this.what, `unexpected field with tag 0x${el.tag.toString(16)}`, el.offset);
  }
}

/** An INTEGER as a bigint, rejecting empty and non-minimal encodings. */
export function readInteger(el: DerElement, what: string): bigint {
  expectTag(el, TAG.INTEGER, what);
  const v = el.value;
  if (v.length === 0) malformed(what, 'empty INTEGER', el.offset);
  if (v.length > 1 && ((v[0] === 0x00 && v[1]! < 0x80) || (v[0] === 0xff && v[1]! >= 0x80)))
    malformed(what, 'non-minimal INTEGER encoding', el.offset);
  let n = 0n;
  for (const b of v) n = (n << 8n) | BigInt(b);
  if (v[0]! >= 0x80) n -= 1n << BigInt(v.length * 8);
  return n;
}

/** A small non-negative INTEGER (version fields, counts) as a number, at most `max`. */
export function readSmallInt(el: DerElement, what: string, max: number): number {
  const n = readInteger(el, what);
  if (n < 0n || n > BigInt(max)) malformed(what, `value ${n} is out of range 0..${max}`, el.offset);
  return Number(n);
}

/** A BOOLEAN (DER: 0x00 or 0xff only). */
export function readBoolean(el: DerElement, what: string): boolean {
  expectTag(el, TAG.BOOLEAN, what);
  if (el.value.length !== 1 || (el.value[0] !== 0x00 && el.value[0] !== 0xff))
    malformed(what, 'BOOLEAN must be one octet 0x00 or 0xff', el.offset);
  return el.value[0] === 0xff;
}

/** NULL with empty contents. */
export function readNull(el: DerElement, what: string): void {
  expectTag(el, TAG.NULL, what);
  if (el.value.length !== 0) malformed(what, 'NULL with contents', el.offset);
}

/** An OBJECT IDENTIFIER in dotted form (arcs must fit in 2^53; non-minimal arcs rejected). */
export function readOid(el: DerElement, what: string): string {
  expectTag(el, TAG.OID, what);
  const v = el.value;
  if (v.length === 0) malformed(what, 'empty OBJECT IDENTIFIER', el.offset);
  const arcs: number[] = [];
  let cur = 0;
  let started = false;
  for (let i = 0; i < v.length; i++) {
    const b = v[i]!;
    if (!started && b === 0x80) malformed(what, 'non-minimal OID arc', el.offset);
    started = true;
    if (cur > (Number.MAX_SAFE_INTEGER - 0x7f) / 128) malformed(what, 'OID arc too large', el.offset);
    cur = cur * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      arcs.push(cur);
      cur = 0;
      started = false;
    } else if (i === v.length - 1) malformed(what, 'truncated OID arc', el.offset);
  }
  const first = arcs[0]!;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join('.');
}

/** A BIT STRING's bytes and its count of unused bits in the last byte. */
export function readBitString(el: DerElement, what: string): { bytes: Uint8Array; unusedBits: number } {
  expectTag(el, TAG.BIT_STRING, what);
  const v = el.value;
  if (v.length === 0) malformed(what, 'empty BIT STRING', el.offset);
  const unusedBits = v[0]!;
  if (unusedBits > 7 || (v.length === 1 && unusedBits !== 0))
    malformed(what, 'invalid unused-bits count', el.offset);
  if (unusedBits > 0 && (v[v.length - 1]! & ((1 << unusedBits) - 1)) !== 0)
    malformed(what, 'unused bits are not zero', el.offset);
  return { bytes: v.subarray(1), unusedBits };
}

/** The numbers of the bits set in a BIT STRING (bit 0 is the most significant bit of the first byte). */
export function bitsSet(bits: { bytes: Uint8Array }): number[] {
  const out: number[] = [];
  bits.bytes.forEach((b, i) => {
    for (let j = 0; j < 8; j++) if (b & (0x80 >> j)) out.push(i * 8 + j);
  });
  return out;
}

/** A UTF8String as text (invalid UTF-8 rejected). */
export function readUtf8(el: DerElement, what: string): string {
  expectTag(el, TAG.UTF8_STRING, what);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(el.value);
  } catch {
    return malformed(what, 'invalid UTF-8', el.offset);
  }
}

const GENERALIZED_TIME = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d*[1-9]))?Z$/;
const UTC_TIME = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/;

function toDate(
  y: number,
  mo: number,
  d: number,
  h: number,
  mi: number,
  s: number,
  ms: number,
  what: string,
  at: number,
) {
  const t = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  const date = new Date(t);
  // Date.UTC rolls over out-of-range fields (month 13, 31 February, 25:00); a round trip catches them.
  if (
    mo < 1 ||
    date.getUTCFullYear() !== y ||
    date.getUTCMonth() !== mo - 1 ||
    date.getUTCDate() !== d ||
    date.getUTCHours() !== h ||
    date.getUTCMinutes() !== mi ||
    date.getUTCSeconds() !== s
  )
    malformed(what, 'time field out of range', at);
  return date;
}

/**
 * A GeneralizedTime as RFC 3161 2.4.2 restricts it: `YYYYMMDDhhmmss[.f*]Z`, UTC, fraction without trailing
 * zeros. Fractions below a millisecond are kept in `fraction` and truncated in the Date.
 */
export function readGeneralizedTime(el: DerElement, what: string): { date: Date; fraction: string } {
  expectTag(el, TAG.GENERALIZED_TIME, what);
  if (el.value.length > 40) malformed(what, 'GeneralizedTime too long', el.offset);
  const text = String.fromCharCode(...el.value);
  const m = GENERALIZED_TIME.exec(text);
  if (!m)
    malformed(
      what,
      `GeneralizedTime ${JSON.stringify(text.slice(0, 40))} is not YYYYMMDDhhmmss[.f]Z`,
      el.offset,
    );
  const n = (i: number) => Number(m[i]);
  const fraction = m[7] ?? '';
  const ms = Number((fraction + '000').slice(0, 3));
  return { date: toDate(n(1), n(2), n(3), n(4), n(5), n(6), ms, what, el.offset), fraction };
}

/** A certificate validity time: UTCTime (RFC 5280 4.1.2.5.1: YY < 50 is 20YY) or GeneralizedTime. */
export function readCertTime(el: DerElement, what: string): Date {
  if (el.tag === TAG.GENERALIZED_TIME) return readGeneralizedTime(el, what).date;
  expectTag(el, TAG.UTC_TIME, what);
  if (el.value.length > 40) malformed(what, 'UTCTime too long', el.offset);
  const text = String.fromCharCode(...el.value);
  const m = UTC_TIME.exec(text);
  if (!m) malformed(what, `UTCTime ${JSON.stringify(text.slice(0, 40))} is not YYMMDDhhmmssZ`, el.offset);
  const n = (i: number) => Number(m[i]);
  const yy = n(1);
  return toDate(yy < 50 ? 2000 + yy : 1900 + yy, n(2), n(3), n(4), n(5), n(6), 0, what, el.offset);
}

// ---------------------------------------------------------------------------------------------------------
// Writer

function encodeLength(len: number): Uint8Array {
  if (len < 0x80) return Uint8Array.of(len);
  const bytes: number[] = [];
  for (let n = len; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** One TLV from a tag and the concatenation of `parts`. */
export function derEncode(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const len = parts.reduce((a, p) => a + p.length, 0);
  const head = encodeLength(len);
  const out = new Uint8Array(1 + head.length + len);
  out[0] = tag;
  out.set(head, 1);
  let pos = 1 + head.length;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/** SEQUENCE of the given encoded elements. */
export const derSequence = (...items: Uint8Array[]): Uint8Array => derEncode(TAG.SEQUENCE, ...items);

/** INTEGER in minimal two's-complement form (a positive value with its top bit set gets a 0x00 prefix). */
export function derInteger(n: bigint): Uint8Array {
  const bytes: number[] = [];
  let v = n;
  // Emit little-endian bytes until the remaining value is just the sign extension of the last byte.
  for (;;) {
    const b = Number(v & 0xffn);
    bytes.unshift(b);
    v >>= 8n;
    if ((v === 0n && (b & 0x80) === 0) || (v === -1n && (b & 0x80) !== 0)) break;
  }
  return derEncode(TAG.INTEGER, Uint8Array.from(bytes));
}

/** BOOLEAN (0xff for true, as DER requires). */
export const derBoolean = (b: boolean): Uint8Array => derEncode(TAG.BOOLEAN, Uint8Array.of(b ? 0xff : 0x00));

/** NULL. */
export const derNull = (): Uint8Array => Uint8Array.of(TAG.NULL, 0x00);

/** OCTET STRING. */
export const derOctetString = (b: Uint8Array): Uint8Array => derEncode(TAG.OCTET_STRING, b);

const OID_TEXT = /^([0-2])((?:\.(?:0|[1-9]\d*))+)$/;

/** True when `s` is a dotted OBJECT IDENTIFIER that X.660 allows (first arc 0..2, second < 40 under 0 and 1). */
export function isOid(s: string): boolean {
  const m = OID_TEXT.exec(s);
  if (!m) return false;
  const arcs = s.split('.').map(Number);
  if (arcs.some((a) => !Number.isSafeInteger(a))) return false;
  return arcs[0] === 2 || arcs[1]! < 40;
}

/** OBJECT IDENTIFIER from dotted text (the caller validates untrusted text with isOid first). */
export function derOid(oid: string): Uint8Array {
  if (!isOid(oid))
    throw new AttestError('TSA_OPTIONS', `${JSON.stringify(oid)} is not a dotted OBJECT IDENTIFIER`);
  const arcs = oid.split('.').map(Number);
  const out: number[] = [];
  const push = (a: number) => {
    const chunk: number[] = [a % 128];
    for (let v = Math.floor(a / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v % 128) | 0x80);
    out.push(...chunk);
  };
  push(arcs[0]! * 40 + arcs[1]!);
  for (const a of arcs.slice(2)) push(a);
  return derEncode(TAG.OID, Uint8Array.from(out));
}
