// Composition of the Aurora router for one node: provider adapters from config (keys from the environment), the
// treaties file, the active model artifact (data/aurora/models/<sha256>.json, checked against its hash), the router
// over the node's ledger, control store and Cedar engine, model training and signed canary SLO reports.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { signEnvelope } from '@vaultmesh/attest';
import {
  AURORA_OUTCOMES,
  AuroraError,
  LinUcb,
  SLO_REPORT_PAYLOAD_TYPE,
  computeSloReport,
  decisionOfReceipt,
  createProvider,
  createRouter,
  modelHash,
  parseTreaties,
  trainModel,
  type BanditModelJson,
  type ComputeProvider,
  type DecisionRecord,
  type ProviderConfig,
  type ProviderForecast,
  type RouteOutcome,
  type Router,
  type RouterEvent,
  type SloReport,
  type Treaty,
} from '@vaultmesh/aurora';
import type { AuroraApi } from '@vaultmesh/api';
import { canonicalize, decodeReceipt } from '@vaultmesh/ledger';
import { createHash } from 'node:crypto';
import type { ControlPlane } from './control.ts';
import type { OpenedNode } from './node.ts';

/** ControlStore collections of models and SLO reports. */
export const AURORA_MODELS = 'aurora-models';
export const AURORA_META = 'aurora-meta';
export const AURORA_SLO = 'aurora-slo';

export interface AuroraSettings {
  readonly providers: readonly (ProviderConfig & { readonly apiKey?: string })[];
  readonly treaties: readonly Treaty[];
  readonly maxAttempts: number;
  readonly providerTimeoutMs: number;
  readonly alpha: number;
  readonly costWeight: number;
}

interface ModelDoc {
  readonly hash: string;
  readonly createdAt: string;
  readonly outcomes: number;
  readonly throughSeq: number;
  readonly alpha: number;
  readonly receiptIndex: number;
  readonly path: string;
}

export interface Aurora {
  readonly router: Router;
  readonly api: AuroraApi;
  readonly warnings: readonly string[];
}

/** Reads a treaties file (YAML or JSON); ConfigError-worthy messages as AuroraError INVALID_ARGUMENT. */
export function loadTreaties(file: string | undefined): Treaty[] {
  if (file === undefined) return [];
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new AuroraError(
      'INVALID_ARGUMENT',
      `cannot read treaties file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  return parseTreaties(text, `treaties file ${file}`);
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export async function createAurora(
  node: OpenedNode,
  control: ControlPlane,
  settings: AuroraSettings,
  opts: {
    dataDir: string;
    onEvent?: (e: RouterEvent) => void;
    /** The Ψ-Field's forecasts per provider, for the scores (see @vaultmesh/aurora ProviderForecast). */
    forecasts?: () => ReadonlyMap<string, ProviderForecast>;
  },
): Promise<Aurora> {
  const warnings: string[] = [];
  const providers: ComputeProvider[] = settings.providers.map((c) => createProvider(c));
  const modelsDir = join(opts.dataDir, 'aurora', 'models');
  const store = control.store;

  // The active model, if one was trained: its artifact must still hash to the name it was activated under.
  let model: LinUcb | undefined;
  let through = 0;
  const active = await store.get<ModelDoc>(AURORA_META, 'active');
  if (active) {
    try {
      const json = JSON.parse(
        readFileSync(join(modelsDir, `${active.doc.hash}.json`), 'utf8'),
      ) as BanditModelJson;
      if (modelHash(json) !== active.doc.hash) throw new Error('the artifact does not match its hash');
      model = LinUcb.fromJSON(json);
      through = active.doc.throughSeq;
    } catch (err) {
      warnings.push(
        `aurora: active model ${active.doc.hash.slice(0, 12)} not loaded (${(err as Error).message}); learning from every stored outcome instead`,
      );
    }
  }
  const router = createRouter({
    providers,
    decider: control.engine,
    receipts: node.log,
    store,
    treaties: settings.treaties,
    maxAttempts: settings.maxAttempts,
    providerTimeoutMs: settings.providerTimeoutMs,
    alpha: settings.alpha,
    costWeight: settings.costWeight,
    ...(model ? { model } : {}),
    ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
    ...(opts.forecasts ? { forecasts: opts.forecasts } : {}),
  });
  await router.init({ modelThroughSeq: model ? through : 0 });
  for (const { doc } of await store.list<{ provider: string; complianceRate: number }>(AURORA_SLO))
    router.setCompliance(doc.provider, doc.complianceRate);

  const api: AuroraApi = {
    recommend: (w, caller, o) => router.recommend(w, caller, o),
    place: (w, caller) => router.place(w, caller),
    getJob: (id, o) => router.getJob(id, o),
    listJobs: (o) => router.listJobs(o),
    cancel: (id, caller) => router.cancel(id, caller),
    async providers() {
      const standings = router.standings();
      return {
        providers: settings.providers.map((c) => ({
          name: c.name ?? c.type,
          type: c.type,
          treaty: settings.treaties.find((t) => t.provider === (c.name ?? c.type))?.id ?? null,
          standing: standings.get(c.name ?? c.type) ?? null,
        })),
      };
    },
    treaties: () => settings.treaties,
    async models() {
      const docs = await store.list<ModelDoc>(AURORA_MODELS);
      return {
        active: router.modelHash() ?? null,
        onlineUpdates: router.model().updates,
        models: docs.map((d) => d.doc).sort((a, b) => b.createdAt.localeCompare(a.createdAt)),
      };
    },
    async train(req) {
      const outcomes = (await store.list<RouteOutcome>(AURORA_OUTCOMES)).map((d) => d.doc);
      const alpha = req.alpha ?? settings.alpha;
      const trained = trainModel(outcomes, {
        alpha,
        ...(req.windowMs !== undefined ? { sinceMs: Date.now() - req.windowMs } : {}),
      });
      const text = canonicalize(trained.json);
      mkdirSync(modelsDir, { recursive: true });
      const path = join(modelsDir, `${trained.hash}.json`);
      const tmp = `${path}.tmp-${process.pid}`;
      writeFileSync(tmp, text, { mode: 0o644 });
      renameSync(tmp, path);
      const receipt = await node.log.append({
        kind: 'decision',
        actor: req.actor,
        tenant: 'system',
        body: {
          title: `Aurora routing model ${trained.hash.slice(0, 12)} trained and activated`,
          rationale: `LinUCB (alpha ${alpha}) replayed from ${trained.outcomes} stored placement outcomes through #${trained.throughSeq}${req.windowMs !== undefined ? ` within the last ${req.windowMs / 3_600_000} h` : ''}`,
          status: 'accepted',
          tags: ['aurora', 'model'],
          modelHash: trained.hash,
          algorithm: 'linucb',
          features: trained.json.features,
          outcomes: trained.outcomes,
          throughSeq: trained.throughSeq,
        },
      });
      const doc: ModelDoc = {
        hash: trained.hash,
        createdAt: new Date().toISOString(),
        outcomes: trained.outcomes,
        throughSeq: trained.throughSeq,
        alpha,
        receiptIndex: receipt.index,
        path,
      };
      await store.put(AURORA_MODELS, trained.hash, doc);
      await store.put(AURORA_META, 'active', doc);
      await router.activate(LinUcb.fromJSON(trained.json), trained.hash, trained.throughSeq);
      return { ...doc, receipt, model: trained.json };
    },
    async sloReport(req) {
      const treaty = settings.treaties.find((t) => t.id === req.treaty);
      if (!treaty)
        throw new AuroraError('NOT_FOUND', `no treaty ${req.treaty} (see GET /api/aurora/treaties)`);
      const now = Date.now();
      // Decisions come from the ledger itself: every route receipt in the window that is a decision.
      const decisions: DecisionRecord[] = [];
      for (let after = -1; ;) {
        const page = await node.storage.listEntries({
          kind: 'route',
          fromTime: now - req.windowMs,
          toTime: now,
          after,
          order: 'asc',
          limit: 1000,
        });
        for (const e of page) {
          const r = decodeReceipt(e.bytes);
          const d = decisionOfReceipt({ index: e.index, time: r.time, tenant: r.tenant, body: r.body });
          if (d) decisions.push(d);
        }
        if (page.length < 1000) break;
        after = page.at(-1)!.index;
      }
      const outcomes = (await store.list<RouteOutcome>(AURORA_OUTCOMES))
        .map((d) => d.doc)
        .filter((o) => Date.parse(o.at) >= now - req.windowMs);
      // Provenance: each attempt's decision receipt must be on the ledger, as a route receipt.
      const present = new Set<number>();
      for (const o of outcomes) {
        if (o.receiptIndex === undefined || present.has(o.receiptIndex)) continue;
        const e = await node.storage.getEntry(o.receiptIndex).catch(() => undefined);
        if (e?.kind === 'route') present.add(o.receiptIndex);
      }
      const report: SloReport = computeSloReport({
        treaty,
        decisions,
        outcomes,
        receiptExists: (i) => present.has(i),
        nowMs: now,
        windowMs: req.windowMs,
        origin: node.origin,
      });
      const bytes = canonicalize(report);
      const envelope = signEnvelope(SLO_REPORT_PAYLOAD_TYPE, new TextEncoder().encode(bytes), node.key);
      const receipt = await node.log.append({
        kind: 'audit',
        actor: req.actor,
        tenant: 'system',
        body: {
          subject: `treaty:${treaty.id}`,
          result: report.compliant ? 'pass' : 'fail',
          checks: report.kpis.map((k) => ({
            name: k.name,
            target: k.target,
            comparator: k.comparator,
            value: k.value,
            samples: k.samples,
            compliant: k.compliant,
          })),
          complianceRate: report.complianceRate,
          window: report.window,
          reportSha256: sha256(bytes),
        },
      });
      await store.put(AURORA_SLO, treaty.id, {
        provider: treaty.provider,
        complianceRate: report.complianceRate,
        at: report.generatedAt,
        receiptIndex: receipt.index,
      });
      router.setCompliance(treaty.provider, report.complianceRate);
      return { report, envelope, receipt };
    },
  };
  return { router, api, warnings };
}
