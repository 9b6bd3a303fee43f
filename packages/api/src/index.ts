// @vaultmesh/api: the HTTP edge (REST, tlog-tiles, metrics, dashboard files) and its error table.
export {
  buildApp,
  HEADERS_TIMEOUT_MS,
  redactUrl,
  REQUEST_TIMEOUT_MS,
  type AppOptions,
  type RouteEntry,
} from './app.ts';
export {
  AURORA_STATUS,
  AUTH_STATUS,
  CONTROL_STATUS,
  HttpError,
  isDiskFull,
  LEDGER_STATUS,
  LOG_STATUS,
  SPAWN_STATUS,
  STORE_STATUS,
  toProblem,
  type Problem,
} from './errors.ts';
export {
  createNodeMetrics,
  type AuroraMetricEvent,
  type PsiSeriesStatus,
  type FederationPeerStatus,
  type NodeMetrics,
} from './metrics.ts';
export { registerControlRoutes, toControlPrincipal, type ControlApi } from './control-routes.ts';
export {
  hostName,
  LOOPBACK_HOSTS,
  MCP_SESSION_DEFAULTS,
  registerMcpRoutes,
  type McpRoutesOptions,
} from './mcp-routes.ts';
export { INTEROP_STATUS, interopProblem, registerA2aRoutes, type A2aRoutesOptions } from './a2a-routes.ts';
export { FEDERATION_STATUS, registerFederationRoutes, type FederationApi } from './federation-routes.ts';
export { registerAuroraRoutes, windowMs, type AuroraApi, type AuroraCaller } from './aurora-routes.ts';
export { registerPsiRoutes, type PsiApi } from './psi-routes.ts';
export {
  parseSpawnRequest,
  registerSpawnRoutes,
  type SpawnApi,
  type SpawnRecordRequest,
} from './spawn-routes.ts';
export {
  createRateLimiter,
  DEFAULT_RATE_LIMITS,
  type RateLimiter,
  type RateLimits,
  type RateRefusal,
} from './rate-limit.ts';
export { STATUS_TABLES } from './status-tables.ts';
