import { describe, expect, it } from 'vitest';
import {
  MAX_RECEIPT_BYTES,
  canonicalReceipt,
  canonicalize,
  createReceiptLeaf,
  utf8,
  type Receipt,
} from '../src/index.ts';
import { canonicalBytesWithPrefix, receiptBytesWithPrefix } from '../src/jcs-bytes.ts';
import { readTestdata } from './helpers.ts';

const text = (b: Uint8Array | undefined) => Buffer.from(b!).toString('hex');
const expected = (prefix: number, s: string) =>
  Buffer.concat([Buffer.from([prefix]), utf8(s)]).toString('hex');

/** The outcome of a call: its bytes as hex, or the error it threw. */
function outcome(f: () => string): string {
  try {
    return f();
  } catch (err) {
    return `throws ${(err as Error).name}: ${(err as Error).message}`;
  }
}

/** mulberry32, so a failure can be reproduced. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [
  'a',
  'Z',
  ' ',
  '"',
  '\\',
  '\n',
  '\u0001',
  '\u007f',
  'é',
  '€',
  '😀',
  '\ud800',
  '\udc00',
  '/',
  '~',
];

function randomValue(rand: () => number, depth: number): unknown {
  const pick = Math.floor(rand() * (depth > 3 ? 5 : 8));
  const str = () =>
    Array.from({ length: Math.floor(rand() * 6) }, () => PIECES[Math.floor(rand() * PIECES.length)]).join('');
  switch (pick) {
    case 0:
      return null;
    case 1:
      return str();
    case 2:
      return [0, -0, 1.5, 1e21, 1e-7, -123456789.125, 2 ** 53, NaN, Infinity][Math.floor(rand() * 9)];
    case 3:
      return rand() < 0.5;
    case 4:
      return 'plain text ' + Math.floor(rand() * 1000);
    case 5:
      return Array.from({ length: Math.floor(rand() * 4) }, () =>
        rand() < 0.03 ? undefined : randomValue(rand, depth + 1),
      );
    default: {
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(rand() * (rand() < 0.1 ? 30 : 5)); i > 0; i--)
        o[rand() < 0.2 ? String(Math.floor(rand() * 20)) : str()] =
          rand() < 0.05 ? undefined : randomValue(rand, depth + 1);
      return o;
    }
  }
}

describe('RFC 8785 straight into bytes', () => {
  it('matches canonicalize() on the published vectors', () => {
    const v = readTestdata<{ cases: { name: string; input: string }[] }>('jcs/vectors.json');
    for (const c of v.cases) {
      const value: unknown = JSON.parse(c.input);
      expect(text(canonicalBytesWithPrefix(7, value, 1 << 20))).toBe(expected(7, canonicalize(value)));
    }
  });

  it('matches canonicalize() byte for byte, and throws the same errors, on random values', () => {
    const rand = prng(20261124);
    let threw = 0;
    for (let i = 0; i < 3000; i++) {
      const value = randomValue(rand, 0);
      const want = outcome(() => expected(0, canonicalize(value)));
      if (want.startsWith('throws')) threw++;
      expect(outcome(() => text(canonicalBytesWithPrefix(0, value, 1 << 20)))).toBe(want);
    }
    // Both outcomes are well represented.
    expect(threw).toBeGreaterThan(300);
    expect(threw).toBeLessThan(2700);
    const deep: unknown[] = [];
    let cur = deep;
    for (let i = 0; i < 70; i++) cur.push((cur = []));
    for (const value of [deep, new Date(0), { a: () => 1 }, 10n, [undefined], { ['\udc00']: 1 }]) {
      expect(outcome(() => text(canonicalBytesWithPrefix(0, value, 1 << 20)))).toBe(
        outcome(() => expected(0, canonicalize(value))),
      );
    }
  });

  it('gives up (for the exact string path) when the result might exceed the limit', () => {
    const s = 'x'.repeat(100);
    expect(canonicalBytesWithPrefix(0, s, 101)).toBeUndefined();
    expect(text(canonicalBytesWithPrefix(0, s, 102))).toBe(expected(0, JSON.stringify(s)));
    // Encodings that outgrow the slab move to a new one intact.
    const big = { a: 'é'.repeat(200_000), b: 'y'.repeat(300_000) };
    expect(text(canonicalBytesWithPrefix(1, big, 1 << 22))).toBe(expected(1, canonicalize(big)));
  });

  it('writes receipts as canonicalReceipt() does, and createReceiptLeaf stays exact near the size limit', () => {
    const base: Receipt = {
      v: 1,
      kind: 'decision',
      actor: 'cli:alice',
      tenant: 'default',
      time: '2026-11-23T08:00:00.000Z',
      body: { title: 'Ü "q" \\ ok', z: 1, a: ['é', { y: null, b: 2.5 }] },
    };
    const withParents = { ...base, parents: [{ index: 3, leafHash: 'ab'.repeat(32) }] };
    for (const r of [base, withParents]) {
      expect(text(receiptBytesWithPrefix(0, r, MAX_RECEIPT_BYTES))).toBe(expected(0, canonicalReceipt(r)));
      expect(text(receiptBytesWithPrefix(0, r, MAX_RECEIPT_BYTES))).toBe(expected(0, canonicalize(r)));
    }
    const fields = { kind: 'decision', actor: 'a', tenant: 't', body: { title: 't', notes: '' } };
    const overhead = createReceiptLeaf(fields, 0).bytes.length;
    for (const extra of [0, 1]) {
      const body = { title: 't', notes: 'r'.repeat(MAX_RECEIPT_BYTES - overhead + extra) };
      const f = () => createReceiptLeaf({ ...fields, body }, 0);
      if (extra === 0) expect(f().bytes.length).toBe(MAX_RECEIPT_BYTES);
      else expect(f).toThrow(`receipt is ${MAX_RECEIPT_BYTES + 1} bytes; the limit is ${MAX_RECEIPT_BYTES}`);
    }
  });
});
