// The VaultMesh Cedar schema (src/vaultmesh.cedarschema) and the shipped default policy set (policies/default.cedar).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PolicyError } from './errors.ts';

/** The Cedar namespace every VaultMesh entity type and action lives in. */
export const NAMESPACE = 'VaultMesh';

/** Path of the VaultMesh schema file (Cedar schema format). */
export const SCHEMA_PATH = fileURLToPath(new URL('./vaultmesh.cedarschema', import.meta.url));

/** Path of the shipped default policy set. */
export const DEFAULT_POLICIES_PATH = fileURLToPath(new URL('../policies/default.cedar', import.meta.url));

/** The VaultMesh Cedar schema text that policy sets are validated against unless another is given. */
export const VAULTMESH_SCHEMA: string = readFileSync(SCHEMA_PATH, 'utf8');

/** Reads a policy, schema or test file as UTF-8; a missing file is PolicyError NOT_FOUND. */
export function readPolicyFile(path: string, what = 'policy file'): string {
  if (!existsSync(path)) throw new PolicyError('NOT_FOUND', `${what} ${path} does not exist`);
  return readFileSync(path, 'utf8');
}

/** The shipped default policy set (policies/default.cedar) as text. */
export function readDefaultPolicies(): string {
  return readPolicyFile(DEFAULT_POLICIES_PATH, 'default policy file');
}
