// The one error class of @vaultmesh/psi and its closed set of codes.
import { VaultMeshError } from '@vaultmesh/types';

/** Closed set of Ψ-Field failures (one line each). */
export type PsiErrorCode =
  | 'INVALID_ARGUMENT' // bad options (a horizon, a threshold, a period out of range) or a bad point (not finite)
  | 'CSV_INVALID' // a CSV file that is not a header and rows of a timestamp and numbers (evidence: line)
  | 'CORPUS_INVALID' // a folder that is not in NAB's layout, or labels that do not fit the data (evidence: file)
  | 'NOT_FOUND'; // a file or folder that does not exist

/** Where a bad input is: the file and, for a CSV, the 1-based line. */
export interface PsiErrorEvidence {
  readonly file?: string;
  readonly line?: number;
}

/** The one error class of @vaultmesh/psi. */
export class PsiError extends VaultMeshError<PsiErrorCode, PsiErrorEvidence> {
  constructor(code: PsiErrorCode, message: string, evidence?: PsiErrorEvidence, cause?: unknown) {
    super(code, message, {
      ...(evidence !== undefined ? { evidence } : {}),
      ...(cause !== undefined ? { cause } : {}),
    });
    this.name = 'PsiError';
  }
}
