// The template catalog: each template is a folder under templates/ with a template.json (id, version, history, its
// layers and a JSON Schema of its parameters) and the files it writes. Layers are folders merged in order (later
// wins), so the common files (Dockerfile, Kubernetes, monitoring, CI) live once in templates/_common. Older versions
// stay renderable, which `vm spawn update` needs as the merge base: a template's history/<version>/ holds each file
// as it was in that version where it differs from the next one, and history/<version>.json the paths that version
// did not have.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SpawnError } from './errors.ts';
import { filesUnder } from './files.ts';

/** Where the bundled templates are. */
export const TEMPLATES_DIR = fileURLToPath(new URL('../templates/', import.meta.url));

/** One version of a template and what it changed. */
export interface TemplateVersion {
  readonly version: string;
  readonly notes: string;
}

/** What a template says about one of its files. */
export interface FileSpec {
  /** One line: what the file is for (shown by --dry-run). */
  readonly purpose: string;
  /** A condition on the parameters (see text.ts); the file is written only when it holds. */
  readonly when?: string;
}

/** A template as the catalog lists it. */
export interface Template {
  readonly id: string;
  readonly title: string;
  readonly description: string;
  /** The newest version (what `create` writes). */
  readonly version: string;
  /** Every version, oldest first; the last is `version`. */
  readonly history: readonly TemplateVersion[];
  /** JSON Schema (draft-07) of the parameters, with defaults. */
  readonly parameters: Readonly<Record<string, unknown>>;
}

/** A template with where its files come from. */
export interface LoadedTemplate extends Template {
  /** Each path of the newest version → its source file and spec. */
  readonly files: ReadonlyMap<string, { source: string; spec: FileSpec }>;
  /** Per older version, the files that differ from the next version, and the paths it did not have. */
  readonly overlays: ReadonlyMap<
    string,
    { files: ReadonlyMap<string, { source: string; spec: FileSpec }>; absent: readonly string[] }
  >;
}

interface TemplateJson {
  id: string;
  title: string;
  description: string;
  history: TemplateVersion[];
  layers: string[];
  parameters: Record<string, unknown>;
  files?: Record<string, FileSpec>;
}

const META = new Set(['template.json', 'files.json', 'history']);
/** What a template id may be (anything else names no template, whatever the file system holds). */
const TEMPLATE_ID = /^[a-z][a-z0-9-]{0,62}$/;
const VERSION = /^\d+\.\d+\.\d+$/;

function invalid(file: string, message: string): SpawnError {
  return new SpawnError('TEMPLATE_INVALID', `${file}: ${message}`, { file });
}

function readJson<T>(file: string): T {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (err) {
    throw new SpawnError('TEMPLATE_INVALID', `${file}: ${(err as Error).message}`, { file }, err);
  }
}

/** Every file of a layer or overlay, without the template's own metadata at its top. */
const walk = (dir: string): string[] => filesUnder(dir, (name, { atTop }) => atTop && META.has(name));

function layerFiles(
  dir: string,
  specs: Readonly<Record<string, FileSpec>>,
  where: string,
): Map<string, { source: string; spec: FileSpec }> {
  const out = new Map<string, { source: string; spec: FileSpec }>();
  for (const path of walk(dir)) {
    const spec = specs[path];
    if (!spec || typeof spec.purpose !== 'string' || spec.purpose.length === 0)
      throw invalid(join(dir, path), `no purpose for it in ${where}`);
    out.set(path, { source: join(dir, path), spec });
  }
  return out;
}

/** Loads one template folder (validating its metadata). */
export function loadTemplate(id: string, root = TEMPLATES_DIR): LoadedTemplate {
  const dir = join(root, id);
  const metaFile = join(dir, 'template.json');
  if (!TEMPLATE_ID.test(id) || !existsSync(metaFile))
    throw new SpawnError('UNKNOWN_TEMPLATE', `no template "${id.slice(0, 64)}" (see vm spawn templates)`);
  const meta = readJson<TemplateJson>(metaFile);
  if (meta.id !== id) throw invalid(metaFile, `id "${meta.id}" is not the folder name "${id}"`);
  if (!Array.isArray(meta.history) || meta.history.length === 0)
    throw invalid(metaFile, 'history must list at least one version');
  for (const h of meta.history)
    if (!VERSION.test(h.version)) throw invalid(metaFile, `version "${h.version}" is not x.y.z`);
  const files = new Map<string, { source: string; spec: FileSpec }>();
  for (const layer of meta.layers) {
    const layerDir = join(root, layer);
    const specs =
      layer === id ? (meta.files ?? {}) : readJson<Record<string, FileSpec>>(join(layerDir, 'files.json'));
    for (const [path, f] of layerFiles(layerDir, specs, layer === id ? metaFile : `${layer}/files.json`))
      files.set(path, f);
  }
  const overlays = new Map<
    string,
    { files: ReadonlyMap<string, { source: string; spec: FileSpec }>; absent: readonly string[] }
  >();
  for (const { version } of meta.history.slice(0, -1)) {
    const oDir = join(dir, 'history', version);
    const oMetaFile = join(dir, 'history', `${version}.json`);
    const oMeta = existsSync(oMetaFile)
      ? readJson<{ absent?: string[]; files?: Record<string, FileSpec> }>(oMetaFile)
      : {};
    const oSpecs: Record<string, FileSpec> = {};
    const oFiles = existsSync(oDir) ? walk(oDir) : [];
    for (const p of oFiles) {
      const spec = oMeta.files?.[p] ?? files.get(p)?.spec;
      if (!spec) throw invalid(join(oDir, p), `no purpose for it in ${oMetaFile}`);
      oSpecs[p] = spec;
    }
    overlays.set(version, {
      files: existsSync(oDir) ? layerFiles(oDir, oSpecs, oMetaFile) : new Map(),
      absent: oMeta.absent ?? [],
    });
  }
  return {
    id,
    title: meta.title,
    description: meta.description,
    version: meta.history[meta.history.length - 1]!.version,
    history: meta.history,
    parameters: meta.parameters,
    files,
    overlays,
  };
}

const cache = new Map<string, LoadedTemplate>();
const texts = new Map<string, string>();

/** A template file's text, read once per process (the bundled templates do not change while it runs). */
export function sourceText(file: string): string {
  let text = texts.get(file);
  if (text === undefined) {
    text = readFileSync(file, 'utf8');
    texts.set(file, text);
  }
  return text;
}

/** A bundled template (loaded once per process). */
export function getTemplate(id: string): LoadedTemplate {
  let t = cache.get(id);
  if (!t) {
    t = loadTemplate(id);
    cache.set(id, t);
  }
  return t;
}

/** Every bundled template, by id. */
export function listTemplates(root = TEMPLATES_DIR): Template[] {
  return readdirSync(root)
    .filter((n) => !n.startsWith('_') && existsSync(join(root, n, 'template.json')))
    .sort()
    .map((id) => {
      const t = root === TEMPLATES_DIR ? getTemplate(id) : loadTemplate(id, root);
      return {
        id: t.id,
        title: t.title,
        description: t.description,
        version: t.version,
        history: t.history,
        parameters: t.parameters,
      };
    });
}

/** Where `version` stands in the template's history (0: the oldest); UNKNOWN_VERSION when it has no such one. */
export function versionIndex(t: Template, version: string): number {
  const at = t.history.findIndex((h) => h.version === version);
  if (at < 0)
    throw new SpawnError(
      'UNKNOWN_VERSION',
      `template ${t.id} has no version ${version} (it has ${t.history.map((h) => h.version).join(', ')})`,
    );
  return at;
}

/** Refuses an update from `from` to `to` unless the template has both and `to` is the newer. */
export function checkUpgrade(t: Template, from: string, to: string): void {
  if (versionIndex(t, to) <= versionIndex(t, from))
    throw new SpawnError('UNKNOWN_VERSION', `${t.id} ${to} is not newer than ${from} (nothing to update)`);
}

/**
 * The files of `version` (default the newest): the newest files with the overlays of every later version undone,
 * newest first.
 */
export function filesOfVersion(
  t: LoadedTemplate,
  version = t.version,
): Map<string, { source: string; spec: FileSpec }> {
  const at = versionIndex(t, version);
  const files = new Map(t.files);
  for (let k = t.history.length - 2; k >= at; k--) {
    const o = t.overlays.get(t.history[k]!.version)!;
    for (const [p, f] of o.files) files.set(p, f);
    for (const p of o.absent) files.delete(p);
  }
  return files;
}
