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
