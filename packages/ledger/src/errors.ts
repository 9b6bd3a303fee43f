import { VaultMeshError } from '@vaultmesh/types';
/** Closed set of failure codes raised by the pure ledger core. */
export type LedgerErrorCode =
  | 'INVALID_ARGUMENT'
  | 'PROOF_INVALID'
  | 'CHECKPOINT_MALFORMED'
  | 'NOTE_MALFORMED'
  | 'SIGNATURE_INVALID'
  | 'KEY_MALFORMED'
  | 'RECEIPT_INVALID'
  | 'CANONICAL_JSON'
  | 'COSIGNATURE_INVALID';

/** The one error class of @vaultmesh/ledger; `details` carries the evidence of a security failure. */
export class LedgerError extends VaultMeshError<LedgerErrorCode, Record<string, unknown>> {
  readonly details: Record<string, unknown> | undefined;
  constructor(code: LedgerErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details !== undefined ? { evidence: details } : {});
    this.name = 'LedgerError';
    this.details = details;
  }
}
