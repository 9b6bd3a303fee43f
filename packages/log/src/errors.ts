import { VaultMeshError } from '@vaultmesh/types';
/** Closed set of failure codes of the log lifecycle and its storage. */
export type LogErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'STORAGE'
  /** The storage cannot be reached now (a database server restarting); retry later. Nothing is known written. */
  | 'UNAVAILABLE'
  | 'CLOSED'
  | 'TIMEOUT'
  | 'ALREADY_INITIALIZED'
  | 'NOT_INITIALIZED';

/** The one error class of @vaultmesh/log. */
export class LogError extends VaultMeshError<LogErrorCode> {
  constructor(code: LogErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options?.cause !== undefined ? { cause: options.cause } : {});
    this.name = 'LogError';
  }
}
