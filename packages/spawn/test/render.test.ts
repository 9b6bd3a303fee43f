import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { errorCode } from './error-code.ts';
import type { SpawnError } from '../src/index.ts';
import {
  MAX_NAME_LENGTH,
  checkServiceName,
  getTemplate,
  listTemplates,
  render,
  sha256,
  sumsText,
  treeDigest,
  writeFiles,
} from '../src/index.ts';

const tmp = mkdtempSync(join(tmpdir(), 'vm-spawn-render-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('catalog', () => {
  it('lists the three templates, each with a version history and a parameter schema', () => {
    const ts = listTemplates();
    expect(ts.map((t) => t.id)).toEqual(['mcp-server', 'service', 'worker']);
    for (const t of ts) {
      expect(t.history.length).toBeGreaterThanOrEqual(2);
      expect(t.version).toBe(t.history[t.history.length - 1]!.version);
      expect(t.parameters).toMatchObject({ type: 'object', additionalProperties: false });
    }
  });

  it('has a purpose for every file of every version', () => {
    for (const { id, history } of listTemplates())
      for (const { version } of history) {
        const r = render({ template: id, service: 'svc', version });
        for (const path of r.files.keys()) expect(r.purposes.get(path)?.length).toBeGreaterThan(10);
      }
  });
});

describe('render', () => {
  it('gives the same bytes for the same input', () => {
    const a = render({ template: 'worker', service: 'jobs', params: { queue: 'redis' } });
    const b = render({ template: 'worker', service: 'jobs', params: { queue: 'redis' } });
    expect(a.treeSha256).toBe(b.treeSha256);
    expect([...a.files]).toEqual([...b.files]);
  });

  it('fills in defaults and chooses files by option', () => {
    const plain = render({ template: 'service', service: 'api' });
    expect(plain.params).toMatchObject({ port: 3000, db: 'none', namespace: 'default' });
    expect(plain.files.has('src/db.ts')).toBe(false);
    const pg = render({ template: 'service', service: 'api', params: { db: 'postgres' } });
    expect(pg.files.has('src/db.ts')).toBe(true);
    expect(pg.files.get('package.json')).toContain('"pg"');
    expect(pg.treeSha256).not.toBe(plain.treeSha256);
    const w = render({ template: 'worker', service: 'jobs', params: { queue: 'rabbitmq' } });
    expect([...w.files.keys()].filter((p) => p.startsWith('src/brokers/'))).toEqual([
      'src/brokers/rabbitmq.ts',
    ]);
    expect(w.files.has('k8s/scaledobject.yaml')).toBe(true);
    expect(plain.files.has('k8s/scaledobject.yaml')).toBe(false);
  });

  it('leaves no placeholder behind (GitHub ${{ }}, Prometheus {{ $labels }} and Grafana legends stay)', () => {
    for (const { id } of listTemplates())
      for (const [path, text] of render({ template: id, service: 'x1' }).files) {
        const left = text.match(/(?<![$\\])\{\{\s*[A-Za-z_#/!]/g) ?? [];
        const legends = text.match(/"legendFormat": "\{\{[a-z]+\}\}"/g) ?? [];
        expect(left.length, path).toBe(legends.length);
      }
  });

  it('renders older versions, and refuses unknown ones', () => {
    const old = render({ template: 'service', service: 'api', version: '1.0.0' });
    const now = render({ template: 'service', service: 'api' });
    expect(old.files.get('src/app.ts')).not.toContain('/api/v1/info');
    expect(now.files.get('src/app.ts')).toContain('/api/v1/info');
    expect(errorCode(() => render({ template: 'service', service: 'api', version: '9.9.9' }))).toBe(
      'UNKNOWN_VERSION',
    );
    expect(getTemplate('service').version).toBe(now.version);
  });

  it.each([
    ['', 'INVALID_NAME'],
    ['Payment', 'INVALID_NAME'],
    ['9lives', 'INVALID_NAME'],
    ['pay-', 'INVALID_NAME'],
    ['pay--svc', 'INVALID_NAME'],
    ['pay_svc', 'INVALID_NAME'],
    ['../etc', 'INVALID_NAME'],
    ['a'.repeat(MAX_NAME_LENGTH + 1), 'INVALID_NAME'],
    ['node_modules', 'INVALID_NAME'],
  ])('refuses the name %j', (name, expected) => {
    expect(errorCode(() => checkServiceName(name))).toBe(expected);
    expect(errorCode(() => render({ template: 'service', service: name }))).toBe(expected);
  });

  it('refuses bad parameters, naming each problem', () => {
    const err = (() => {
      try {
        render({ template: 'worker', service: 'w', params: { queue: 'kafka', port: 80, colour: 'red' } });
      } catch (e) {
        return e as SpawnError;
      }
      throw new Error('no error');
    })();
    expect(err.code).toBe('INVALID_PARAMS');
    expect(err.evidence?.problems).toEqual(
      expect.arrayContaining([
        'unknown parameter "colour"',
        '--queue must be one of nats, rabbitmq, redis',
        '--port must be >= 1024',
      ]),
    );
    expect(errorCode(() => render({ template: 'service', service: 's', params: { db: 'mysql' } }))).toBe(
      'INVALID_PARAMS',
    );
    expect(
      errorCode(() => render({ template: 'service', service: 's', params: { description: 'a"b' } })),
    ).toBe('INVALID_PARAMS');
    expect(errorCode(() => render({ template: 'nope', service: 's' }))).toBe('UNKNOWN_TEMPLATE');
    expect(errorCode(() => render({ template: '_common', service: 's' }))).toBe('UNKNOWN_TEMPLATE');
    expect(errorCode(() => render({ template: '../service', service: 's' }))).toBe('UNKNOWN_TEMPLATE');
    expect(errorCode(() => render({ template: '../templates/service', service: 's' }))).toBe(
      'UNKNOWN_TEMPLATE',
    );
    expect(errorCode(() => render({ template: 'Service', service: 's' }))).toBe('UNKNOWN_TEMPLATE');
  });
});

describe('tree digest', () => {
  it('is the SHA-256 of a sums file that sha256sum -c accepts', () => {
    const r = render({ template: 'mcp-server', service: 'tools' });
    const dir = join(tmp, 'sums');
    writeFiles(dir, r.files);
    writeFiles(dir, new Map([['SUMS', sumsText(r.files)]]));
    const out = execFileSync('sha256sum', ['-c', 'SUMS'], { cwd: dir, encoding: 'utf8' });
    expect(out.trim().split('\n')).toHaveLength(r.files.size);
    expect(treeDigest(r.files)).toBe(sha256(sumsText(r.files)));
    expect(r.treeSha256).toBe(treeDigest(r.files));
  });
});
