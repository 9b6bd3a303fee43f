// Listing a folder's files: relative, '/'-separated paths in name order, the same on every platform.
import { readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/**
 * Every regular file under `dir`. `skip` leaves an entry out (a folder with all it holds); `atTop` says whether the
 * entry is directly in `dir`.
 */
export function filesUnder(
  dir: string,
  skip: (name: string, entry: { atTop: boolean; isDirectory: boolean }) => boolean = () => false,
  at = dir,
): string[] {
  const out: string[] = [];
  for (const name of readdirSync(at).sort()) {
    const full = join(at, name);
    const st = statSync(full);
    if (skip(name, { atTop: at === dir, isDirectory: st.isDirectory() })) continue;
    if (st.isDirectory()) out.push(...filesUnder(dir, skip, full));
    else if (st.isFile()) out.push(relative(dir, full).split(sep).join('/'));
  }
  return out;
}
