// Byte helpers that work in Node and in browsers (no Buffer, no node:* imports).
import { LedgerError } from './errors.ts';

// Node's Buffer encodes short strings several times faster than TextEncoder and allocates small arrays
// from a pool; browsers fall back to the standard APIs.
interface NodeBufferApi {
  from(s: string, enc: 'utf8'): Uint8Array;
  allocUnsafe(n: number): Uint8Array & { write(s: string, offset: number): number };
  byteLength(s: string, enc: 'utf8'): number;
}
const NodeBuffer = (globalThis as { Buffer?: NodeBufferApi }).Buffer;

const HEX_PAIRS = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lower-case hex of the bytes. */
export function toHex(bytes: Uint8Array): string {
  if (NodeBuffer && bytes instanceof (NodeBuffer as unknown as typeof Uint8Array)) {
    return (bytes as Uint8Array & { toString(enc: 'hex'): string }).toString('hex');
  }
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += HEX_PAIRS[bytes[i]!]!;
  return out;
}

/** Parses hex (either case); throws INVALID_ARGUMENT on odd length or non-hex characters. */
export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new LedgerError('INVALID_ARGUMENT', 'not a hex string');
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_LOOKUP = new Int16Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_LOOKUP[B64.charCodeAt(i)] = i;

/** Standard base64 with padding (RFC 4648 section 4). */
export function toBase64(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + B64[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]! + '==';
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + '=';
  }
  return out;
}

/** Strict standard base64 decoding: canonical padding required, no whitespace. Attacker-controlled input. */
export function fromBase64(text: string): Uint8Array {
  if (text.length % 4 !== 0)
    throw new LedgerError('INVALID_ARGUMENT', 'base64 length is not a multiple of 4');
  let pad = 0;
  if (text.endsWith('==')) pad = 2;
  else if (text.endsWith('=')) pad = 1;
  const outLen = (text.length / 4) * 3 - pad;
  const out = new Uint8Array(outLen);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    let n = 0;
    for (let j = 0; j < 4; j++) {
      const c = text.charCodeAt(i + j);
      const isPad = c === 61 && i + 4 === text.length && j >= 4 - pad;
      const v = isPad ? 0 : c < 128 ? B64_LOOKUP[c]! : -1;
      if (v < 0) throw new LedgerError('INVALID_ARGUMENT', 'invalid base64 character');
      n = (n << 6) | v;
    }
    if (o < outLen) out[o++] = (n >> 16) & 255;
    if (o < outLen) out[o++] = (n >> 8) & 255;
    if (o < outLen) out[o++] = n & 255;
  }
  // Reject non-canonical encodings (non-zero bits in the padding position).
  if (toBase64(out) !== text) throw new LedgerError('INVALID_ARGUMENT', 'non-canonical base64');
  return out;
}

/** Constant-length comparison of two byte arrays. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Concatenates byte arrays. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

// Small encodings are carved out of a shared slab: one allocation per 1 MiB of receipts instead of one
// per receipt, and no separate UTF-8 length pass. Views keep their slab alive only as long as needed.
const SLAB_SIZE = 1 << 20;
let slab: (Uint8Array & { write(s: string, offset: number): number }) | undefined;
let slabUsed = 0;

/** UTF-8 of `text` preceded by one `prefix` byte, in a single allocation. */
export function utf8WithPrefix(prefix: number, text: string): Uint8Array {
  if (NodeBuffer) {
    // UTF-8 needs at most 3 bytes per UTF-16 code unit.
    const worst = 3 * text.length + 1;
    if (worst > SLAB_SIZE / 4) {
      const out = NodeBuffer.allocUnsafe(NodeBuffer.byteLength(text, 'utf8') + 1);
      out[0] = prefix;
      out.write(text, 1);
      return out;
    }
    if (!slab || slabUsed + worst > SLAB_SIZE) {
      slab = NodeBuffer.allocUnsafe(SLAB_SIZE);
      slabUsed = 0;
    }
    const start = slabUsed;
    slab[start] = prefix;
    const written = slab.write(text, start + 1);
    slabUsed = start + 1 + written;
    return slab.subarray(start, slabUsed);
  }
  const body = encoder.encode(text);
  const out = new Uint8Array(body.length + 1);
  out[0] = prefix;
  out.set(body, 1);
  return out;
}

/** A new byte array of length n with unspecified contents (pooled under Node). */
export function allocBytes(n: number): Uint8Array {
  return NodeBuffer ? NodeBuffer.allocUnsafe(n) : new Uint8Array(n);
}

/** UTF-8 encode. */
export function utf8(text: string): Uint8Array {
  return NodeBuffer ? NodeBuffer.from(text, 'utf8') : encoder.encode(text);
}

/** Strict UTF-8 decode: invalid sequences throw. */
export function fromUtf8(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new LedgerError('INVALID_ARGUMENT', 'invalid UTF-8');
  }
}
