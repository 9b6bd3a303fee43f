// Forecast commitments: batches of points with the forecasts made at them, and skill proven from their ledger order.
import { describe, expect, it } from 'vitest';
import { ForecastBook, PsiError, forecastSkill, type CommittedBatch } from '../src/index.ts';

const T0 = Date.UTC(2026, 0, 1);

/** Commits a series through a book: receipts numbered in order, as the ledger would. */
function commit(
  values: number[],
  forecastAt: (i: number) => number,
  horizon = 4,
  batch = 4,
): CommittedBatch[] {
  const book = new ForecastBook('s', 'epoch-1', horizon, batch);
  const out: CommittedBatch[] = [];
  values.forEach((v, i) => {
    const body = book.add(T0 + i * 1000, v, { mean: forecastAt(i), std: 0.5 });
    if (body) out.push({ index: 100 + out.length, body });
  });
  return out;
}

describe('forecast commitments', () => {
  const values = Array.from({ length: 40 }, (_, i) => 2 * i);

  it('commits a batch every `batch` points, each point with its value and the forecast made at it', () => {
    const batches = commit(values, (i) => 2 * (i + 4));
    expect(batches).toHaveLength(10);
    expect(batches[0]!.body).toMatchObject({
      record: 'forecasts',
      series: 's',
      epoch: 'epoch-1',
      horizon: 4,
    });
    expect(batches[1]!.body.points[0]).toEqual({
      i: 4,
      at: new Date(T0 + 4000).toISOString(),
      value: 8,
      mean: 16,
      std: 0.5,
    });
  });

  it('a perfect forecast has skill 1 and full coverage; the naive one has skill 0', () => {
    const perfect = forecastSkill(
      's',
      commit(values, (i) => 2 * (i + 4)),
    );
    // The last 4 forecasts target points never observed: 36 pairs.
    expect(perfect).toMatchObject({ pairs: 36, unordered: 0, mae: 0, naiveMae: 8, skill: 1, coverage95: 1 });
    expect(perfect.receipts).toEqual([100, 109]);
    const naive = forecastSkill(
      's',
      commit(values, (i) => 2 * i),
    );
    expect(naive).toMatchObject({ pairs: 36, skill: 0, coverage95: 0 });
  });

  it('counts only pairs whose forecast receipt precedes the outcome receipt', () => {
    const batches = commit(values, (i) => 2 * (i + 4));
    // Reverse the ledger order: every forecast now comes after its outcome, and none counts.
    const reversed = batches.map((b, k) => ({ index: 200 - k, body: b.body }));
    expect(forecastSkill('s', reversed)).toMatchObject({ pairs: 0, unordered: 36 });
    expect(forecastSkill('other', batches)).toMatchObject({ pairs: 0, receipts: [] });
  });

  it('refuses a horizon shorter than the batch, and non-finite values', () => {
    expect(() => new ForecastBook('s', 'e', 3, 4)).toThrow(/after the batch that commits it/);
    expect(() => new ForecastBook('s', 'e', 5, 0)).toThrow(PsiError);
    const book = new ForecastBook('s', 'e', 4, 4);
    expect(() => book.add(T0, 1, { mean: Number.NaN, std: 1 })).toThrow(/forecast mean/);
  });
});
