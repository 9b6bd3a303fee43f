// A plain implementation of the context detector's method, written for the tests only: every step crosses every left
// semi-context with sets and sorts what fired, with no index, mask, filter or shortcut. The detector must score every
// point as this does; its indexes only make it fast.
import { DEFAULT_CONTEXT, type ContextOptions } from '../src/models/context.ts';

interface Ctx {
  id: number;
  right: number[];
  predicted: number;
  correct: number;
  fired: number;
  zeroLevel: boolean;
}
interface Semi {
  facts: number[];
  serial: number;
  contexts: Ctx[];
}

const CONTEXT_FACT = 32;
const key = (facts: readonly number[]): string => facts.join(',');

export class ReferenceContextDetector {
  private readonly lefts = new Map<string, Semi>();
  private readonly contexts: Ctx[] = [];
  private left: number[] = [];
  private expected = new Set<number>();
  private points = 0;
  private lastHigh = 0;
  private readonly levels: number;
  private readonly step: number;

  constructor(
    private readonly range: { min: number; max: number },
    private readonly opts: ContextOptions = DEFAULT_CONTEXT,
  ) {
    this.levels = 2 ** opts.bits - 1;
    this.step = (range.max - range.min || this.levels) / this.levels;
  }

  get count(): number {
    return this.contexts.length;
  }

  private facts(value: number): number[] {
    const level = Math.max(0, Math.min(this.levels, Math.floor((value - this.range.min) / this.step)));
    return Array.from({ length: this.opts.bits }, (_, b) => b * 2 + ((level >> b) & 1));
  }

  private semi(facts: number[]): Semi {
    let s = this.lefts.get(key(facts));
    if (!s) {
      s = { facts, serial: this.lefts.size, contexts: [] };
      this.lefts.set(key(facts), s);
    }
    return s;
  }

  /** Learns a context: 'new', 'known' or 'full' (and the new one). */
  private learn(l: number[], r: number[], zeroLevel: boolean): Ctx | 'known' | 'full' {
    const s = this.semi(l);
    const existing = s.contexts.find((c) => key(c.right) === key(r));
    if (existing) {
      if (zeroLevel) existing.zeroLevel = true;
      return 'known';
    }
    if (this.contexts.length >= this.opts.maxContexts) return 'full';
    const c: Ctx = { id: this.contexts.length, right: r, predicted: 0, correct: 0, fired: 0, zeroLevel };
    this.contexts.push(c);
    s.contexts.push(c);
    return c;
  }

  update(value: number): number {
    this.points++;
    const now = this.facts(value);
    const nowSet = new Set(now);
    let missed = 0;
    for (const f of now) if (!this.expected.has(f)) missed += 2 ** (f >> 1);
    const last = new Set(this.left);
    const fresh = this.left.length > 0 ? this.learn(this.left, now, true) : 'known';
    const madeNew = typeof fresh === 'object';
    // Every left semi-context sharing a fact with the last left side, in the order a crossing finds them: by the
    // first such fact, then by when it was made.
    const firstShared = (s: Semi): number => Math.min(...s.facts.filter((f) => last.has(f)));
    const crossed = [...this.lefts.values()]
      .filter((s) => s.facts.some((f) => last.has(f)))
      .sort((a, b) => firstShared(a) - firstShared(b) || a.serial - b.serial);
    const fired: Ctx[] = [];
    const potential: [number[], number[]][] = [];
    let selected = 0;
    for (const s of crossed) {
      const held = s.facts.filter((f) => last.has(f));
      const full = held.length === s.facts.length;
      for (const c of s.contexts) {
        if (c === fresh) continue;
        const hit = c.right.filter((f) => nowSet.has(f));
        if (full) {
          selected++;
          c.predicted += c.right.length;
          c.correct += hit.length;
          if (hit.length === c.right.length) {
            c.fired++;
            fired.push(c);
            continue;
          }
        }
        if (madeNew && c.zeroLevel && hit.length > 0 && held.length <= this.opts.maxLeft)
          potential.push([held, hit]);
      }
    }
    fired.sort((a, b) => a.fired - b.fired || b.id - a.id);
    const carried = fired.slice(-this.opts.maxActive).map((c) => CONTEXT_FACT + c.id);
    const previous = this.left;
    this.left = [...now, ...carried.sort((a, b) => a - b)];
    let newShare = 0;
    if (madeNew) {
      const distinct = new Set([
        `${key(previous)}|${key(now)}`,
        ...potential.map(([l, r]) => `${key(l)}|${key(r)}`),
      ]);
      const added = potential.filter(([l, r]) => typeof this.learn(l, r, false) === 'object').length;
      newShare = (added + 1) / distinct.size;
    }
    // The prediction: the right sides of the best-weighted contexts whose left side is all in the new left side.
    const next = new Set(this.left);
    let best = 0;
    this.expected = new Set();
    for (const s of this.lefts.values()) {
      if (!s.facts.every((f) => next.has(f))) continue;
      for (const c of s.contexts) {
        const weight = c.predicted > 0 ? c.correct / c.predicted : 0;
        if (weight > best) {
          best = weight;
          this.expected = new Set(c.right);
        } else if (weight === best) for (const f of c.right) this.expected.add(f);
      }
    }
    const firedShare = selected > 0 ? fired.length / selected : 0;
    const score = missed > 0 ? (1 - firedShare + newShare) / 2 : 0;
    const resting = this.points - this.lastHigh <= this.opts.restPoints;
    if (score >= this.opts.baseThreshold) this.lastHigh = this.points;
    return resting ? 0 : score;
  }
}
