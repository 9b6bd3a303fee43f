// The template text language, deliberately small: `{{ key }}` is replaced by a variable's value, and lines between
// `{{#if cond}}` and `{{/if}}` (each alone on its line, `{{#else}}` optional) are kept only when the condition holds.
// A condition is `key` (truthy), `!key`, `key == value` or `key != value`. Blocks nest. An unknown variable, an
// unclosed block or a stray marker is a TEMPLATE_INVALID error: a template never renders half-substituted. `\{{`
// writes a literal `{{` (Grafana legends, Go templates).
import { SpawnError } from './errors.ts';

export type Vars = Readonly<Record<string, string | number | boolean>>;

const DIRECTIVE = /^\s*\{\{\s*(#if\s+(.+?)|#else|\/if)\s*\}\}\s*$/;
const PLACEHOLDER = /\\\{\{|\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;
const CONDITION = /^(!)?\s*([A-Za-z_][A-Za-z0-9_]*)(?:\s*(==|!=)\s*([A-Za-z0-9_.-]+))?$/;

/** Evaluates a block condition against the variables. */
export function holds(cond: string, vars: Vars, file = '?'): boolean {
  const m = CONDITION.exec(cond.trim());
  if (!m) throw new SpawnError('TEMPLATE_INVALID', `${file}: bad condition "${cond}"`, { file });
  const [, not, key, op, value] = m;
  const v = vars[key!];
  if (op === undefined) {
    const truthy = v !== undefined && v !== false && v !== '' && v !== 0;
    return not ? !truthy : truthy;
  }
  if (not) throw new SpawnError('TEMPLATE_INVALID', `${file}: "!" with a comparison in "${cond}"`, { file });
  if (v === undefined)
    throw new SpawnError('TEMPLATE_INVALID', `${file}: unknown variable "${key}"`, { file });
  return op === '==' ? String(v) === value : String(v) !== value;
}

/** Renders one template text. */
export function renderText(text: string, vars: Vars, file = '?'): string {
  const out: string[] = [];
  // One frame per open block: whether its lines are kept, and whether #else was seen.
  const stack: { keep: boolean; parentKeep: boolean; cond: boolean; inElse: boolean }[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    const d = DIRECTIVE.exec(line);
    const keep = stack.length === 0 || stack[stack.length - 1]!.keep;
    if (d) {
      if (d[2] !== undefined) {
        const cond = holds(d[2], vars, `${file}:${i + 1}`);
        stack.push({ keep: keep && cond, parentKeep: keep, cond, inElse: false });
      } else if (d[1] === '#else') {
        const top = stack[stack.length - 1];
        if (!top || top.inElse)
          throw new SpawnError('TEMPLATE_INVALID', `${file}:${i + 1}: {{#else}} without {{#if}}`, { file });
        top.inElse = true;
        top.keep = top.parentKeep && !top.cond;
      } else if (!stack.pop()) {
        throw new SpawnError('TEMPLATE_INVALID', `${file}:${i + 1}: {{/if}} without {{#if}}`, { file });
      }
      return;
    }
    if (!keep) return;
    if (/(?<!\\)\{\{[#/]/.test(line))
      throw new SpawnError('TEMPLATE_INVALID', `${file}:${i + 1}: a block marker must be alone on its line`, {
        file,
      });
    out.push(
      line.replace(PLACEHOLDER, (_: string, key: string | undefined) => {
        if (key === undefined) return '{{';
        const v = vars[key];
        if (v === undefined)
          throw new SpawnError('TEMPLATE_INVALID', `${file}:${i + 1}: unknown variable "${key}"`, { file });
        return String(v);
      }),
    );
  });
  if (stack.length > 0)
    throw new SpawnError('TEMPLATE_INVALID', `${file}: ${stack.length} {{#if}} block(s) not closed`, {
      file,
    });
  return out.join('\n');
}
