import { describe, expect, it } from 'vitest';
import { SpawnError } from '../src/errors.ts';
import { holds, renderText } from '../src/text.ts';

const vars = { name: 'pay', db: 'postgres', queue: 'none', port: 3000, on: true, off: false };

describe('template text', () => {
  it('substitutes variables, with or without spaces', () => {
    expect(renderText('a {{name}} b {{ port }}', vars)).toBe('a pay b 3000');
  });

  it('writes a literal {{ for \\{{', () => {
    expect(renderText('"legendFormat": "\\{{route}}"', vars)).toBe('"legendFormat": "{{route}}"');
    expect(renderText('{{ $labels.instance }}', vars)).toBe('{{ $labels.instance }}');
  });

  it('keeps or drops line blocks, with else and nesting', () => {
    const t = [
      'a',
      '{{#if db == postgres}}',
      'pg',
      '{{#if on}}',
      'pg-on',
      '{{/if}}',
      '{{#else}}',
      'no-db',
      '{{/if}}',
      '{{#if queue != none}}',
      'queue',
      '{{/if}}',
      '{{#if !off}}',
      'not-off',
      '{{/if}}',
      'z',
    ].join('\n');
    expect(renderText(t, vars)).toBe('a\npg\npg-on\nnot-off\nz');
    expect(renderText(t, { ...vars, db: 'none' })).toBe('a\nno-db\nnot-off\nz');
  });

  it('evaluates conditions', () => {
    expect(holds('on', vars)).toBe(true);
    expect(holds('off', vars)).toBe(false);
    expect(holds('!off', vars)).toBe(true);
    expect(holds('port == 3000', vars)).toBe(true);
    expect(holds('db != postgres', vars)).toBe(false);
    expect(holds('missing', vars)).toBe(false);
  });

  it.each([
    ['an unknown variable', 'x {{nope}}', /unknown variable "nope"/],
    ['an unclosed block', '{{#if on}}\nx', /not closed/],
    ['a stray end', 'x\n{{/if}}', /without \{\{#if\}\}/],
    ['a stray else', '{{#else}}', /without \{\{#if\}\}/],
    ['a marker inside a line', 'x {{#if on}} y', /alone on its line/],
    ['a comparison with an unknown variable', '{{#if nope == x}}\n{{/if}}', /unknown variable/],
    ['a malformed condition', '{{#if a b}}\n{{/if}}', /bad condition/],
  ])('refuses %s', (_, text, message) => {
    expect(() => renderText(text, vars, 't')).toThrow(SpawnError);
    expect(() => renderText(text, vars, 't')).toThrow(message);
  });
});
