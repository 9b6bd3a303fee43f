// Exit codes of `vm` (documented in docs/cli.md) and the one error → exit code table.
import { AttestError } from '@vaultmesh/attest';
import { AuthError } from '@vaultmesh/auth';
import { LedgerError } from '@vaultmesh/ledger';
import { LogError } from '@vaultmesh/log';
import { ConfigError } from '@vaultmesh/server';

export const EXIT = {
  OK: 0,
  /** Verification found problems, or the operation failed. */
  FAILED: 1,
  /** Bad usage: unknown command, bad flag or argument, invalid configuration. */
  USAGE: 2,
  /** The thing asked for does not exist (entry, checkpoint, token, data directory). */
  NOT_FOUND: 3,
  /** Authentication or permission failure. */
  AUTH: 4,
  /** Conflicts with existing state (e.g. `vm init` on an existing log). */
  CONFLICT: 5,
  /** Unexpected internal error. */
  INTERNAL: 10,
} as const;

/** A CLI-level failure with an exit code. */
export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** Maps an error to [exit code, one-line message]. */
export function exitFor(err: unknown): [number, string] {
  if (err instanceof CliError) return [err.exitCode, err.message];
  if (err instanceof ConfigError) return [EXIT.USAGE, err.message];
  if (err instanceof LedgerError) {
    // A proof or signature that does not verify is a failed check, not bad usage.
    const failed = err.code === 'PROOF_INVALID' || err.code === 'SIGNATURE_INVALID';
    return [failed ? EXIT.FAILED : EXIT.USAGE, err.message];
  }
  if (err instanceof AttestError)
    return [err.code === 'KEY_EXISTS' ? EXIT.CONFLICT : EXIT.FAILED, err.message];
  if (err instanceof AuthError) {
    return [
      err.code === 'INVALID_ARGUMENT' ? EXIT.USAGE : err.code === 'NOT_FOUND' ? EXIT.NOT_FOUND : EXIT.AUTH,
      err.message,
    ];
  }
  if (err instanceof LogError) {
    switch (err.code) {
      case 'INVALID_ARGUMENT':
        return [EXIT.USAGE, err.message];
      case 'NOT_FOUND':
      case 'NOT_INITIALIZED':
        return [EXIT.NOT_FOUND, err.message];
      case 'ALREADY_INITIALIZED':
      case 'CONFLICT':
        return [EXIT.CONFLICT, err.message];
      case 'TIMEOUT':
      case 'CLOSED':
      case 'STORAGE':
        return [EXIT.FAILED, err.message];
    }
  }
  const code = (err as { code?: string }).code;
  if (code === 'EADDRINUSE') return [EXIT.FAILED, (err as Error).message];
  if (code === 'ENOENT' || code === 'EACCES') return [EXIT.FAILED, (err as Error).message];
  return [EXIT.INTERNAL, `internal error: ${(err as Error)?.stack ?? String(err)}`];
}
