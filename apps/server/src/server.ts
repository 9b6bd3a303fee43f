// Composition root: config → adapters (SQLite, key) → log → API → listen.
import { fileURLToPath } from 'node:url';
import { buildApp, createNodeMetrics } from '@vaultmesh/api';
import type { FastifyInstance } from 'fastify';
import type { NodeConfig } from './config.ts';
import { openNode, type OpenedNode } from './node.ts';

export const VERSION = '0.1.0';

/** A running node. */
export interface RunningNode {
  readonly app: FastifyInstance;
  readonly node: OpenedNode;
  readonly url: string;
  stop(): Promise<void>;
}

/** The dashboard's static files. */
export const DASHBOARD_DIR = fileURLToPath(new URL('../../dashboard/public', import.meta.url));

/** Starts a node: opens (or creates) the data directory and serves the API on host:port. */
export async function startNode(config: NodeConfig, opts: { logger?: boolean } = {}): Promise<RunningNode> {
  const metrics = createNodeMetrics();
  const logger = opts.logger === false || config.logLevel === 'silent' ? false : { level: config.logLevel };
  const node = await openNode(config.dataDir, {
    create: true,
    origin: config.origin,
    log: {
      checkpointIntervalMs: config.checkpointIntervalMs,
      maxBatch: config.maxBatch,
      onCommit: metrics.observeCommit,
    },
  });
  metrics.bindLog(() => node.log.stats());
  const app = await buildApp({
    log: node.log,
    storage: node.storage,
    tokens: node.storage,
    verifierKey: node.key.verifierKey,
    verifierKeyText: node.key.verifierKeyText,
    metrics,
    status: { mode: config.mode, storage: 'sqlite', keySealed: false, version: VERSION },
    bodyLimit: config.bodyLimitBytes,
    dashboardDir: DASHBOARD_DIR,
    logger,
  });
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    await node.close();
    throw err;
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  let stopping: Promise<void> | undefined;
  return {
    app,
    node,
    url: `http://${config.host}:${port}`,
    stop() {
      stopping ??= (async () => {
        await app.close();
        await node.close();
      })();
      return stopping;
    },
  };
}
