// The strict DER reader/writer behind the RFC 3161 code (X.690 8 and 10; examples from X.690 where it has them).
import { describe, expect, it } from 'vitest';
import {
  TAG,
  decodeDer,
  derChildren,
  derInteger,
  derOid,
  readBitString,
  readBoolean,
  readGeneralizedTime,
  readInteger,
  readOid,
} from '../src/der.ts';
import { AttestError } from '../src/errors.ts';

const bytes = (hex: string) => new Uint8Array(Buffer.from(hex.replace(/\s/g, ''), 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function malformed(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AttestError);
    expect((err as AttestError).code).toBe('TSA_MALFORMED');
    return (err as AttestError).message;
  }
  throw new Error('expected TSA_MALFORMED');
}

describe('DER lengths and tags (attacker-controlled input)', () => {
  it('reads short and long definite lengths', () => {
    expect(decodeDer(bytes('0403 010203'), 'x').value).toEqual(bytes('010203'));
    const long = new Uint8Array([0x04, 0x81, 0x80, ...new Uint8Array(128)]);
    expect(decodeDer(long, 'x').value.length).toBe(128);
  });

  it('rejects indefinite lengths (BER), non-minimal lengths and high tag numbers', () => {
    expect(malformed(() => decodeDer(bytes('3080 0000'), 'x'))).toContain('indefinite length');
    expect(malformed(() => decodeDer(bytes('0481 05 0102030405'), 'x'))).toContain('non-minimal length');
    expect(malformed(() => decodeDer(bytes('048200 05 0102030405'), 'x'))).toContain('non-minimal length');
    expect(malformed(() => decodeDer(bytes('1f22 01 00'), 'x'))).toContain('high tag number');
    expect(malformed(() => decodeDer(bytes('0485 0000000001 00'), 'x'))).toContain('too large');
  });

  it('rejects lengths that run past the input, truncated headers and trailing bytes, naming the offset', () => {
    expect(malformed(() => decodeDer(bytes('0405 0102'), 'field'))).toMatch(/^field: length 5 runs past/);
    expect(malformed(() => decodeDer(bytes('04'), 'x'))).toContain('truncated');
    expect(malformed(() => decodeDer(bytes('0482 01'), 'x'))).toContain('truncated length');
    expect(malformed(() => decodeDer(bytes('0400 00'), 'x'))).toContain('1 trailing byte');
    expect(malformed(() => derChildren(decodeDer(bytes('3004 0401 00 05'), 'x'), 'x'))).toContain(
      '(at byte 5)',
    );
  });
});

describe('INTEGER', () => {
  it.each([
    [0n, '020100'],
    [127n, '02017f'],
    [128n, '02020080'],
    [256n, '02020100'],
    [-1n, '0201ff'],
    [-128n, '020180'],
    [-129n, '0202ff7f'],
    [(1n << 64n) - 1n, '020900ffffffffffffffff'],
  ])('encodes %s minimally in two’s complement as %s and reads it back', (n, hex) => {
    expect(toHex(derInteger(n))).toBe(hex);
    expect(readInteger(decodeDer(bytes(hex), 'n'), 'n')).toBe(n);
  });

  it('rejects empty and non-minimal encodings', () => {
    expect(malformed(() => readInteger(decodeDer(bytes('0200'), 'n'), 'n'))).toContain('empty INTEGER');
    expect(malformed(() => readInteger(decodeDer(bytes('0202007f'), 'n'), 'n'))).toContain('non-minimal');
    expect(malformed(() => readInteger(decodeDer(bytes('0202ff80'), 'n'), 'n'))).toContain('non-minimal');
  });
});

describe('OBJECT IDENTIFIER', () => {
  it.each([
    ['1.2.840.113549.1.1.11', '06092a864886f70d01010b'],
    ['2.16.840.1.101.3.4.2.1', '0609608648016503040201'],
    ['2.999.3', '0603883703'], // X.690 8.19.5 example
  ])('encodes %s as %s and reads it back', (oid, hex) => {
    expect(toHex(derOid(oid))).toBe(hex);
    expect(readOid(decodeDer(bytes(hex), 'o'), 'o')).toBe(oid);
  });

  it('rejects non-minimal and truncated arcs, and refuses to encode text that is not an OID', () => {
    expect(malformed(() => readOid(decodeDer(bytes('0603 2a8001'), 'o'), 'o'))).toContain('non-minimal');
    expect(malformed(() => readOid(decodeDer(bytes('0602 2a86'), 'o'), 'o'))).toContain('truncated');
    expect(() => derOid('1.40')).toThrow(AttestError);
    expect(() => derOid('1.2.03')).toThrow(AttestError);
  });
});

describe('GeneralizedTime as RFC 3161 2.4.2 restricts it', () => {
  const time = (s: string) =>
    readGeneralizedTime(
      decodeDer(new Uint8Array([TAG.GENERALIZED_TIME, s.length, ...Buffer.from(s)]), 't'),
      't',
    );

  it('reads whole seconds and fractions of a second', () => {
    expect(time('20261124183241Z').date.toISOString()).toBe('2026-11-24T18:32:41.000Z');
    expect(time('20261124183241.5Z').date.toISOString()).toBe('2026-11-24T18:32:41.500Z');
    expect(time('20261124183241.364Z').date.toISOString()).toBe('2026-11-24T18:32:41.364Z');
    const micro = time('20261124183241.123456Z');
    expect(micro.date.getUTCMilliseconds()).toBe(123);
    expect(micro.fraction).toBe('123456');
  });

  it('rejects trailing zeros in the fraction, local times, offsets and impossible dates', () => {
    for (const bad of ['20261124183241.360Z', '20261124183241.Z', '20261124183241', '20261124183241+0100'])
      expect(malformed(() => time(bad))).toContain('is not YYYYMMDDhhmmss');
    expect(malformed(() => time('20260230120000Z'))).toContain('out of range');
    expect(malformed(() => time('20261124246000Z'))).toContain('out of range');
  });
});

describe('BOOLEAN and BIT STRING', () => {
  it('accepts only 0x00 and 0xff as BOOLEAN', () => {
    expect(readBoolean(decodeDer(bytes('0101ff'), 'b'), 'b')).toBe(true);
    expect(readBoolean(decodeDer(bytes('010100'), 'b'), 'b')).toBe(false);
    expect(malformed(() => readBoolean(decodeDer(bytes('010101'), 'b'), 'b'))).toContain('0x00 or 0xff');
  });

  it('rejects unused bits that are set', () => {
    expect(readBitString(decodeDer(bytes('030206c0'), 'k'), 'k').unusedBits).toBe(6);
    expect(malformed(() => readBitString(decodeDer(bytes('030206c1'), 'k'), 'k'))).toContain('not zero');
    expect(malformed(() => readBitString(decodeDer(bytes('030108'), 'k'), 'k'))).toContain('unused-bits');
  });
});
