import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { errorCode } from './error-code.ts';
import {
  MANIFEST_FILE,
  applyUpdate,
  compareTree,
  hasConflictMarkers,
  manifestOf,
  mergeFile,
  planUpdate,
  readManifest,
  render,
  spawnedTree,
  stageTree,
  type Rendered,
} from '../src/index.ts';

const tmp = mkdtempSync(join(tmpdir(), 'vm-spawn-tree-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Writes a generated tree with its manifest, as `vm spawn create` does. */
function spawnAt(dir: string, r: Rendered): void {
  stageTree(dir, spawnedTree(r, manifestOf(r, 'acme'))).commit();
}

describe('writing', () => {
  it('never overwrites: an existing target is refused before anything is written', () => {
    const dir = join(tmp, 'exists');
    mkdirSync(dir);
    writeFileSync(join(dir, 'keep.txt'), 'mine');
    const r = render({ template: 'service', service: 'api' });
    expect(errorCode(() => stageTree(dir, r.files))).toBe('TARGET_EXISTS');
    expect(readdirSync(dir)).toEqual(['keep.txt']);
    expect(readdirSync(tmp).filter((n) => n.includes('.spawn-'))).toEqual([]);
  });

  it('stages beside the target and moves it into place at once', () => {
    const dir = join(tmp, 'staged');
    const r = render({ template: 'service', service: 'api' });
    const staged = stageTree(dir, r.files);
    expect(existsSync(dir)).toBe(false);
    staged.commit();
    expect(readFileSync(join(dir, 'package.json'), 'utf8')).toBe(r.files.get('package.json'));
    const gone = stageTree(join(tmp, 'discarded'), r.files);
    gone.discard();
    expect(existsSync(gone.staging)).toBe(false);
    expect(existsSync(join(tmp, 'discarded'))).toBe(false);
  });

  it('refuses a target that appears while staging, leaving it alone', () => {
    const dir = join(tmp, 'race');
    const staged = stageTree(dir, render({ template: 'service', service: 'api' }).files);
    mkdirSync(dir);
    writeFileSync(join(dir, 'theirs.txt'), 'x');
    expect(errorCode(() => staged.commit())).toBe('TARGET_EXISTS');
    expect(readdirSync(dir)).toEqual(['theirs.txt']);
    expect(existsSync(staged.staging)).toBe(false);
  });
});

describe('verify', () => {
  it('reports a fresh tree as unchanged', () => {
    const dir = join(tmp, 'fresh');
    const r = render({ template: 'worker', service: 'jobs', params: { queue: 'nats' } });
    spawnAt(dir, r);
    const c = compareTree(dir);
    expect(c.unchanged).toHaveLength(r.files.size);
    expect([c.modified, c.removed, c.added]).toEqual([[], [], []]);
  });

  it('reports modified, removed and added files, ignoring node_modules, dist and .git', () => {
    const dir = join(tmp, 'edited');
    spawnAt(dir, render({ template: 'service', service: 'api' }));
    writeFileSync(join(dir, 'src/app.ts'), '// rewritten\n');
    rmSync(join(dir, 'Dockerfile'));
    writeFileSync(join(dir, 'src/extra.ts'), 'export {};\n');
    for (const d of ['node_modules/x', 'dist', '.git']) {
      mkdirSync(join(dir, d), { recursive: true });
      writeFileSync(join(dir, d, 'f'), '');
    }
    const c = compareTree(dir);
    expect(c.modified).toEqual(['src/app.ts']);
    expect(c.removed).toEqual(['Dockerfile']);
    expect(c.added).toEqual(['src/extra.ts']);
  });

  it('refuses a manifest whose parameters do not reproduce its digest', () => {
    const dir = join(tmp, 'forged');
    spawnAt(dir, render({ template: 'service', service: 'api' }));
    const m = JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8')) as { params: { port: number } };
    m.params.port = 4000;
    writeFileSync(join(dir, MANIFEST_FILE), JSON.stringify(m));
    expect(errorCode(() => compareTree(dir))).toBe('MANIFEST_INVALID');
  });

  it('says when a directory was not spawned, or its manifest is malformed', () => {
    const plain = join(tmp, 'plain');
    mkdirSync(plain);
    expect(errorCode(() => readManifest(plain))).toBe('NOT_SPAWNED');
    mkdirSync(join(plain, '.vaultmesh'));
    writeFileSync(join(plain, MANIFEST_FILE), '{"v":1,"service":"a"');
    expect(errorCode(() => readManifest(plain))).toBe('MANIFEST_INVALID');
    writeFileSync(join(plain, MANIFEST_FILE), '{"v":1,"service":"a","template":"service"}');
    expect(errorCode(() => readManifest(plain))).toBe('MANIFEST_INVALID');
  });
});

describe('three-way merge', () => {
  const labels = { from: '1.0.0', to: '1.1.0' };
  it('decides each case', () => {
    expect(mergeFile('f', 'a\n', 'a\n', 'b\n', labels)).toMatchObject({ action: 'updated', content: 'b\n' });
    expect(mergeFile('f', 'a\n', 'mine\n', 'a\n', labels)).toMatchObject({ action: 'unchanged' });
    expect(mergeFile('f', undefined, undefined, 'new\n', labels)).toMatchObject({ action: 'added' });
    expect(mergeFile('f', 'a\n', 'a\n', undefined, labels)).toMatchObject({ action: 'deleted' });
    expect(mergeFile('f', 'a\n', 'mine\n', undefined, labels)).toMatchObject({ action: 'orphaned' });
    expect(mergeFile('f', 'a\n', undefined, 'b\n', labels)).toMatchObject({ action: 'unchanged' });
    const merged = mergeFile('f', '1\n2\n3\n4\n5\n', 'ONE\n2\n3\n4\n5\n', '1\n2\n3\n4\nFIVE\n', labels);
    expect(merged).toMatchObject({ action: 'merged', content: 'ONE\n2\n3\n4\nFIVE\n' });
    const clash = mergeFile('f', '1\n2\n', 'mine\n2\n', 'theirs\n2\n', labels);
    expect(clash.action).toBe('conflict');
    expect(clash.content).toBe(
      '<<<<<<< yours\nmine\n||||||| template 1.0.0\n1\n=======\ntheirs\n>>>>>>> template 1.1.0\n2\n',
    );
    expect(hasConflictMarkers(clash.content!)).toBe(true);
    const addAdd = mergeFile('f', undefined, 'mine\n', 'theirs\n', labels);
    expect(addAdd.action).toBe('conflict');
  });
});

describe('update', () => {
  it('applies a newer version over local edits as a clean merge', () => {
    const dir = join(tmp, 'clean');
    spawnAt(dir, render({ template: 'service', service: 'api', version: '1.0.0' }));
    // Local edits the template's change does not touch: an own route, and the replica count.
    const app = join(dir, 'src/app.ts');
    writeFileSync(
      app,
      readFileSync(app, 'utf8').replace(
        "  app.get('/api/v1/hello'",
        "  app.get('/api/v1/mine', async () => ({ mine: true }));\n\n  app.get('/api/v1/hello'",
      ),
    );
    const dep = join(dir, 'k8s/deployment.yaml');
    writeFileSync(dep, readFileSync(dep, 'utf8').replace('replicas: 2', 'replicas: 5'));
    const plan = planUpdate(dir);
    expect([plan.from, plan.to]).toEqual(['1.0.0', '1.1.0']);
    expect(plan.conflicts).toEqual([]);
    const actions = Object.fromEntries(plan.files.map((f) => [f.path, f.action]));
    expect(actions['src/app.ts']).toBe('merged');
    expect(actions['k8s/deployment.yaml']).toBe('merged');
    expect(actions['test/app.test.ts']).toBe('updated');
    expect(actions['README.md']).toBe('unchanged');
    applyUpdate(dir, plan);
    const after = readFileSync(app, 'utf8');
    expect(after).toContain('/api/v1/mine');
    expect(after).toContain('/api/v1/info');
    expect(readFileSync(dep, 'utf8')).toContain('replicas: 5');
    expect(readFileSync(dep, 'utf8')).toContain('topologySpreadConstraints');
    const m = readManifest(dir);
    expect(m.version).toBe('1.1.0');
    expect(m.treeSha256).toBe(render({ template: 'service', service: 'api' }).treeSha256);
    // What verify now reports is exactly the local edits.
    expect([...compareTree(dir).modified].sort()).toEqual(['k8s/deployment.yaml', 'src/app.ts']);
    expect(errorCode(() => planUpdate(dir))).toBe('UNKNOWN_VERSION');
  });

  it('leaves conflict markers where local edits and the template change the same lines', () => {
    const dir = join(tmp, 'conflict');
    spawnAt(dir, render({ template: 'worker', service: 'jobs', version: '1.0.0' }));
    const dep = join(dir, 'k8s/deployment.yaml');
    writeFileSync(
      dep,
      readFileSync(dep, 'utf8').replace(
        '      automountServiceAccountToken: false\n',
        '      automountServiceAccountToken: false\n      priorityClassName: batch\n',
      ),
    );
    const plan = planUpdate(dir, '1.1.0');
    expect(plan.conflicts).toEqual(['k8s/deployment.yaml']);
    applyUpdate(dir, plan);
    const text = readFileSync(dep, 'utf8');
    expect(hasConflictMarkers(text)).toBe(true);
    expect(text).toContain('<<<<<<< yours\n      priorityClassName: batch\n');
    expect(text).toContain('>>>>>>> template 1.1.0');
    expect(readManifest(dir).version).toBe('1.1.0');
  });
});
