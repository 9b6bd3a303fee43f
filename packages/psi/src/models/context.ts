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

/**
 * Facts are small integers: a value's sensor facts are 0 to 2 × bits − 1 (bit b of its level is fact 2b or 2b + 1),
 * and the fact of context id is CONTEXT_FACT + id.
 */
const CONTEXT_FACT = 32;
/** Context facts stay small integers (V8's fast ones) up to this many contexts. */
const MAX_CONTEXTS = 100_000_000;

/**
 * A right semi-context holds only sensor facts (what followed is a value), so it is kept as a mask: bit p stands for
 * sensor fact p (2 × bits of them, at most 32).
 */
type FactMask = number;

const maskOf = (facts: readonly number[]): FactMask => {
  let m = 0;
  for (const f of facts) m |= 1 << f;
  return m >>> 0;
};

/** A 64-bit filter of carried facts, as two words: one bit for each (a multiplicative hash of its context id). */
interface CarriedFilter {
  lo: number;
  hi: number;
}

const addToFilter = (filter: CarriedFilter, id: number): void => {
  const h = Math.imul(id, 0x9e3779b1) >>> 26;
  if (h < 32) filter.lo = (filter.lo | (1 << h)) >>> 0;
  else filter.hi = (filter.hi | (1 << (h - 32))) >>> 0;
};

const popcount = (m: number): number => {
  m = m - ((m >>> 1) & 0x55555555);
  m = (m & 0x33333333) + ((m >>> 2) & 0x33333333);
  return (((m + (m >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
};

interface Context {
  readonly id: number;
  readonly right: FactMask;
  readonly rightSize: number;
  predicted: number;
  correct: number;
  fired: number;
  /** Learned from two whole steps (not from a crossing of them). */
  zeroLevel: boolean;
  /** The last prediction whose left side held this context's fact. */
  heldAt: number;
}

interface LeftSemi {
  readonly facts: readonly number[];
  readonly key: string;
  /** Its sensor facts as a mask, and its other facts (contexts that fired). */
  readonly sensor: FactMask;
  readonly carried: readonly Context[];
  /** A filter of `carried`: a set of facts that lacks one of its bits cannot hold them all. */
  readonly filter: CarriedFilter;
  /** When it was made (left semi-contexts are numbered in order). */
  readonly serial: number;
  /** Its contexts, in the order they were learned, and by their right side. */
  readonly contexts: Context[];
  /** Its contexts learned from whole steps, in the order they were learned (only these grow). */
  readonly zero: Context[];
  /** How many of its facts the current crossing holds (valid while `stamp` is the crossing's). */
  matched: number;
  stamp: number;
}

/** The facts of a left side that a crossing held, with their key, and the left semi-context when it held all of it. */
interface HeldLeft {
  readonly facts: readonly number[];
  readonly key: string;
  readonly semi: LeftSemi | undefined;
}

/** A context a crossing could make: the left side held now and a right side. */
interface Potential {
  readonly left: HeldLeft;
  readonly right: FactMask;
}

/** A set of facts (sorted) as a short string: two UTF-16 units per fact, after its length. */
const keyOf = (facts: readonly number[]): string => {
  const units = [facts.length];
  for (const f of facts) {
    units.push(f & 0xffff, f >>> 16);
  }
  return String.fromCharCode(...units);
};

/** The context memory, with an index from each fact to the left semi-contexts holding it. */
class ContextMemory {
  private readonly lefts = new Map<string, LeftSemi>();
  /** Left semi-contexts with contexts learned from whole steps, by fact, each list in the order they were made. */
  private readonly growing = new Map<number, LeftSemi[]>();
  /** Left semi-contexts by their largest fact: a full match of a fact set is found through its own facts. */
  private readonly byLastFact = new Map<number, LeftSemi[]>();
  /**
   * The facts of the last prediction's left side, and the left semi-contexts it held fully (their contexts are the
   * ones it selected).
   */
  private lastLeft: readonly number[] = [];
  private lastFull: LeftSemi[] = [];
  /** The left semi-context equal to the last prediction's whole left side, when there is one. */
  private lastWhole: LeftSemi | undefined;
  private predictions = 0;
  /** The sensor facts of the last prediction's left side. */
  private lastSensor: FactMask = 0;
  private crossing = 0;
  readonly contexts: Context[] = [];
  private fresh = -1;

  constructor(private readonly opts: ContextOptions) {}

  get leftSides(): number {
    return this.lefts.size;
  }

  private left(facts: readonly number[], key = keyOf(facts)): LeftSemi {
    const known = this.lefts.get(key);
    if (known) return known;
    const s: LeftSemi = {
      facts,
      key,
      sensor: maskOf(facts.filter((f) => f < CONTEXT_FACT)),
      carried: facts.filter((f) => f >= CONTEXT_FACT).map((f) => this.contexts[f - CONTEXT_FACT]!),
      filter: { lo: 0, hi: 0 },
      serial: this.lefts.size,
      contexts: [],
      zero: [],
      matched: 0,
      stamp: 0,
    };
    for (const c of s.carried) addToFilter(s.filter, c.id);
    this.lefts.set(key, s);
    if (facts.length > 0) {
      const last = facts[facts.length - 1]!;
      const list = this.byLastFact.get(last);
      if (list) list.push(s);
      else this.byLastFact.set(last, [s]);
    }
    return s;
  }

  /**
   * Learns the contexts a new step's crossings could make; returns how many were new, and how many distinct
   * contexts the step could make (these and the step's own, from the whole last left side to `now`).
   */
  learn(potential: readonly Potential[], now: FactMask): { added: number; distinct: number } {
    const zero = this.lastWhole ?? this.left(this.lastLeft);
    // The right sides each left semi-context could take this step (a context is its left and right sides).
    const rights = new Map<LeftSemi, FactMask[]>([[zero, [now]]]);
    let added = 0;
    let distinct = 1;
    for (const p of potential) {
      const semi = p.left.semi ?? this.left(p.left.facts, p.left.key);
      const seen = rights.get(semi);
      if (!seen) {
        rights.set(semi, [p.right]);
        distinct++;
      } else if (!seen.includes(p.right)) {
        seen.push(p.right);
        distinct++;
      }
      if (this.context(semi, p.right, false) === 'new') added++;
    }
    return { added, distinct };
  }

  /**
   * Learns the context of the last step's whole left side and this step's facts; whether it is new (it is then left
   * out of this step's count). A left semi-context equal to the last left side was fully held, so the prediction
   * found it (lastWhole) without building its key.
   */
  learnZeroLevel(now: FactMask): boolean {
    // At the bound, nothing new is learned, so no left semi-context is made either (memory stays bounded).
    if (!this.lastWhole && this.contexts.length >= this.opts.maxContexts) return false;
    this.lastWhole ??= this.left(this.lastLeft);
    return this.context(this.lastWhole, now, true) === 'new';
  }

  private context(left: LeftSemi, right: FactMask, zeroLevel: boolean): 'new' | 'known' | 'full' {
    const existing = left.contexts.find((c) => c.right === right);
    if (existing !== undefined) {
      if (zeroLevel && !existing.zeroLevel) {
        existing.zeroLevel = true;
        this.grows(left, existing);
      }
      return 'known';
    }
    if (this.contexts.length >= this.opts.maxContexts) return 'full';
    const c: Context = {
      id: this.contexts.length,
      right,
      rightSize: popcount(right),
      predicted: 0,
      correct: 0,
      fired: 0,
      zeroLevel,
      heldAt: 0,
    };
    this.contexts.push(c);
    left.contexts.push(c);
    if (zeroLevel) {
      this.fresh = c.id;
      this.grows(left, c);
    }
    return 'new';
  }

  /** A context of `left` was learned from whole steps: it may grow from now on (both lists stay in order). */
  private grows(left: LeftSemi, c: Context): void {
    insertSorted(left.zero, c, (a, b) => a.id - b.id);
    if (left.zero.length > 1) return;
    for (const f of left.facts) {
      const list = this.growing.get(f);
      if (list) insertSorted(list, left, (a, b) => a.serial - b.serial);
      else this.growing.set(f, [left]);
    }
  }

  /**
   * The left semi-contexts that may grow and share facts with `facts`, each with how many it shares (in `matched`),
   * in the order a crossing of all of them would find them.
   */
  private cross(facts: readonly number[]): LeftSemi[] {
    const stamp = ++this.crossing;
    const out: LeftSemi[] = [];
    for (const f of facts)
      for (const s of this.growing.get(f) ?? []) {
        if (s.stamp !== stamp) {
          s.stamp = stamp;
          s.matched = 0;
          out.push(s);
        }
        s.matched++;
      }
    return out;
  }

  /**
   * The step's facts arrive: each context whose left side the previous step held fully was selected; it fired when
   * its right side is here fully. Returns those that fired, the number selected, and the partial matches that may
   * become new contexts (only when the step itself made a new zero-level context).
   */
  arrive(now: FactMask, madeNew: boolean): Arrival {
    if (!madeNew) return this.arriveKnown(now);
    // A new step: partly present left sides may grow contexts, so the growing ones are crossed in full.
    const fired = new MostFired(this.opts.maxActive);
    const potential: Potential[] = [];
    let selected = 0;
    for (const left of this.cross(this.lastLeft)) {
      const leftFull = left.matched === left.facts.length;
      // A partly held left side grows only from at most maxLeft facts.
      if (!leftFull && left.matched > this.opts.maxLeft) continue;
      let held: HeldLeft | undefined;
      for (const c of leftFull ? left.contexts : left.zero) {
        if (c.id === this.fresh) continue;
        const hit = c.right & now;
        if (leftFull) {
          selected++;
          if (this.count(c, popcount(hit), fired)) continue;
        }
        // A context learned from whole steps grows: the facts of both sides present now become a new context.
        if (c.zeroLevel && hit !== 0 && left.matched <= this.opts.maxLeft) {
          held ??= leftFull ? { facts: left.facts, key: left.key, semi: left } : this.heldOf(left);
          potential.push({ left: held, right: hit >>> 0 });
        }
      }
    }
    // The fully held left sides that cannot grow count as on a known step.
    for (const left of this.lastFull)
      if (left.zero.length === 0)
        for (const c of left.contexts) {
          selected++;
          this.count(c, popcount(c.right & now), fired);
        }
    this.fresh = -1;
    return { fired, selected, potential };
  }

  /** The facts of a left semi-context that the last prediction's left side held, with their key. */
  private heldOf(left: LeftSemi): HeldLeft {
    const stamp = this.predictions;
    const sensor = this.lastSensor;
    const facts = left.facts.filter((f) =>
      f < CONTEXT_FACT ? ((sensor >>> f) & 1) === 1 : this.contexts[f - CONTEXT_FACT]!.heldAt === stamp,
    );
    return { facts, key: keyOf(facts), semi: undefined };
  }

  /** Counts a selected context's prediction; whether it fired (its right side is all here). */
  private count(c: Context, hit: number, fired: MostFired): boolean {
    c.predicted += c.rightSize;
    c.correct += hit;
    if (hit !== c.rightSize) return false;
    c.fired++;
    fired.offer(c);
    return true;
  }

  /**
   * `arrive` for a step the memory knew: only the contexts the last prediction selected count (a partly present
   * left side can only grow contexts, which a known step does not do), and no context was learned since.
   */
  private arriveKnown(now: FactMask): Arrival {
    const fired = new MostFired(this.opts.maxActive);
    let selected = 0;
    for (const left of this.lastFull) {
      selected += left.contexts.length;
      for (const c of left.contexts) this.count(c, popcount(c.right & now), fired);
    }
    return { fired, selected, potential: [] };
  }

  /** The left semi-contexts whose every fact is in `facts` (through the index of their largest fact). */
  private fullyHeld(facts: readonly number[]): LeftSemi[] {
    const stamp = ++this.predictions;
    let sensor = 0;
    const filter: CarriedFilter = { lo: 0, hi: 0 };
    for (const f of facts)
      if (f < CONTEXT_FACT) sensor |= 1 << f;
      else {
        this.contexts[f - CONTEXT_FACT]!.heldAt = stamp;
        addToFilter(filter, f - CONTEXT_FACT);
      }
    sensor >>>= 0;
    this.lastSensor = sensor;
    const out: LeftSemi[] = [];
    for (const f of facts)
      for (const s of this.byLastFact.get(f) ?? []) {
        if ((s.sensor & sensor) >>> 0 !== s.sensor) continue;
        if ((s.filter.lo & filter.lo) >>> 0 !== s.filter.lo) continue;
        if ((s.filter.hi & filter.hi) >>> 0 !== s.filter.hi) continue;
        let all = true;
        for (const c of s.carried)
          if (c.heldAt !== stamp) {
            all = false;
            break;
          }
        if (!all) continue;
        out.push(s);
        if (s.facts.length === facts.length) this.lastWhole = s;
      }
    return out;
  }

  /** The facts of the next left side (as a mask): what the best contexts among those it selects predict. */
  predict(facts: readonly number[]): FactMask {
    this.lastLeft = facts;
    let best = 0;
    let expected = 0;
    this.lastWhole = undefined;
    this.lastFull = this.fullyHeld(facts);
    for (const s of this.lastFull)
      for (const c of s.contexts) {
        const weight = c.predicted > 0 ? c.correct / c.predicted : 0;
        if (weight > best) {
          best = weight;
          expected = c.right;
        } else if (weight === best) expected |= c.right;
      }
    return expected;
  }
}

/** Inserts an item into a list kept in ascending `order` (a total order: no two items compare equal). */
function insertSorted<T>(list: T[], item: T, order: (a: T, b: T) => number): void {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (order(list[mid]!, item) < 0) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, item);
}

/** Orders contexts by how often they fired, the older first among those fired as often (last in this order). */
const firedOrder = (a: Context, b: Context): number => a.fired - b.fired || b.id - a.id;

/** The contexts that fired in a step: how many, and the k last of them in firedOrder (kept as they are offered). */
class MostFired {
  count = 0;
  /** Ascending in firedOrder. */
  readonly top: Context[] = [];

  constructor(private readonly k: number) {}

  offer(c: Context): void {
    this.count++;
    const top = this.top;
    if (top.length === this.k) {
      if (firedOrder(c, top[0]!) <= 0) return;
      top.shift();
    }
    insertSorted(top, c, firedOrder);
  }
}

/** What a step's arrival tells: the contexts that fired, how many were selected, and what may become contexts. */
interface Arrival {
  readonly fired: MostFired;
  readonly selected: number;
  readonly potential: Potential[];
}

/** One series' context detector over a known range. */
export class ContextDetector {
  private readonly memory: ContextMemory;
  private readonly levels: number;
  private readonly step: number;
  private left: number[] = [];
  /** The sensor facts the last prediction expected (a mask). */
  private expected: FactMask = 0;
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
    for (const [name, least, most] of [
      ['maxLeft', 1, 1_000],
      ['maxActive', 1, 1_000],
      ['restPoints', 0, 1e9],
      ['maxContexts', 1, MAX_CONTEXTS],
    ] as const)
      if (!Number.isInteger(opts[name]) || opts[name] < least || opts[name] > most)
        throw new PsiError(
          'INVALID_ARGUMENT',
          `${name} must be an integer from ${least} to ${most}, got ${opts[name]}`,
        );
    this.levels = 2 ** opts.bits - 1;
    this.step = (range.max - range.min || this.levels) / this.levels;
    this.memory = new ContextMemory(opts);
  }

  /** Contexts learned so far. */
  get contexts(): number {
    return this.memory.contexts.length;
  }

  /** Left semi-contexts held (each context has one; several may share it). */
  get leftSides(): number {
    return this.memory.leftSides;
  }

  /** The sensor facts of a value: one per bit of its level, clamped to the range. */
  facts(value: number): number[] {
    const level = Math.max(0, Math.min(this.levels, Math.floor((value - this.range.min) / this.step)));
    const out: number[] = [];
    for (let b = 0; b < this.opts.bits; b++) out.push(b * 2 + ((level >> b) & 1));
    return out;
  }

  /** Scores a point against what the past predicted, then learns it. */
  update(value: number): number {
    if (!Number.isFinite(value))
      throw new PsiError('INVALID_ARGUMENT', `a point must be a finite number, got ${value}`);
    this.points++;
    const now = this.facts(value);
    const nowMask = maskOf(now);
    // How much of the value the prediction missed, weighting each bit by its significance.
    let missed = 0;
    for (const f of now) if (!((this.expected >>> f) & 1)) missed += 2 ** (f >> 1);
    const madeNew = this.left.length > 0 && this.memory.learnZeroLevel(nowMask);
    const { fired, selected, potential } = this.memory.arrive(nowMask, madeNew);
    // The contexts that fired most often go on as facts of the next step.
    const carried = fired.top.map((c) => CONTEXT_FACT + c.id);
    this.left = [...now, ...carried.sort((a, b) => a - b)];
    let newShare = 0;
    if (madeNew) {
      // Of the distinct contexts this step could have made (its whole one and the crossings), the share it did.
      const { added, distinct } = this.memory.learn(potential, nowMask);
      newShare = (added + 1) / distinct;
    }
    this.expected = this.memory.predict(this.left);
    const firedShare = selected > 0 ? fired.count / selected : 0;
    const score = missed > 0 ? (1 - firedShare + newShare) / 2 : 0;
    const resting = this.points - this.lastHigh <= this.opts.restPoints;
    if (score >= this.opts.baseThreshold) this.lastHigh = this.points;
    return resting ? 0 : score;
  }
}
