// The one error class of @vaultmesh/aurora, with a closed union of codes.
import { VaultMeshError } from '@vaultmesh/types';

export type AuroraErrorCode =
  'INVALID_ARGUMENT' | 'NO_OFFER' | 'POLICY_DENIED' | 'PROVIDER_FAILED' | 'PROVIDER_TIMEOUT' | 'NOT_FOUND';

/** Aurora failure; messages never contain provider API keys. */
export class AuroraError extends VaultMeshError<AuroraErrorCode> {
  readonly details?: unknown;
  constructor(code: AuroraErrorCode, message: string, details?: unknown) {
    super(code, message, details !== undefined ? { evidence: details } : {});
    this.name = 'AuroraError';
    this.details = details;
  }
}
