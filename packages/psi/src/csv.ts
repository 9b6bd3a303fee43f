// CSV time series: a header, then one row per point: a timestamp and one or more numeric columns. Strict: a row with
// the wrong number of fields, a timestamp that does not parse or a value that is not a finite number is refused with
// its line number, and nothing is read. Timestamps are taken as they come (real exports, NAB's among them, hold
// the odd step back in time).
import { PsiError } from './errors.ts';

/** A parsed CSV series: the header's column names, the times (ms since the epoch) and one array per value column. */
export interface CsvSeries {
  readonly timeColumn: string;
  readonly columns: readonly string[];
  readonly times: Float64Array;
  readonly values: readonly Float64Array[];
}

const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * Parses a timestamp: `YYYY-MM-DD[ HH:MM[:SS[.fraction]]]` (a space or `T`; UTC unless it ends in `Z` or an
 * offset, as NAB's files are) or a number of seconds (below 10^11) or milliseconds since the epoch. Undefined when
 * it is none of these.
 */
export function parseTimestamp(text: string): number | undefined {
  const s = text.trim();
  if (/^-?\d+(\.\d+)?$/.test(s)) {
    const n = Number(s);
    return Math.abs(n) < 1e11 ? n * 1000 : n;
  }
  const m = DATE_TIME.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', sec = '0', frac = '', zone] = m;
  const ms = Number((frac + '000').slice(0, 3));
  let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec), ms);
  const check = new Date(t);
  if (
    check.getUTCDate() !== Number(d) ||
    check.getUTCHours() !== Number(h) ||
    Number(mi) > 59 ||
    Number(sec) > 60
  )
    return undefined;
  if (zone && zone !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    t -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  return t;
}

/** Parses CSV text (no quoting: NAB's and Prometheus exports' shape); `file` names it in errors. */
export function parseCsvSeries(text: string, file = 'CSV'): CsvSeries {
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) throw new PsiError('CSV_INVALID', `${file} is empty`, { file });
  const header = lines[0]!.split(',').map((h) => h.trim());
  if (header.length < 2 || header.some((h) => h === ''))
    throw new PsiError(
      'CSV_INVALID',
      `${file} line 1: the header must name a timestamp column and at least one value column`,
      { file, line: 1 },
    );
  const rows = lines.length - 1;
  const times = new Float64Array(rows);
  const values = header.slice(1).map(() => new Float64Array(rows));
  for (let r = 0; r < rows; r++) {
    const line = r + 2;
    const fields = lines[r + 1]!.split(',');
    if (fields.length !== header.length)
      throw new PsiError(
        'CSV_INVALID',
        `${file} line ${line}: ${fields.length} fields, the header has ${header.length}`,
        { file, line },
      );
    const t = parseTimestamp(fields[0]!);
    if (t === undefined)
      throw new PsiError(
        'CSV_INVALID',
        `${file} line ${line}: "${fields[0]!.slice(0, 40)}" is not a timestamp`,
        {
          file,
          line,
        },
      );
    times[r] = t;
    for (let c = 1; c < fields.length; c++) {
      const f = fields[c]!.trim();
      const v = f === '' ? NaN : Number(f);
      if (!Number.isFinite(v))
        throw new PsiError(
          'CSV_INVALID',
          `${file} line ${line}: ${header[c]} "${f.slice(0, 40)}" is not a finite number`,
          { file, line },
        );
      values[c - 1]![r] = v;
    }
  }
  return { timeColumn: header[0]!, columns: header.slice(1), times, values };
}
