// Config texts: JSON or YAML (the JSON schema of YAML only), bounded in size, several YAML documents where asked.
import { describe, expect, it } from 'vitest';
import { MAX_CONFIG_BYTES, parseConfigDocuments, parseConfigText } from '../src/config-text.ts';
import { ControlError } from '../src/errors.ts';

describe('config texts', () => {
  it('reads JSON and YAML to the same value, dates staying strings', () => {
    expect(parseConfigText('{"a": [1, "2026-01-01"]}', 'f')).toEqual({ a: [1, '2026-01-01'] });
    expect(parseConfigText('a:\n  - 1\n  - 2026-01-01\n', 'f')).toEqual({ a: [1, '2026-01-01'] });
  });

  it('reads every YAML document of a text, leaving out empty ones; JSON is one document', () => {
    const text = 'kind: Service\n---\n---\nkind: PodDisruptionBudget\n';
    expect(parseConfigDocuments(text, 'k8s.yaml')).toEqual([
      { kind: 'Service' },
      { kind: 'PodDisruptionBudget' },
    ]);
    expect(parseConfigDocuments('[{"kind": "A"}]', 'f.json')).toEqual([[{ kind: 'A' }]]);
    expect(parseConfigDocuments('', 'empty.yaml')).toEqual([]);
  });

  it('refuses bad syntax and oversized texts, naming the file', () => {
    for (const parse of [parseConfigText, parseConfigDocuments]) {
      expect(() => parse('a: [1,', 'bad.yaml')).toThrow(/bad\.yaml is neither valid JSON nor YAML/);
      expect(() => parse('{"a":', 'bad.json')).toThrow(ControlError);
      expect(() => parse('x'.repeat(MAX_CONFIG_BYTES + 1), 'big.yaml')).toThrow(/larger than/);
    }
  });
});
