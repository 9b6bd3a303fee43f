// A generated tree's digest, in a form standard tools check: `.vaultmesh/spawn.sha256` holds one
// "<sha256>  <path>" line per generated file, sorted by path (what `sha256sum -c` reads), and the tree digest is the
// SHA-256 of that file's bytes. Paths are '/'-separated and relative; the two .vaultmesh files are not part of it.
import { createHash } from 'node:crypto';

/** Generated files: path → content. */
export type Tree = ReadonlyMap<string, string>;

export const MANIFEST_FILE = '.vaultmesh/spawn.json';
export const SUMS_FILE = '.vaultmesh/spawn.sha256';

export const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

/** The sums file of a tree (sha256sum's text format). */
export function sumsText(tree: Tree): string {
  const paths = [...tree.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return paths.map((p) => `${sha256(tree.get(p)!)}  ${p}\n`).join('');
}

/** The tree's digest: SHA-256 of its sums file. */
export function treeDigest(tree: Tree): string {
  return sha256(sumsText(tree));
}
