// Guard (issue 11): every action type has an effect class, and no field a plan author writes can loosen the facts
// governance derives from it. A new action without a sample here fails the first test, so it cannot be forgotten.
import { describe, expect, it } from 'vitest';
import {
  compileDenyRules,
  createActionRegistry,
  DEFAULT_DENY_COMMANDS,
  governStep,
  matchDestructive,
  RISKS,
  type StepRisk,
} from '../src/index.ts';

/** Valid params for every built-in action: one per effect the action can have. */
const SAMPLES: Record<string, Record<string, unknown>[]> = {
  shell: [{ command: 'true' }, { command: 'ls', args: ['/srv'] }],
  http: [
    { url: 'http://127.0.0.1:1/x' },
    { url: 'http://127.0.0.1:1/x', method: 'HEAD' },
    { url: 'http://127.0.0.1:1/x', method: 'POST' },
    { url: 'http://127.0.0.1:1/x', method: 'DELETE' },
  ],
  probe: [{ url: 'http://127.0.0.1:1/health' }],
  wait: [{ ms: 1 }],
  'ledger.record': [{ kind: 'decision', body: { text: 'x' } }],
  'k8s.apply': [
    { manifests: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { a: 'b' } }] },
  ],
  'k8s.rollout': [{ deployment: 'api', image: 'api:2' }],
  'k8s.scale': [{ deployment: 'api', replicas: 0 }],
  'route.submit': [{ jobId: 'j', gpu: { count: 1 } }],
};

const EXPECTED_EFFECT: Record<string, (p: Record<string, unknown>) => 'read' | 'write'> = {
  shell: () => 'write',
  http: (p) => (p.method === undefined || p.method === 'GET' || p.method === 'HEAD' ? 'read' : 'write'),
  probe: () => 'read',
  wait: () => 'read',
  'ledger.record': () => 'write',
  'k8s.apply': () => 'write',
  'k8s.rollout': () => 'write',
  'k8s.scale': () => 'write',
  'route.submit': () => 'write',
};

const rank = (r: StepRisk) => RISKS.indexOf(r);
const declarations = () => {
  const out: {
    risk: StepRisk;
    reversible: boolean;
    readOnly?: boolean;
    aggregation?: boolean;
    rollback?: unknown;
  }[] = [];
  for (const risk of RISKS)
    for (const reversible of [true, false])
      for (const readOnly of [true, false, undefined])
        for (const aggregation of [true, false, undefined])
          for (const rollback of [undefined, { action: 'wait', params: { ms: 1 } }])
            out.push({
              risk,
              reversible,
              ...(readOnly !== undefined ? { readOnly } : {}),
              ...(aggregation !== undefined ? { aggregation } : {}),
              ...(rollback ? { rollback } : {}),
            });
  return out;
};

describe('effect classes (what a step does decides how it is governed)', () => {
  const registry = createActionRegistry();

  it('every registered action has an effect class and a sample here', () => {
    for (const [name, action] of registry) {
      expect(SAMPLES[name], `add samples for action ${name}`).toBeDefined();
      expect(EXPECTED_EFFECT[name], `add the expected effect of action ${name}`).toBeDefined();
      for (const params of SAMPLES[name]!) {
        const parsed = action.params.safeParse(params);
        expect(parsed.success, `${name} sample ${JSON.stringify(params)}`).toBe(true);
        const effect =
          typeof action.effect === 'function' ? action.effect(parsed.data as never) : action.effect;
        expect(['read', 'write']).toContain(effect);
        expect(effect, `${name} ${JSON.stringify(params)}`).toBe(EXPECTED_EFFECT[name]!(params));
      }
    }
  });

  it('no declaration loosens the derived facts: readOnly, aggregation, reversible and risk only tighten', () => {
    for (const [name, action] of registry)
      for (const params of SAMPLES[name]!) {
        const effect = EXPECTED_EFFECT[name]!(params);
        for (const d of declarations()) {
          const g = governStep(action, d, params);
          const where = `${name} ${JSON.stringify(params)} declared ${JSON.stringify(d)}`;
          expect(g.effect, where).toBe(effect);
          if (effect === 'write') {
            expect(g.readOnly, where).toBe(false);
            expect(rank(g.risk), where).toBeGreaterThanOrEqual(rank(action.writeRiskFloor ?? 'medium'));
            if (g.reversible) expect(d.rollback, where).toBeDefined();
          }
          expect(g.aggregation, where).toBe(false); // no built-in action aggregates
          expect(rank(g.risk), where).toBeGreaterThanOrEqual(rank(d.risk));
          if (d.readOnly === false) expect(g.readOnly, where).toBe(false);
          if (!d.reversible) expect(g.reversible, where).toBe(false);
        }
      }
  });

  it('an unknown action or params its action refuses are governed as a high-risk write', () => {
    const g = governStep(undefined, { risk: 'low', reversible: true, readOnly: true }, {});
    expect(g).toMatchObject({ effect: 'write', readOnly: false, risk: 'high' });
    const bad = governStep(
      registry.get('http'),
      { risk: 'low', reversible: true, readOnly: true },
      { url: 1 },
    );
    expect(bad).toMatchObject({ effect: 'write', readOnly: false, risk: 'high' });
  });

  it('a shell command is a read only when its exact command line is on the operator’s read-only list', () => {
    const r = createActionRegistry({ shell: { readOnlyCommands: [['kubectl', 'get', 'pods']] } });
    const sh = r.get('shell')!;
    const declared = { risk: 'low' as const, reversible: false, readOnly: true };
    expect(governStep(sh, declared, { command: 'kubectl', args: ['get', 'pods'] }).readOnly).toBe(true);
    expect(governStep(sh, declared, { command: 'kubectl', args: ['get', 'pods', '-A'] }).readOnly).toBe(
      false,
    );
    expect(governStep(sh, declared, { command: 'kubectl', args: ['delete', 'pods'] }).readOnly).toBe(false);
    // Declaring a listed read as not read-only makes it stricter.
    expect(
      governStep(sh, { ...declared, readOnly: false }, { command: 'kubectl', args: ['get', 'pods'] })
        .readOnly,
    ).toBe(false);
  });
});

describe('destructive commands', () => {
  const rules = compileDenyRules(DEFAULT_DENY_COMMANDS);
  const hit = (command: string, ...args: string[]) => matchDestructive(rules, command, args)?.id;

  it.each([
    [['rm', '-rf', '/'], 'rm-root'],
    [['/bin/rm', '-r', '-f', '/*'], 'rm-root'],
    [['rm', '-rf', '--', '/etc'], 'rm-root'],
    [['rm', '-rf', '~'], 'rm-root'],
    [['sh', '-c', 'cd /tmp; rm -fr /usr/'], 'rm-root'],
    [['bash', '-lc', 'echo hi && rm -rf $HOME'], 'rm-root'],
    [['rm', '-rf', '--no-preserve-root', '/data/x'], 'no-preserve-root'],
    [['mkfs.ext4', '/dev/sdb1'], 'mkfs'],
    [['sh', '-c', 'mkfs -t xfs /dev/nvme0n1'], 'mkfs'],
    [['dd', 'if=/dev/zero', 'of=/dev/sda', 'bs=1M'], 'dd-device'],
    [['wipefs', '-a', '/dev/sdb'], 'wipe-device'],
    [['sh', '-c', 'cat x > /dev/sda'], 'redirect-device'],
    [['shutdown', '-h', 'now'], 'power'],
    [['systemctl', 'reboot'], 'power'],
    [['sh', '-c', ':(){ :|:& };:'], 'fork-bomb'],
    [['chmod', '-R', '777', '/'], 'recursive-perms-root'],
  ])('refuses %j (%s)', (argv, id) => {
    expect(hit(argv[0]!, ...argv.slice(1))).toBe(id);
  });

  it.each([
    [['rm', '-rf', '/tmp/build-123']],
    [['rm', '-f', '/var/run/app.pid']],
    [['dd', 'if=/dev/zero', 'of=/dev/null', 'count=1']],
    [['echo', 'reboot-window']],
    [['kubectl', 'rollout', 'restart', 'deployment/api']],
    [['chmod', '-R', 'g+w', '/srv/app']],
    [['sh', '-c', 'echo ok > /tmp/x']],
  ])('lets %j through', (argv) => {
    expect(hit(argv[0]!, ...argv.slice(1))).toBeUndefined();
  });
});
