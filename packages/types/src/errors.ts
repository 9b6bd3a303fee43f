// The one error base of VaultMesh: every package's error class extends it, so each failure carries a code from its
// package's closed set, the error that caused it (`cause`, ES2022) and typed evidence, and an edge can map any of
// them by class and code. StoreError is the failure of the storage ports (ControlStore), so adapters need no
// service package for it.

/** Options of a VaultMeshError: what caused it, and the evidence it carries (what was expected and found ...). */
export interface VaultMeshErrorOptions<E> {
  readonly cause?: unknown;
  readonly evidence?: E;
}

/** Base of every VaultMesh error: a code from a closed set, a message, an optional cause and typed evidence. */
export class VaultMeshError<C extends string = string, E = unknown> extends Error {
  readonly code: C;
  readonly evidence: E | undefined;
  constructor(code: C, message: string, opts: VaultMeshErrorOptions<E> = {}) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'VaultMeshError';
    this.code = code;
    this.evidence = opts.evidence;
  }
}

/** Failures of the storage ports. */
export type StoreErrorCode =
  | 'CONFLICT' // a compare-and-swap lost: the stored version is not the expected one; nothing was written
  | 'INVALID_ARGUMENT' // a document that cannot be stored (not JSON-serializable)
  | 'UNAVAILABLE' // the database cannot be reached now (a server restarting); retry later
  | 'STORAGE'; // the database failed otherwise

/** Evidence of a lost compare-and-swap. */
export interface StoreConflictEvidence {
  readonly collection: string;
  readonly id: string;
  readonly expected: number;
  readonly found: number;
}

/** The error of the storage ports (ControlStore adapters: SQLite, memory, PostgreSQL). */
export class StoreError extends VaultMeshError<StoreErrorCode, StoreConflictEvidence> {
  constructor(
    code: StoreErrorCode,
    message: string,
    opts: VaultMeshErrorOptions<StoreConflictEvidence> = {},
  ) {
    super(code, message, opts);
    this.name = 'StoreError';
  }
}
