// The one error → HTTP table (RFC 9457 problem+json). Every domain code is mapped exhaustively.
import { AuthError, type AuthErrorCode } from '@vaultmesh/auth';
import { AuroraError, type AuroraErrorCode } from '@vaultmesh/aurora/errors';
import { ControlError, type ControlErrorCode } from '@vaultmesh/control/errors';
import { SpawnError, type SpawnErrorCode } from '@vaultmesh/spawn';
import { LedgerError, type LedgerErrorCode } from '@vaultmesh/ledger';
import { LogError, type LogErrorCode } from '@vaultmesh/log';
import { StoreError, type StoreErrorCode } from '@vaultmesh/types';

export const LEDGER_STATUS: Record<LedgerErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  PROOF_INVALID: 400,
  CHECKPOINT_MALFORMED: 400,
  NOTE_MALFORMED: 400,
  SIGNATURE_INVALID: 400,
  KEY_MALFORMED: 400,
  RECEIPT_INVALID: 400,
  CANONICAL_JSON: 400,
  COSIGNATURE_INVALID: 400,
};
export const LOG_STATUS: Record<LogErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  STORAGE: 500,
  UNAVAILABLE: 503,
  CLOSED: 503,
  TIMEOUT: 504,
  ALREADY_INITIALIZED: 409,
  NOT_INITIALIZED: 503,
};
export const AUTH_STATUS: Record<AuthErrorCode, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 404,
};

export const AURORA_STATUS: Record<AuroraErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  NO_OFFER: 409,
  POLICY_DENIED: 403,
  PROVIDER_FAILED: 502,
  PROVIDER_TIMEOUT: 504,
  NOT_FOUND: 404,
};

export const CONTROL_STATUS: Record<ControlErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PLAN_INVALID: 400,
  PLAN_STALE: 409,
  POLICY_DENIED: 403,
  APPROVAL_INVALID: 403,
  DRY_RUN_REQUIRED: 409,
  PRECONDITION_FAILED: 409,
  NO_GO: 409,
  UPSTREAM_FAILED: 502,
  SIMULATION_REJECTED: 400,
  UNAVAILABLE: 503,
};

/** SpawnError code → HTTP status. */
export const SPAWN_STATUS: Record<SpawnErrorCode, number> = {
  INVALID_NAME: 400,
  INVALID_PARAMS: 400,
  UNKNOWN_TEMPLATE: 404,
  UNKNOWN_VERSION: 404,
  TARGET_EXISTS: 409,
  NOT_SPAWNED: 400,
  MANIFEST_INVALID: 400,
  TEMPLATE_INVALID: 500,
  POLICY_DENIED: 403,
  DIGEST_MISMATCH: 409,
};

export const STORE_STATUS: Record<StoreErrorCode, number> = {
  CONFLICT: 409,
  INVALID_ARGUMENT: 400,
  STORAGE: 500,
  UNAVAILABLE: 503,
};

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  502: 'Bad Gateway',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  507: 'Insufficient Storage',
};

/** An RFC 9457 problem document. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  /**
   * Validation problems, each pointing into the request (RFC 6901 `pointer`, as RFC 9457's example extension) and
   * into the published schema it broke (`schema`: GET /api/schemas/<file>#<pointer>).
   */
  errors?: { pointer: string; detail: string; schema: string }[];
}

/** The schema-located problems a ControlError carries (details.errors), as problem-document errors. */
function schemaErrors(details: Record<string, unknown> | undefined): Problem['errors'] {
  const list = details?.errors;
  if (!Array.isArray(list)) return undefined;
  const out = list
    .filter(
      (e): e is { pointer: string; message: string; schema: string; schemaPointer: string } =>
        typeof e === 'object' &&
        e !== null &&
        typeof (e as { pointer?: unknown }).pointer === 'string' &&
        typeof (e as { schema?: unknown }).schema === 'string',
    )
    .slice(0, 100)
    .map((e) => ({
      pointer: e.pointer,
      detail: String(e.message).slice(0, 500),
      schema: `/api/schemas/${e.schema}${e.schemaPointer ?? ''}`,
    }));
  return out.length ? out : undefined;
}

/** Whether a storage failure is a full disk (SQLite's SQLITE_FULL, or ENOSPC from the file system). */
export function isDiskFull(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = String((e as { code?: unknown }).code ?? '');
    if (code === 'SQLITE_FULL' || code === 'ENOSPC') return true;
    if (
      /database or disk is full|no space left on device|SQLITE_FULL|ENOSPC/i.test((e as Error).message ?? '')
    )
      return true;
  }
  return false;
}

/** Raised by route handlers for request-shape problems. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Seconds a client should wait before retrying (sent as Retry-After). */
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}

interface FastifyLikeError {
  statusCode?: number;
  code?: string;
  message: string;
  validation?: unknown;
}

/** Maps any thrown value to a problem document. Internal errors never leak their message. */
export function toProblem(err: unknown): Problem {
  const make = (status: number, code: string, detail: string): Problem => ({
    type: `https://vaultmesh.dev/problems/${code.toLowerCase().replace(/_/g, '-')}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    code,
  });
  if (err instanceof HttpError) return make(err.status, err.code, err.message);
  if (err instanceof LedgerError) return make(LEDGER_STATUS[err.code], err.code, err.message);
  if (err instanceof LogError && isDiskFull(err))
    // RFC 4918 §11.5: the server cannot store what the request needs; a clear message instead of a bare 500.
    return make(
      507,
      'INSUFFICIENT_STORAGE',
      "the node's disk is full: nothing can be recorded until space is freed (nothing of this request was stored)",
    );
  if ((err instanceof LogError || err instanceof StoreError) && err.code === 'UNAVAILABLE')
    // A clear message (the database server may be restarting), with no detail of the server's address.
    return make(
      503,
      'UNAVAILABLE',
      "the node's database cannot be reached right now; retry shortly (nothing of this request was stored)",
    );
  if (err instanceof LogError) {
    const status = LOG_STATUS[err.code];
    return make(status, err.code, status >= 500 ? 'storage failure; see the server log' : err.message);
  }
  if (err instanceof AuthError) return make(AUTH_STATUS[err.code], err.code, err.message);
  if (err instanceof ControlError) {
    const errors = schemaErrors(err.details);
    return { ...make(CONTROL_STATUS[err.code], err.code, err.message), ...(errors ? { errors } : {}) };
  }
  if (err instanceof AuroraError) return make(AURORA_STATUS[err.code], err.code, err.message);
  if (err instanceof SpawnError) return make(SPAWN_STATUS[err.code], err.code, err.message);
  if (err instanceof StoreError) {
    const status = STORE_STATUS[err.code];
    return make(status, err.code, status >= 500 ? 'storage failure; see the server log' : err.message);
  }
  const fe = err as FastifyLikeError;
  if (fe && typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    const code =
      fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
        ? 'BODY_TOO_LARGE'
        : fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
          ? 'UNSUPPORTED_MEDIA_TYPE'
          : fe.validation
            ? 'INVALID_REQUEST'
            : fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ||
                fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ||
                (fe.message ?? '').includes('JSON')
              ? 'MALFORMED_JSON'
              : 'BAD_REQUEST';
    return make(fe.statusCode, code, fe.message);
  }
  return make(500, 'INTERNAL', 'internal error; see the server log');
}
