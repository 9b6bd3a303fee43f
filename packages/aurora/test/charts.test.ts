// SVG charts: well-formed XML (a small checker: balanced tags, quoted attributes, only known entities), the policy
// names present, text escaped, deterministic bytes.
import { describe, expect, it } from 'vitest';
import {
  barChartSvg,
  escapeXml,
  lineChartSvg,
  niceTicks,
  simFillRateSvg,
  simSummarySvg,
} from '../src/charts.ts';
import { parseSimProviders, parseSimWorkloads, runSimulation } from '../src/simulator.ts';

/** Throws unless `xml` is one well-formed element tree (no DTD, comments or CDATA: the charts use none). */
function checkWellFormed(xml: string): void {
  const stack: string[] = [];
  const entity = /&(?:lt|gt|amp|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);/y;
  let i = 0;
  let roots = 0;
  const checkText = (t: string, where: string) => {
    for (let k = t.indexOf('&'); k >= 0; k = t.indexOf('&', k + 1)) {
      entity.lastIndex = k;
      if (!entity.test(t)) throw new Error(`bare & in ${where}: ${t.slice(k, k + 12)}`);
    }
    if (t.includes('<')) throw new Error(`bare < in ${where}`);
  };
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = xml.slice(i, lt < 0 ? xml.length : lt);
    if (stack.length === 0 && text.trim() !== '')
      throw new Error(`text outside the root: ${text.slice(0, 20)}`);
    checkText(text, 'text');
    if (lt < 0) break;
    const gt = xml.indexOf('>', lt);
    if (gt < 0) throw new Error('unterminated tag');
    const tag = xml.slice(lt + 1, gt);
    const close = /^\/([A-Za-z][\w:.-]*)\s*$/.exec(tag);
    if (close) {
      if (stack.pop() !== close[1]) throw new Error(`mismatched </${close[1]}>`);
    } else {
      const m = /^([A-Za-z][\w:.-]*)((?:\s+[A-Za-z_:][\w:.-]*="[^"]*")*)\s*(\/?)$/.exec(tag);
      if (!m) throw new Error(`malformed tag <${tag.slice(0, 40)}>`);
      const attrs = [...m[2]!.matchAll(/([A-Za-z_:][\w:.-]*)="([^"]*)"/g)];
      const names = attrs.map((a) => a[1]);
      if (new Set(names).size !== names.length) throw new Error(`duplicate attribute in <${m[1]}>`);
      for (const a of attrs) checkText(a[2]!, `attribute ${a[1]}`);
      if (stack.length === 0) roots++;
      if (m[3] !== '/') stack.push(m[1]!);
    }
    i = gt + 1;
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack.join('>, <')}>`);
  if (roots !== 1) throw new Error(`${roots} root elements`);
}

const result = () =>
  runSimulation(
    parseSimProviders({
      providers: [
        {
          name: 'cheap',
          regions: ['r1'],
          advertisedReliability: 0.99,
          startLatency: { meanMs: 20_000, jitterMs: 5000 },
          offers: [
            {
              id: 'a',
              gpuModel: 'A100',
              gpuCount: 1,
              memoryGiB: 80,
              pricePerHour: 1,
              region: 'r1',
              capacity: 3,
            },
          ],
          hidden: { failure: { base: 0.2, highLoad: 0.3 } },
        },
        {
          name: 'steady',
          regions: ['s1'],
          advertisedReliability: 0.99,
          startLatency: { meanMs: 40_000 },
          offers: [
            {
              id: 'a',
              gpuModel: 'A100',
              gpuCount: 1,
              memoryGiB: 80,
              pricePerHour: 2,
              region: 's1',
              capacity: 3,
            },
          ],
          hidden: { failure: { base: 0.01 } },
        },
      ],
    }),
    parseSimWorkloads({
      horizonHours: 6,
      classes: [{ name: 'job', ratePerHour: 4, gpu: { count: 1 }, hours: 1, maxWaitMinutes: 20 }],
    }),
  );

describe('charts', () => {
  it('the summary and fill-rate charts are well-formed SVG naming every policy, and deterministic', () => {
    const r = result();
    for (const svg of [simSummarySvg(r), simFillRateSvg(r)]) {
      expect(() => checkWellFormed(svg)).not.toThrow();
      expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
      for (const p of ['random', 'cheapest', 'fastest', 'rules', 'learned'])
        expect(svg).toContain(`>${p}</text>`);
      expect(svg).toContain('<title>');
    }
    const summary = simSummarySvg(r);
    expect(summary).toContain('Fill rate');
    expect(summary).toContain('Cost per placed job');
    expect(summary).toContain('Avg placement latency (s)');
    expect((summary.match(/<rect [^>]*fill="#/g) ?? []).length).toBeGreaterThanOrEqual(15 + 5); // bars + legend
    const fill = simFillRateSvg(r);
    expect((fill.match(/<path d="M/g) ?? []).length).toBe(5);
    expect(fill).toContain('hours since start');
    expect(simSummarySvg(result())).toBe(summary);
    expect(simFillRateSvg(result())).toBe(fill);
  });

  it('escapes <, & and > (and quotes) in titles, labels and series names', () => {
    const nasty = 'a<b & c>d "e" \'f\'';
    const bar = barChartSvg({
      title: `T ${nasty}`,
      series: [nasty, 'plain'],
      panels: [{ label: `L ${nasty}`, values: [1, 2] }],
    });
    const line = lineChartSvg({
      title: nasty,
      xLabel: nasty,
      yLabel: nasty,
      series: [
        {
          name: nasty,
          points: [
            [0, 1],
            [1, null],
            [2, 3],
          ],
        },
      ],
    });
    for (const svg of [bar, line]) {
      expect(() => checkWellFormed(svg)).not.toThrow();
      expect(svg).toContain('a&lt;b &amp; c&gt;d &quot;e&quot; &apos;f&apos;');
      expect(svg).not.toContain('a<b');
    }
    // A null y breaks the line into two sub-paths.
    expect(line).toMatch(/<path d="M[^"]*M[^"]*"/);
    expect(escapeXml('<&>')).toBe('&lt;&amp;&gt;');
  });

  it('the checker itself rejects broken XML', () => {
    expect(() => checkWellFormed('<svg><g></svg>')).toThrow(/mismatched/);
    expect(() => checkWellFormed('<svg><text>a & b</text></svg>')).toThrow(/bare &/);
    expect(() => checkWellFormed('<svg><text x=1>a</text></svg>')).toThrow(/malformed/);
    expect(() => checkWellFormed('<svg>')).toThrow(/unclosed/);
  });

  it('ticks are round numbers covering the range', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 168, 8)).toEqual([0, 25, 50, 75, 100, 125, 150, 175]);
    const t = niceTicks(0.93, 1, 5);
    expect(t[0]).toBeLessThanOrEqual(0.93);
    expect(t.at(-1)).toBeGreaterThanOrEqual(1);
  });
});
