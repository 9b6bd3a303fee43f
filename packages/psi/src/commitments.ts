// Forecast commitments: forecasts written into the ledger before their outcomes arrive, so forecast skill can be
// proven afterwards from the ledger alone.
//
// A series' points are numbered from 0 within an epoch (the field's start). Every `batch` points, one `psi` receipt
// (record "forecasts") carries, for each of those points, its observed value and the forecast made at it for the
// point `horizon` ahead. With horizon ≥ batch, every forecast's target lies after the end of the batch that commits
// it, so its receipt precedes (in ledger order) the receipt that records the target's value. skill() pairs forecasts
// with outcomes and counts only pairs in that order.
import { PsiError } from './errors.ts';

/** One point as committed: its index, time, observed value, and the forecast made at it for index + horizon. */
export interface CommittedPoint {
  readonly i: number;
  readonly at: string;
  readonly value: number;
  readonly mean: number;
  readonly std: number;
}

/** The body of a `psi` receipt with record "forecasts". */
export interface ForecastsBody {
  readonly record: 'forecasts';
  readonly series: string;
  readonly epoch: string;
  readonly horizon: number;
  readonly points: readonly CommittedPoint[];
}

/** Collects a series' points and forecasts into batches to commit. */
export class ForecastBook {
  private pending: CommittedPoint[] = [];
  private next = 0;

  constructor(
    readonly series: string,
    readonly epoch: string,
    readonly horizon: number,
    readonly batch: number,
  ) {
    // 200 points of about 110 bytes each keep a receipt far below the ledger's 64 KiB.
    if (!Number.isInteger(batch) || batch < 1 || batch > 200)
      throw new PsiError('INVALID_ARGUMENT', `batch must be an integer in 1..200, got ${batch}`);
    if (!Number.isInteger(horizon) || horizon < batch || horizon > 10_000)
      throw new PsiError(
        'INVALID_ARGUMENT',
        `horizon must be an integer from the batch size (${batch}) to 10000, got ${horizon}: a forecast's target must lie after the batch that commits it`,
      );
  }

  /** Adds a point and the forecast made at it; returns a receipt body when a batch is complete. */
  add(time: number, value: number, forecast: { mean: number; std: number }): ForecastsBody | undefined {
    for (const [k, v] of [
      ['time', time],
      ['value', value],
      ['forecast mean', forecast.mean],
      ['forecast std', forecast.std],
    ] as const)
      if (!Number.isFinite(v))
        throw new PsiError('INVALID_ARGUMENT', `${k} must be a finite number, got ${v}`);
    this.pending.push({
      i: this.next++,
      at: new Date(time).toISOString(),
      value,
      mean: forecast.mean,
      std: forecast.std,
    });
    if (this.pending.length < this.batch) return undefined;
    const points = this.pending;
    this.pending = [];
    return { record: 'forecasts', series: this.series, epoch: this.epoch, horizon: this.horizon, points };
  }
}

/** A forecasts receipt as read back: its ledger index and body. */
export interface CommittedBatch {
  readonly index: number;
  readonly body: ForecastsBody;
}

/** Forecast skill of one series, proven from the ledger. */
export interface SkillReport {
  readonly series: string;
  /** Forecast/outcome pairs whose forecast's receipt precedes the outcome's receipt. */
  readonly pairs: number;
  /** Pairs left out: the forecast's receipt does not precede the outcome's (never true of receipts this node made). */
  readonly unordered: number;
  /** Mean absolute error of the committed forecasts. */
  readonly mae: number;
  /** Mean absolute error of the naive forecast ("the value when the forecast was made"), same pairs. */
  readonly naiveMae: number;
  /** 1 − mae / naiveMae: 1 is perfect, 0 no better than naive. */
  readonly skill: number;
  /** Share of outcomes inside the forecast's mean ± 2 std (about 0.95 for a calibrated forecast). */
  readonly coverage95: number;
  /** Ledger indexes of the first and last receipt used. */
  readonly receipts: readonly [number, number] | [];
}

/** Pairs every committed forecast with its outcome and scores them (receipts of one series, any order). */
export function forecastSkill(series: string, batches: readonly CommittedBatch[]): SkillReport {
  // (epoch, index) → where the outcome was recorded and its value; and the forecasts made.
  const outcomes = new Map<string, { value: number; receipt: number }>();
  const forecasts: { key: string; made: CommittedPoint; receipt: number }[] = [];
  let lo = Infinity;
  let hi = -Infinity;
  for (const b of batches) {
    if (b.body.series !== series) continue;
    lo = Math.min(lo, b.index);
    hi = Math.max(hi, b.index);
    for (const p of b.body.points) {
      outcomes.set(`${b.body.epoch}#${p.i}`, { value: p.value, receipt: b.index });
      forecasts.push({ key: `${b.body.epoch}#${p.i + b.body.horizon}`, made: p, receipt: b.index });
    }
  }
  let pairs = 0;
  let unordered = 0;
  let abs = 0;
  let naive = 0;
  let inside = 0;
  for (const f of forecasts) {
    const o = outcomes.get(f.key);
    if (!o) continue;
    if (f.receipt >= o.receipt) {
      unordered++;
      continue;
    }
    pairs++;
    abs += Math.abs(o.value - f.made.mean);
    naive += Math.abs(o.value - f.made.value);
    if (Math.abs(o.value - f.made.mean) <= 2 * f.made.std) inside++;
  }
  const mae = pairs ? abs / pairs : NaN;
  const naiveMae = pairs ? naive / pairs : NaN;
  return {
    series,
    pairs,
    unordered,
    mae,
    naiveMae,
    skill: pairs && naiveMae > 0 ? 1 - mae / naiveMae : NaN,
    coverage95: pairs ? inside / pairs : NaN,
    receipts: Number.isFinite(lo) ? [lo, hi] : [],
  };
}
