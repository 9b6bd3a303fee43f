// The one error class of @vaultmesh/aurora, with a closed union of codes.

export type AuroraErrorCode =
  'INVALID_ARGUMENT' | 'NO_OFFER' | 'POLICY_DENIED' | 'PROVIDER_FAILED' | 'PROVIDER_TIMEOUT' | 'NOT_FOUND';

/** Aurora failure; messages never contain provider API keys. */
export class AuroraError extends Error {
  readonly code: AuroraErrorCode;
  readonly details?: unknown;
  constructor(code: AuroraErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'AuroraError';
    this.code = code;
    this.details = details;
  }
}
