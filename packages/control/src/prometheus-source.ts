// MetricSource over the Prometheus HTTP API: GET <url>/api/v1/query?query=<PromQL>&time=<unix seconds> (an instant
// query), parsing its documented response { status, data: { resultType, result } } (prometheus.io/docs/prometheus/
// latest/querying/api/#instant-queries), and GET <url>/api/v1/query_range?query=&start=&end=&step= (a range query,
// resultType matrix; #range-queries) for Ψ-Field. Any failure rejects with UPSTREAM_FAILED, which a TripwireCheck
// turns into a fired halt (fail closed).
import { BodyTooLargeError, readBoundedText, requestSecrets, scrubText } from '@vaultmesh/net';
import { ControlError } from './errors.ts';
import type { MetricSource } from './tripwires.ts';

/** Default time limit of one Prometheus query, response body included. */
export const DEFAULT_PROMETHEUS_TIMEOUT_MS = 5_000;
/** Responses larger than this are refused (an instant query of one aggregated series is tiny). */
export const MAX_PROMETHEUS_RESPONSE_BYTES = 4 * 1024 * 1024;

/** Options of createPrometheusSource. */
export interface PrometheusSourceOptions {
  /** Base URL of the Prometheus server (path prefixes such as /prometheus are kept), http or https. */
  readonly url: string;
  readonly timeoutMs?: number;
  /** Extra request headers, e.g. { authorization: 'Bearer …' }. */
  readonly headers?: Readonly<Record<string, string>>;
}

const fail = (message: string): never => {
  throw new ControlError('UPSTREAM_FAILED', `Prometheus: ${message}`);
};

// Sample values are strings; Prometheus writes the non-finite ones as "NaN", "+Inf" and "-Inf".
function sampleValue(v: unknown): number {
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'number' || typeof v[1] !== 'string')
    return fail(`malformed sample ${JSON.stringify(v)?.slice(0, 100)}`);
  const s = v[1];
  if (s === 'NaN') return NaN;
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (!/^-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$/.test(s))
    return fail(`malformed sample value "${s.slice(0, 40)}"`);
  return Number(s);
}

/** The one number of an instant-query response body: a scalar, or a vector of one sample; NaN for an empty vector. */
/**
 * The `data` of a successful response envelope, { status: "success", data: { resultType, result } }; the error an
 * envelope reports otherwise. Attacker-controlled (whatever answers at the URL): every field is checked before use.
 */
function successData(body: unknown): { resultType?: unknown; result?: unknown } {
  const b = body as {
    status?: unknown;
    data?: { resultType?: unknown; result?: unknown };
    error?: unknown;
    errorType?: unknown;
  };
  if (typeof body !== 'object' || body === null) return fail('response is not a JSON object');
  if (b.status !== 'success')
    return fail(
      `query failed: ${String(b.errorType ?? 'error')}: ${String(b.error ?? b.status).slice(0, 300)}`,
    );
  const data = b.data;
  if (typeof data !== 'object' || data === null) return fail('response has no data');
  return data;
}

/** The one series of a vector or matrix result; undefined for an empty one. */
function oneSeries(result: unknown, kind: 'vector' | 'matrix'): unknown {
  if (!Array.isArray(result)) return fail(`${kind} result is not an array`);
  if (result.length === 0) return undefined;
  if (result.length > 1)
    return fail(`query returned ${result.length} series; aggregate it to one (e.g. wrap it in sum())`);
  return result[0];
}

/** The one number of an instant-query response body: a scalar, or a vector of one sample; NaN for an empty vector. */
export function parsePrometheusResponse(body: unknown): number {
  const data = successData(body);
  if (data.resultType === 'scalar') return sampleValue(data.result);
  if (data.resultType !== 'vector')
    return fail(`expected a vector or scalar result, got ${String(data.resultType)}`);
  const sample = oneSeries(data.result, 'vector') as { value?: unknown } | null | undefined;
  if (sample === undefined) return NaN;
  if (typeof sample !== 'object' || sample === null) return fail('malformed vector sample');
  return sampleValue(sample.value);
}

/** Prometheus refuses range queries of more than 11,000 points per series; so do we, before asking. */
export const MAX_RANGE_POINTS = 11_000;

/** One sample of a range query: Unix ms and value. */
export interface RangeSample {
  readonly time: number;
  readonly value: number;
}

/** The samples of a range-query response body: a matrix of at most one series (none: no data). */
export function parsePrometheusRange(body: unknown): RangeSample[] {
  const data = successData(body);
  if (data.resultType !== 'matrix') return fail(`expected a matrix result, got ${String(data.resultType)}`);
  const series = oneSeries(data.result, 'matrix') as { values?: unknown } | null | undefined;
  if (series === undefined) return [];
  if (typeof series !== 'object' || series === null || !Array.isArray(series.values))
    return fail('malformed matrix series');
  if (series.values.length > MAX_RANGE_POINTS) return fail(`more than ${MAX_RANGE_POINTS} samples`);
  return series.values.map((v: unknown) => ({
    time: Math.round((v as [number])[0] * 1000),
    value: sampleValue(v),
  }));
}

/** A MetricSource that also answers range queries. */
export interface PrometheusSource extends MetricSource {
  /** The samples of `promql` from `start` to `end`, every `stepSeconds` (one series; [] when there is no data). */
  queryRange(promql: string, start: Date, end: Date, stepSeconds: number): Promise<RangeSample[]>;
}

async function readCapped(res: Response, max: number): Promise<string> {
  try {
    return await readBoundedText(res, { limit: max });
  } catch (e) {
    if (e instanceof BodyTooLargeError) fail(`response larger than ${max} bytes`);
    throw e;
  }
}

/** A MetricSource querying a Prometheus server; every failure (network, timeout, HTTP, shape) rejects UPSTREAM_FAILED. */
export function createPrometheusSource(opts: PrometheusSourceOptions): PrometheusSource {
  let base: URL;
  try {
    base = new URL(opts.url.endsWith('/') ? opts.url : opts.url + '/');
  } catch {
    throw new ControlError('INVALID_ARGUMENT', `invalid Prometheus URL "${opts.url}"`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:')
    throw new ControlError('INVALID_ARGUMENT', `Prometheus URL must be http or https, got ${base.protocol}`);
  // Credentials in the URL (http://user:pass@host) become a Basic Authorization header: fetch refuses them in the
  // URL, and nothing shown (errors, sources) may carry them.
  const auth: Record<string, string> = {};
  if (base.username || base.password) {
    const user = decodeURIComponent(base.username);
    const pass = decodeURIComponent(base.password);
    auth.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    base.username = '';
    base.password = '';
  }
  const timeoutMs = opts.timeoutMs ?? DEFAULT_PROMETHEUS_TIMEOUT_MS;
  // What we send that is secret; an answer that echoes it (an error body, a proxy page) is scrubbed before use.
  const secrets = requestSecrets({ ...auth, ...opts.headers }, opts.url);
  /** GET <base>/<path>?<params>: the parsed JSON body of a 2xx answer; every failure is UPSTREAM_FAILED. */
  const get = async (path: string, params: Record<string, string>): Promise<unknown> => {
    const u = new URL(path, base);
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    const signal = AbortSignal.timeout(timeoutMs);
    let text: string;
    let status: number;
    try {
      const res = await fetch(u, {
        headers: { accept: 'application/json', ...auth, ...opts.headers },
        signal,
        redirect: 'error',
      });
      status = res.status;
      text = scrubText(await readCapped(res, MAX_PROMETHEUS_RESPONSE_BYTES), secrets);
    } catch (e) {
      if (e instanceof ControlError) throw e;
      if (signal.aborted) return fail(`no answer within ${timeoutMs} ms from ${base.origin}`);
      const cause = (e as { cause?: { message?: string } }).cause?.message;
      return fail(
        scrubText(
          `request to ${base.origin} failed: ${(e as Error).message}${cause ? ` (${cause})` : ''}`,
          secrets,
        ),
      );
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return fail(`HTTP ${status} with a body that is not JSON: ${JSON.stringify(text.slice(0, 100))}`);
    }
    // Prometheus answers errors (400 bad query, 422, 503) with the same JSON envelope, status 'error'.
    if (status < 200 || status > 299) {
      const b = body as { errorType?: unknown; error?: unknown } | null;
      return fail(
        `HTTP ${status}: ${String(b?.errorType ?? 'error')}: ${String(b?.error ?? '').slice(0, 300)}`,
      );
    }
    return body;
  };
  return {
    async query(promql, at) {
      return parsePrometheusResponse(
        await get('api/v1/query', { query: promql, time: (at.getTime() / 1000).toFixed(3) }),
      );
    },
    async queryRange(promql, start, end, stepSeconds) {
      if (!(stepSeconds > 0) || !Number.isFinite(stepSeconds))
        throw new ControlError(
          'INVALID_ARGUMENT',
          `step must be a positive number of seconds, got ${stepSeconds}`,
        );
      const span = (end.getTime() - start.getTime()) / 1000;
      if (!(span >= 0))
        throw new ControlError('INVALID_ARGUMENT', 'the range must end at or after its start');
      if (span / stepSeconds + 1 > MAX_RANGE_POINTS)
        throw new ControlError(
          'INVALID_ARGUMENT',
          `${Math.floor(span / stepSeconds) + 1} points at a ${stepSeconds} s step: at most ${MAX_RANGE_POINTS} (use a larger step or a shorter range)`,
        );
      return parsePrometheusRange(
        await get('api/v1/query_range', {
          query: promql,
          start: (start.getTime() / 1000).toFixed(3),
          end: (end.getTime() / 1000).toFixed(3),
          step: String(stepSeconds),
        }),
      );
    },
  };
}
