// Release evidence on real files: the checksums file is checked by the real GNU `sha256sum -c`, the statement
// by DSSE verification, and every failure names the file it concerns.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AttestError,
  CHECKSUMS_FILE,
  IN_TOTO_PAYLOAD_TYPE,
  RELEASE_ENVELOPE_FILE,
  buildReleaseEvidence,
  dsseVerifierFromNoteKey,
  formatChecksums,
  generateNodeKey,
  loadReleaseManifest,
  parseChecksums,
  parseEnvelope,
  parseReleaseManifest,
  signEnvelope,
  verifyEnvelope,
  verifyReleaseEvidence,
  type HashProgress,
} from '../src/index.ts';

const KEY = generateNodeKey('release.vaultmesh.example/log');
const TRUSTED = [dsseVerifierFromNoteKey(KEY.verifierKey)];
const FIXED_NOW = () => new Date('2026-11-23T09:13:27.861Z');

/** Paths that need coreutils escaping (backslash, newline) are part of the set on purpose. */
const FILES: Record<string, Buffer> = {
  'dist/vaultmesh-0.1.0.tgz': randomBytes(3 * 1024 * 1024 + 17), // several 1 MiB chunks
  'dist/SHA-notes.txt': Buffer.from('release notes\n'),
  'dist/empty.bin': Buffer.alloc(0),
  'docs/with space/ü.md': Buffer.from('# ü\n'),
  'dist/back\\slash.bin': Buffer.from('backslash'),
  'dist/new\nline.bin': Buffer.from('newline'),
};
const PATHS = Object.keys(FILES);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let root: string;
let n = 0;

/** A fresh release directory holding FILES and a manifest listing them (plus `extra` manifest fields). */
function release(manifest: Record<string, unknown> = {}): { dir: string; manifestPath: string } {
  const dir = join(root, `r${n++}`);
  for (const [p, data] of Object.entries(FILES)) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), data);
  }
  const manifestPath = join(dir, 'manifest.json');
  writeFileSync(
    manifestPath,
    JSON.stringify({
      name: 'vaultmesh',
      version: '0.1.0',
      artifacts: PATHS.map((path) => ({ path })),
      ...manifest,
    }),
  );
  return { dir, manifestPath };
}

function sha256sumCheck(dir: string, file = CHECKSUMS_FILE) {
  const r = spawnSync('sha256sum', ['-c', file], { cwd: dir, encoding: 'utf8' });
  if (r.error) throw r.error;
  return { code: r.status, out: r.stdout + r.stderr };
}

function attestError(fn: () => unknown): AttestError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AttestError) return err;
    throw err;
  }
  throw new Error('expected an AttestError');
}

async function rejects(p: Promise<unknown>): Promise<AttestError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AttestError) return err;
    throw err;
  }
  throw new Error('expected an AttestError');
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'vm-release-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('buildReleaseEvidence', () => {
  it('hashes every artifact with SHA-256, reporting byte and file progress up to the totals', async () => {
    const { manifestPath } = release();
    const progress: HashProgress[] = [];
    const ev = await buildReleaseEvidence({
      manifestPath,
      signer: KEY,
      now: FIXED_NOW,
      onProgress: (p) => progress.push(p),
    });
    expect(ev.artifacts).toEqual(
      PATHS.map((path) => ({ path, sha256: sha256(FILES[path]!), size: FILES[path]!.length })),
    );
    const total = Object.values(FILES).reduce((s, b) => s + b.length, 0);
    const last = progress[progress.length - 1]!;
    expect(last).toMatchObject({
      bytesDone: total,
      bytesTotal: total,
      filesDone: PATHS.length,
      filesTotal: PATHS.length,
    });
    expect(progress.length).toBeGreaterThan(PATHS.length + 3); // at least one report per 1 MiB chunk
    for (let i = 1; i < progress.length; i++)
      expect(progress[i]!.bytesDone).toBeGreaterThanOrEqual(progress[i - 1]!.bytesDone);
  });

  it('writes checksums.txt that the real `sha256sum -c` accepts, escaping backslash and newline the coreutils way', async () => {
    const { dir, manifestPath } = release();
    const ev = await buildReleaseEvidence({ manifestPath, signer: KEY, now: FIXED_NOW });
    expect(ev.checksumsPath).toBe(join(dir, CHECKSUMS_FILE));
    const text = readFileSync(ev.checksumsPath, 'utf8');
    expect(text).toContain(`${sha256(FILES['dist/SHA-notes.txt']!)}  dist/SHA-notes.txt\n`);
    expect(text).toContain(`\\${sha256(FILES['dist/back\\slash.bin']!)}  dist/back\\\\slash.bin\n`);
    expect(text).toContain(`\\${sha256(FILES['dist/new\nline.bin']!)}  dist/new\\nline.bin\n`);
    expect(text.split('\n')).toHaveLength(PATHS.length + 1);
    const ok = sha256sumCheck(dir);
    expect(ok.out).not.toMatch(/FAILED|WARNING/);
    expect(ok.code).toBe(0);
    expect(ok.out.match(/: OK$/gm)).toHaveLength(PATHS.length);
  });

  it('after an artifact changes, `sha256sum -c` fails and names it', async () => {
    const { dir, manifestPath } = release();
    await buildReleaseEvidence({ manifestPath, signer: KEY });
    appendFileSync(join(dir, 'dist/SHA-notes.txt'), 'tampered');
    const r = sha256sumCheck(dir);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/^dist\/SHA-notes\.txt: FAILED$/m);
  });

  it('signs an in-toto Statement v1 in a DSSE envelope that verifies under the node key', async () => {
    const { manifestPath } = release();
    const ev = await buildReleaseEvidence({ manifestPath, signer: KEY, now: FIXED_NOW });
    const text = readFileSync(ev.envelopePath, 'utf8');
    expect(sha256(Buffer.from(text))).toBe(ev.envelopeSha256);
    const v = verifyEnvelope(parseEnvelope(text), { trusted: TRUSTED, payloadTypes: [IN_TOTO_PAYLOAD_TYPE] });
    expect(v.payloadType).toBe('application/vnd.in-toto+json');
    expect(v.keyids).toEqual([ev.keyid]);
    expect(JSON.parse(Buffer.from(v.payload).toString('utf8'))).toEqual({
      _type: 'https://in-toto.io/Statement/v1',
      subject: PATHS.map((name) => ({ name, digest: { sha256: sha256(FILES[name]!) } })),
      predicateType: 'https://vaultmesh.dev/release/v1',
      predicate: { name: 'vaultmesh', version: '0.1.0', builtAt: '2026-11-23T09:13:27.861Z' },
    });
  });

  it('fails before writing anything when artifacts are missing, naming each of them', async () => {
    const { dir, manifestPath } = release();
    unlinkSync(join(dir, 'dist/empty.bin'));
    unlinkSync(join(dir, 'dist/SHA-notes.txt'));
    const err = await rejects(buildReleaseEvidence({ manifestPath, signer: KEY }));
    expect(err.code).toBe('ARTIFACT_MISSING');
    expect(err.message).toMatch(/"dist\/SHA-notes\.txt", "dist\/empty\.bin"/);
    expect(() => readFileSync(join(dir, CHECKSUMS_FILE))).toThrow(/ENOENT/);
    expect(() => readFileSync(join(dir, RELEASE_ENVELOPE_FILE))).toThrow(/ENOENT/);
  });

  it('refuses an artifact that is a directory, or a symlink leading outside the manifest directory', async () => {
    const a = release({ artifacts: [{ path: 'dist' }] });
    const dirErr = await rejects(buildReleaseEvidence({ manifestPath: a.manifestPath, signer: KEY }));
    expect(dirErr.code).toBe('ARTIFACT_INVALID');
    expect(dirErr.message).toMatch(/"dist" is a directory, not a regular file/);

    const outside = join(root, 'outside-secret.txt');
    writeFileSync(outside, 'secret');
    const b = release({ artifacts: [{ path: 'dist/link.txt' }] });
    symlinkSync(outside, join(b.dir, 'dist/link.txt'));
    const linkErr = await rejects(buildReleaseEvidence({ manifestPath: b.manifestPath, signer: KEY }));
    expect(linkErr.code).toBe('ARTIFACT_INVALID');
    expect(linkErr.message).toMatch(/"dist\/link\.txt" resolves outside the manifest's directory/);
  });

  it('follows a symlink that stays inside the manifest directory', async () => {
    const r = release({ artifacts: [{ path: 'latest.tgz' }] });
    symlinkSync('dist/vaultmesh-0.1.0.tgz', join(r.dir, 'latest.tgz'));
    const ev = await buildReleaseEvidence({ manifestPath: r.manifestPath, signer: KEY });
    expect(ev.artifacts[0]!.sha256).toBe(sha256(FILES['dist/vaultmesh-0.1.0.tgz']!));
  });

  it('refuses to overwrite an artifact with an evidence file, and writes to --out elsewhere instead', async () => {
    const r = release({ artifacts: [{ path: CHECKSUMS_FILE }] });
    writeFileSync(join(r.dir, CHECKSUMS_FILE), 'an artifact that happens to have this name');
    const err = await rejects(buildReleaseEvidence({ manifestPath: r.manifestPath, signer: KEY }));
    expect(err.code).toBe('MANIFEST_INVALID');
    expect(err.message).toMatch(/artifact "checksums\.txt" would be overwritten/);

    const out = join(r.dir, 'evidence');
    const ev = await buildReleaseEvidence({ manifestPath: r.manifestPath, signer: KEY, outDir: out });
    expect(ev.checksumsPath).toBe(join(out, CHECKSUMS_FILE));
    // Paths in checksums.txt are relative to the manifest directory, so `sha256sum -c` runs there.
    expect(sha256sumCheck(r.dir, join(out, CHECKSUMS_FILE)).code).toBe(0);
    const report = await verifyReleaseEvidence({
      manifestPath: r.manifestPath,
      evidenceDir: out,
      trusted: TRUSTED,
    });
    expect(report.ok).toBe(true);
  });
});

describe('verifyReleaseEvidence', () => {
  it('passes untouched evidence with a per-file report', async () => {
    const { manifestPath } = release();
    const ev = await buildReleaseEvidence({ manifestPath, signer: KEY, now: FIXED_NOW });
    const r = await verifyReleaseEvidence({ manifestPath, trusted: TRUSTED });
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.signature).toEqual({ ok: true, keyids: [ev.keyid], builtAt: '2026-11-23T09:13:27.861Z' });
    expect(r.files).toEqual(
      PATHS.map((path) => {
        const d = sha256(FILES[path]!);
        return { path, ok: true, sha256: d, size: FILES[path]!.length, signed: d, listed: d };
      }),
    );
  });

  it('fails on a missing artifact, naming it', async () => {
    const { dir, manifestPath } = release();
    await buildReleaseEvidence({ manifestPath, signer: KEY });
    unlinkSync(join(dir, 'dist/vaultmesh-0.1.0.tgz'));
    const r = await verifyReleaseEvidence({ manifestPath, trusted: TRUSTED });
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([
      `dist/vaultmesh-0.1.0.tgz: missing (no such file ${join(dir, 'dist/vaultmesh-0.1.0.tgz')})`,
    ]);
    expect(r.files[0]).toMatchObject({ path: 'dist/vaultmesh-0.1.0.tgz', ok: false, sha256: null });
    expect(r.files.slice(1).every((f) => f.ok)).toBe(true);
  });

  it('fails on a changed artifact, naming it and both recorded digests', async () => {
    const { dir, manifestPath } = release();
    await buildReleaseEvidence({ manifestPath, signer: KEY });
    writeFileSync(join(dir, 'docs/with space/ü.md'), '# changed\n');
    const r = await verifyReleaseEvidence({ manifestPath, trusted: TRUSTED });
    expect(r.ok).toBe(false);
    const was = sha256(FILES['docs/with space/ü.md']!);
    const now = sha256(Buffer.from('# changed\n'));
    expect(r.problems).toEqual([
      `docs/with space/ü.md: has SHA-256 ${now}, but the signed statement says ${was}`,
      `docs/with space/ü.md: has SHA-256 ${now}, but checksums.txt says ${was}`,
    ]);
  });

  it('fails when only checksums.txt was edited, naming the file and checksums.txt', async () => {
    const { dir, manifestPath } = release();
    await buildReleaseEvidence({ manifestPath, signer: KEY });
    const path = join(dir, CHECKSUMS_FILE);
    const d = sha256(FILES['dist/SHA-notes.txt']!);
    writeFileSync(path, readFileSync(path, 'utf8').replace(d, '0'.repeat(64)));
    const r = await verifyReleaseEvidence({ manifestPath, trusted: TRUSTED });
    expect(r.problems).toEqual([
      `dist/SHA-notes.txt: has SHA-256 ${d}, but checksums.txt says ${'0'.repeat(64)}`,
    ]);
  });

  it('fails on a tampered envelope: a statement with swapped digests no longer matches its signature', async () => {
    const { dir, manifestPath } = release();
    await buildReleaseEvidence({ manifestPath, signer: KEY });
    const path = join(dir, RELEASE_ENVELOPE_FILE);
    const env = parseEnvelope(readFileSync(path, 'utf8'));
    const statement = Buffer.from(env.payload, 'base64').toString('utf8');
    const forged = statement.replace(sha256(FILES['dist/empty.bin']!), sha256(Buffer.from('evil')));
    expect(forged).not.toBe(statement);
    writeFileSync(path, JSON.stringify({ ...env, payload: Buffer.from(forged).toString('base64') }));
    writeFileSync(join(dir, 'dist/empty.bin'), 'evil');
    const r = await verifyReleaseEvidence({ manifestPath, trusted: TRUSTED });
    expect(r.ok).toBe(false);
    expect(r.signature.ok).toBe(false);
    expect(r.problems[0]).toMatch(
      /^release\.dsse\.json: DSSE envelope: 1 distinct trusted key signature\(s\) required; 0 of them verified$/,
    );
    expect(r.files.find((f) => f.path === 'dist/empty.bin')).toMatchObject({ ok: false, signed: null });
  });

  it('fails with a wrong trusted key', async () => {
    const { manifestPath } = release();
    await buildReleaseEvidence({ manifestPath, signer: KEY });
    const other = generateNodeKey('release.vaultmesh.example/log');
    const r = await verifyReleaseEvidence({
      manifestPath,
      trusted: [dsseVerifierFromNoteKey(other.verifierKey)],
    });
    expect(r.ok).toBe(false);
    expect(r.signature).toMatchObject({ ok: false, keyids: [] });
    expect(r.problems).toEqual([
      'release.dsse.json: DSSE envelope: 1 distinct trusted key signature(s) required; 0 of them verified',
    ]);
    expect(
      r.files.every(
        (f) => !f.ok && f.problem === 'not covered by a verified signed statement and checksums.txt',
      ),
    ).toBe(true);
  });

  it('fails when the evidence files are missing or unparsable, naming them', async () => {
    const { dir, manifestPath } = release();
    await buildReleaseEvidence({ manifestPath, signer: KEY });
    unlinkSync(join(dir, CHECKSUMS_FILE));
    writeFileSync(join(dir, RELEASE_ENVELOPE_FILE), '{"payload": "x", "payload": "y"}');
    const r = await verifyReleaseEvidence({ manifestPath, trusted: TRUSTED });
    expect(r.problems).toEqual([
      `checksums.txt: missing (${join(dir, CHECKSUMS_FILE)})`,
      'release.dsse.json: DSSE envelope: duplicate key "payload" in a JSON object',
    ]);
  });

  it('fails on a validly signed statement about another release or other files', async () => {
    const { dir, manifestPath } = release();
    await buildReleaseEvidence({ manifestPath, signer: KEY });
    const bumped = JSON.parse(readFileSync(manifestPath, 'utf8')) as { version: string };
    writeFileSync(manifestPath, JSON.stringify({ ...bumped, version: '0.1.1' }));
    const r = await verifyReleaseEvidence({ manifestPath, trusted: TRUSTED });
    expect(r.problems).toEqual([
      'release.dsse.json: the signed statement is about vaultmesh@0.1.0, not vaultmesh@0.1.1',
    ]);

    const narrowed = release({ artifacts: [{ path: 'dist/empty.bin' }] });
    await buildReleaseEvidence({ manifestPath: narrowed.manifestPath, signer: KEY });
    writeFileSync(join(narrowed.dir, RELEASE_ENVELOPE_FILE), readFileSync(join(dir, RELEASE_ENVELOPE_FILE)));
    const r2 = await verifyReleaseEvidence({ manifestPath: narrowed.manifestPath, trusted: TRUSTED });
    expect(r2.ok).toBe(false);
    expect(r2.problems).toContain(
      'release.dsse.json: signs "dist/SHA-notes.txt", which the manifest does not list',
    );
  });

  it('refuses a signed payload of another type', async () => {
    const { dir, manifestPath } = release();
    await buildReleaseEvidence({ manifestPath, signer: KEY });
    const env = signEnvelope('application/json', Buffer.from('{}'), KEY);
    writeFileSync(join(dir, RELEASE_ENVELOPE_FILE), JSON.stringify(env));
    const r = await verifyReleaseEvidence({ manifestPath, trusted: TRUSTED });
    expect(r.problems[0]).toMatch(
      /^release\.dsse\.json: DSSE envelope: payload type "application\/json" is not supported/,
    );
  });
});

describe('release manifest (strict)', () => {
  const base = { name: 'vaultmesh', version: '0.1.0', artifacts: [{ path: 'dist/a.tgz' }] };
  const invalid = (value: unknown) => {
    const err = attestError(() =>
      parseReleaseManifest(typeof value === 'string' ? value : JSON.stringify(value)),
    );
    expect(err.code).toBe('MANIFEST_INVALID');
    return err.message;
  };

  it('accepts a minimal manifest', () => {
    expect(parseReleaseManifest(JSON.stringify(base))).toEqual(base);
  });

  it.each([
    ['an unknown top-level field', { ...base, extra: true }, /the manifest has unknown field "extra"/],
    [
      'an unknown artifact field',
      { ...base, artifacts: [{ path: 'a', sha256: 'x' }] },
      /artifacts\[0\] has unknown field "sha256"/,
    ],
    [
      'an absolute path',
      { ...base, artifacts: [{ path: '/etc/passwd' }] },
      /artifacts\[0\]\.path "\/etc\/passwd" is absolute/,
    ],
    [
      'a ".." escape',
      { ...base, artifacts: [{ path: '../secret' }] },
      /"\.\.\/secret" escapes the manifest's directory/,
    ],
    [
      'a ".." inside the path',
      { ...base, artifacts: [{ path: 'dist/../../x' }] },
      /escapes the manifest's directory/,
    ],
    ['a "." segment', { ...base, artifacts: [{ path: './dist/a.tgz' }] }, /is not in normal form/],
    ['a doubled slash', { ...base, artifacts: [{ path: 'dist//a.tgz' }] }, /is not in normal form/],
    ['a trailing slash', { ...base, artifacts: [{ path: 'dist/' }] }, /is not in normal form/],
    ['a carriage return', { ...base, artifacts: [{ path: 'a\rb' }] }, /contains a control character/],
    ['a lone surrogate', { ...base, artifacts: [{ path: 'a\ud800' }] }, /lone surrogate/],
    [
      'a duplicate',
      { ...base, artifacts: [{ path: 'a' }, { path: 'b' }, { path: 'a' }] },
      /artifacts\[2\]\.path "a" duplicates artifacts\[0\]/,
    ],
    ['no artifacts', { ...base, artifacts: [] }, /artifacts is empty/],
    [
      'a non-string path',
      { ...base, artifacts: [{ path: 7 }] },
      /artifacts\[0\]\.path must be a string, got number/,
    ],
    ['a bad name', { ...base, name: 'has space' }, /name must be/],
    ['a bad version', { ...base, version: '' }, /version must be/],
    [
      'a duplicate JSON key',
      '{"name":"a","name":"b","version":"1","artifacts":[{"path":"a"}]}',
      /duplicate key "name"/,
    ],
    ['invalid JSON', '{"name":', /not valid JSON/],
  ])('refuses %s', (_what, value, message) => {
    expect(invalid(value)).toMatch(message);
  });

  it('names a missing manifest file with MANIFEST_MISSING', () => {
    const err = attestError(() => loadReleaseManifest(join(root, 'nope', 'manifest.json')));
    expect(err.code).toBe('MANIFEST_MISSING');
    expect(err.message).toMatch(/nope\/manifest\.json does not exist/);
  });
});

describe('checksums format', () => {
  it('round-trips escaped and plain paths', () => {
    const entries = [
      { path: 'a b/c', sha256: 'a'.repeat(64) },
      { path: 'x\\y', sha256: 'b'.repeat(64) },
      { path: 'n\nl', sha256: 'c'.repeat(64) },
    ];
    const text = formatChecksums(entries);
    expect(text).toBe(`${'a'.repeat(64)}  a b/c\n\\${'b'.repeat(64)}  x\\\\y\n\\${'c'.repeat(64)}  n\\nl\n`);
    expect(parseChecksums(text)).toEqual(entries);
  });

  it('reads binary-mode lines as written by `sha256sum -b`', () => {
    expect(parseChecksums(`${'d'.repeat(64)} *dist/a.tgz\n`)).toEqual([
      { path: 'dist/a.tgz', sha256: 'd'.repeat(64) },
    ]);
  });

  it.each([
    ['a missing final newline', `${'a'.repeat(64)}  a`, /no newline/],
    ['upper-case hex', `${'A'.repeat(64)}  a\n`, /line 1: expected/],
    ['a BSD tag line', `SHA256 (a) = ${'a'.repeat(64)}\n`, /line 1: expected/],
    ['an unknown escape', `\\${'a'.repeat(64)}  a\\tb\n`, /unknown escape "\\t"/],
    ['a duplicate path', `${'a'.repeat(64)}  a\n${'b'.repeat(64)}  a\n`, /line 2: "a" is listed twice/],
    ['CRLF line endings', `${'a'.repeat(64)}  a\r\n`, /carriage return/],
  ])('refuses %s', (_what, text, message) => {
    const err = attestError(() => parseChecksums(text));
    expect(err.code).toBe('CHECKSUMS_MALFORMED');
    expect(err.message).toMatch(message);
  });
});
