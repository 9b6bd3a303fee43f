// RFC 8941 structured field values: the subset RFC 9421 and RFC 9530 use (dictionaries, inner lists, parameters, bare items).
// Parsing follows the algorithms of RFC 8941 §4.2 character by character; its input is attacker-controlled.
import { AttestError } from './errors.ts';

/** An RFC 8941 Token (§3.3.4), kept apart from String so it serializes back unquoted. */
export class SfToken {
  constructor(readonly value: string) {}
}

/** An RFC 8941 Decimal (§3.3.2), kept apart from Integer so `1.0` serializes back as `1.0`. */
export class SfDecimal {
  constructor(readonly value: number) {}
}

/** A bare item: Integer (number), Decimal, String (string), Token, Byte Sequence (Uint8Array) or Boolean. */
export type SfBareItem = number | SfDecimal | string | SfToken | Uint8Array | boolean;

/** Parameters in their order of appearance (a later duplicate key overwrites, as §4.2.3.2 says). */
export type SfParams = Map<string, SfBareItem>;

/** An Item: a bare item with parameters. */
export interface SfItem {
  readonly kind: 'item';
  readonly value: SfBareItem;
  readonly params: SfParams;
}

/** An Inner List: items with parameters of their own, and parameters of the list. */
export interface SfInnerList {
  readonly kind: 'list';
  readonly items: SfItem[];
  readonly params: SfParams;
}

/** A Dictionary in member order (a later duplicate key overwrites its value in place, §4.2.2). */
export type SfDictionary = Map<string, SfItem | SfInnerList>;

const EMPTY_PARAMS: SfParams = new Map();

const fail = (what: string, input: string, at: number): never => {
  throw new AttestError('SIGNATURE_MALFORMED', `structured field: ${what} at offset ${at} (RFC 8941)`, {
    offset: at,
    length: input.length,
  });
};

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isLcAlpha = (c: number) => c >= 0x61 && c <= 0x7a;
const isAlpha = (c: number) => isLcAlpha(c) || (c >= 0x41 && c <= 0x5a);
// tchar (RFC 9110 §5.6.2): "!#$%&'*+-.^_`|~", DIGIT, ALPHA.
const TCHAR = new Uint8Array(128);
for (const ch of "!#$%&'*+-.^_`|~") TCHAR[ch.charCodeAt(0)] = 1;
for (let c = 0; c < 128; c++) if (isDigit(c) || isAlpha(c)) TCHAR[c] = 1;
const isKeyChar = (c: number) =>
  isLcAlpha(c) || isDigit(c) || c === 0x5f || c === 0x2d || c === 0x2e || c === 0x2a;
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

class Parser {
  i = 0;
  constructor(readonly s: string) {}

  skipSp(): void {
    while (this.s.charCodeAt(this.i) === 0x20) this.i++;
  }

  skipOws(): void {
    let c = this.s.charCodeAt(this.i);
    while (c === 0x20 || c === 0x09) c = this.s.charCodeAt(++this.i);
  }

  done(): boolean {
    return this.i >= this.s.length;
  }

  key(): string {
    const start = this.i;
    const c = this.s.charCodeAt(this.i);
    if (!(isLcAlpha(c) || c === 0x2a)) fail('expected a key (lowercase letter or "*")', this.s, this.i);
    this.i++;
    while (this.i < this.s.length && isKeyChar(this.s.charCodeAt(this.i))) this.i++;
    return this.s.slice(start, this.i);
  }

  params(): SfParams {
    if (this.s.charCodeAt(this.i) !== 0x3b) return EMPTY_PARAMS;
    const params: SfParams = new Map();
    while (this.s.charCodeAt(this.i) === 0x3b) {
      this.i++;
      this.skipSp();
      const k = this.key();
      let v: SfBareItem = true;
      if (this.s.charCodeAt(this.i) === 0x3d) {
        this.i++;
        v = this.bareItem();
      }
      params.set(k, v);
    }
    return params;
  }

  item(): SfItem {
    const value = this.bareItem();
    return { kind: 'item', value, params: this.params() };
  }

  itemOrInnerList(): SfItem | SfInnerList {
    return this.s.charCodeAt(this.i) === 0x28 ? this.innerList() : this.item();
  }

  innerList(): SfInnerList {
    this.i++; // "("
    const items: SfItem[] = [];
    while (this.i < this.s.length) {
      this.skipSp();
      if (this.s.charCodeAt(this.i) === 0x29) {
        this.i++;
        return { kind: 'list', items, params: this.params() };
      }
      items.push(this.item());
      if (this.done()) break;
      const c = this.s.charCodeAt(this.i);
      if (c !== 0x20 && c !== 0x29) fail('inner list items must be separated by a space', this.s, this.i);
    }
    return fail('inner list is not closed with ")"', this.s, this.i);
  }

  bareItem(): SfBareItem {
    const c = this.s.charCodeAt(this.i);
    if (c === 0x2d || isDigit(c)) return this.number();
    if (c === 0x22) return this.string();
    if (c === 0x2a || isAlpha(c)) return this.token();
    if (c === 0x3a) return this.bytes();
    if (c === 0x3f) return this.boolean();
    return fail(this.done() ? 'unexpected end of input' : 'unexpected character', this.s, this.i);
  }

  number(): number | SfDecimal {
    const start = this.i;
    if (this.s.charCodeAt(this.i) === 0x2d) this.i++;
    if (!isDigit(this.s.charCodeAt(this.i))) fail('a number needs a digit', this.s, this.i);
    const digitsStart = this.i;
    let dot = -1;
    for (; this.i < this.s.length; this.i++) {
      const c = this.s.charCodeAt(this.i);
      if (isDigit(c)) continue;
      if (c === 0x2e && dot < 0) {
        if (this.i - digitsStart > 12) fail('a decimal has at most 12 integer digits', this.s, this.i);
        dot = this.i;
        continue;
      }
      break;
    }
    const len = this.i - digitsStart;
    if (dot < 0) {
      if (len > 15) fail('an integer has at most 15 digits', this.s, start);
      return Number(this.s.slice(start, this.i));
    }
    const frac = this.i - dot - 1;
    if (frac < 1 || frac > 3) fail('a decimal has 1 to 3 fractional digits', this.s, dot);
    return new SfDecimal(Number(this.s.slice(start, this.i)));
  }

  string(): string {
    this.i++; // DQUOTE
    let out = '';
    let run = this.i;
    while (this.i < this.s.length) {
      const c = this.s.charCodeAt(this.i);
      if (c === 0x5c) {
        const n = this.s.charCodeAt(this.i + 1);
        if (n !== 0x22 && n !== 0x5c) fail('only \\" and \\\\ may be escaped in a string', this.s, this.i);
        out += this.s.slice(run, this.i) + this.s[this.i + 1];
        this.i += 2;
        run = this.i;
      } else if (c === 0x22) {
        out += this.s.slice(run, this.i);
        this.i++;
        return out;
      } else if (c < 0x20 || c > 0x7e) {
        fail('a string holds only printable ASCII', this.s, this.i);
      } else this.i++;
    }
    return fail("string is not closed with '\"'", this.s, this.i);
  }

  token(): SfToken {
    const start = this.i++;
    while (this.i < this.s.length) {
      const c = this.s.charCodeAt(this.i);
      if (c < 128 && (TCHAR[c] === 1 || c === 0x3a || c === 0x2f)) this.i++;
      else break;
    }
    return new SfToken(this.s.slice(start, this.i));
  }

  bytes(): Uint8Array {
    const start = ++this.i;
    const end = this.s.indexOf(':', start);
    if (end < 0) fail('byte sequence is not closed with ":"', this.s, start - 1);
    const text = this.s.slice(start, end);
    if (!BASE64_RE.test(text)) fail('byte sequence is not base64', this.s, start);
    this.i = end + 1;
    return Buffer.from(text, 'base64'); // a Buffer is a Uint8Array; no copy
  }

  boolean(): boolean {
    const v = this.s.charCodeAt(this.i + 1);
    if (v !== 0x30 && v !== 0x31) fail('a boolean is ?0 or ?1', this.s, this.i);
    this.i += 2;
    return v === 0x31;
  }
}

/** Parses a Dictionary field value (RFC 8941 §4.2.2); throws SIGNATURE_MALFORMED with the offset of the problem. */
export function parseSfDictionary(input: string): SfDictionary {
  const p = new Parser(input);
  const dict: SfDictionary = new Map();
  p.skipSp();
  if (p.done()) return dict;
  for (;;) {
    const k = p.key();
    let member: SfItem | SfInnerList;
    if (input.charCodeAt(p.i) === 0x3d) {
      p.i++;
      member = p.itemOrInnerList();
    } else member = { kind: 'item', value: true, params: p.params() };
    dict.set(k, member);
    p.skipOws();
    if (p.done()) return dict;
    if (input.charCodeAt(p.i) !== 0x2c) fail('dictionary members must be separated by ","', input, p.i);
    p.i++;
    p.skipOws();
    if (p.done()) fail('trailing "," in a dictionary', input, p.i);
  }
}

/** Parses an Item field value (RFC 8941 §4.2.3), e.g. one component identifier. */
export function parseSfItem(input: string): SfItem {
  const p = new Parser(input);
  p.skipSp();
  const item = p.item();
  p.skipSp();
  if (!p.done()) fail('unexpected characters after the item', input, p.i);
  return item;
}

const MAX_INTEGER = 999_999_999_999_999;

const serializeError = (what: string): never => {
  throw new AttestError('SIGNATURE_MALFORMED', `structured field: cannot serialize ${what} (RFC 8941 §4.1)`);
};

/** Serializes a String (RFC 8941 §4.1.6): printable ASCII only, with `"` and `\` escaped. */
export function serializeSfString(s: string): string {
  let plain = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) serializeError('a string with a non-printable or non-ASCII character');
    if (c === 0x22 || c === 0x5c) plain = false;
  }
  return plain ? `"${s}"` : `"${s.replace(/[\\"]/g, '\\$&')}"`;
}

/** Serializes a Key (RFC 8941 §4.1.1.3). */
export function serializeSfKey(k: string): string {
  const c0 = k.charCodeAt(0);
  if (!(isLcAlpha(c0) || c0 === 0x2a)) serializeError(`the key "${k}"`);
  for (let i = 1; i < k.length; i++) if (!isKeyChar(k.charCodeAt(i))) serializeError(`the key "${k}"`);
  return k;
}

/** Serializes a bare item (RFC 8941 §4.1.3.1). */
export function serializeSfBareItem(v: SfBareItem): string {
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || Math.abs(v) > MAX_INTEGER) serializeError(`the integer ${v}`);
    return String(v);
  }
  if (typeof v === 'string') return serializeSfString(v);
  if (typeof v === 'boolean') return v ? '?1' : '?0';
  if (v instanceof Uint8Array)
    return `:${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')}:`;
  if (v instanceof SfToken) {
    const c0 = v.value.charCodeAt(0);
    if (!(isAlpha(c0) || c0 === 0x2a)) serializeError(`the token "${v.value}"`);
    for (let i = 1; i < v.value.length; i++) {
      const c = v.value.charCodeAt(i);
      if (!(c < 128 && (TCHAR[c] === 1 || c === 0x3a || c === 0x2f)))
        serializeError(`the token "${v.value}"`);
    }
    return v.value;
  }
  // Decimal (§4.1.5): round to three fractional digits, at most 12 integer digits, at least one fractional digit.
  const rounded = Math.round(v.value * 1000) / 1000;
  if (!Number.isFinite(rounded) || Math.abs(Math.trunc(rounded)) > 999_999_999_999)
    serializeError(`the decimal ${v.value}`);
  const text = String(rounded);
  return text.includes('.') ? text : `${text}.0`;
}

/** Serializes parameters (RFC 8941 §4.1.1.2): `;key` for true, `;key=value` otherwise. */
export function serializeSfParams(params: SfParams): string {
  let out = '';
  for (const [k, v] of params)
    out += v === true ? `;${serializeSfKey(k)}` : `;${serializeSfKey(k)}=${serializeSfBareItem(v)}`;
  return out;
}

/** Serializes an Item or Inner List (RFC 8941 §4.1.3, §4.1.1.1). */
export function serializeSfMember(m: SfItem | SfInnerList): string {
  if (m.kind === 'item') return serializeSfBareItem(m.value) + serializeSfParams(m.params);
  let out = '(';
  for (let i = 0; i < m.items.length; i++) {
    if (i > 0) out += ' ';
    out += serializeSfMember(m.items[i]!);
  }
  return out + ')' + serializeSfParams(m.params);
}

/** Serializes a Dictionary (RFC 8941 §4.1.2). */
export function serializeSfDictionary(dict: SfDictionary): string {
  const parts: string[] = [];
  for (const [k, m] of dict) {
    if (m.kind === 'item' && m.value === true) parts.push(serializeSfKey(k) + serializeSfParams(m.params));
    else parts.push(`${serializeSfKey(k)}=${serializeSfMember(m)}`);
  }
  return parts.join(', ');
}
