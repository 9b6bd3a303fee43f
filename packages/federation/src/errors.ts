// The one error class of @vaultmesh/federation, with a closed union of codes. Security failures carry evidence.
import { VaultMeshError } from '@vaultmesh/types';

export type FederationErrorCode =
  | 'COSIGNATURE_INVALID'
  | 'CHECKPOINT_INVALID'
  | 'INCONSISTENT'
  | 'EQUIVOCATION'
  | 'MERGE_MISMATCH'
  | 'SIGNATURE_INVALID'
  | 'INVALID_ARGUMENT'
  | 'PEER_UNREACHABLE'
  | 'PEER_UNTRUSTED'
  | 'NOT_FOUND';

/** Federation failure; `evidence` holds what proves it (signed notes, receipts) where there is any. */
export class FederationError extends VaultMeshError<FederationErrorCode> {
  constructor(
    code: FederationErrorCode,
    message: string,
    evidence?: unknown,
    opts: { cause?: unknown } = {},
  ) {
    super(code, message, { ...opts, ...(evidence !== undefined ? { evidence } : {}) });
    this.name = 'FederationError';
  }
}
