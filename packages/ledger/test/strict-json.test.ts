// I-JSON (RFC 7493) for every receipt input: duplicate keys and lone surrogates are refused, never resolved.
import { describe, expect, it } from 'vitest';
import { parseStrictJson } from '../src/index.ts';

const fail = (m: string) => new Error(m);

describe('parseStrictJson', () => {
  it('accepts I-JSON, including escaped keys that differ and valid surrogate pairs', () => {
    expect(
      parseStrictJson('{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}],"e":"😀 \\ud83d\\ude00"}', fail),
    ).toEqual({
      a: 1,
      b: { a: 2 },
      c: [{ a: 3 }, { a: 4 }],
      e: '😀 😀',
    });
  });

  it.each([
    ['{"title":"x","title":"y"}', /duplicate key "title"/],
    ['{"body":{"t":1,"\\u0074":2}}', /duplicate key "t"/],
    ['{"title":"\\ud800"}', /a string at \/title holds a lone surrogate/],
    ['{"a":["ok","\\udc00x"]}', /a string at \/a\/1 holds a lone surrogate/],
    ['{"\\ud83d":1}', /lone surrogate/],
    ['{"a":', /not valid JSON/],
  ])('refuses %s', (text, why) => {
    expect(() => parseStrictJson(text, fail)).toThrow(why);
  });
});
