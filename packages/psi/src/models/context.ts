// A contextual anomaly detector after CAD OSE (M. Smirnov, 2016; NAB's "contextOSE", written again from its
// description). Each value becomes a few facts: the bits of its level among 2^bits − 1 steps of a known range. A
// context pairs a left semi-context (facts of the previous step, including the contexts that fired then) with a
// right one (facts that followed); contexts are learned online. At each step the detector counts the contexts
// selected by the past (their left side fully present) and how many of them fired (their right side fully
// present), and how many new contexts the step made. A point the last prediction did not expect scores
// (1 − fired/selected + new/potential) / 2, and after a score ≥ baseThreshold the next restPoints scores are 0.
//
// The range is an input: NAB's harness gives every detector the file's min and max (inputMin/inputMax); a node
// knows it where a metric has natural bounds. Memory grows with the number of distinct contexts, up to maxContexts.
import { PsiError } from '../errors.ts';

export interface ContextOptions {
  /** Bits per value (levels: 2^bits). */
  readonly bits: number;
  /** The most facts a learned left semi-context may hold. */
  readonly maxLeft: number;
  /** The most fired contexts carried into the next step as facts. */
  readonly maxActive: number;
  readonly baseThreshold: number;
  /** Points after a score ≥ baseThreshold whose scores are 0. */
  readonly restPoints: number;
  /** No context is learned beyond this many (a bound on memory). */
  readonly maxContexts: number;
}

export const DEFAULT_CONTEXT: ContextOptions = {
  bits: 3,
  maxLeft: 7,
  maxActive: 15,
  baseThreshold: 0.75,
  restPoints: 30,
  maxContexts: 20_000,
};

/** Facts of the contexts that fired are numbered from here (sensor facts are below it). */
const CONTEXT_FACT = 2 ** 31;
const SENSOR_FACT = 65_536;

interface Semi {
  readonly facts: readonly number[];
  /** Facts of this semi-context present in the current crossing. */
  matched: number[];
  /** The right semi-context id → context id (left semi-contexts only). */
  readonly contexts: Map<number, number>;
}

interface Context {
  readonly id: number;
  readonly right: readonly number[];
  readonly key: string;
  predicted: number;
  correct: number;
  fired: number;
  /** Learned from two whole steps (not from a crossing of them). */
  zeroLevel: boolean;
}

type Pair = readonly [left: readonly number[], right: readonly number[]];

const keyOf = (facts: readonly number[]): string => facts.join(',');

/** The context memory, with an index from each fact to the semi-contexts holding it (one per side). */
class ContextMemory {
  private readonly ids: [Map<string, number>, Map<string, number>] = [new Map(), new Map()];
  private readonly semis: [Semi[], Semi[]] = [[], []];
  private readonly byFact: [Map<number, Semi[]>, Map<number, Semi[]>] = [new Map(), new Map()];
  private readonly crossed: [Semi[], Semi[]] = [[], []];
  /** Left semi-contexts by their largest fact: a full match of a fact set is found through its own facts. */
  private readonly byLastFact = new Map<number, Semi[]>();
  /** The facts of the last prediction's left side, and the left semi-contexts it held fully. */
  private lastLeft: readonly number[] = [];
  private lastFull: Semi[] = [];
  readonly contexts: Context[] = [];
  private fresh = -1;

  constructor(private readonly opts: ContextOptions) {}

  private semi(side: 0 | 1, facts: readonly number[]): number {
    const key = keyOf(facts);
    let id = this.ids[side].get(key);
    if (id !== undefined) return id;
    id = this.semis[side].length;
    this.ids[side].set(key, id);
    const s: Semi = { facts, matched: [], contexts: new Map() };
    this.semis[side].push(s);
    for (const f of facts) {
      const list = this.byFact[side].get(f);
      if (list) list.push(s);
      else this.byFact[side].set(f, [s]);
    }
    if (side === 0 && facts.length > 0) {
      const last = facts[facts.length - 1]!;
      const list = this.byLastFact.get(last);
      if (list) list.push(s);
      else this.byLastFact.set(last, [s]);
    }
    return id;
  }

  /** Learns contexts; returns how many were new. */
  learn(pairs: readonly Pair[]): number {
    let added = 0;
    for (const [l, r] of pairs) if (this.context(l, r, false) === 'new') added++;
    return added;
  }

  /** Learns the context of two whole steps; whether it is new (it is then left out of this step's count). */
  learnZeroLevel(l: readonly number[], r: readonly number[]): boolean {
    return this.context(l, r, true) === 'new';
  }

  private context(l: readonly number[], r: readonly number[], zeroLevel: boolean): 'new' | 'known' | 'full' {
    const left = this.semis[0][this.semi(0, l)]!;
    const ri = this.semi(1, r);
    const existing = left.contexts.get(ri);
    if (existing !== undefined) {
      if (zeroLevel) this.contexts[existing]!.zeroLevel = true;
      return 'known';
    }
    if (this.contexts.length >= this.opts.maxContexts) return 'full';
    const id = this.contexts.length;
    left.contexts.set(ri, id);
    this.contexts.push({
      id,
      right: r,
      key: `${keyOf(l)}|${keyOf(r)}`,
      predicted: 0,
      correct: 0,
      fired: 0,
      zeroLevel,
    });
    if (zeroLevel) this.fresh = id;
    return 'new';
  }

  /** Marks, on one side, the semi-contexts that share facts with `facts`. */
  private cross(side: 0 | 1, facts: readonly number[]): void {
    for (const s of this.crossed[side]) s.matched = [];
    const out: Semi[] = [];
    for (const f of facts)
      for (const s of this.byFact[side].get(f) ?? []) {
        if (s.matched.length === 0) out.push(s);
        s.matched.push(f);
      }
    this.crossed[side] = out;
  }

  /**
   * The step's facts arrive: each context whose left side the previous step held fully was selected; it fired when
   * its right side is here fully. Returns the fired contexts, the number selected, and the partial matches that
   * may become new contexts (only when the step itself made a new zero-level context).
   */
  arrive(
    facts: readonly number[],
    madeNew: boolean,
  ): { fired: Context[]; selected: number; potential: Pair[] } {
    if (!madeNew) return this.arriveKnown(facts);
    // A new step: partly present left sides may grow contexts, so cross both sides in full.
    this.cross(0, this.lastLeft);
    this.cross(1, facts);
    const fired: Context[] = [];
    const potential: Pair[] = [];
    let selected = 0;
    for (const left of this.crossed[0]) {
      const leftFull = left.matched.length === left.facts.length;
      for (const [ri, cid] of left.contexts) {
        if (cid === this.fresh) continue;
        const c = this.contexts[cid]!;
        const right = this.semis[1][ri]!;
        const hit = right.matched.length;
        if (leftFull) {
          selected++;
          if (this.count(c, right.facts.length, hit, fired)) continue;
        }
        // A context learned from whole steps grows: the facts of both sides present now become a new context.
        if (c.zeroLevel && hit > 0 && left.matched.length <= this.opts.maxLeft)
          potential.push([[...left.matched], [...right.matched]]);
      }
    }
    this.fresh = -1;
    return { fired, selected, potential };
  }

  /** Counts a selected context's prediction; whether it fired (its right side is all here). */
  private count(c: Context, rightSize: number, hit: number, fired: Context[]): boolean {
    c.predicted += rightSize;
    c.correct += hit;
    if (hit !== rightSize) return false;
    c.fired++;
    fired.push(c);
    return true;
  }

  /**
   * `arrive` for a step the memory knew: only the left sides the last prediction held fully count (a partly
   * present one can only grow contexts, which a known step does not do), and they are found without a crossing.
   */
  private arriveKnown(facts: readonly number[]): {
    fired: Context[];
    selected: number;
    potential: Pair[];
  } {
    const present = new Set(facts);
    const fired: Context[] = [];
    let selected = 0;
    for (const left of this.lastFull)
      for (const [ri, cid] of left.contexts) {
        const right = this.semis[1][ri]!;
        let hit = 0;
        for (const f of right.facts) if (present.has(f)) hit++;
        selected++;
        this.count(this.contexts[cid]!, right.facts.length, hit, fired);
      }
    return { fired, selected, potential: [] };
  }

  /** The left semi-contexts whose every fact is in `facts` (through the index of their largest fact). */
  private fullyHeld(facts: readonly number[]): Semi[] {
    const present = new Set(facts);
    const out: Semi[] = [];
    for (const f of facts)
      for (const s of this.byLastFact.get(f) ?? []) if (s.facts.every((x) => present.has(x))) out.push(s);
    return out;
  }

  /** The facts of the next left side: what the best contexts among those it selects predict. */
  predict(facts: readonly number[]): Set<number> {
    this.lastLeft = facts;
    this.lastFull = this.fullyHeld(facts);
    let best = 0;
    let chosen: Context[] = [];
    for (const s of this.lastFull) {
      for (const cid of s.contexts.values()) {
        const c = this.contexts[cid]!;
        const weight = c.predicted > 0 ? c.correct / c.predicted : 0;
        if (weight > best) {
          best = weight;
          chosen = [c];
        } else if (weight === best) chosen.push(c);
      }
    }
    const out = new Set<number>();
    for (const c of chosen) for (const f of c.right) out.add(f);
    return out;
  }
}

/** One series' context detector over a known range. */
export class ContextDetector {
  private readonly memory: ContextMemory;
  private readonly levels: number;
  private readonly step: number;
  private left: number[] = [];
  private expected = new Set<number>();
  private points = 0;
  private lastHigh = 0;

  constructor(
    private readonly range: { readonly min: number; readonly max: number },
    private readonly opts: ContextOptions = DEFAULT_CONTEXT,
  ) {
    if (!Number.isFinite(range.min) || !Number.isFinite(range.max) || range.max < range.min)
      throw new PsiError('INVALID_ARGUMENT', `a context detector needs a finite range min ≤ max`);
    if (!Number.isInteger(opts.bits) || opts.bits < 1 || opts.bits > 16)
      throw new PsiError('INVALID_ARGUMENT', `bits must be an integer from 1 to 16, got ${opts.bits}`);
    this.levels = 2 ** opts.bits - 1;
    this.step = (range.max - range.min || this.levels) / this.levels;
    this.memory = new ContextMemory(opts);
  }

  /** Contexts learned so far. */
  get contexts(): number {
    return this.memory.contexts.length;
  }

  /** The sensor facts of a value: one per bit of its level, clamped to the range. */
  facts(value: number): number[] {
    const level = Math.max(0, Math.min(this.levels, Math.floor((value - this.range.min) / this.step)));
    const out: number[] = [];
    for (let b = 0; b < this.opts.bits; b++) out.push(SENSOR_FACT + b * 2 + ((level >> b) & 1));
    return out;
  }

  /** Scores a point against what the past predicted, then learns it. */
  update(value: number): number {
    if (!Number.isFinite(value))
      throw new PsiError('INVALID_ARGUMENT', `a point must be a finite number, got ${value}`);
    this.points++;
    const now = this.facts(value);
    // How much of the value the prediction missed, weighting each bit by its significance.
    let missed = 0;
    for (const f of now) if (!this.expected.has(f)) missed += 2 ** ((f - SENSOR_FACT) >> 1);
    const potentialKeys = new Set<string>();
    let madeNew = false;
    if (this.left.length > 0) {
      potentialKeys.add(`${keyOf(this.left)}|${keyOf(now)}`);
      madeNew = this.memory.learnZeroLevel(this.left, now);
    }
    const { fired, selected, potential } = this.memory.arrive(now, madeNew);
    for (const [l, r] of potential) potentialKeys.add(`${keyOf(l)}|${keyOf(r)}`);
    // The contexts that fired most often go on as facts of the next step.
    fired.sort((a, b) => a.fired - b.fired || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const carried = fired.slice(-this.opts.maxActive).map((c) => CONTEXT_FACT + c.id);
    this.left = [...new Set([...now, ...carried])].sort((a, b) => a - b);
    const added = this.memory.learn(potential) + (madeNew ? 1 : 0);
    this.expected = this.memory.predict(this.left);
    const firedShare = selected > 0 ? fired.length / selected : 0;
    const newShare = madeNew && potentialKeys.size > 0 ? added / potentialKeys.size : 0;
    const score = missed > 0 ? (1 - firedShare + newShare) / 2 : 0;
    const resting = this.points - this.lastHigh <= this.opts.restPoints;
    if (score >= this.opts.baseThreshold) this.lastHigh = this.points;
    return resting ? 0 : score;
  }
}
