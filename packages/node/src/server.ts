// Composition root: config → adapters (SQLite, key) → log → API → listen.
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { buildApp, createNodeMetrics } from '@vaultmesh/api';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { createPrometheusSource, promotionAllowed } from '@vaultmesh/control';
import { ConfigError, nodeStorageConfig, type NodeConfig } from './config.ts';
import type { AnchorScheduler } from '@vaultmesh/log';
import { createAnchorScheduler, exportEvidence, loadTsaTrust, logKeyTexts } from './anchoring.ts';
import { cosignerVerifierKey, parseVerifierKey } from '@vaultmesh/ledger';
import type { A2aJsonRpc } from '@vaultmesh/interop';
import type * as InteropSdkModule from '@vaultmesh/interop';

type InteropSdk = typeof InteropSdkModule;
import { createControlPlane, type ControlPlane } from './control.ts';
import { createNodeSpawn } from './spawn.ts';
import { createInterop, type Interop } from './interop.ts';
import { createAurora, type Aurora } from './aurora.ts';
import { createFederation, type Federation } from './federation.ts';
import { openNode, type OpenedNode } from './node.ts';
import { createLeadership, newHolderId, type Leadership } from './cluster.ts';
import { adoptOrphanRuns } from './run-leases.ts';
import { createNodePsi, PROVIDER_RTT, type NodePsi } from './psi.ts';

export const VERSION = '0.1.0';

/** A running node. */
export interface RunningNode {
  readonly app: FastifyInstance;
  readonly node: OpenedNode;
  readonly url: string;
  /** The sealer + anchor manager running inside this node. */
  readonly scheduler: AnchorScheduler;
  readonly control: ControlPlane;
  /** The governed tool gateway and its services (MCP, A2A). */
  readonly interop: Interop;
  readonly aurora: Aurora;
  readonly federation: Federation;
  stop(): Promise<void>;
}

/** The dashboard's static files. */
export const DASHBOARD_DIR = dirname(
  createRequire(import.meta.url).resolve('@vaultmesh/dashboard/public/index.html'),
);

/**
 * Starts a node: opens (or creates) the data directory and serves the API on host:port. A sealed node key
 * is unsealed with `passphrase` (see readKeyPassphrase), else starting fails with AttestError 'KEY_PASSPHRASE'.
 */
export async function startNode(
  config: NodeConfig,
  opts: { logger?: boolean; passphrase?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunningNode> {
  // Trust anchors first: a bad anchor configuration fails before anything is opened.
  const trust = loadTsaTrust(config.anchor.tsas);
  const metrics = createNodeMetrics();
  const logger = opts.logger === false || config.logLevel === 'silent' ? false : { level: config.logLevel };
  // Several nodes of one log (PostgreSQL): only the leader signs checkpoints and runs the singleton loops. A SQLite
  // node is alone on its file and always leads.
  const lead: { current?: Leadership; alone?: boolean } = {};
  const holder = newHolderId();
  // Background work reports to the app's logger once it exists.
  const events: { log?: FastifyBaseLogger } = {};
  const leading = () => (lead.current ? lead.current.isLeader() : lead.alone === true);
  const node = await openNode(config.dataDir, {
    create: true,
    passphrase: opts.passphrase,
    origin: config.origin,
    storage: nodeStorageConfig(config),
    log: {
      checkpointIntervalMs: config.checkpointIntervalMs,
      maxBatch: config.maxBatch,
      onCommit: metrics.observeCommit,
      mayPublish: leading,
    },
  });
  lead.alone = node.storage.driver === 'sqlite';
  if (!lead.alone) {
    lead.current = createLeadership({
      leases: node.storage.leases,
      holder,
      ttlMs: config.cluster.leaseTtlMs,
      onChange: (leader, grant) =>
        events.log?.info(
          { cluster: { leader, token: grant?.token ?? null } },
          leader ? 'leading' : 'not leading',
        ),
    });
    await lead.current.start();
  }
  metrics.bindLog(() => node.log.stats());
  // The control plane: an invalid policy set refuses to start (fail closed), and nothing stays open. Its
  // route.submit steps reach the Aurora router, which is built below over this plane's engine and store.
  const routerRef: { current?: Aurora['router'] } = {};
  let control: ControlPlane;
  let psi: NodePsi;
  try {
    // The Ψ-Field first: `psi` tripwire rules read its series.
    psi = await createNodePsi(config.psi, {
      registry: metrics.registry,
      ...(config.control.prometheusUrl
        ? { prometheus: createPrometheusSource({ url: config.control.prometheusUrl }) }
        : {}),
      log: node.log,
      active: leading,
      onPoint: (series, _point, opened) => metrics.observePsi(series, opened !== undefined),
      onError: (series, err) => events.log?.warn({ series, err }, 'Ψ-Field: a series could not be sampled'),
    });
    metrics.bindPsi(
      () => psi.field.summaries(),
      () => psi.field.services(),
    );
    control = createControlPlane(node, {
      anomalies: psi.field,
      ...config.control,
      route: () => routerRef.current,
      runLeases: { holder, ttlMs: config.cluster.leaseTtlMs },
      onCounter: (name, value, labels) => metrics.observeControl(name, value, labels),
    });
    // Promotion from dry-run to live mode requires a recorded go (vm golive poll): fail closed.
    if (config.mode === 'live' && !(await promotionAllowed(control.store)))
      throw new ConfigError(
        'mode "live" needs a recorded go: open a go/no-go poll (vm golive poll open), collect every role\'s go and close it, or run in dry-run mode',
      );
  } catch (err) {
    await node.close();
    throw err;
  }
  // The sealer + anchor manager runs beside the API; it never blocks appends. Its events go to the app's logger.
  const scheduler = createAnchorScheduler(node.log, node.storage, config.anchor, {
    trust,
    active: leading,
    onEvent: (e) => {
      if (e.type === 'failed') events.log?.warn({ anchor: e }, 'anchoring failed; will retry');
      else if (e.type === 'anchored') events.log?.info({ anchor: e }, 'checkpoint anchored');
      else events.log?.debug({ anchor: e }, 'anchor scheduler');
    },
  });
  metrics.bindAnchors(() => scheduler.status());
  const federation = createFederation(node, {
    intervalMs: config.federation.intervalMs,
    timeoutMs: config.federation.timeoutMs,
    chunkEntries: config.federation.chunkEntries,
    backoff: config.federation.backoff,
    env: opts.env ?? process.env,
    active: leading,
    onEvent: (e) => {
      if (e.type === 'failed') events.log?.warn({ federation: e }, 'federation sync failed; will retry');
      else events.log?.debug({ federation: e }, 'federation sync');
    },
  });
  metrics.bindFederation(() => federation.metricsStatus());
  const interop = createInterop(node, control, {
    dataDir: config.dataDir,
    mode: config.mode,
    toolTimeoutMs: config.interop.toolTimeoutMs,
    agents: config.interop.agents,
    mcpServers: config.interop.mcpServers,
  });
  let aurora: Aurora;
  try {
    aurora = await createAurora(node, control, config.aurora, {
      dataDir: config.dataDir,
      onEvent: (e) => {
        metrics.observeAurora(e);
        // Each provider's API round trips are a Ψ-Field series, whose forecast and anomaly weigh its scores.
        if (e.type === 'rtt' && e.ok) void psi.observe(`${PROVIDER_RTT}${e.provider}`, e.ms);
      },
      forecasts: () => psi.providerForecasts(),
    });
  } catch (err) {
    await control.close().catch(() => undefined);
    await node.close();
    throw err;
  }
  routerRef.current = aurora.router;
  // The MCP and A2A SDKs are loaded on first use (about 50 MB a node that no agent talks to should not hold).
  // The agent card names the node's URL, known for sure only after listen (port 0): the card and the A2A endpoint
  // over it are built on the first A2A request after that.
  let sdk: Promise<InteropSdk> | undefined;
  const interopSdk = () => (sdk ??= import('@vaultmesh/interop'));
  const listen: { url?: string } = {};
  let a2a: Promise<{ card: Record<string, unknown>; rpc: A2aJsonRpc }> | undefined;
  const a2aFace = () => {
    if (listen.url === undefined) throw new Error('the A2A endpoint is starting');
    const baseUrl = listen.url;
    return (a2a ??= interopSdk().then((m) => {
      const card = m.buildAgentCard({
        baseUrl,
        version: VERSION,
        queries: interop.queries.list(),
        tools: interop.gateway.list().map((t) => t.name),
      });
      return { card: m.agentCardToJson(card), rpc: m.createA2aJsonRpc({ gateway: interop.gateway, card }) };
    }));
  };
  const app = await buildApp({
    log: node.log,
    storage: node.storage,
    tokens: node.storage,
    verifierKey: node.key.verifierKey,
    verifierKeyText: node.key.verifierKeyText,
    metrics,
    status: {
      mode: config.mode,
      storage: node.storage.driver,
      keySealed: node.keySealed,
      version: VERSION,
      ...(lead.current ? { cluster: () => lead.current!.status() } : {}),
    },
    bodyLimit: config.bodyLimitBytes,
    rateLimits: config.rateLimits,
    dashboardDir: DASHBOARD_DIR,
    logger,
    anchorStatus: () => scheduler.status(),
    federation: {
      acceptCosignature: (note, line) => federation.acceptCosignature(note, line),
      cosignatures: async (size) => (await federation.store.listCosignatures(size)).map((c) => c.line),
      handleMerge: (body) => federation.handleMerge(body),
      status: async () => ({ origin: node.origin, peers: await federation.status() }),
    },
    control: {
      ...control,
      policySetHash: control.engine.policySetHash,
      listApprovalRequests: (planId) => interop.services.control!.listApprovalRequests(planId),
    },
    mcp: {
      createServer: async (caller) =>
        (await interopSdk()).createVaultMeshMcpServer({ gateway: interop.gateway, caller, version: VERSION }),
      sessions: {
        ...config.interop.mcpSessions,
        allowedHosts: [
          ...config.interop.allowedHosts,
          // The names it is configured to answer to: the listen host (unless a wildcard) and the public URL's.
          ...(['0.0.0.0', '::'].includes(config.host) ? [] : [config.host]),
          ...(config.interop.publicUrl ? [new URL(config.interop.publicUrl).hostname] : []),
        ],
      },
    },
    a2a: {
      card: async () => (await a2aFace()).card,
      rpc: { handle: async (r) => (await a2aFace()).rpc.handle(r) },
      gateway: interop.gateway,
    },
    aurora: aurora.api,
    psi: psi.api,
    spawn: createNodeSpawn({ policy: control.policy, receipts: node.log, origin: node.origin }),
    evidence: async (index) =>
      exportEvidence(node.log, node.storage, index, {
        logKeys: await logKeyTexts(node.storage, node.key.verifierKeyText),
        trust,
        cosignatures: async (size) => {
          const cosigs = await federation.store.listCosignatures(size);
          const peers = await federation.store.listPeers();
          const witnessKeys = peers
            .filter((p) => cosigs.some((c) => c.witness === p.origin))
            .map((p) => cosignerVerifierKey(p.origin, parseVerifierKey(p.verifierKey).publicKey));
          return { lines: cosigs.map((c) => c.line), witnessKeys };
        },
      }),
  });
  events.log = app.log;
  for (const w of aurora.warnings) app.log.warn(w);

  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    await node.close();
    throw err;
  }
  scheduler.start();
  federation.start();
  psi.start();
  // The leader adopts runs whose node died (their lease lapsed) and resumes them from the journal.
  const adopter = lead.current
    ? setInterval(() => {
        if (!leading()) return;
        void adoptOrphanRuns(control.executor, node.storage.leases, (runId, r) =>
          events.log?.info(
            { run: runId, outcome: r instanceof Error ? r.message : r.state },
            'adopted run finished',
          ),
        )
          .then((ids) => {
            if (ids.length) events.log?.warn({ runs: ids }, 'adopting runs whose node stopped');
          })
          .catch((err: unknown) => events.log?.warn({ err }, 'could not look for orphaned runs'));
      }, config.cluster.leaseTtlMs)
    : undefined;
  adopter?.unref?.();
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  listen.url = config.interop.publicUrl ?? `http://${config.host}:${port}`;
  let stopping: Promise<void> | undefined;
  return {
    app,
    node,
    scheduler,
    control,
    interop,
    aurora,
    federation,
    url: `http://${config.host}:${port}`,
    stop() {
      stopping ??= (async () => {
        if (adopter) clearInterval(adopter);
        await psi.stop();
        await scheduler.stop();
        await federation.stop().catch(() => undefined);
        await lead.current?.stop();
        await interop.close().catch(() => undefined);
        await control.close().catch(() => undefined);
        await app.close();
        await node.close();
      })();
      return stopping;
    },
  };
}

/** Resolves once SIGINT or SIGTERM arrived and the node stopped (what `vm up` and the server app wait on). */
export function stopOnSignal(
  running: RunningNode,
  say: (line: string) => void = () => undefined,
): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      say(`received ${sig}, shutting down`);
      running.stop().then(resolve, resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}
