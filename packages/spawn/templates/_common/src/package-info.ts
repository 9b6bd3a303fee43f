// This service's name, version and description, read from its package.json (next to src/ and dist/ alike).
import { readFileSync } from 'node:fs';

export interface PackageInfo {
  readonly name: string;
  readonly version: string;
  readonly description: string;
}

const pkg = JSON.parse(
  readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
) as PackageInfo;

export const PACKAGE: PackageInfo = {
  name: pkg.name,
  version: pkg.version,
  description: pkg.description,
};
