import { describe, expect, it } from 'vitest';
import {
  MAX_RECEIPT_BYTES,
  canonicalReceipt,
  envelopeMismatch,
  canonicalize,
  validateReceipt,
  RECEIPT_KINDS,
  decodeReceipt,
  encodeReceipt,
  formatTilePath,
  parseTilePath,
  utf8,
} from '../src/index.ts';

const base = {
  v: 1,
  kind: 'decision',
  actor: 'cli:alice',
  tenant: 'default',
  time: '2026-11-23T08:00:00.000Z',
  body: { title: 'Use PostgreSQL', rationale: 'transactional integrity' },
};

describe('receipts', () => {
  it('encodes to RFC 8785 bytes and decodes back', () => {
    const bytes = encodeReceipt(base);
    expect(new TextDecoder().decode(bytes)).toBe(
      '{"actor":"cli:alice","body":{"rationale":"transactional integrity","title":"Use PostgreSQL"},"kind":"decision","tenant":"default","time":"2026-11-23T08:00:00.000Z","v":1}',
    );
    expect(decodeReceipt(bytes)).toEqual(base);
  });

  it('writes the envelope fast path exactly as generic RFC 8785 canonicalization does', () => {
    const withParents = {
      ...base,
      parents: [{ index: 3, leafHash: 'ab'.repeat(32) }],
      body: { title: 'Ü "q" \\ ok', z: 1, a: ['é', { y: null, b: 2.5 }] },
    };
    for (const r of [base, withParents]) {
      expect(canonicalReceipt(validateReceipt(r))).toBe(canonicalize(r));
    }
  });

  it('defines a schema for every kind the ledger promises', () => {
    expect([...RECEIPT_KINDS].sort()).toEqual(
      [
        'anchor',
        'audit',
        'decision',
        'deploy',
        'evidence',
        'federation',
        'plan',
        'policy',
        'route',
        'spawn',
        'step',
        'key',
        'tool',
        'analysis',
        'psi',
      ].sort(),
    );
  });

  it.each([
    [{ ...base, kind: 'nonsense' }, /kind: must be one of/],
    [{ ...base, v: 2 }, /\/v/],
    [{ ...base, body: {} }, /body: must have required property 'title'/],
    [{ ...base, body: { title: 5 } }, /\/body\/title: must be string/],
    [{ ...base, tenant: 'Bad Tenant' }, /\/tenant/],
    [{ ...base, time: 'yesterday' }, /\/time/],
    [{ ...base, time: '2026-13-45T99:00:00.000Z' }, /\/time/],
    [{ ...base, extra: 1 }, /unknown field "extra"/],
    [{ ...base, parents: [{ index: -1, leafHash: 'ab' }] }, /parents/],
    [
      { ...base, kind: 'policy', body: { action: 'a', principal: 'p', resource: 'r', decision: 'maybe' } },
      /allow, deny/,
    ],
    [[], /must be object/],
    [{ ...base, kind: 'psi', body: { record: 'anomaly', series: 's', at: 'now' } }, /likelihood/],
    [{ ...base, kind: 'psi', body: { record: 'forecasts', series: 's', epoch: 'e', horizon: 5 } }, /points/],
    [
      {
        ...base,
        kind: 'psi',
        body: {
          record: 'forecasts',
          series: 's',
          epoch: 'e',
          horizon: 5,
          points: [{ i: 0, at: 't', value: 1, mean: 1, std: -1 }],
        },
      },
      /std: must be >= 0/,
    ],
  ])('rejects %j with a precise message', (value, message) => {
    expect(() => encodeReceipt(value)).toThrow(message);
  });

  it('accepts both records of a psi receipt', () => {
    const point = { i: 3, at: '2026-11-23T08:00:00.000Z', value: 1.5, mean: 1.25, std: 0.5 };
    for (const body of [
      { record: 'anomaly', series: 'http-errors', at: '2026-11-23T08:00:00.000Z', likelihood: 0.99999 },
      {
        record: 'forecasts',
        series: 'http-errors',
        epoch: '2026-11-23T07:00:00.000Z',
        horizon: 20,
        points: [point],
      },
    ])
      expect(decodeReceipt(encodeReceipt({ ...base, kind: 'psi', body })).body).toEqual(body);
  });

  it('enforces the leaf size limit', () => {
    const big = {
      ...base,
      body: { title: 'x', rationale: 'y'.repeat(9_000), blob: 'z'.repeat(MAX_RECEIPT_BYTES) },
    };
    expect(() => encodeReceipt(big)).toThrow(/limit is 65535/);
  });

  it('refuses stored bytes that are not canonical', () => {
    const text = new TextDecoder().decode(encodeReceipt(base));
    expect(() => decodeReceipt(utf8(text.replace('{"actor"', '{ "actor"')))).toThrow(/canonical/);
    expect(() => decodeReceipt(utf8(text.slice(0, -1)))).toThrow(/not JSON/);
  });
});

describe('C2SP tlog-tiles paths', () => {
  it('formats and parses the spec examples', () => {
    expect(formatTilePath({ level: 0, index: 1234067, width: 256 })).toBe('tile/0/x001/x234/067');
    expect(formatTilePath({ level: 1, index: 5, width: 100 })).toBe('tile/1/005.p/100');
    expect(formatTilePath({ level: -1, index: 0, width: 3 })).toBe('tile/entries/000.p/3');
    expect(parseTilePath('tile/0/x001/x234/067')).toEqual({ level: 0, index: 1234067, width: 256 });
    expect(parseTilePath('/tile/entries/x001/000.p/7')).toEqual({ level: -1, index: 1000, width: 7 });
  });

  it.each([
    'tile/0/1',
    'tile/0/x000/001',
    'tile/0/001.p/256',
    'tile/0/001.p/0',
    'tile/a/001',
    'tiles/0/001',
    'tile/0/001.p',
  ])('rejects %s', (p) => {
    expect(() => parseTilePath(p)).toThrow(/invalid tile path/);
  });
});

describe('envelopeMismatch (cheap column check used by verify --full)', () => {
  const time = Date.parse(base.time);
  const withParents = {
    ...base,
    parents: [{ index: 1, leafHash: 'cd'.repeat(32) }],
    body: { title: ',"kind":"deploy",', x: [1] },
  };
  it('accepts the true columns, with and without parents', () => {
    for (const r of [base, withParents]) {
      expect(
        envelopeMismatch(encodeReceipt(r), { kind: 'decision', tenant: 'default', time }),
      ).toBeUndefined();
    }
  });
  it('names the column that disagrees', () => {
    for (const r of [base, withParents]) {
      const b = encodeReceipt(r);
      expect(envelopeMismatch(b, { kind: 'deploy', tenant: 'default', time })).toBe('kind');
      expect(envelopeMismatch(b, { kind: 'decision', tenant: 'defaulu', time })).toBe('tenant');
      expect(envelopeMismatch(b, { kind: 'decision', tenant: 'default', time: time + 1 })).toBe('time');
    }
  });
  it('checks a slice of a larger buffer exactly as the slice on its own', () => {
    const columns = [
      { kind: 'decision', tenant: 'default', time },
      { kind: 'deploy', tenant: 'default', time },
      { kind: 'decision', tenant: 'defaulu', time },
      { kind: 'decision', tenant: 'default', time: time + 1 },
    ];
    for (const r of [base, withParents]) {
      const b = encodeReceipt(r);
      // Bytes around the slice that would complete a match if the check strayed outside it.
      const around = utf8(',"kind":"decision",');
      const big = new Uint8Array(around.length + b.length + 3);
      big.set(around, 0);
      big.set(b, around.length);
      for (const c of columns) {
        expect(envelopeMismatch(big, c, around.length, around.length + b.length)).toBe(
          envelopeMismatch(b, c),
        );
      }
      // Truncated from the front: the kind member is outside the slice.
      const cut = Buffer.from(b).lastIndexOf(',"tenant"');
      expect(envelopeMismatch(b, columns[0]!, cut, b.length)).toBe('kind');
    }
  });
});
