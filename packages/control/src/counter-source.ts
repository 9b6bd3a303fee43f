// The node's own metrics as a MetricSource: named counters the executor reports (STEPS_COUNTER,
// STEP_ERRORS_COUNTER, COMPENSATIONS_COUNTER ...), kept in memory as timestamped increments over a sliding
// retention window, and a small PromQL subset evaluated over them, so one rules file works against this source and
// against Prometheus. Supported:
//
//   increase(name{label="value",...}[5m])   exact sum of the increments in (at - 5m, at] (no extrapolation)
//   rate(name{...}[5m])                     increase / window seconds
//   sum(expr)                               expr (every matching series is already summed)
//   numbers, + - * /, parentheses           IEEE arithmetic like Prometheus: 0/0 = NaN (no data), x/0 = +Inf
//
// Anything else is refused (INVALID_ARGUMENT), which a TripwireCheck turns into a fired halt. Increments live in
// memory; the executor's journal is their durable record, and replayJournalCounters restores them after a restart.
import { ControlError } from './errors.ts';
import { parsePromDuration, type MetricSource } from './tripwires.ts';

/** Default retention of increments (the longest window a query can usefully ask about). */
export const DEFAULT_COUNTER_RETENTION_MS = 7 * 24 * 3_600_000;
/** At most this many increments are kept per counter name; the oldest go first. */
export const MAX_COUNTER_SAMPLES = 100_000;

/** A MetricSource over counters reported in-process. */
export interface CounterSource extends MetricSource {
  /** Adds `value` (default 1, must be ≥ 0) to counter `name` with `labels`, at the source's clock. */
  add(name: string, value?: number, labels?: Readonly<Record<string, string>>): void;
  /** Restores an increment recorded earlier, at time `at` (ms), e.g. from the journal; `onAdd` is not told. */
  restore(name: string, value: number, labels: Readonly<Record<string, string>>, at: number): void;
}

interface Sample {
  readonly t: number;
  readonly v: number;
  readonly labels: Readonly<Record<string, string>>;
}

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

type Node =
  | { k: 'num'; v: number }
  | { k: 'bin'; op: '+' | '-' | '*' | '/'; l: Node; r: Node }
  | { k: 'fn'; fn: 'increase' | 'rate'; name: string; match: Record<string, string>; ms: number };

// Recursive descent over: expr := term (('+'|'-') term)*; term := factor (('*'|'/') factor)*;
// factor := number | '(' expr ')' | 'sum' '(' expr ')' | ('increase'|'rate') '(' selector '[' duration ']' ')'.
function parseExpr(src: string): Node {
  let i = 0;
  const bad = (what: string): never => {
    throw new ControlError('INVALID_ARGUMENT', `unsupported expression at ${i} (${what}): ${src}`);
  };
  const ws = () => {
    while (i < src.length && /\s/.test(src[i]!)) i++;
  };
  const eat = (t: string) => {
    ws();
    if (src.startsWith(t, i)) {
      i += t.length;
      return true;
    }
    return false;
  };
  const expect = (t: string) => {
    if (!eat(t)) bad(`expected "${t}"`);
  };
  const ident = () => {
    ws();
    const m = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(src.slice(i));
    if (!m) return bad('expected a name');
    i += m[0].length;
    return m[0];
  };
  const str = () => {
    ws();
    if (src[i] !== '"') bad('expected a quoted label value');
    let out = '';
    for (i++; i < src.length && src[i] !== '"'; i++) out += src[i] === '\\' ? (src[++i] ?? '') : src[i];
    if (src[i] !== '"') bad('unterminated string');
    i++;
    return out;
  };
  const factor = (): Node => {
    ws();
    const num = /^[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?/.exec(src.slice(i));
    if (num) {
      i += num[0].length;
      return { k: 'num', v: Number(num[0]) };
    }
    if (eat('(')) {
      const e = expr();
      expect(')');
      return e;
    }
    const fn = ident();
    expect('(');
    if (fn === 'sum') {
      const e = expr();
      expect(')');
      return e;
    }
    if (fn !== 'increase' && fn !== 'rate') return bad(`function ${fn}`);
    const name = ident();
    const match: Record<string, string> = {};
    if (eat('{'))
      for (;;) {
        if (eat('}')) break;
        const label = ident();
        expect('=');
        match[label] = str();
        if (eat('}')) break;
        expect(',');
      }
    expect('[');
    const end = src.indexOf(']', i);
    if (end < 0) bad('expected "]"');
    const ms = parsePromDuration(src.slice(i, end).trim());
    i = end + 1;
    expect(')');
    return { k: 'fn', fn, name, match, ms };
  };
  const term = (): Node => {
    let l = factor();
    for (;;) {
      if (eat('*')) l = { k: 'bin', op: '*', l, r: factor() };
      else if (eat('/')) l = { k: 'bin', op: '/', l, r: factor() };
      else return l;
    }
  };
  const expr = (): Node => {
    let l = term();
    for (;;) {
      if (eat('+')) l = { k: 'bin', op: '+', l, r: term() };
      else if (eat('-')) l = { k: 'bin', op: '-', l, r: term() };
      else return l;
    }
  };
  const e = expr();
  ws();
  if (i !== src.length) bad('trailing input');
  return e;
}

/** Creates an empty counter source; `now` is its clock in ms (default Date.now). */
export function createCounterSource(
  opts: {
    now?: () => number;
    retentionMs?: number;
    /** Told of every live increment (e.g. to export it on /metrics). Its failures are ignored. */
    onAdd?: (name: string, value: number, labels: Readonly<Record<string, string>>) => void;
  } = {},
): CounterSource {
  const now = opts.now ?? Date.now;
  const retention = opts.retentionMs ?? DEFAULT_COUNTER_RETENTION_MS;
  const series = new Map<string, Sample[]>();
  const increase = (name: string, match: Record<string, string>, from: number, to: number) => {
    let total = 0;
    for (const s of series.get(name) ?? [])
      if (s.t > from && s.t <= to && Object.entries(match).every(([k, v]) => s.labels[k] === v)) total += s.v;
    return total;
  };
  const evaluate = (n: Node, at: number): number => {
    switch (n.k) {
      case 'num':
        return n.v;
      case 'fn': {
        const inc = increase(n.name, n.match, at - n.ms, at);
        return n.fn === 'increase' ? inc : inc / (n.ms / 1000);
      }
      case 'bin': {
        const l = evaluate(n.l, at);
        const r = evaluate(n.r, at);
        return n.op === '+' ? l + r : n.op === '-' ? l - r : n.op === '*' ? l * r : l / r;
      }
    }
  };
  const check = (name: string, value: number) => {
    if (!NAME_RE.test(name)) throw new ControlError('INVALID_ARGUMENT', `invalid counter name "${name}"`);
    if (!Number.isFinite(value) || value < 0)
      throw new ControlError('INVALID_ARGUMENT', `a counter only grows; got ${value} for ${name}`);
  };
  return {
    restore(name, value, labels, at) {
      check(name, value);
      if (!Number.isFinite(at) || at <= now() - retention) return;
      const list = series.get(name) ?? [];
      // Keep clock order: insert after every sample at or before `at`.
      let lo = 0;
      let hi = list.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (list[mid]!.t <= at) lo = mid + 1;
        else hi = mid;
      }
      list.splice(lo, 0, { t: at, v: value, labels: { ...labels } });
      if (list.length > MAX_COUNTER_SAMPLES) list.splice(0, list.length - MAX_COUNTER_SAMPLES);
      series.set(name, list);
    },
    add(name, value = 1, labels = {}) {
      check(name, value);
      const t = now();
      const list = series.get(name) ?? [];
      list.push({ t, v: value, labels: { ...labels } });
      try {
        opts.onAdd?.(name, value, labels);
      } catch {
        // exporting must not change a run
      }
      // Increments arrive in clock order, so the stale ones are at the front.
      let drop = 0;
      while (
        drop < list.length &&
        (list[drop]!.t <= t - retention || list.length - drop > MAX_COUNTER_SAMPLES)
      )
        drop++;
      if (drop) list.splice(0, drop);
      series.set(name, list);
    },
    async query(promql, at) {
      return evaluate(parseExpr(promql), at.getTime());
    },
  };
}
