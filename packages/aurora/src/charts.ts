// Dependency-free SVG charts (the simulator's summary and fill-rate charts). Pure and deterministic: the same input
// gives the same bytes. Every piece of text is XML-escaped; colours are the Okabe–Ito palette (readable for the
// colour-blind), assigned to series in the order given.
import type { SimResult } from './simulator.ts';

/** Okabe & Ito (2008), without yellow (too light on white). */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#D55E00', '#56B4E9', '#000000'] as const;

const colorOf = (i: number) => PALETTE[i % PALETTE.length]!;

/** Escapes text for XML character data and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(
    /[<>&"']/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!,
  );
}

/** A number with at most 2 decimals and no trailing zeros (deterministic coordinates). */
const n = (v: number) => String(Math.round(v * 100) / 100);

/** About `count` round tick values (1, 2, 5 × 10^k steps) covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) max = min + 1;
  const raw = (max - min) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.floor(min / step) * step; v <= max + step * 1e-9; v += step)
    ticks.push(Math.round(v / step) * step);
  if (ticks[ticks.length - 1]! < max) ticks.push(ticks[ticks.length - 1]! + step);
  return ticks.map((t) => Number(t.toPrecision(12)));
}

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';

function text(
  x: number,
  y: number,
  body: string,
  opts: {
    size?: number;
    anchor?: 'start' | 'middle' | 'end';
    weight?: string;
    rotate?: boolean;
    fill?: string;
  } = {},
): string {
  const attrs = [
    `x="${n(x)}"`,
    `y="${n(y)}"`,
    `font-size="${opts.size ?? 12}"`,
    `text-anchor="${opts.anchor ?? 'start'}"`,
    `fill="${opts.fill ?? '#222'}"`,
  ];
  if (opts.weight) attrs.push(`font-weight="${opts.weight}"`);
  if (opts.rotate) attrs.push(`transform="rotate(-90 ${n(x)} ${n(y)})"`);
  return `<text ${attrs.join(' ')}>${escapeXml(body)}</text>`;
}

function svgOpen(width: number, height: number, title: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(title)}" ${FONT}>`,
    `<title>${escapeXml(title)}</title>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    text(width / 2, 26, title, { size: 16, anchor: 'middle', weight: '600' }),
  ];
}

/** A legend row (colour swatch + name per series), centred at y. */
function legend(names: readonly string[], width: number, y: number, line = false): string[] {
  const item = (name: string) => 26 + name.length * 7 + 18;
  const total = names.reduce((s, x) => s + item(x), 0);
  let x = Math.max(10, (width - total) / 2);
  const out: string[] = ['<g class="legend">'];
  names.forEach((name, i) => {
    out.push(
      line
        ? `<line x1="${n(x)}" y1="${n(y - 4)}" x2="${n(x + 20)}" y2="${n(y - 4)}" stroke="${colorOf(i)}" stroke-width="3"/>`
        : `<rect x="${n(x)}" y="${n(y - 10)}" width="14" height="12" fill="${colorOf(i)}"/>`,
    );
    out.push(text(x + (line ? 26 : 20), y, name));
    x += item(name);
  });
  out.push('</g>');
  return out;
}

export interface BarPanel {
  /** The metric, e.g. "Fill rate". */
  readonly label: string;
  /** One value per series, in the series' order. */
  readonly values: readonly number[];
  /** Formats a value for the bar labels and ticks. */
  readonly format?: (v: number) => string;
}

export interface BarChartInput {
  readonly title: string;
  /** The series (bars in each panel; the legend). */
  readonly series: readonly string[];
  readonly panels: readonly BarPanel[];
  readonly width?: number;
  readonly height?: number;
}

/**
 * A grouped bar chart: one panel per metric (its own y axis and ticks, since the metrics have different units), one
 * bar per series in each panel, the value written on each bar, and a legend.
 */
export function barChartSvg(input: BarChartInput): string {
  const width = input.width ?? 900;
  const height = input.height ?? 420;
  const top = 50;
  const bottom = height - 70;
  const panelW = (width - 20) / Math.max(1, input.panels.length);
  const out = svgOpen(width, height, input.title);
  input.panels.forEach((p, pi) => {
    const fmt = p.format ?? ((v: number) => n(v));
    const left = 10 + pi * panelW + 60;
    const right = 10 + (pi + 1) * panelW - 15;
    const plotTop = top + 20;
    const max = Math.max(0, ...p.values.filter(Number.isFinite));
    const ticks = niceTicks(0, max > 0 ? max : 1, 5);
    const yMax = ticks[ticks.length - 1]!;
    const y = (v: number) => bottom - (v / yMax) * (bottom - plotTop);
    out.push(`<g class="panel">`);
    out.push(text((left + right) / 2, top + 8, p.label, { size: 13, anchor: 'middle', weight: '600' }));
    for (const t of ticks) {
      out.push(
        `<line x1="${n(left)}" y1="${n(y(t))}" x2="${n(right)}" y2="${n(y(t))}" stroke="#e3e3e3" stroke-width="1"/>`,
      );
      out.push(text(left - 6, y(t) + 4, fmt(t), { size: 11, anchor: 'end', fill: '#555' }));
    }
    out.push(`<line x1="${n(left)}" y1="${n(plotTop)}" x2="${n(left)}" y2="${n(bottom)}" stroke="#444"/>`);
    out.push(`<line x1="${n(left)}" y1="${n(bottom)}" x2="${n(right)}" y2="${n(bottom)}" stroke="#444"/>`);
    const slot = (right - left) / Math.max(1, p.values.length);
    const barW = Math.min(48, slot * 0.7);
    p.values.forEach((v, i) => {
      const val = Number.isFinite(v) ? Math.max(0, v) : 0;
      const x = left + slot * i + (slot - barW) / 2;
      out.push(
        `<rect x="${n(x)}" y="${n(y(val))}" width="${n(barW)}" height="${n(bottom - y(val))}" fill="${colorOf(i)}"><title>${escapeXml(`${input.series[i] ?? ''}: ${fmt(v)}`)}</title></rect>`,
      );
      out.push(text(x + barW / 2, y(val) - 4, fmt(v), { size: 10, anchor: 'middle' }));
      out.push(
        text(x + barW / 2, bottom + 14, input.series[i] ?? '', { size: 10, anchor: 'middle', fill: '#555' }),
      );
    });
    out.push('</g>');
  });
  out.push(...legend(input.series, width, height - 20));
  out.push('</svg>');
  return out.join('\n') + '\n';
}

export interface LineSeries {
  readonly name: string;
  /** [x, y] points; a null y is a gap (not drawn). */
  readonly points: readonly (readonly [number, number | null])[];
}

export interface LineChartInput {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly LineSeries[];
  /** The y range (default: the data's, padded to round ticks). */
  readonly yMin?: number;
  readonly yMax?: number;
  readonly formatY?: (v: number) => string;
  readonly formatX?: (v: number) => string;
  readonly width?: number;
  readonly height?: number;
}

/** A line chart: one line per series, axes with ticks and labels, a legend. */
export function lineChartSvg(input: LineChartInput): string {
  const width = input.width ?? 900;
  const height = input.height ?? 440;
  const left = 80;
  const right = width - 30;
  const top = 50;
  const bottom = height - 90;
  const fy = input.formatY ?? ((v: number) => n(v));
  const fx = input.formatX ?? ((v: number) => n(v));
  const xs: number[] = [];
  const ys: number[] = [];
  for (const s of input.series)
    for (const [x, y] of s.points) {
      if (Number.isFinite(x)) xs.push(x);
      if (y !== null && Number.isFinite(y)) ys.push(y);
    }
  const xTicks = niceTicks(xs.length ? Math.min(...xs) : 0, xs.length ? Math.max(...xs) : 1, 8);
  const yTicks = niceTicks(
    input.yMin ?? (ys.length ? Math.min(...ys) : 0),
    input.yMax ?? (ys.length ? Math.max(...ys) : 1),
    5,
  );
  const x0 = xTicks[0]!;
  const x1 = xTicks[xTicks.length - 1]!;
  const y0 = yTicks[0]!;
  const y1 = yTicks[yTicks.length - 1]!;
  const px = (x: number) => left + ((x - x0) / (x1 - x0 || 1)) * (right - left);
  const py = (y: number) => bottom - ((y - y0) / (y1 - y0 || 1)) * (bottom - top);
  const out = svgOpen(width, height, input.title);
  for (const t of yTicks) {
    out.push(`<line x1="${left}" y1="${n(py(t))}" x2="${right}" y2="${n(py(t))}" stroke="#e3e3e3"/>`);
    out.push(text(left - 8, py(t) + 4, fy(t), { size: 11, anchor: 'end', fill: '#555' }));
  }
  for (const t of xTicks) {
    out.push(`<line x1="${n(px(t))}" y1="${bottom}" x2="${n(px(t))}" y2="${bottom + 5}" stroke="#444"/>`);
    out.push(text(px(t), bottom + 18, fx(t), { size: 11, anchor: 'middle', fill: '#555' }));
  }
  out.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${bottom}" stroke="#444"/>`);
  out.push(`<line x1="${left}" y1="${bottom}" x2="${right}" y2="${bottom}" stroke="#444"/>`);
  out.push(text((left + right) / 2, bottom + 40, input.xLabel, { size: 13, anchor: 'middle' }));
  out.push(text(22, (top + bottom) / 2, input.yLabel, { size: 13, anchor: 'middle', rotate: true }));
  input.series.forEach((s, i) => {
    // One path; a gap (null y) starts a new sub-path.
    let d = '';
    let pen = false;
    for (const [x, y] of s.points) {
      if (y === null || !Number.isFinite(y) || !Number.isFinite(x)) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${n(px(x))} ${n(py(Math.min(y1, Math.max(y0, y))))} `;
      pen = true;
    }
    out.push(
      `<path d="${d.trim()}" fill="none" stroke="${colorOf(i)}" stroke-width="2" stroke-linejoin="round"><title>${escapeXml(s.name)}</title></path>`,
    );
  });
  out.push(
    ...legend(
      input.series.map((s) => s.name),
      width,
      height - 22,
      true,
    ),
  );
  out.push('</svg>');
  return out.join('\n') + '\n';
}

const pct = (v: number) => `${Math.round(v * 1000) / 10}%`;

/** The simulator's summary: fill rate, cost per placed job and average placement latency per policy. */
export function simSummarySvg(result: SimResult, title = 'Aurora simulator: policies compared'): string {
  const ps = result.policies;
  return barChartSvg({
    title: `${title} (seed ${result.seed}, ${result.jobs} jobs)`,
    series: ps.map((p) => p.policy),
    panels: [
      { label: 'Fill rate', values: ps.map((p) => p.fillRate), format: pct },
      { label: 'Cost per placed job', values: ps.map((p) => p.costPerPlacedJob), format: (v) => n(v) },
      {
        label: 'Avg placement latency (s)',
        values: ps.map((p) => p.avgLatencyMs / 1000),
        format: (v) => String(Math.round(v * 10) / 10),
      },
    ],
  });
}

/** Cumulative fill rate (placed / decided so far) over time, one line per policy. */
export function simFillRateSvg(result: SimResult, title = 'Cumulative fill rate over time'): string {
  const hours = result.series.hours;
  const series = result.policies.map((p) => ({
    name: p.policy,
    points: hours.map((h, i) => [h, result.series.byPolicy[p.policy]?.fillRate[i] ?? null] as const),
  }));
  let min = 1;
  for (const s of series) for (const [, y] of s.points) if (y !== null && y < min) min = y;
  return lineChartSvg({
    title: `${title} (seed ${result.seed})`,
    xLabel: 'hours since start',
    yLabel: 'fill rate (placed / decided)',
    series,
    yMin: Math.max(0, Math.floor(min * 20) / 20),
    yMax: 1,
    formatY: pct,
  });
}
