// `vm aurora train`: a versioned LinUCB model built by replaying stored placement outcomes in order (optionally only
// the recent ones, to forget old provider behaviour). The artifact is its canonical JSON; its identity the sha256.
import { LinUcb, type BanditModelJson } from './bandit.ts';
import type { RouteOutcome } from './router.ts';
import { FEATURES } from './scoring.ts';

export interface TrainedModel {
  readonly model: LinUcb;
  readonly json: BanditModelJson;
  readonly hash: string;
  /** Outcomes learned from. */
  readonly outcomes: number;
  /** The last outcome sequence number included (the router replays newer ones on top). */
  readonly throughSeq: number;
}

export function trainModel(
  outcomes: readonly RouteOutcome[],
  opts: { alpha?: number; lambda?: number; sinceMs?: number } = {},
): TrainedModel {
  const model = new LinUcb({ features: FEATURES, alpha: opts.alpha ?? 0.25, lambda: opts.lambda ?? 1 });
  const sorted = [...outcomes].sort((a, b) => a.seq - b.seq);
  let used = 0;
  for (const o of sorted) {
    if (opts.sinceMs !== undefined && Date.parse(o.at) < opts.sinceMs) continue;
    if (o.features.length !== FEATURES.length) continue;
    model.update(o.provider, o.features, o.reward);
    used++;
  }
  const json = model.toJSON();
  return { model, json, hash: model.hash(), outcomes: used, throughSeq: sorted.at(-1)?.seq ?? 0 };
}
