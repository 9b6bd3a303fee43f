// Release evidence: a strict release manifest, streamed SHA-256 of every artifact, a `sha256sum -c` checksums
// file, and an in-toto Statement v1 signed as a DSSE envelope; verification re-hashes and reports per file.
import { constants, existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import {
  mkdir,
  open,
  readFile,
  realpath,
  rename,
  rm,
  stat,
  writeFile,
  type FileHandle,
} from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { canonicalBytes } from '@vaultmesh/ledger';
import {
  DSSE_MAX_ENVELOPE_BYTES,
  IN_TOTO_PAYLOAD_TYPE,
  dsseSignerFromNodeKey,
  formatEnvelope,
  signEnvelope,
  verifyEnvelope,
  type DsseEnvelope,
  type DsseSigner,
  type DsseVerifier,
} from './dsse.ts';
import { AttestError } from './errors.ts';
import type { NodeKey } from './keys.ts';
import { parseStrictJson } from '@vaultmesh/ledger';

/** in-toto Statement v1 `_type`. */
export const IN_TOTO_STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';

/** The predicate type of a VaultMesh release statement. */
export const RELEASE_PREDICATE_TYPE = 'https://vaultmesh.dev/release/v1';

/** File name of the checksums file, written to the output directory. */
export const CHECKSUMS_FILE = 'checksums.txt';

/** File name of the DSSE envelope holding the signed statement, written beside the checksums file. */
export const RELEASE_ENVELOPE_FILE = 'release.dsse.json';

/** Largest manifest file read (1 MiB). */
export const MAX_MANIFEST_BYTES = 1024 * 1024;

/** Most artifacts in one manifest (the evidence receipt's digest limit). */
export const MAX_ARTIFACTS = 10_000;

/** Largest checksums file read (64 MiB). */
export const MAX_CHECKSUMS_BYTES = 64 * 1024 * 1024;

/** A validated release manifest; artifact paths are relative to the manifest's directory, '/'-separated. */
export interface ReleaseManifest {
  readonly name: string;
  readonly version: string;
  readonly artifacts: readonly { readonly path: string }[];
}

/** An in-toto Statement v1 about a release (predicate type RELEASE_PREDICATE_TYPE). */
export interface ReleaseStatement {
  _type: typeof IN_TOTO_STATEMENT_TYPE;
  subject: { name: string; digest: { sha256: string } }[];
  predicateType: typeof RELEASE_PREDICATE_TYPE;
  predicate: { name: string; version: string; builtAt: string };
}

/** Hashing progress, reported after every chunk read. */
export interface HashProgress {
  readonly bytesDone: number;
  readonly bytesTotal: number;
  readonly filesDone: number;
  readonly filesTotal: number;
  /** The artifact being hashed. */
  readonly path: string;
}

/** One hashed artifact. */
export interface ArtifactDigest {
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
}

/** One line of a checksums file. */
export interface ChecksumEntry {
  readonly path: string;
  readonly sha256: string;
}

const NAME = /^[A-Za-z0-9@][A-Za-z0-9@._/+-]{0,199}$/;
const VERSION = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$/;
const HEX64 = /^[0-9a-f]{64}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
// C0 controls and DEL, except LF: LF is escaped the coreutils way. CR is refused because only recent coreutils
// releases escape it (older ones cannot read such a line back); the others are never sensible artifact names.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f]/;

function describe(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyFields(
  obj: Record<string, unknown>,
  allowed: readonly string[],
  where: string,
  fail: Fail,
): void {
  for (const k of Object.keys(obj))
    if (!allowed.includes(k))
      throw fail(`${where} has unknown field ${JSON.stringify(k)} (allowed: ${allowed.join(', ')})`);
}

type Fail = (message: string) => AttestError;

/** Checks one artifact path: relative, '/'-separated, no empty, '.' or '..' segments, no control characters. */
function checkArtifactPath(path: unknown, where: string, fail: Fail): string {
  if (typeof path !== 'string') throw fail(`${where} must be a string, got ${describe(path)}`);
  const shown = JSON.stringify(path);
  if (path.length === 0) throw fail(`${where} is empty`);
  if (Buffer.byteLength(path) > 4096) throw fail(`${where} is longer than 4096 bytes`);
  if (!(path as string & { isWellFormed(): boolean }).isWellFormed())
    throw fail(`${where} ${shown} contains a lone surrogate (not representable as a file name)`);
  if (CONTROL.test(path))
    throw fail(`${where} ${shown} contains a control character (refused: sha256sum cannot list it portably)`);
  if (path.startsWith('/'))
    throw fail(`${where} ${shown} is absolute; artifact paths are relative to the manifest's directory`);
  for (const segment of path.split('/')) {
    if (segment === '..') throw fail(`${where} ${shown} escapes the manifest's directory ("..")`);
    if (segment === '.' || segment === '')
      throw fail(`${where} ${shown} is not in normal form (no empty or "." segments, no trailing "/")`);
  }
  return path;
}

/** Validates manifest JSON text: exact fields, name and version syntax, 1..MAX_ARTIFACTS unique relative paths. */
export function parseReleaseManifest(text: string, source = 'manifest'): ReleaseManifest {
  const fail: Fail = (m) => new AttestError('MANIFEST_INVALID', `${source}: ${m}`);
  if (text.length > MAX_MANIFEST_BYTES) throw fail(`larger than ${MAX_MANIFEST_BYTES} bytes`);
  const value = parseStrictJson(text, fail);
  if (!isObject(value)) throw fail(`must be a JSON object, got ${describe(value)}`);
  onlyFields(value, ['name', 'version', 'artifacts'], 'the manifest', fail);
  const { name, version, artifacts } = value;
  if (typeof name !== 'string' || !NAME.test(name))
    throw fail(`name must be 1..200 characters of A-Z a-z 0-9 @ . _ / + - (got ${JSON.stringify(name)})`);
  if (typeof version !== 'string' || !VERSION.test(version))
    throw fail(`version must be 1..100 characters of A-Z a-z 0-9 . _ + - (got ${JSON.stringify(version)})`);
  if (!Array.isArray(artifacts)) throw fail(`artifacts must be an array, got ${describe(artifacts)}`);
  if (artifacts.length === 0) throw fail('artifacts is empty; a release needs at least one artifact');
  if (artifacts.length > MAX_ARTIFACTS)
    throw fail(`has ${artifacts.length} artifacts; at most ${MAX_ARTIFACTS}`);
  const seen = new Map<string, number>();
  const list = artifacts.map((a: unknown, i) => {
    const where = `artifacts[${i}]`;
    if (!isObject(a))
      throw fail(`${where} must be an object like {"path": "dist/a.tgz"}, got ${describe(a)}`);
    onlyFields(a, ['path'], where, fail);
    const path = checkArtifactPath(a.path, `${where}.path`, fail);
    const first = seen.get(path);
    if (first !== undefined)
      throw fail(`${where}.path ${JSON.stringify(path)} duplicates artifacts[${first}]`);
    seen.set(path, i);
    return { path };
  });
  return { name, version, artifacts: list };
}

/** Reads and validates a manifest file; MANIFEST_MISSING when it does not exist. */
export function loadReleaseManifest(path: string): ReleaseManifest {
  if (!existsSync(path)) throw new AttestError('MANIFEST_MISSING', `manifest ${path} does not exist`);
  const st = statSync(path);
  if (!st.isFile()) throw new AttestError('MANIFEST_INVALID', `manifest ${path} is not a regular file`);
  if (st.size > MAX_MANIFEST_BYTES)
    throw new AttestError('MANIFEST_INVALID', `manifest ${path}: larger than ${MAX_MANIFEST_BYTES} bytes`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(readFileSync(path));
  } catch {
    throw new AttestError('MANIFEST_INVALID', `manifest ${path}: not valid UTF-8`);
  }
  return parseReleaseManifest(text, `manifest ${path}`);
}

/** Escapes a path for a checksums line the way GNU coreutils does: backslash and LF, with a leading '\'. */
function escapeName(path: string): { escaped: boolean; name: string } {
  if (!/[\\\n]/.test(path)) return { escaped: false, name: path };
  return { escaped: true, name: path.replace(/\\/g, '\\\\').replace(/\n/g, '\\n') };
}

/** The checksums file text in GNU `sha256sum` output format (`<hex>  <path>\n`), which `sha256sum -c` reads. */
export function formatChecksums(entries: readonly ChecksumEntry[]): string {
  let out = '';
  for (const e of entries) {
    if (!HEX64.test(e.sha256))
      throw new AttestError('CHECKSUMS_MALFORMED', `${e.path}: not a SHA-256 hex digest`);
    if (CONTROL.test(e.path))
      throw new AttestError('CHECKSUMS_MALFORMED', `${JSON.stringify(e.path)}: contains a control character`);
    const { escaped, name } = escapeName(e.path);
    out += `${escaped ? '\\' : ''}${e.sha256}  ${name}\n`;
  }
  return out;
}

/**
 * Parses a checksums file in GNU `sha256sum` format: text (`<hex>  <path>`) or binary (`<hex> *<path>`) lines,
 * with coreutils escapes on lines starting with '\'. Refuses anything else, and duplicate paths.
 */
export function parseChecksums(text: string, source = CHECKSUMS_FILE): ChecksumEntry[] {
  const fail = (line: number, m: string) =>
    new AttestError('CHECKSUMS_MALFORMED', `${source} line ${line}: ${m}`);
  if (text.length > 0 && !text.endsWith('\n'))
    throw new AttestError('CHECKSUMS_MALFORMED', `${source}: the last line has no newline`);
  const lines = text.length === 0 ? [] : text.slice(0, -1).split('\n');
  const seen = new Set<string>();
  return lines.map((line, i) => {
    const m = /^(\\?)([0-9a-f]{64}) [ *](.+)$/s.exec(line);
    if (!m) throw fail(i + 1, 'expected "<64 lower-case hex digits>  <path>"');
    let path = m[3]!;
    if (m[1]) {
      path = path.replace(/\\(.?)/g, (_all, c: string) => {
        if (c === '\\') return '\\';
        if (c === 'n') return '\n';
        throw fail(i + 1, `unknown escape "\\${c}" in the path`);
      });
    } else if (path.includes('\r')) throw fail(i + 1, 'carriage return in the path (CRLF line endings?)');
    if (seen.has(path)) throw fail(i + 1, `${JSON.stringify(path)} is listed twice`);
    seen.add(path);
    return { path, sha256: m[2]! };
  });
}

/** Parses and validates a signed payload as a release Statement v1. Attacker-controlled input until verified. */
export function parseReleaseStatement(payload: Uint8Array): ReleaseStatement {
  const fail: Fail = (m) => new AttestError('STATEMENT_INVALID', `release statement: ${m}`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(payload);
  } catch {
    throw fail('not valid UTF-8');
  }
  const v = parseStrictJson(text, fail);
  if (!isObject(v)) throw fail(`must be a JSON object, got ${describe(v)}`);
  onlyFields(v, ['_type', 'subject', 'predicateType', 'predicate'], 'the statement', fail);
  if (v._type !== IN_TOTO_STATEMENT_TYPE) throw fail(`_type must be ${IN_TOTO_STATEMENT_TYPE}`);
  if (v.predicateType !== RELEASE_PREDICATE_TYPE)
    throw fail(`predicateType must be ${RELEASE_PREDICATE_TYPE}`);
  if (!Array.isArray(v.subject) || v.subject.length === 0) throw fail('subject must be a non-empty array');
  const names = new Set<string>();
  const subject = v.subject.map((s: unknown, i) => {
    const where = `subject[${i}]`;
    if (!isObject(s)) throw fail(`${where} must be an object`);
    onlyFields(s, ['name', 'digest'], where, fail);
    if (typeof s.name !== 'string' || s.name.length === 0)
      throw fail(`${where}.name must be a non-empty string`);
    if (names.has(s.name)) throw fail(`${where}.name ${JSON.stringify(s.name)} appears twice`);
    names.add(s.name);
    if (!isObject(s.digest)) throw fail(`${where}.digest must be an object`);
    onlyFields(s.digest, ['sha256'], `${where}.digest`, fail);
    if (typeof s.digest.sha256 !== 'string' || !HEX64.test(s.digest.sha256))
      throw fail(`${where}.digest.sha256 must be 64 lower-case hex digits`);
    return { name: s.name, digest: { sha256: s.digest.sha256 } };
  });
  const p = v.predicate;
  if (!isObject(p)) throw fail('predicate must be an object');
  onlyFields(p, ['name', 'version', 'builtAt'], 'predicate', fail);
  if (typeof p.name !== 'string' || !NAME.test(p.name))
    throw fail('predicate.name is not a valid release name');
  if (typeof p.version !== 'string' || !VERSION.test(p.version))
    throw fail('predicate.version is not a valid release version');
  if (typeof p.builtAt !== 'string' || !ISO_TIME.test(p.builtAt))
    throw fail('predicate.builtAt must be an RFC 3339 UTC time');
  return {
    _type: IN_TOTO_STATEMENT_TYPE,
    subject,
    predicateType: RELEASE_PREDICATE_TYPE,
    predicate: { name: p.name, version: p.version, builtAt: p.builtAt },
  };
}

const CHUNK = 1024 * 1024;

async function hashHandle(
  handle: FileHandle,
  onBytes?: (n: number) => void,
): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(CHUNK);
  let size = 0;
  for (;;) {
    const { bytesRead } = await handle.read(buf, 0, CHUNK, null);
    if (bytesRead === 0) break;
    hash.update(buf.subarray(0, bytesRead));
    size += bytesRead;
    onBytes?.(bytesRead);
  }
  return { sha256: hash.digest('hex'), size };
}

// O_NONBLOCK: opening a FIFO that slipped past the regular-file check must not hang (no effect on files).
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

/** SHA-256 (hex) and size of a file, streamed in 1 MiB chunks; `onBytes` is called after each chunk. */
export async function sha256File(
  path: string,
  onBytes?: (n: number) => void,
): Promise<{ sha256: string; size: number }> {
  const handle = await open(path, OPEN_FLAGS);
  try {
    if (!(await handle.stat()).isFile())
      throw new AttestError('ARTIFACT_INVALID', `${path} is not a regular file`);
    return await hashHandle(handle, onBytes);
  } finally {
    await handle.close();
  }
}

type Located =
  | { readonly path: string; readonly abs: string; readonly size: number; readonly problem?: undefined }
  | {
      readonly path: string;
      readonly abs: string;
      readonly problem: 'missing' | 'invalid';
      readonly reason: string;
    };

function kindOf(st: { isDirectory(): boolean; isFIFO(): boolean; isSocket(): boolean }): string {
  return st.isDirectory()
    ? 'a directory'
    : st.isFIFO()
      ? 'a FIFO'
      : st.isSocket()
        ? 'a socket'
        : 'a special file';
}

/** Finds an artifact: it must exist, be a regular file, and (symlinks followed) stay inside the base directory. */
async function locate(dir: string, baseReal: string, path: string): Promise<Located> {
  const abs = join(dir, path);
  let real: string;
  try {
    real = await realpath(abs);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR')
      return { path, abs, problem: 'missing', reason: `missing (no such file ${abs})` };
    return {
      path,
      abs,
      problem: 'invalid',
      reason: `cannot be resolved (${code ?? (err as Error).message})`,
    };
  }
  const rel = relative(baseReal, real);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel))
    return {
      path,
      abs,
      problem: 'invalid',
      reason: `resolves outside the manifest's directory (to ${real})`,
    };
  const st = await stat(real);
  if (!st.isFile()) return { path, abs, problem: 'invalid', reason: `is ${kindOf(st)}, not a regular file` };
  return { path, abs: real, size: st.size };
}

async function hashAll(
  found: readonly { path: string; abs: string; size: number }[],
  onProgress?: (p: HashProgress) => void,
): Promise<Map<string, ArtifactDigest | { error: string }>> {
  const bytesTotal = found.reduce((n, f) => n + f.size, 0);
  const filesTotal = found.length;
  let bytesDone = 0;
  let filesDone = 0;
  const out = new Map<string, ArtifactDigest | { error: string }>();
  for (const f of found) {
    const report = () => onProgress?.({ bytesDone, bytesTotal, filesDone, filesTotal, path: f.path });
    try {
      const r = await sha256File(f.abs, (n) => {
        bytesDone += n;
        report();
      });
      out.set(f.path, { path: f.path, sha256: r.sha256, size: r.size });
    } catch (err) {
      out.set(f.path, {
        error: `could not be read (${(err as { code?: string }).code ?? (err as Error).message})`,
      });
    }
    filesDone++;
    report();
  }
  return out;
}

function listNames(paths: readonly string[]): string {
  const shown = paths.slice(0, 10).map((p) => JSON.stringify(p));
  return shown.join(', ') + (paths.length > 10 ? ` and ${paths.length - 10} more` : '');
}

/** Writes a file by renaming a temporary sibling into place, so readers never see a partial file. */
async function writeAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, data, { flag: 'wx', mode: 0o644 });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Options of buildReleaseEvidence. */
export interface BuildReleaseEvidenceOptions {
  /** The manifest file; artifact paths are relative to its directory. */
  readonly manifestPath: string;
  /** The manifest already loaded from manifestPath (skips reading it again). */
  readonly manifest?: ReleaseManifest;
  /** Where checksums.txt and release.dsse.json go; default: the manifest's directory. */
  readonly outDir?: string;
  /** The Ed25519 key that signs the statement. */
  readonly signer: DsseSigner | NodeKey;
  /** Clock for `builtAt`; default `new Date()`. */
  readonly now?: () => Date;
  readonly onProgress?: (p: HashProgress) => void;
}

/** What buildReleaseEvidence wrote. */
export interface ReleaseEvidence {
  readonly manifest: ReleaseManifest;
  readonly artifacts: ArtifactDigest[];
  readonly statement: ReleaseStatement;
  readonly envelope: DsseEnvelope;
  readonly keyid: string;
  readonly checksumsPath: string;
  readonly envelopePath: string;
  /** SHA-256 (hex) of the envelope file's bytes. */
  readonly envelopeSha256: string;
}

function evidenceDirs(manifestPath: string, outDir: string | undefined) {
  const dir = dirname(resolve(manifestPath));
  const out = resolve(outDir ?? dir);
  return {
    dir,
    checksumsPath: join(out, CHECKSUMS_FILE),
    envelopePath: join(out, RELEASE_ENVELOPE_FILE),
    out,
  };
}

/**
 * Hashes every artifact of a manifest and writes `checksums.txt` (for `sha256sum -c`, run in the manifest's
 * directory) and `release.dsse.json` (a DSSE envelope of an in-toto Statement v1, canonical JSON payload).
 * Fails before writing anything when an artifact is missing or invalid, naming the files.
 */
export async function buildReleaseEvidence(opts: BuildReleaseEvidenceOptions): Promise<ReleaseEvidence> {
  const manifest = opts.manifest ?? loadReleaseManifest(opts.manifestPath);
  const { dir, out, checksumsPath, envelopePath } = evidenceDirs(opts.manifestPath, opts.outDir);
  const baseReal = realpathSync(dir);
  const located = await Promise.all(manifest.artifacts.map((a) => locate(dir, baseReal, a.path)));
  const missing = located.filter((l) => l.problem === 'missing').map((l) => l.path);
  if (missing.length > 0)
    throw new AttestError('ARTIFACT_MISSING', `artifact(s) missing under ${dir}: ${listNames(missing)}`);
  for (const l of located)
    if (l.problem === 'invalid')
      throw new AttestError('ARTIFACT_INVALID', `artifact ${JSON.stringify(l.path)} ${l.reason}`);
  const found = located.filter((l): l is Located & { size: number } => l.problem === undefined);
  for (const target of [checksumsPath, envelopePath]) {
    const clash = found.find((f) => f.abs === target || join(dir, f.path) === target);
    if (clash)
      throw new AttestError(
        'MANIFEST_INVALID',
        `artifact ${JSON.stringify(clash.path)} would be overwritten by the evidence file ${target}; choose another output directory`,
      );
  }

  const hashed = await hashAll(found, opts.onProgress);
  const artifacts = found.map((f) => {
    const h = hashed.get(f.path)!;
    if ('error' in h)
      throw new AttestError('ARTIFACT_INVALID', `artifact ${JSON.stringify(f.path)} ${h.error}`);
    return h;
  });
  const statement: ReleaseStatement = {
    _type: IN_TOTO_STATEMENT_TYPE,
    subject: artifacts.map((a) => ({ name: a.path, digest: { sha256: a.sha256 } })),
    predicateType: RELEASE_PREDICATE_TYPE,
    predicate: {
      name: manifest.name,
      version: manifest.version,
      builtAt: (opts.now?.() ?? new Date()).toISOString(),
    },
  };
  const signer = 'signer' in opts.signer ? dsseSignerFromNodeKey(opts.signer) : opts.signer;
  const envelope = signEnvelope(IN_TOTO_PAYLOAD_TYPE, canonicalBytes(statement), signer);
  const envelopeText = formatEnvelope(envelope);
  await mkdir(out, { recursive: true });
  await writeAtomic(checksumsPath, formatChecksums(artifacts));
  await writeAtomic(envelopePath, envelopeText);
  return {
    manifest,
    artifacts,
    statement,
    envelope,
    keyid: signer.keyid,
    checksumsPath,
    envelopePath,
    envelopeSha256: createHash('sha256').update(envelopeText, 'utf8').digest('hex'),
  };
}

/** Options of verifyReleaseEvidence. */
export interface VerifyReleaseEvidenceOptions {
  readonly manifestPath: string;
  /** The manifest already loaded from manifestPath (skips reading it again). */
  readonly manifest?: ReleaseManifest;
  /** Where checksums.txt and release.dsse.json are; default: the manifest's directory. */
  readonly evidenceDir?: string;
  /** Trusted keys for the envelope. */
  readonly trusted: readonly DsseVerifier[];
  /** Distinct trusted signatures required; default 1. */
  readonly threshold?: number;
  readonly onProgress?: (p: HashProgress) => void;
}

/** The verdict on one artifact. */
export interface ReleaseFileCheck {
  readonly path: string;
  readonly ok: boolean;
  /** SHA-256 of the file now; null when it is missing or unreadable. */
  readonly sha256: string | null;
  readonly size: number | null;
  /** Its digest in the verified statement; null when the statement did not verify or does not list it. */
  readonly signed: string | null;
  /** Its digest in checksums.txt; null when that file is unusable or does not list it. */
  readonly listed: string | null;
  /** Why it is not ok. */
  readonly problem?: string;
}

/** The result of verifyReleaseEvidence; findings are values, never exceptions. */
export interface ReleaseVerifyReport {
  readonly ok: boolean;
  readonly name: string;
  readonly version: string;
  readonly checksumsPath: string;
  readonly envelopePath: string;
  readonly signature: {
    readonly ok: boolean;
    /** Keyids of the trusted keys whose signatures verified. */
    readonly keyids: string[];
    readonly builtAt: string | null;
    readonly problem?: string;
  };
  readonly files: ReleaseFileCheck[];
  /** Every problem, one line each, starting with the file it concerns. */
  readonly problems: string[];
}

/** Reads a file of at most `max` bytes (evidence files are attacker-controlled; refuse to buffer a huge one). */
async function readBounded(path: string, max: number): Promise<Buffer> {
  const st = await stat(path);
  if (st.size > max) throw new Error(`larger than ${max} bytes`);
  return readFile(path);
}

function messageOf(err: unknown): string {
  if (err instanceof AttestError) return err.message;
  const code = (err as { code?: string }).code;
  return code === 'ENOENT' ? 'missing' : `could not be read (${code ?? (err as Error).message})`;
}

/**
 * Verifies release evidence: the envelope's signature by the trusted key(s), that its statement names this
 * release and exactly the manifest's artifacts, that checksums.txt lists exactly the same digests, and that
 * every artifact re-hashes to them. Throws only for an unusable manifest (MANIFEST_MISSING, MANIFEST_INVALID).
 */
export async function verifyReleaseEvidence(
  opts: VerifyReleaseEvidenceOptions,
): Promise<ReleaseVerifyReport> {
  const manifest = opts.manifest ?? loadReleaseManifest(opts.manifestPath);
  const { dir, checksumsPath, envelopePath } = evidenceDirs(opts.manifestPath, opts.evidenceDir);
  const problems: string[] = [];
  const inManifest = new Set(manifest.artifacts.map((a) => a.path));

  let listed: Map<string, string> | undefined;
  try {
    const entries = parseChecksums(
      (await readBounded(checksumsPath, MAX_CHECKSUMS_BYTES)).toString('utf8'),
      CHECKSUMS_FILE,
    );
    listed = new Map(entries.map((e) => [e.path, e.sha256]));
    for (const e of entries)
      if (!inManifest.has(e.path))
        problems.push(`${CHECKSUMS_FILE}: lists ${JSON.stringify(e.path)}, which the manifest does not`);
  } catch (err) {
    problems.push(
      `${CHECKSUMS_FILE}: ${messageOf(err)}${(err as { code?: string }).code === 'ENOENT' ? ` (${checksumsPath})` : ''}`,
    );
  }

  let signed: Map<string, string> | undefined;
  let signature: ReleaseVerifyReport['signature'];
  try {
    const verified = verifyEnvelope(await readBounded(envelopePath, DSSE_MAX_ENVELOPE_BYTES), {
      trusted: opts.trusted,
      threshold: opts.threshold,
      payloadTypes: [IN_TOTO_PAYLOAD_TYPE],
    });
    const statement = parseReleaseStatement(verified.payload);
    const { name, version, builtAt } = statement.predicate;
    if (name !== manifest.name || version !== manifest.version)
      throw new AttestError(
        'STATEMENT_INVALID',
        `the signed statement is about ${name}@${version}, not ${manifest.name}@${manifest.version}`,
      );
    signed = new Map(statement.subject.map((s) => [s.name, s.digest.sha256]));
    for (const s of statement.subject)
      if (!inManifest.has(s.name))
        problems.push(
          `${RELEASE_ENVELOPE_FILE}: signs ${JSON.stringify(s.name)}, which the manifest does not list`,
        );
    signature = { ok: true, keyids: verified.keyids, builtAt };
  } catch (err) {
    const problem =
      messageOf(err) + ((err as { code?: string }).code === 'ENOENT' ? ` (${envelopePath})` : '');
    problems.push(`${RELEASE_ENVELOPE_FILE}: ${problem}`);
    signature = { ok: false, keyids: [], builtAt: null, problem };
  }

  const baseReal = realpathSync(dir);
  const located = await Promise.all(manifest.artifacts.map((a) => locate(dir, baseReal, a.path)));
  const hashed = await hashAll(
    located.filter((l): l is Located & { size: number } => l.problem === undefined),
    opts.onProgress,
  );
  const files = located.map((l): ReleaseFileCheck => {
    const h = hashed.get(l.path);
    const digest = h && !('error' in h) ? h : undefined;
    const sha256 = digest?.sha256 ?? null;
    const signedDigest = signed?.get(l.path) ?? null;
    const listedDigest = listed?.get(l.path) ?? null;
    const mine: string[] = [];
    if (l.problem !== undefined) mine.push(l.reason);
    else if (!digest) mine.push((h as { error: string }).error);
    else {
      if (signed && signedDigest === null) mine.push('is not a subject of the signed statement');
      else if (signed && signedDigest !== sha256)
        mine.push(`has SHA-256 ${sha256}, but the signed statement says ${signedDigest}`);
      if (listed && listedDigest === null) mine.push(`is not listed in ${CHECKSUMS_FILE}`);
      else if (listed && listedDigest !== sha256)
        mine.push(`has SHA-256 ${sha256}, but ${CHECKSUMS_FILE} says ${listedDigest}`);
    }
    for (const m of mine) problems.push(`${l.path}: ${m}`);
    const ok = mine.length === 0 && signed !== undefined && listed !== undefined;
    const problem =
      mine.length > 0
        ? mine.join('; ')
        : ok
          ? undefined
          : 'not covered by a verified signed statement and checksums.txt';
    return {
      path: l.path,
      ok,
      sha256,
      size: digest?.size ?? null,
      signed: signedDigest,
      listed: listedDigest,
      ...(problem ? { problem } : {}),
    };
  });
  return {
    ok: problems.length === 0,
    name: manifest.name,
    version: manifest.version,
    checksumsPath,
    envelopePath,
    signature,
    files,
    problems,
  };
}
