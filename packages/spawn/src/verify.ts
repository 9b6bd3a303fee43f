// `vm spawn verify`: what changed in a generated tree since it was generated. The manifest's template, version and
// parameters are rendered again; that render must reproduce the manifest's digest (else the manifest was edited or
// the template is not the one that generated it), and each file on disk is compared with it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SpawnError } from './errors.ts';
import { filesUnder } from './files.ts';
import { render, type Rendered } from './generate.ts';
import { readManifest, type SpawnManifest } from './manifest.ts';
import { sha256 } from './tree.ts';

/** Folders that hold what tools made from the tree, never what was generated or written by hand. */
export const UNTRACKED_DIRS = new Set(['node_modules', '.git', 'dist', 'coverage', '.vaultmesh']);

export interface TreeChanges {
  readonly manifest: SpawnManifest;
  /** Generated files whose content is unchanged. */
  readonly unchanged: readonly string[];
  /** Generated files whose content changed. */
  readonly modified: readonly string[];
  /** Generated files that are gone. */
  readonly removed: readonly string[];
  /** Files that were not generated (outside node_modules, .git, dist, coverage). */
  readonly added: readonly string[];
  /** What the manifest's template version renders (the comparison's base). */
  readonly generated: Rendered;
}

/** Every file under `dir`, relative and '/'-separated, outside UNTRACKED_DIRS. */
export const listTree = (dir: string): string[] =>
  filesUnder(dir, (name, { isDirectory }) => isDirectory && UNTRACKED_DIRS.has(name));

/** Renders what a manifest says was generated, refusing a manifest its template cannot reproduce. */
export function regenerate(dir: string, m: SpawnManifest): Rendered {
  const generated = render({
    template: m.template,
    version: m.version,
    service: m.service,
    params: m.params,
  });
  if (generated.treeSha256 !== m.treeSha256)
    throw new SpawnError(
      'MANIFEST_INVALID',
      `${dir}: ${m.template}@${m.version} with the recorded parameters renders tree ${generated.treeSha256.slice(0, 12)}…, not the recorded ${m.treeSha256.slice(0, 12)}… (the manifest was edited, or this VaultMesh ships a different ${m.template}@${m.version})`,
    );
  return generated;
}

/** Compares a generated tree on disk with what generated it. */
export function compareTree(dir: string): TreeChanges {
  const manifest = readManifest(dir);
  const generated = regenerate(dir, manifest);
  const onDisk = new Set(listTree(dir));
  const unchanged: string[] = [];
  const modified: string[] = [];
  const removed: string[] = [];
  for (const [path, content] of generated.files) {
    if (!onDisk.has(path)) removed.push(path);
    else if (sha256(readFileSync(join(dir, path))) === sha256(content)) unchanged.push(path);
    else modified.push(path);
    onDisk.delete(path);
  }
  return { manifest, unchanged, modified, removed, added: [...onDisk], generated };
}
