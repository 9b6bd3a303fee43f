// What a step does decides how it is governed. Each action declares its effect class (read or write) in the
// registry, and the facts that policy and the autonomy tiers see are derived from it: a plan's own `readOnly`,
// `aggregation`, `reversible` and `risk` can only make a step stricter, never looser. Destructive commands are
// refused outright, whoever wrote the plan (operator, agent, strategist, model).
import { basename } from 'node:path';
import type { StepRisk } from './plan.ts';

/** What an action does to the world: `read` changes nothing; `write` may change something. */
export type EffectClass = 'read' | 'write';

/** The facts a step is governed by (see deriveStepFacts). */
export interface GovernedFacts {
  readonly effect: EffectClass;
  readonly readOnly: boolean;
  readonly reversible: boolean;
  readonly aggregation: boolean;
  readonly risk: StepRisk;
}

/** How an action describes itself to governance (actions.ts Action satisfies it). */
export interface EffectSource<P = Record<string, unknown>> {
  readonly effect: EffectClass | ((params: P) => EffectClass);
  /** Computes an aggregate of data already held (T3 lets these run alone); default false. */
  readonly aggregation?: boolean | ((params: P) => boolean);
  /** The lowest risk a write of this action is governed at; default 'medium'. Reads are 'low' at least. */
  readonly writeRiskFloor?: StepRisk;
}

/** What the plan author declared about a step. */
export interface DeclaredFacts {
  readonly risk: StepRisk;
  readonly reversible: boolean;
  readonly readOnly?: boolean;
  readonly aggregation?: boolean;
  readonly rollback?: unknown;
}

const RISK_ORDER: readonly StepRisk[] = ['low', 'medium', 'high', 'critical'];
const maxRisk = (a: StepRisk, b: StepRisk): StepRisk =>
  RISK_ORDER.indexOf(a) >= RISK_ORDER.indexOf(b) ? a : b;

const traitOf = <P>(t: boolean | ((p: P) => boolean) | undefined, params: P): boolean =>
  typeof t === 'function' ? t(params) : (t ?? false);

/** The effect class of an action with these params; an unknown action is a write. */
export function effectOf<P>(action: EffectSource<P> | undefined, params: P): EffectClass {
  if (!action) return 'write';
  return typeof action.effect === 'function' ? action.effect(params) : action.effect;
}

/**
 * The facts policy and the tiers see for a step: derived from the action's effect class, with the declarations
 * only able to tighten them. readOnly needs a read effect (and no `readOnly: false`); aggregation needs an
 * aggregating action; reversible needs a rollback (reads are trivially reversible); risk is at least the action's
 * floor.
 */
export function deriveStepFacts<P>(
  action: EffectSource<P> | undefined,
  declared: DeclaredFacts,
  params: P,
): GovernedFacts {
  const effect = effectOf(action, params);
  const readOnly = effect === 'read' && declared.readOnly !== false;
  const floor: StepRisk = effect === 'read' ? 'low' : (action?.writeRiskFloor ?? 'medium');
  return {
    effect,
    readOnly,
    reversible: declared.reversible && (readOnly || declared.rollback !== undefined),
    aggregation:
      action !== undefined && traitOf(action.aggregation, params) && declared.aggregation !== false,
    risk: maxRisk(declared.risk, action ? floor : 'high'),
  };
}

/** A destructive-command rule: a regular expression over the command line (see matchDestructive). */
export interface DenyRule {
  readonly id: string;
  /** JavaScript regular expression source, matched against the command line and each argument. */
  readonly pattern: string;
  readonly reason: string;
}

// Separators before a command word inside a shell string ("sh -c 'cd /; rm -rf /'").
const W = String.raw`(?:^|[\s;&|(\x60]|\$\()`;
const ROOTISH = String.raw`(?:/|/\*|~/?|\$HOME/?|/(?:bin|boot|dev|etc|home|lib|lib32|lib64|opt|proc|root|sbin|srv|sys|usr|var)/?\*?)`;

/** The shipped destructive commands (operators add their own with control.shell.denyCommands). */
export const DEFAULT_DENY_COMMANDS: readonly DenyRule[] = [
  {
    id: 'rm-root',
    pattern: String.raw`${W}rm\s+(?:-\S+\s+|--\s+)*${ROOTISH}(?=$|[\s;&|)])`,
    reason: 'removes the root file system, a home directory or a system directory',
  },
  {
    id: 'no-preserve-root',
    pattern: String.raw`--no-preserve-root`,
    reason: 'disables rm’s root protection',
  },
  { id: 'mkfs', pattern: String.raw`${W}mkfs(?:\.\w+)?(?=$|\s)`, reason: 'formats a file system' },
  {
    id: 'dd-device',
    pattern: String.raw`${W}dd\s[^;&|]*\bof=/dev/(?!null\b|zero\b|stdout\b|stderr\b)`,
    reason: 'writes raw bytes to a device',
  },
  {
    id: 'wipe-device',
    pattern: String.raw`${W}(?:wipefs|shred|blkdiscard|sgdisk|fdisk|parted)\s[^;&|]*/dev/`,
    reason: 'wipes or repartitions a device',
  },
  {
    id: 'redirect-device',
    pattern: String.raw`>\s*/dev/(?:sd|hd|vd|xvd|nvme|mmcblk|disk)`,
    reason: 'overwrites a block device',
  },
  {
    id: 'power',
    pattern: String.raw`${W}(?:shutdown|reboot|halt|poweroff)(?=$|\s)|${W}init\s+[06](?=$|\s)|${W}systemctl\s+(?:poweroff|reboot|halt)\b`,
    reason: 'stops or restarts the machine',
  },
  { id: 'fork-bomb', pattern: String.raw`:\(\)\s*\{\s*:\s*\|\s*:\s*&\s*\}\s*;\s*:`, reason: 'a fork bomb' },
  {
    id: 'recursive-perms-root',
    pattern: String.raw`${W}(?:chmod|chown|chgrp)\s+(?:-\S+\s+)*-\S*R\S*\s+(?:-\S+\s+)*\S+\s+/(?=$|\s)`,
    reason: 'changes ownership or permissions of the whole file system',
  },
];

/** Compiles deny rules; throws a plain Error naming a rule whose pattern is not a valid regular expression. */
export function compileDenyRules(rules: readonly DenyRule[]): { rule: DenyRule; re: RegExp }[] {
  return rules.map((rule) => {
    try {
      return { rule, re: new RegExp(rule.pattern) };
    } catch (e) {
      throw new Error(`deny rule ${rule.id}: invalid pattern: ${(e as Error).message}`);
    }
  });
}

/**
 * The first deny rule that a command matches, or undefined. The command line is the command's base name (so
 * /bin/rm is rm) and its arguments joined by spaces; each argument is checked alone too, so a shell string
 * (`sh -c "…"`) is looked into.
 */
export function matchDestructive(
  rules: readonly { rule: DenyRule; re: RegExp }[],
  command: string,
  args: readonly string[],
): DenyRule | undefined {
  const line = [basename(command), ...args].join(' ');
  for (const { rule, re } of rules) if (re.test(line) || args.some((a) => re.test(a))) return rule;
  return undefined;
}
