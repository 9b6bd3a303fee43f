// Every domain error code → HTTP status, one table per error class (exhaustive: a new code does not compile until it
// is placed). docs/api.md documents each table in one sentence; test/status-codes.test.ts compares the two.
import { INTEROP_STATUS } from './a2a-routes.ts';
import {
  AURORA_STATUS,
  AUTH_STATUS,
  CONTROL_STATUS,
  LEDGER_STATUS,
  LOG_STATUS,
  SPAWN_STATUS,
  STORE_STATUS,
} from './errors.ts';
import { FEDERATION_STATUS } from './federation-routes.ts';

/** The per-class code → HTTP status tables of the REST edge, as docs/api.md documents them. */
export const STATUS_TABLES = {
  LedgerError: LEDGER_STATUS,
  LogError: LOG_STATUS,
  AuthError: AUTH_STATUS,
  ControlError: CONTROL_STATUS,
  StoreError: STORE_STATUS,
  AuroraError: AURORA_STATUS,
  FederationError: FEDERATION_STATUS,
  InteropError: INTEROP_STATUS,
  SpawnError: SPAWN_STATUS,
} as const;
