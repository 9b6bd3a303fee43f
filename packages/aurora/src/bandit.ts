// LinUCB (Li, Chu, Langford, Schapire 2010, "A contextual-bandit approach to personalized news article
// recommendation", algorithm 1: disjoint linear models): one ridge-regression model per arm (a provider) over a
// shared context vector x (offer + workload features, scoring.ts). Estimate θᵀx, upper bound θᵀx + α·sqrt(xᵀA⁻¹x).
// A⁻¹ is kept directly and updated with Sherman–Morrison, so an update is O(d²) and a score O(d²) with no inversion.
// Pure and deterministic: the same updates in the same order give the same model bytes (the trained artifact's hash).
import { createHash } from 'node:crypto';
import { canonicalize } from '@vaultmesh/ledger';
import { AuroraError } from './errors.ts';

export const BANDIT_MODEL_VERSION = 1;

export interface ArmState {
  /** A⁻¹, row-major d×d. */
  readonly ainv: number[];
  /** b = Σ r·x. */
  readonly b: number[];
  /** Updates seen. */
  n: number;
}

/** The serialized model (what `vm aurora train` writes and hashes). */
export interface BanditModelJson {
  readonly version: typeof BANDIT_MODEL_VERSION;
  readonly algorithm: 'linucb';
  readonly dimension: number;
  readonly alpha: number;
  readonly lambda: number;
  readonly features: readonly string[];
  readonly arms: Record<string, { ainv: number[]; b: number[]; n: number }>;
  /** Outcomes learned from in total. */
  readonly updates: number;
}

export interface ArmEstimate {
  /** θᵀx: the expected reward. */
  readonly mean: number;
  /** α·sqrt(xᵀA⁻¹x): the exploration bonus. */
  readonly bonus: number;
  /** mean + bonus. */
  readonly ucb: number;
  /** Updates this arm has seen. */
  readonly n: number;
}

export class LinUcb {
  readonly dimension: number;
  readonly alpha: number;
  readonly lambda: number;
  readonly features: readonly string[];
  private readonly arms = new Map<string, ArmState>();
  private updateCount = 0;
  private readonly scratch: Float64Array;

  constructor(opts: { features: readonly string[]; alpha?: number; lambda?: number }) {
    if (opts.features.length < 1 || opts.features.length > 64)
      throw new AuroraError('INVALID_ARGUMENT', 'a bandit model needs 1..64 features');
    this.features = [...opts.features];
    this.dimension = opts.features.length;
    this.alpha = opts.alpha ?? 0.5;
    this.lambda = opts.lambda ?? 1;
    if (!(this.alpha >= 0) || !(this.lambda > 0))
      throw new AuroraError('INVALID_ARGUMENT', 'alpha must be ≥ 0 and lambda > 0');
    this.scratch = new Float64Array(this.dimension);
  }

  get updates(): number {
    return this.updateCount;
  }

  armNames(): string[] {
    return [...this.arms.keys()].sort();
  }

  private arm(name: string): ArmState {
    let a = this.arms.get(name);
    if (!a) {
      const d = this.dimension;
      const ainv = new Array<number>(d * d).fill(0);
      for (let i = 0; i < d; i++) ainv[i * d + i] = 1 / this.lambda;
      a = { ainv, b: new Array<number>(d).fill(0), n: 0 };
      this.arms.set(name, a);
    }
    return a;
  }

  private check(x: ArrayLike<number>): void {
    if (x.length !== this.dimension)
      throw new AuroraError(
        'INVALID_ARGUMENT',
        `context has ${x.length} features, the model ${this.dimension}`,
      );
    for (let i = 0; i < x.length; i++)
      if (!Number.isFinite(x[i]!))
        throw new AuroraError('INVALID_ARGUMENT', `feature ${this.features[i]} is not finite`);
  }

  /** The estimate of an arm for context x (an unseen arm: prior mean 0, full bonus). */
  estimate(armName: string, x: ArrayLike<number>): ArmEstimate {
    this.check(x);
    const d = this.dimension;
    const a = this.arms.get(armName);
    if (!a) {
      let xx = 0;
      for (let i = 0; i < d; i++) xx += x[i]! * x[i]!;
      const bonus = this.alpha * Math.sqrt(xx / this.lambda);
      return { mean: 0, bonus, ucb: bonus, n: 0 };
    }
    // θ = A⁻¹b; mean = θᵀx = bᵀA⁻¹x (A⁻¹ symmetric); v = A⁻¹x.
    const v = this.scratch;
    for (let i = 0; i < d; i++) {
      let s = 0;
      const row = i * d;
      for (let j = 0; j < d; j++) s += a.ainv[row + j]! * x[j]!;
      v[i] = s;
    }
    let mean = 0;
    let quad = 0;
    for (let i = 0; i < d; i++) {
      mean += a.b[i]! * v[i]!;
      quad += x[i]! * v[i]!;
    }
    const bonus = this.alpha * Math.sqrt(Math.max(quad, 0));
    return { mean, bonus, ucb: mean + bonus, n: a.n };
  }

  /** Learns reward r (finite, usually 0..1) for arm at context x. */
  update(armName: string, x: ArrayLike<number>, reward: number): void {
    this.check(x);
    if (!Number.isFinite(reward)) throw new AuroraError('INVALID_ARGUMENT', 'reward must be a finite number');
    const d = this.dimension;
    const a = this.arm(armName);
    // Sherman–Morrison: (A + xxᵀ)⁻¹ = A⁻¹ − (A⁻¹x)(A⁻¹x)ᵀ / (1 + xᵀA⁻¹x).
    const v = new Float64Array(d);
    for (let i = 0; i < d; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += a.ainv[i * d + j]! * x[j]!;
      v[i] = s;
    }
    let denom = 1;
    for (let i = 0; i < d; i++) denom += x[i]! * v[i]!;
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) a.ainv[i * d + j]! -= (v[i]! * v[j]!) / denom;
    for (let i = 0; i < d; i++) a.b[i]! += reward * x[i]!;
    a.n++;
    this.updateCount++;
  }

  toJSON(): BanditModelJson {
    const arms: BanditModelJson['arms'] = {};
    for (const name of this.armNames()) {
      const a = this.arms.get(name)!;
      arms[name] = { ainv: [...a.ainv], b: [...a.b], n: a.n };
    }
    return {
      version: BANDIT_MODEL_VERSION,
      algorithm: 'linucb',
      dimension: this.dimension,
      alpha: this.alpha,
      lambda: this.lambda,
      features: [...this.features],
      arms,
      updates: this.updateCount,
    };
  }

  /** Loads a serialized model; INVALID_ARGUMENT saying what is wrong with it. */
  static fromJSON(json: unknown): LinUcb {
    const bad = (why: string): never => {
      throw new AuroraError('INVALID_ARGUMENT', `not a LinUCB model: ${why}`);
    };
    if (typeof json !== 'object' || json === null) return bad('not an object');
    const m = json as Partial<BanditModelJson>;
    if (m.version !== BANDIT_MODEL_VERSION)
      bad(`version ${String(m.version)} (expected ${BANDIT_MODEL_VERSION})`);
    if (m.algorithm !== 'linucb') bad(`algorithm ${String(m.algorithm)}`);
    if (!Array.isArray(m.features) || m.features.some((f) => typeof f !== 'string')) bad('features');
    const features = m.features as string[];
    if (m.dimension !== features.length) bad('dimension does not match the features');
    const model = new LinUcb({ features, alpha: Number(m.alpha), lambda: Number(m.lambda) });
    const d = model.dimension;
    const finite = (v: unknown, n: number) =>
      Array.isArray(v) && v.length === n && v.every((x) => Number.isFinite(x));
    if (typeof m.arms !== 'object' || m.arms === null) bad('arms');
    for (const [name, a] of Object.entries(m.arms ?? {})) {
      if (!finite(a.ainv, d * d) || !finite(a.b, d) || !Number.isInteger(a.n) || a.n < 0) bad(`arm ${name}`);
      model.arms.set(name, { ainv: [...a.ainv], b: [...a.b], n: a.n });
    }
    if (!Number.isInteger(m.updates) || (m.updates ?? -1) < 0) bad('updates');
    model.updateCount = m.updates!;
    return model;
  }

  /** sha256 of the model's RFC 8785 canonical JSON, hex: the artifact's identity. */
  hash(): string {
    return modelHash(this.toJSON());
  }
}

export function modelHash(json: BanditModelJson): string {
  return createHash('sha256').update(canonicalize(json)).digest('hex');
}
