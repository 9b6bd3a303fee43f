import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Reads a JSON file from the repository's testdata/ folder. */
export function readTestdata<T>(rel: string): T {
  return JSON.parse(
    readFileSync(fileURLToPath(new URL(`../../../testdata/${rel}`, import.meta.url)), 'utf8'),
  ) as T;
}
