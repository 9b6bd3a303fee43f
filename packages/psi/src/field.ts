// The Ψ-Field of a node: the series it watches, each with its online model, its most recent scored points and its
// anomaly episodes. Pure: the caller samples the series and passes each point in (observe); nothing here keeps time.
// An episode starts at the first point whose likelihood reaches the anomaly threshold and ends at the first point
// below it; the caller records its start (a receipt) once, whatever its length.
import { PsiError } from './errors.ts';
import { DEFAULT_DETECTOR, SeriesModel, type DetectorOptions, type ValueRange } from './detector.ts';
import { servicePsi, type PsiMetrics } from './metrics.ts';

/** One scored point of a watched series. */
export interface FieldPoint {
  /** Unix ms. */
  readonly time: number;
  readonly value: number;
  readonly forecast: number;
  readonly spread: number;
  readonly residual: number;
  readonly likelihood: number;
  readonly score: number;
  readonly metrics: PsiMetrics;
  /** The context detector's score (series watched with a range only). */
  readonly context?: number;
}

/** An anomaly episode: consecutive points at or over the threshold. */
export interface AnomalyEpisode {
  readonly series: string;
  readonly start: number;
  /** The last point of the episode so far (the episode is open while `open`). */
  readonly end: number;
  readonly open: boolean;
  readonly points: number;
  /** The highest likelihood and the point it came with. */
  readonly peak: FieldPoint;
}

/** What a watched series looks like from outside. */
export interface SeriesSummary {
  readonly name: string;
  readonly points: number;
  readonly period: number;
  readonly last: FieldPoint | undefined;
  /** The forecast of the next point and its standard deviation. */
  readonly next: { mean: number; std: number } | undefined;
  readonly anomalous: boolean;
  /** The known range of its values, when it was watched with one (the context detector then runs beside). */
  readonly range: ValueRange | undefined;
}

/** Options of a field. */
export interface FieldOptions {
  readonly detector?: DetectorOptions;
  /** The likelihood at and above which a point is anomalous (default 0.9999). */
  readonly anomalyThreshold?: number;
  /** Scored points kept per series (default 512). */
  readonly keep?: number;
  /** Episodes kept in all (default 1000; the oldest closed ones go first). */
  readonly keepEpisodes?: number;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

interface SeriesState {
  readonly model: SeriesModel;
  readonly range: ValueRange | undefined;
  readonly points: FieldPoint[];
  episode: { start: number; end: number; points: number; peak: FieldPoint } | undefined;
}

/** What observe reports: the scored point, and the episode it opened (the caller records it). */
export interface Observation {
  readonly point: FieldPoint;
  readonly opened: AnomalyEpisode | undefined;
}

export class PsiField {
  private readonly series = new Map<string, SeriesState>();
  private readonly episodes: AnomalyEpisode[] = [];
  readonly anomalyThreshold: number;
  private readonly keep: number;
  private readonly keepEpisodes: number;

  constructor(private readonly opts: FieldOptions = {}) {
    this.anomalyThreshold = opts.anomalyThreshold ?? 0.9999;
    if (!(this.anomalyThreshold > 0 && this.anomalyThreshold <= 1))
      throw new PsiError(
        'INVALID_ARGUMENT',
        `anomalyThreshold must be in (0, 1], got ${this.anomalyThreshold}`,
      );
    this.keep = opts.keep ?? 512;
    this.keepEpisodes = opts.keepEpisodes ?? 1000;
  }

  /**
   * Starts watching a series (idempotent: a series keeps the range it was first watched with). Names: 1-128 of A-Z a-z
   * 0-9 _ . : -. With `range` (the bounds of its values, e.g. 0 and 100 for a CPU percentage), the context detector
   * runs beside the model.
   */
  watch(name: string, options: { range?: ValueRange } = {}): void {
    if (!NAME_RE.test(name))
      throw new PsiError(
        'INVALID_ARGUMENT',
        `series name "${name.slice(0, 140)}" must be 1-128 of A-Z a-z 0-9 _ . : -`,
      );
    const range = options.range;
    if (range && !(Number.isFinite(range.min) && Number.isFinite(range.max) && range.min < range.max))
      throw new PsiError(
        'INVALID_ARGUMENT',
        `series "${name}": range must be finite numbers with min < max, got ${range.min} and ${range.max}`,
      );
    if (!this.series.has(name))
      this.series.set(name, {
        model: new SeriesModel(this.opts.detector ?? DEFAULT_DETECTOR, range),
        range: range && { min: range.min, max: range.max },
        points: [],
        episode: undefined,
      });
  }

  /** The watched series' names. */
  names(): string[] {
    return [...this.series.keys()].sort();
  }

  /** Scores a point of a watched series (against forecasts made before it), learns it, and tracks episodes. */
  observe(name: string, time: number, value: number): Observation {
    const s = this.series.get(name);
    if (!s) throw new PsiError('INVALID_ARGUMENT', `series "${name}" is not watched`);
    if (!Number.isFinite(time))
      throw new PsiError('INVALID_ARGUMENT', `time must be a finite number, got ${time}`);
    const r = s.model.update(value);
    const point: FieldPoint = {
      time,
      value,
      forecast: r.forecast,
      spread: r.spread,
      residual: r.residual,
      likelihood: r.likelihood,
      score: r.score,
      metrics: r.metrics,
      ...(r.context === undefined ? {} : { context: r.context }),
    };
    s.points.push(point);
    if (s.points.length > this.keep) s.points.shift();
    let opened: AnomalyEpisode | undefined;
    if (point.likelihood >= this.anomalyThreshold) {
      if (!s.episode) {
        s.episode = { start: time, end: time, points: 1, peak: point };
        opened = this.toEpisode(name, s.episode, true);
        this.remember(opened);
      } else {
        s.episode.end = time;
        s.episode.points++;
        if (point.likelihood > s.episode.peak.likelihood) s.episode.peak = point;
        this.replaceOpen(name, this.toEpisode(name, s.episode, true));
      }
    } else if (s.episode) {
      this.replaceOpen(name, this.toEpisode(name, s.episode, false));
      s.episode = undefined;
    }
    return { point, opened };
  }

  /** The last `n` scored points of a series (oldest first); undefined when it is not watched. */
  recent(name: string, n: number): readonly FieldPoint[] | undefined {
    const s = this.series.get(name);
    if (!s) return undefined;
    return n <= 0 ? [] : s.points.slice(-n);
  }

  /** The forecast of a series `h` points ahead of its last point, with its std (undefined before its first point). */
  forecast(name: string, h: number): { mean: number; std: number } | undefined {
    const s = this.series.get(name);
    if (!s) throw new PsiError('INVALID_ARGUMENT', `series "${name}" is not watched`);
    return s.model.forecast(h);
  }

  /** A summary of every watched series. */
  summaries(): SeriesSummary[] {
    return this.names().map((name) => {
      const s = this.series.get(name)!;
      return {
        name,
        points: s.model.count,
        period: s.model.period,
        last: s.points[s.points.length - 1],
        next: s.model.forecast(1),
        anomalous: s.episode !== undefined,
        range: s.range,
      };
    });
  }

  /** Ψ per service (series grouped by the part of their name before the first dot). */
  services(): { name: string; psi: number; series: number }[] {
    return servicePsi(this.summaries().map((s) => ({ name: s.name, psi: s.last?.metrics.psi })));
  }

  /** Anomaly episodes, newest first, optionally of one series and since a time. */
  anomalies(filter: { series?: string; since?: number; limit?: number } = {}): AnomalyEpisode[] {
    const out: AnomalyEpisode[] = [];
    for (let k = this.episodes.length - 1; k >= 0 && out.length < (filter.limit ?? 100); k--) {
      const e = this.episodes[k]!;
      if (filter.series !== undefined && e.series !== filter.series) continue;
      if (filter.since !== undefined && e.end < filter.since) continue;
      out.push(e);
    }
    return out;
  }

  private toEpisode(
    series: string,
    e: { start: number; end: number; points: number; peak: FieldPoint },
    open: boolean,
  ): AnomalyEpisode {
    return { series, start: e.start, end: e.end, open, points: e.points, peak: e.peak };
  }

  private remember(e: AnomalyEpisode): void {
    this.episodes.push(e);
    if (this.episodes.length > this.keepEpisodes) {
      const k = this.episodes.findIndex((x) => !x.open);
      this.episodes.splice(k >= 0 ? k : 0, 1);
    }
  }

  private replaceOpen(series: string, e: AnomalyEpisode): void {
    for (let k = this.episodes.length - 1; k >= 0; k--) {
      const x = this.episodes[k]!;
      if (x.series === series && x.open) {
        this.episodes[k] = e;
        return;
      }
    }
  }
}
