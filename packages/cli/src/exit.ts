// Exit codes of `vm` (documented in docs/cli.md) and the one error → exit code table.
import { AttestError, type AttestErrorCode } from '@vaultmesh/attest';
import { AuthError, type AuthErrorCode } from '@vaultmesh/auth';
import { FederationError, type FederationErrorCode } from '@vaultmesh/federation';
import { AuroraError, type AuroraErrorCode } from '@vaultmesh/aurora/errors';
import { ControlError, type ControlErrorCode } from '@vaultmesh/control/errors';
import { InteropError, type InteropErrorCode } from '@vaultmesh/interop/errors';
import { LedgerError, type LedgerErrorCode } from '@vaultmesh/ledger';
import { LogError, type LogErrorCode } from '@vaultmesh/log';
// The errors entry only: it does not load the Cedar wasm, which only `vm policy` needs.
import { PolicyError, type PolicyErrorCode } from '@vaultmesh/policy/errors';
import { ConfigError } from '@vaultmesh/node';
import { PsiError, type PsiErrorCode } from '@vaultmesh/psi';
import { SpawnError, type SpawnErrorCode } from '@vaultmesh/spawn';
import { StoreError, type StoreErrorCode } from '@vaultmesh/types';

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
  /** Waiting for a human: `vm run` left its live run on hold for an approval. */
  PENDING: 6,
  /** Unexpected internal error. */
  INTERNAL: 10,
} as const;

/** A CLI-level failure with an exit code. */
/** LedgerError → exit code: a proof, signature or cosignature that does not verify is a failed check, not bad usage. */
const LEDGER_EXIT: Record<LedgerErrorCode, number> = {
  INVALID_ARGUMENT: EXIT.USAGE,
  PROOF_INVALID: EXIT.FAILED,
  CHECKPOINT_MALFORMED: EXIT.USAGE,
  NOTE_MALFORMED: EXIT.USAGE,
  SIGNATURE_INVALID: EXIT.FAILED,
  KEY_MALFORMED: EXIT.USAGE,
  RECEIPT_INVALID: EXIT.USAGE,
  CANONICAL_JSON: EXIT.USAGE,
  COSIGNATURE_INVALID: EXIT.FAILED,
};

export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** AttestError codes → exit codes: a check that did not pass is FAILED (1); an existing key, a missing or invalid
 * manifest or options are named here. */
const ATTEST_EXIT: Record<AttestErrorCode, number> = {
  ARTIFACT_INVALID: EXIT.USAGE,
  ARTIFACT_MISSING: EXIT.FAILED,
  CHECKSUMS_MALFORMED: EXIT.FAILED,
  DIGEST_MISMATCH: EXIT.FAILED,
  DSSE_MALFORMED: EXIT.FAILED,
  DSSE_OPTIONS: EXIT.USAGE,
  DSSE_PAYLOAD_TYPE: EXIT.FAILED,
  DSSE_SIGNATURE_INVALID: EXIT.FAILED,
  KEY_EXISTS: EXIT.CONFLICT,
  KEY_INVALID: EXIT.FAILED,
  KEY_MISSING: EXIT.FAILED,
  KEY_PASSPHRASE: EXIT.AUTH,
  KEY_PERMISSIONS: EXIT.FAILED,
  MANIFEST_INVALID: EXIT.USAGE,
  MANIFEST_MISSING: EXIT.NOT_FOUND,
  SIGNATURE_EXPIRED: EXIT.FAILED,
  SIGNATURE_INVALID: EXIT.FAILED,
  SIGNATURE_MALFORMED: EXIT.FAILED,
  SIGNATURE_MISSING: EXIT.FAILED,
  SIGNATURE_POLICY: EXIT.FAILED,
  SIGNATURE_REPLAY: EXIT.FAILED,
  STATEMENT_INVALID: EXIT.FAILED,
  TSA_CERT_PURPOSE: EXIT.FAILED,
  TSA_IMPRINT_MISMATCH: EXIT.FAILED,
  TSA_MALFORMED: EXIT.FAILED,
  TSA_NONCE_MISMATCH: EXIT.FAILED,
  TSA_OPTIONS: EXIT.USAGE,
  TSA_POLICY_MISMATCH: EXIT.FAILED,
  TSA_REJECTED: EXIT.FAILED,
  TSA_SIGNATURE_INVALID: EXIT.FAILED,
  TSA_SIGNER_CERT: EXIT.FAILED,
  TSA_UNAVAILABLE: EXIT.FAILED,
  TSA_UNSUPPORTED: EXIT.FAILED,
  TSA_UNTRUSTED: EXIT.FAILED,
  BUNDLE_MALFORMED: EXIT.USAGE,
};

/** AuthError codes → exit codes. */
const AUTH_EXIT: Record<AuthErrorCode, number> = {
  UNAUTHENTICATED: EXIT.AUTH,
  FORBIDDEN: EXIT.AUTH,
  INVALID_ARGUMENT: EXIT.USAGE,
  NOT_FOUND: EXIT.NOT_FOUND,
};

/** LogError codes → exit codes. */
const LOG_EXIT: Record<LogErrorCode, number> = {
  INVALID_ARGUMENT: EXIT.USAGE,
  NOT_FOUND: EXIT.NOT_FOUND,
  NOT_INITIALIZED: EXIT.NOT_FOUND,
  ALREADY_INITIALIZED: EXIT.CONFLICT,
  CONFLICT: EXIT.CONFLICT,
  TIMEOUT: EXIT.FAILED,
  CLOSED: EXIT.FAILED,
  STORAGE: EXIT.FAILED,
  UNAVAILABLE: EXIT.FAILED,
};

/** FederationError codes → exit codes (vm federate): evidence that a check failed is FAILED (1). */
const FEDERATION_EXIT: Record<FederationErrorCode, number> = {
  COSIGNATURE_INVALID: EXIT.FAILED,
  CHECKPOINT_INVALID: EXIT.FAILED,
  INCONSISTENT: EXIT.FAILED,
  EQUIVOCATION: EXIT.FAILED,
  MERGE_MISMATCH: EXIT.FAILED,
  SIGNATURE_INVALID: EXIT.FAILED,
  INVALID_ARGUMENT: EXIT.USAGE,
  PEER_UNREACHABLE: EXIT.FAILED,
  PEER_UNTRUSTED: EXIT.AUTH,
  NOT_FOUND: EXIT.NOT_FOUND,
};

/** PolicyError codes → exit codes (a deny is not an error: `vm policy check` exits 1 for it itself). */
const POLICY_EXIT: Record<PolicyErrorCode, number> = {
  POLICY_INVALID: EXIT.FAILED,
  SCHEMA_INVALID: EXIT.FAILED,
  RECORD_FAILED: EXIT.FAILED,
  TEST_FILE_INVALID: EXIT.USAGE,
  INVALID_ARGUMENT: EXIT.USAGE,
  NOT_FOUND: EXIT.NOT_FOUND,
};

/** ControlError codes → exit codes (every code: a new one must be placed here). */
const CONTROL_EXIT: Record<ControlErrorCode, number> = {
  INVALID_ARGUMENT: EXIT.USAGE,
  PLAN_INVALID: EXIT.USAGE,
  NOT_FOUND: EXIT.NOT_FOUND,
  CONFLICT: EXIT.CONFLICT,
  PLAN_STALE: EXIT.CONFLICT,
  POLICY_DENIED: EXIT.AUTH,
  APPROVAL_INVALID: EXIT.AUTH,
  // A live run before its dry-run conflicts with the recorded state (the API answers 409), as a stale hash does.
  DRY_RUN_REQUIRED: EXIT.CONFLICT,
  PRECONDITION_FAILED: EXIT.FAILED,
  NO_GO: EXIT.FAILED,
  UPSTREAM_FAILED: EXIT.FAILED,
  SIMULATION_REJECTED: EXIT.FAILED,
  UNAVAILABLE: EXIT.FAILED,
};

/** InteropError codes → exit codes (agent tool calls made from the CLI). */
const INTEROP_EXIT: Record<InteropErrorCode, number> = {
  INVALID_INPUT: EXIT.USAGE,
  DENIED: EXIT.AUTH,
  NOT_FOUND: EXIT.NOT_FOUND,
  TIMEOUT: EXIT.FAILED,
  UPSTREAM_FAILED: EXIT.FAILED,
  UNAVAILABLE: EXIT.FAILED,
  FAILED: EXIT.FAILED,
};

/** AuroraError codes → exit codes (vm sim and other local Aurora work). */
const AURORA_EXIT: Record<AuroraErrorCode, number> = {
  INVALID_ARGUMENT: EXIT.USAGE,
  NO_OFFER: EXIT.FAILED,
  POLICY_DENIED: EXIT.AUTH,
  PROVIDER_FAILED: EXIT.FAILED,
  PROVIDER_TIMEOUT: EXIT.FAILED,
  NOT_FOUND: EXIT.NOT_FOUND,
};

/** StoreError codes (the storage ports, @vaultmesh/types) → exit codes. */
const STORE_EXIT: Record<StoreErrorCode, number> = {
  CONFLICT: EXIT.CONFLICT,
  INVALID_ARGUMENT: EXIT.USAGE,
  STORAGE: EXIT.FAILED,
  UNAVAILABLE: EXIT.FAILED,
};

/** PsiError codes (@vaultmesh/psi: Ψ-Field's models, CSV series and NAB corpora) → exit codes. */
const PSI_EXIT: Record<PsiErrorCode, number> = {
  INVALID_ARGUMENT: EXIT.USAGE,
  CSV_INVALID: EXIT.USAGE,
  CORPUS_INVALID: EXIT.USAGE,
  NOT_FOUND: EXIT.NOT_FOUND,
};

/** SpawnError codes (@vaultmesh/spawn: templates, generated trees, their manifests) → exit codes. */
const SPAWN_EXIT: Record<SpawnErrorCode, number> = {
  INVALID_NAME: EXIT.USAGE,
  INVALID_PARAMS: EXIT.USAGE,
  NOT_SPAWNED: EXIT.USAGE,
  MANIFEST_INVALID: EXIT.USAGE,
  UNKNOWN_TEMPLATE: EXIT.NOT_FOUND,
  UNKNOWN_VERSION: EXIT.NOT_FOUND,
  POLICY_DENIED: EXIT.AUTH,
  TARGET_EXISTS: EXIT.CONFLICT,
  DIGEST_MISMATCH: EXIT.CONFLICT,
  TEMPLATE_INVALID: EXIT.INTERNAL,
};

/** The per-package code → exit tables, as docs/cli.md documents them (a test compares the two). */
export const EXIT_TABLES = {
  ControlError: CONTROL_EXIT,
  PolicyError: POLICY_EXIT,
  InteropError: INTEROP_EXIT,
  AuroraError: AURORA_EXIT,
  LedgerError: LEDGER_EXIT,
  StoreError: STORE_EXIT,
  AttestError: ATTEST_EXIT,
  AuthError: AUTH_EXIT,
  LogError: LOG_EXIT,
  FederationError: FEDERATION_EXIT,
  PsiError: PSI_EXIT,
  SpawnError: SPAWN_EXIT,
} as const;

/** Maps an error to [exit code, one-line message]. */
export function exitFor(err: unknown): [number, string] {
  if (err instanceof CliError) return [err.exitCode, err.message];
  if (err instanceof ConfigError) return [EXIT.USAGE, err.message];
  if (err instanceof LedgerError) return [LEDGER_EXIT[err.code], err.message];
  if (err instanceof AttestError) {
    // Where a sealed key's passphrase comes from is the CLI's business, so the hint is added here.
    const hint =
      err.code === 'KEY_PASSPHRASE'
        ? ' (the passphrase is read from --passphrase-file, VM_KEY_PASSPHRASE_FILE or VM_KEY_PASSPHRASE)'
        : '';
    return [ATTEST_EXIT[err.code], err.message + hint];
  }
  if (err instanceof PolicyError) return [POLICY_EXIT[err.code], err.message];
  if (err instanceof ControlError) return [CONTROL_EXIT[err.code], err.message];
  if (err instanceof StoreError) return [STORE_EXIT[err.code], err.message];
  if (err instanceof InteropError) return [INTEROP_EXIT[err.code], err.message];
  if (err instanceof AuroraError) return [AURORA_EXIT[err.code], err.message];
  if (err instanceof AuthError) return [AUTH_EXIT[err.code], err.message];
  if (err instanceof LogError) return [LOG_EXIT[err.code], err.message];
  if (err instanceof FederationError) return [FEDERATION_EXIT[err.code], err.message];
  if (err instanceof PsiError) return [PSI_EXIT[err.code], err.message];
  if (err instanceof SpawnError) return [SPAWN_EXIT[err.code], err.message];
  const code = (err as { code?: string }).code;
  if (code === 'EADDRINUSE') return [EXIT.FAILED, (err as Error).message];
  if (code === 'ENOENT' || code === 'EACCES') return [EXIT.FAILED, (err as Error).message];
  return [EXIT.INTERNAL, `internal error: ${(err as Error)?.stack ?? String(err)}`];
}
