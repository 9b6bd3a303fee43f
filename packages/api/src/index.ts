// @vaultmesh/api: the HTTP edge (REST, tlog-tiles, metrics, dashboard files) and its error table.
export * from './app.ts';
export * from './errors.ts';
export * from './metrics.ts';
export * from './control-routes.ts';
export * from './mcp-routes.ts';
export * from './a2a-routes.ts';
export * from './federation-routes.ts';
export * from './aurora-routes.ts';
export * from './rate-limit.ts';
export * from './status-tables.ts';
