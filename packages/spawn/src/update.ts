// `vm spawn update`: a newer template version applied to a tree with local edits, as a three-way merge per file (the
// base is the tree's own version rendered again with its parameters, as copier and cruft do). A file the template
// did not change keeps the local edits; a file nobody edited takes the template's; a file both changed is merged
// line by line, and the regions both changed differently are left between conflict markers (diff3 style, with the
// base) for a person to resolve.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { mergeDiff3 } from 'node-diff3';
import { checkUpgrade, getTemplate } from './catalog.ts';
import { render, type Rendered } from './generate.ts';
import { metadataFiles, readManifest, type ReceiptRef, type SpawnManifest } from './manifest.ts';
import { regenerate } from './verify.ts';

/** What happens to one path. */
export type MergeAction =
  | 'unchanged' // the template did not change it (local edits, if any, stay)
  | 'updated' // nobody edited it: the template's new content
  | 'merged' // both changed it, in different places: merged cleanly
  | 'conflict' // both changed the same lines: written with conflict markers
  | 'added' // new in the template
  | 'deleted' // gone from the template and not edited locally: removed
  | 'orphaned'; // gone from the template but edited locally: kept as it is

export interface MergedFile {
  readonly path: string;
  readonly action: MergeAction;
  /** The content to write (undefined: delete, or leave as it is). */
  readonly content?: string;
}

export interface UpdatePlan {
  readonly manifest: SpawnManifest;
  readonly from: string;
  readonly to: string;
  readonly files: readonly MergedFile[];
  readonly conflicts: readonly string[];
  /** The new version's render (its digest goes into the new manifest and receipt). */
  readonly target: Rendered;
}

const CONFLICT_LINE = /^(<<<<<<<|>>>>>>>)( |$)/m;

/** Merges one file's three versions (undefined: absent). */
export function mergeFile(
  path: string,
  base: string | undefined,
  ours: string | undefined,
  theirs: string | undefined,
  labels: { from: string; to: string },
): MergedFile {
  if (theirs === undefined) {
    if (base === undefined || ours === undefined) return { path, action: 'unchanged' };
    return ours === base ? { path, action: 'deleted' } : { path, action: 'orphaned' };
  }
  if (base === undefined && ours === undefined) return { path, action: 'added', content: theirs };
  if (theirs === base || ours === theirs) return { path, action: 'unchanged' };
  if (ours === undefined) return { path, action: 'unchanged' }; // deleted locally: stays deleted
  if (ours === base) return { path, action: 'updated', content: theirs };
  // Both sides changed it (or both added it with different content: an empty base, as git treats add/add).
  const r = mergeDiff3(ours.split('\n'), (base ?? '').split('\n'), theirs.split('\n'), {
    label: { a: 'yours', o: `template ${labels.from}`, b: `template ${labels.to}` },
  });
  return { path, action: r.conflict ? 'conflict' : 'merged', content: r.result.join('\n') };
}

/** Plans the update of a generated tree to `to` (default: the template's newest version). Reads only. */
export function planUpdate(dir: string, to?: string): UpdatePlan {
  const manifest = readManifest(dir);
  const base = regenerate(dir, manifest);
  const t = getTemplate(manifest.template);
  const target = to ?? t.version;
  checkUpgrade(t, manifest.version, target);
  const next = render({
    template: t.id,
    version: target,
    service: manifest.service,
    params: manifest.params,
  });
  const paths = new Set([...base.files.keys(), ...next.files.keys()]);
  const files = [...paths].sort().map((p) => {
    const local = join(dir, p);
    const ours = existsSync(local) ? readFileSync(local, 'utf8') : undefined;
    return mergeFile(p, base.files.get(p), ours, next.files.get(p), { from: manifest.version, to: target });
  });
  const conflicts = files.filter((f) => f.action === 'conflict').map((f) => f.path);
  return { manifest, from: manifest.version, to: target, files, conflicts, target: next };
}

/** Whether a text still holds conflict markers. */
export function hasConflictMarkers(text: string): boolean {
  return CONFLICT_LINE.test(text);
}

/** Writes one file through a temporary sibling and a rename, so a crash never leaves it half written. */
function writeAtomic(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.spawn-${process.pid}.tmp`;
  writeFileSync(tmp, content);
  renameSync(tmp, path);
}

/**
 * Applies a planned update: merged files, deletions, then the new manifest (last, so an interrupted update is
 * simply planned and applied again: files already updated then merge as unchanged).
 */
export function applyUpdate(dir: string, plan: UpdatePlan, receipt?: ReceiptRef): void {
  for (const f of plan.files) {
    if (f.content !== undefined) writeAtomic(join(dir, f.path), f.content);
    else if (f.action === 'deleted') rmSync(join(dir, f.path), { force: true });
  }
  const m: SpawnManifest = {
    ...plan.manifest,
    version: plan.to,
    treeSha256: plan.target.treeSha256,
    ...(receipt ? { receipt } : {}),
  };
  for (const [path, content] of metadataFiles(m, plan.target.files)) writeAtomic(join(dir, path), content);
}
