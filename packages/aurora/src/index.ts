// @vaultmesh/aurora: GPU workload placement across compute providers (one export line each).
export * from './workload.ts';
export * from './errors.ts';
export * from './provider.ts';
export * from './treaty.ts';
export * from './bandit.ts';
export * from './scoring.ts';
export * from './router.ts';
export * from './providers/index.ts';
export * from './slo.ts';
export * from './train.ts';
export * from './simulator.ts';
export * from './charts.ts';
export * from './matching.ts';
export * from './scenarios.ts';
