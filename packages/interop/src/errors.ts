// The one error class of @vaultmesh/interop, with a closed union of codes. Each edge maps the codes in one table
// (HTTP: packages/api/src/errors.ts; MCP: an isError tool result; A2A: a task state or JSON-RPC error).
import { VaultMeshError } from '@vaultmesh/types';

export type InteropErrorCode =
  /** The arguments broke the tool's input schema, or named an unknown tool or persisted query. */
  | 'INVALID_INPUT'
  /** Policy said no; `reasons` name the deciding policies or the error that forced the deny. */
  | 'DENIED'
  | 'NOT_FOUND'
  /** The call ran past its time limit. */
  | 'TIMEOUT'
  /** An external MCP server or A2A agent failed or answered out of shape. */
  | 'UPSTREAM_FAILED'
  /** A capability this node was not configured with. */
  | 'UNAVAILABLE'
  /** The tool ran and failed (its message says why). */
  | 'FAILED';

/** Interop failure; messages never contain secrets (arguments are hashed, never echoed). */
export class InteropError extends VaultMeshError<InteropErrorCode, readonly string[]> {
  readonly reasons: readonly string[];
  constructor(code: InteropErrorCode, message: string, reasons: readonly string[] = []) {
    super(code, message, { evidence: reasons });
    this.name = 'InteropError';
    this.reasons = reasons;
  }
}

/**
 * The JSON-RPC edges' table, exhaustive over every code: the A2A task state a failed call ends in ('rejected': the
 * request itself was refused and nothing ran; 'failed': it ran, or tried to, and did not succeed). Over MCP every
 * code is a tool result with isError and the text "<CODE>: <message>". docs/interop.md documents this table and
 * test/status-codes.test.ts compares the two.
 */
export const A2A_TASK_STATES: Readonly<Record<InteropErrorCode, 'rejected' | 'failed'>> = {
  INVALID_INPUT: 'rejected',
  DENIED: 'rejected',
  NOT_FOUND: 'failed',
  TIMEOUT: 'failed',
  UPSTREAM_FAILED: 'failed',
  UNAVAILABLE: 'failed',
  FAILED: 'failed',
};
