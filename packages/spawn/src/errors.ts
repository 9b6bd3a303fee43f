// The one error class of @vaultmesh/spawn and its closed set of codes.
import { VaultMeshError } from '@vaultmesh/types';

/** Closed set of Spawn failures (one line each). */
export type SpawnErrorCode =
  | 'INVALID_NAME' // a service name that is not a DNS-1035 label of at most 40 characters
  | 'INVALID_PARAMS' // parameters that break the template's JSON Schema (evidence: each problem)
  | 'UNKNOWN_TEMPLATE' // no template with that id
  | 'UNKNOWN_VERSION' // the template has no such version
  | 'TARGET_EXISTS' // the target directory exists (it is never overwritten)
  | 'NOT_SPAWNED' // a directory without a readable .vaultmesh/spawn.json
  | 'MANIFEST_INVALID' // a spawn.json that is not what spawn writes, or that its template cannot reproduce
  | 'TEMPLATE_INVALID' // a template folder that breaks the template rules (a bug in VaultMesh, not the caller's)
  | 'POLICY_DENIED' // the tenant's policy does not let this principal spawn from this template
  | 'DIGEST_MISMATCH'; // the caller's tree is not what the node renders for the same template, version and parameters

/** What was wrong: the parameter problems, or the file involved. */
export interface SpawnErrorEvidence {
  readonly problems?: readonly string[];
  readonly file?: string;
}

/** The one error class of @vaultmesh/spawn. */
export class SpawnError extends VaultMeshError<SpawnErrorCode, SpawnErrorEvidence> {
  constructor(code: SpawnErrorCode, message: string, evidence?: SpawnErrorEvidence, cause?: unknown) {
    super(code, message, {
      ...(evidence !== undefined ? { evidence } : {}),
      ...(cause !== undefined ? { cause } : {}),
    });
    this.name = 'SpawnError';
  }
}
