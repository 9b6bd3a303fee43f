// The CAD-style context detector on sequences whose answers are known: a repeating pattern is learned until it is
// fully expected, a break in it scores, the rest period silences what follows a high score, and memory stays bounded.
import { describe, expect, it } from 'vitest';
import { ContextDetector, DEFAULT_CONTEXT } from '../src/models/context.ts';
import { PsiError } from '../src/errors.ts';
import { ReferenceContextDetector } from './context-reference.ts';

const PATTERN = [0, 1, 2, 3, 4, 5, 6, 7];
const opts = { ...DEFAULT_CONTEXT, restPoints: 5 };

describe('context detector', () => {
  it('refuses a range it cannot quantize and bad options', () => {
    expect(() => new ContextDetector({ min: 1, max: 0 })).toThrow(PsiError);
    expect(() => new ContextDetector({ min: 0, max: Infinity })).toThrow(PsiError);
    expect(() => new ContextDetector({ min: 0, max: 1 }, { ...opts, bits: 0 })).toThrow(/bits/);
    expect(() => new ContextDetector({ min: 0, max: 1 }).update(NaN)).toThrow(PsiError);
    expect(() => new ContextDetector({ min: 0, max: 1 }, { ...opts, maxContexts: 0 })).toThrow(/maxContexts/);
    expect(() => new ContextDetector({ min: 0, max: 1 }, { ...opts, maxActive: 1.5 })).toThrow(/maxActive/);
  });

  it('scores every point as a plain implementation of the method does (its indexes only make it fast)', () => {
    let seed = 11;
    const random = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    let walk = 0;
    const series: Record<string, (i: number) => number> = {
      'noisy daily cycle': (i) => Math.sin((2 * Math.PI * i) / 48) + 0.3 * random(),
      'random walk': () => (walk += random() - 0.5),
      'steps and spikes': (i) => (i % 300 < 150 ? 1 : 5) + (i % 97 === 0 ? 9 : 0),
    };
    for (const [name, at] of Object.entries(series))
      for (const o of [
        { ...opts, bits: 4 },
        { ...opts, maxContexts: 400 },
      ]) {
        const values = Array.from({ length: 500 }, (_, i) => at(i));
        const range = { min: Math.min(...values), max: Math.max(...values) };
        const fast = new ContextDetector(range, o);
        const plain = new ReferenceContextDetector(range, o);
        const got = values.map((v) => fast.update(v));
        const want = values.map((v) => plain.update(v));
        expect(got, name).toEqual(want);
        expect(fast.contexts, name).toBe(plain.count);
        expect(Math.max(...got), name).toBeGreaterThan(0);
      }
  });

  it('turns a value into one fact per bit of its level, clamped to the range', () => {
    const d = new ContextDetector({ min: 0, max: 7 }, opts);
    expect(d.facts(5)).toEqual([1, 2, 5]); // level 5 = bits 1, 0, 1: fact 2b + bit
    expect(d.facts(-100)).toEqual(d.facts(0));
    expect(d.facts(100)).toEqual(d.facts(7));
    const flat = new ContextDetector({ min: 3, max: 3 }, opts);
    expect(flat.facts(3)).toEqual(flat.facts(3));
  });

  it('learns a repeating pattern until it expects it fully, then scores a break in it', () => {
    const d = new ContextDetector({ min: 0, max: 7 }, opts);
    const scores: number[] = [];
    for (let cycle = 0; cycle < 40; cycle++) for (const v of PATTERN) scores.push(d.update(v));
    expect(Math.max(...scores.slice(-80))).toBe(0);
    const learned = d.contexts;
    // 3 comes where 7 was expected: the prediction misses, and the contexts the past selected do not fire.
    for (const v of [0, 1, 2, 3, 4, 5, 6]) expect(d.update(v)).toBe(0);
    expect(d.update(3)).toBeGreaterThan(0.5);
    expect(d.contexts).toBeGreaterThan(learned);
  });

  it('rests after a high score: the next restPoints scores are 0', () => {
    const d = new ContextDetector({ min: 0, max: 7 }, { ...opts, baseThreshold: 0.5, restPoints: 10 });
    for (let cycle = 0; cycle < 40; cycle++) for (const v of PATTERN) d.update(v);
    for (const v of [0, 1, 2, 3, 4, 5, 6]) d.update(v);
    expect(d.update(3)).toBeGreaterThanOrEqual(0.5);
    const after = [7, 0, 5, 5, 1, 6, 2, 2, 4, 7].map((v) => d.update(v));
    expect(after).toEqual(new Array(10).fill(0));
  });

  it('learns no more contexts than maxContexts, and then no more left sides either (memory stays bounded)', () => {
    const d = new ContextDetector({ min: 0, max: 1 }, { ...opts, bits: 6, maxContexts: 50 });
    let x = 7;
    const feed = (n: number) => {
      for (let i = 0; i < n; i++) {
        x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
        d.update(x / 2 ** 31);
      }
    };
    feed(2_000);
    expect(d.contexts).toBe(50);
    const sides = d.leftSides;
    feed(2_000);
    expect(d.contexts).toBe(50);
    expect(d.leftSides).toBe(sides);
  });
});

describe('context detector through the NAB runner', () => {
  it("is given each file's min and max and a rest period of a fifth of the probation, as NAB runs CAD OSE; so is psi", async () => {
    const { runDetector, probationaryLength, NAB_PROFILES } = await import('../src/nab/index.ts');
    const values = Float64Array.from({ length: 2_000 }, (_, i) => (i === 1_500 ? 40 : 10 + PATTERN[i % 8]!));
    const corpus = {
      dir: '(memory)',
      files: [{ path: 'a/series.csv', times: values.map((_, i) => i * 60_000), values, windows: [] }],
      profiles: NAB_PROFILES,
      labelCount: 0,
    };
    const got = runDetector(corpus, 'context').get('a/series.csv')!;
    const d = new ContextDetector(
      { min: 10, max: 40 },
      { ...DEFAULT_CONTEXT, restPoints: Math.floor(probationaryLength(2_000) / 5) },
    );
    expect([...got]).toEqual([...values].map((v) => d.update(v)));
    expect(got[1_500]).toBeGreaterThan(0.5);
    // psi runs under the same protocol: the model with the file's range (the context detector beside it);
    // psi-blind is the model alone.
    const { DEFAULT_DETECTOR, SeriesModel } = await import('../src/detector.ts');
    const rest = Math.floor(probationaryLength(2_000) / 5);
    const ranged = new SeriesModel(
      {
        ...DEFAULT_DETECTOR,
        ranged: {
          ...DEFAULT_DETECTOR.ranged,
          context: { ...DEFAULT_DETECTOR.ranged.context, restPoints: rest },
        },
      },
      { min: 10, max: 40 },
    );
    const blind = new SeriesModel();
    expect([...runDetector(corpus, 'psi').get('a/series.csv')!]).toEqual(
      [...values].map((v) => ranged.update(v).score),
    );
    expect([...runDetector(corpus, 'psi-blind').get('a/series.csv')!]).toEqual(
      [...values].map((v) => blind.update(v).score),
    );
  });
});
