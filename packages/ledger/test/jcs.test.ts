import { describe, expect, it } from 'vitest';
import { canonicalize } from '../src/index.ts';
import { readTestdata } from './helpers.ts';

interface JcsVectors {
  cases: { name: string; input: string; output: string }[];
  numbers: { ieee754: string; expected: string }[];
}
const v = readTestdata<JcsVectors>('jcs/vectors.json');

function fromIeee754(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt('0x' + hex));
  return view.getFloat64(0);
}

describe('RFC 8785 canonicalization (cyberphone/json-canonicalization vectors)', () => {
  for (const c of v.cases) {
    it(`canonicalizes ${c.name} exactly`, () => {
      expect(canonicalize(JSON.parse(c.input))).toBe(c.output.replace(/\n$/, ''));
    });
  }

  it('serializes the published IEEE 754 numbers, and refuses NaN and Infinity', () => {
    let checked = 0;
    for (const n of v.numbers) {
      const value = fromIeee754(n.ieee754);
      if (!Number.isFinite(value)) {
        expect(() => canonicalize(value)).toThrow();
      } else {
        expect(canonicalize(value)).toBe(n.expected);
      }
      checked++;
    }
    expect(checked).toBeGreaterThan(20);
  });

  it('refuses lone surrogates, non-plain objects and undefined array items', () => {
    expect(() => canonicalize('\ud800')).toThrow(/surrogate/);
    expect(() => canonicalize({ ['\udc00']: 1 })).toThrow(/surrogate/);
    expect(() => canonicalize(new Date(0))).toThrow(/plain/);
    expect(() => canonicalize([undefined])).toThrow(/undefined/);
    expect(() => canonicalize(10n)).toThrow(/bigint/);
    expect(canonicalize({ b: 1, a: undefined, c: [true, null] })).toBe('{"b":1,"c":[true,null]}');
  });
});
