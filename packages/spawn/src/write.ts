// Writing a generated tree without ever overwriting anything: the files go to a fresh sibling folder, which is
// renamed onto the target only at the end, so a crash leaves either nothing or the whole tree (never half of one),
// and an existing target is refused before a byte is written.
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { SpawnError } from './errors.ts';
import type { Tree } from './tree.ts';

/** Refuses a target that exists (file, folder or link). */
export function checkTarget(dir: string): string {
  const target = resolve(dir);
  if (existsSync(target))
    throw new SpawnError('TARGET_EXISTS', `${dir} exists; vm spawn never overwrites (choose another --dir)`, {
      file: target,
    });
  return target;
}

/** Writes files under `root` (creating folders). */
export function writeFiles(root: string, files: Tree): void {
  for (const [path, content] of files) {
    const full = join(root, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, content);
  }
}

/** A staged tree: written beside the target, not yet in place. */
export interface Staged {
  readonly target: string;
  readonly staging: string;
  /** Moves the staged tree onto the target (TARGET_EXISTS if something took the name meanwhile). */
  commit(): void;
  /** Removes the staged tree. */
  discard(): void;
}

/** Writes `files` to a hidden sibling of `dir`; nothing appears at `dir` until commit(). */
export function stageTree(dir: string, files: Tree): Staged {
  const target = checkTarget(dir);
  mkdirSync(dirname(target), { recursive: true });
  const staging = join(dirname(target), `.${basename(target)}.spawn-${randomBytes(4).toString('hex')}`);
  mkdirSync(staging);
  try {
    writeFiles(staging, files);
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw err;
  }
  return {
    target,
    staging,
    commit() {
      try {
        // rename(2) replaces only an empty folder; a non-empty one that appeared meanwhile refuses (ENOTEMPTY).
        renameSync(staging, target);
      } catch (err) {
        rmSync(staging, { recursive: true, force: true });
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOTDIR')
          throw new SpawnError('TARGET_EXISTS', `${dir} appeared while spawning; left it as it was`, {
            file: target,
          });
        throw err;
      }
    },
    discard() {
      rmSync(staging, { recursive: true, force: true });
    },
  };
}
