// A plan's steps and rollbacks checked against the action registry (unknown action, bad params, retries of
// non-idempotent steps, reversible writes without a rollback).
import { type ActionRegistry, actionTrait, governStep } from '../actions.ts';
import { describeIssues, type Plan } from '../plan.ts';

/** A step's params checked against its action: the parsed params, or the problems. */
export function checkStep(actions: ActionRegistry, where: string, action: string, params: unknown): string[] {
  const a = actions.get(action);
  if (!a) return [`${where}: unknown action "${action}"`];
  const r = a.params.safeParse(params);
  if (r.success) return [];
  return describeIssues(r.error.issues).map(
    (p) => `${where}/params${p.startsWith('(root)') ? p.slice(6) : p}`,
  );
}

/** Every problem of the plan's steps and rollbacks against the registry (unknown action, bad params). */
export function checkPlanActions(
  plan: Plan,
  actions: ActionRegistry,
  phaseIds?: readonly string[],
): string[] {
  const problems: string[] = [];
  plan.phases.forEach((ph, i) => {
    if (phaseIds && !phaseIds.includes(ph.id)) return;
    ph.steps.forEach((s, j) => {
      problems.push(...checkStep(actions, `/phases/${i}/steps/${j}`, s.action, s.params));
      const action = actions.get(s.action);
      const parsed = s.retry ? action?.params.safeParse(s.params) : undefined;
      if (
        action &&
        parsed?.success &&
        !actionTrait(action, 'idempotent', parsed.data as Record<string, unknown>)
      )
        problems.push(
          `/phases/${i}/steps/${j}/retry: a ${s.action} step with these params is not idempotent, so it is never retried`,
        );
      // A write declared reversible must say how to undo it (the tiers trust `reversible` only then). Params that
      // do not parse are reported above; their effect cannot be judged, so this is not piled on top.
      if (
        s.reversible &&
        !s.rollback &&
        action?.params.safeParse(s.params).success !== false &&
        governStep(action, s, s.params).effect === 'write'
      )
        problems.push(
          `/phases/${i}/steps/${j}/reversible: a ${s.action} step that changes something is reversible only with a rollback`,
        );
      if (s.rollback)
        problems.push(
          ...checkStep(actions, `/phases/${i}/steps/${j}/rollback`, s.rollback.action, s.rollback.params),
        );
    });
  });
  return problems;
}
