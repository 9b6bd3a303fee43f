// The control section of the node configuration: paths resolved against the config file, the OpenAI key only from
// the environment, unknown keys refused.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/index.ts';

function configFile(control: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'vm-cfg-'));
  const file = join(dir, 'vaultmesh.json');
  writeFileSync(file, JSON.stringify({ control }));
  return file;
}

describe('control configuration', () => {
  it('resolves policy, tripwire and kubeconfig paths against the config file and defaults denies to batched', () => {
    const file = configFile({ policiesFile: 'p.cedar', tripwiresFile: 't.json', kubeconfig: 'kube/config' });
    const c = loadConfig({ configFile: file }).control;
    const dir = file.slice(0, file.lastIndexOf('/'));
    expect(c.policiesFile).toBe(join(dir, 'p.cedar'));
    expect(c.tripwiresFile).toBe(join(dir, 't.json'));
    expect(c.kubeconfig).toBe(join(dir, 'kube/config'));
    expect(c.durablePolicyDenies).toBe(false);
    expect(c.sampleAllows).toBe(1);
  });

  it('takes the OpenAI-compatible API key only from the named environment variable, and refuses an empty one', () => {
    const file = configFile({
      openai: { baseUrl: 'http://127.0.0.1:9/v1', model: 'm', apiKeyEnv: 'TEST_KEY' },
    });
    expect(loadConfig({ configFile: file, env: { TEST_KEY: 'sk-test' } }).control.openaiApiKey).toBe(
      'sk-test',
    );
    expect(() => loadConfig({ configFile: file, env: {} })).toThrow(ConfigError);
    expect(() => loadConfig({ configFile: file, env: {} })).toThrow(/TEST_KEY/);
    expect(() => loadConfig({ configFile: configFile({ openai: { baseUrl: 'x', model: 'm' } }) })).toThrow(
      ConfigError,
    );
    expect(() => loadConfig({ configFile: configFile({ bogus: 1 }) })).toThrow(/bogus/);
  });
});
