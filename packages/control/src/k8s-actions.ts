// Kubernetes actions over @kubernetes/client-node: k8s.apply (server-side apply; dryRun=All in a dry-run),
// k8s.rollout (patch a deployment's container image, wait until rolled out) and k8s.scale (patch replicas, wait).
// The KubeConfig comes only from the explicit file and context given in options (never from the environment).
// Types only: the client library (~80 MB resident) is loaded on the first k8s.* step, not with the node.
import type * as K8s from '@kubernetes/client-node';
import type { AppsV1Api, KubernetesObject, KubernetesObjectApi, V1Deployment } from '@kubernetes/client-node';

type K8sModule = typeof K8s;
import { z } from 'zod/v4';
import { sleepUnless, type Action, type ActionContext, type ActionResult } from './actions.ts';
import { ControlError } from './errors.ts';
import { changeSummary, describeChange, type ObjectChange } from './k8s-diff.ts';

type Obj = { kind?: unknown; metadata?: { name?: unknown } };

/** Where the cluster is: a kubeconfig file and optionally one of its contexts. */
export interface K8sOptions {
  readonly kubeconfigPath: string;
  /** Context to use; default the file's current-context. */
  readonly context?: string;
  /** Server-side apply field manager; default 'vaultmesh'. */
  readonly fieldManager?: string;
  /** How often rollout and scale poll the deployment; default 1000 ms. */
  readonly pollMs?: number;
}

interface Clients {
  k8s: K8sModule;
  apps: AppsV1Api;
  objects: KubernetesObjectApi;
}

const Name = z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'must be a Kubernetes object name');

const Manifest = z
  .object({
    apiVersion: z.string().min(1),
    kind: z.string().min(1),
    metadata: z.object({ name: Name, namespace: Name.optional() }).loose(),
  })
  .loose();

const ApplyParams = z.strictObject({ manifests: z.array(Manifest).min(1).max(100) });
const RolloutParams = z.strictObject({
  deployment: Name,
  namespace: Name.optional(),
  /** Container to update; may be left out when the pod has exactly one. */
  container: z.string().min(1).max(253).optional(),
  image: z.string().min(1).max(1000),
});
const ScaleParams = z.strictObject({
  deployment: Name,
  namespace: Name.optional(),
  replicas: z.number().int().min(0).max(10_000),
});

/** A one-line message from a client-node failure (its ApiException carries the Status body as text). */
function k8sError(e: unknown): string {
  const err = e as { code?: unknown; body?: unknown; message?: string };
  if (typeof err.code === 'number') {
    let msg: string | undefined;
    try {
      const b = (typeof err.body === 'string' ? JSON.parse(err.body) : err.body) as
        { message?: string } | undefined;
      msg = b?.message;
    } catch {
      msg = undefined;
    }
    return `Kubernetes API answered ${err.code}${msg ? `: ${msg}` : ''}`;
  }
  return err.message ?? String(e);
}

/** kubectl's rollout-status rule: the controller saw the new spec, and every replica is updated and available. */
export function rolloutDone(d: V1Deployment): { done: boolean; why: string } {
  const want = d.spec?.replicas ?? 1;
  const st = d.status ?? {};
  const failed = st.conditions?.find(
    (c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded',
  );
  if (failed) return { done: false, why: `progress deadline exceeded: ${failed.message ?? ''}`.trim() };
  if ((st.observedGeneration ?? 0) < (d.metadata?.generation ?? 0))
    return { done: false, why: 'waiting for the controller to observe the new spec' };
  if ((st.updatedReplicas ?? 0) < want)
    return { done: false, why: `${st.updatedReplicas ?? 0} of ${want} updated` };
  if ((st.replicas ?? 0) > (st.updatedReplicas ?? 0))
    return {
      done: false,
      why: `${(st.replicas ?? 0) - (st.updatedReplicas ?? 0)} old replicas pending termination`,
    };
  if ((st.availableReplicas ?? 0) < want)
    return { done: false, why: `${st.availableReplicas ?? 0} of ${want} available` };
  return { done: true, why: 'rolled out' };
}

/** The k8s.* actions; without options each fails with a clear "not configured" error. */
export function createK8sActions(o: K8sOptions | undefined): Action[] {
  let clients: Clients | undefined;
  const fieldManager = o?.fieldManager ?? 'vaultmesh';
  const pollMs = o?.pollMs ?? 1000;
  const connect = async (): Promise<Clients> => {
    if (!o)
      throw new ControlError(
        'UNAVAILABLE',
        'Kubernetes is not configured (actions option kube.kubeconfigPath)',
      );
    if (clients) return clients;
    const k8s = await import('@kubernetes/client-node');
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(o.kubeconfigPath);
    if (o.context !== undefined) {
      if (!kc.getContextObject(o.context))
        throw new ControlError(
          'INVALID_ARGUMENT',
          `kubeconfig ${o.kubeconfigPath} has no context "${o.context}"`,
        );
      kc.setCurrentContext(o.context);
    }
    clients = {
      k8s,
      apps: kc.makeApiClient(k8s.AppsV1Api),
      objects: k8s.KubernetesObjectApi.makeApiClient(kc),
    };
    return clients;
  };
  const ns = (given: string | undefined, ctx: ActionContext) => given ?? ctx.target.namespace ?? 'default';

  /** Polls the deployment until `done` says so or the step's time runs out. */
  async function waitFor(
    apps: AppsV1Api,
    name: string,
    namespace: string,
    ctx: ActionContext,
    done: (d: V1Deployment) => { done: boolean; why: string },
  ): Promise<{ ok: boolean; dep: V1Deployment; why: string; polls: number }> {
    let polls = 0;
    for (;;) {
      const dep = await apps.readNamespacedDeployment({ name, namespace });
      polls++;
      const r = done(dep);
      if (r.done) return { ok: true, dep, why: r.why, polls };
      if (r.why.startsWith('progress deadline exceeded')) return { ok: false, dep, why: r.why, polls };
      if (ctx.signal.aborted)
        return { ok: false, dep, why: `timed out after ${ctx.timeoutMs} ms: ${r.why}`, polls };
      await sleepUnless(pollMs, ctx.signal);
      if (ctx.signal.aborted)
        return { ok: false, dep, why: `timed out after ${ctx.timeoutMs} ms: ${r.why}`, polls };
    }
  }

  const summary = (d: V1Deployment) => ({
    generation: d.metadata?.generation ?? null,
    replicas: d.spec?.replicas ?? null,
    updatedReplicas: d.status?.updatedReplicas ?? 0,
    availableReplicas: d.status?.availableReplicas ?? 0,
  });

  /** Namespaces that the plan's unapplied earlier steps, or earlier manifests of this one, would create. */
  const plannedNamespaces = (manifests: readonly Obj[], ctx: ActionContext): Set<string> => {
    const out = new Set<string>();
    const add = (ms: unknown) => {
      if (!Array.isArray(ms)) return;
      for (const m of ms as Obj[])
        if (m?.kind === 'Namespace' && typeof m.metadata?.name === 'string') out.add(m.metadata.name);
    };
    for (const s of ctx.unappliedSteps ?? [])
      if (s.action === 'k8s.apply') add((s.params as { manifests?: unknown } | undefined)?.manifests);
    add(manifests);
    return out;
  };

  /** The live object, or undefined when the server has none (404). */
  const readLive = async (objects: KubernetesObjectApi, spec: KubernetesObject) => {
    try {
      return await objects.read({
        apiVersion: spec.apiVersion!,
        kind: spec.kind!,
        metadata: {
          name: spec.metadata!.name!,
          ...(spec.metadata?.namespace ? { namespace: spec.metadata.namespace } : {}),
        },
      });
    } catch (e) {
      if ((e as { code?: unknown }).code === 404) return undefined;
      throw e;
    }
  };

  /**
   * A dry-run of the whole apply set: every manifest is read live and applied with dryRun=All, and the answer is
   * compared with the live object (what live would change, as kubectl diff shows it). Every manifest is tried; an
   * object in a namespace this plan creates is "not checkable in a dry-run" (the namespace's apply persisted
   * nothing), any other refusal fails the step.
   */
  async function dryRunApply(
    p: z.output<typeof ApplyParams>,
    ctx: ActionContext,
    c: Clients,
  ): Promise<ActionResult> {
    const changes: ObjectChange[] = [];
    const notCheckable: { kind: string; name: string; namespace?: string; reason: string }[] = [];
    const failures: string[] = [];
    const planned = plannedNamespaces(p.manifests as Obj[], ctx);
    for (const m of p.manifests) {
      const spec = specOf(m, ctx);
      const id = {
        kind: m.kind,
        name: m.metadata.name,
        ...(spec.metadata?.namespace ? { namespace: spec.metadata.namespace } : {}),
      };
      try {
        const live = await readLive(c.objects, spec);
        const r = await c.objects.patch(
          spec,
          undefined,
          'All',
          fieldManager,
          true,
          c.k8s.PatchStrategy.ServerSideApply,
        );
        changes.push(describeChange(id, live, r));
      } catch (e) {
        const why = k8sError(e);
        const ns = id.namespace;
        if (ns && planned.has(ns) && new RegExp(`namespaces? "${ns}" not found`).test(why))
          notCheckable.push({
            ...id,
            reason: `namespace ${ns} is created by this plan, and a dry-run creates nothing`,
          });
        else failures.push(`apply ${m.kind}/${m.metadata.name}: ${why}`);
      }
    }
    const summary = [
      changeSummary(changes),
      ...notCheckable.map((n) => `${n.kind} ${n.namespace}/${n.name}: not checkable`),
    ]
      .filter(Boolean)
      .join(', ');
    const output = { dryRun: true, changes, ...(notCheckable.length ? { notCheckable } : {}) };
    if (failures.length)
      return { ok: false, output: { ...output, failures }, error: failures.join('; '), summary };
    return {
      ok: true,
      output,
      summary,
      ...(notCheckable.length
        ? {
            unverifiable: `not checkable in a dry-run: ${notCheckable.map((n) => `${n.kind} ${n.namespace}/${n.name}`).join(', ')} (${notCheckable[0]!.reason}); the live run applies it`,
          }
        : {}),
    };
  }

  const specOf = (m: z.output<typeof Manifest>, ctx: ActionContext) =>
    ({
      ...m,
      metadata: {
        ...m.metadata,
        namespace: m.kind === 'Namespace' ? undefined : ns(m.metadata.namespace, ctx),
      },
    }) as KubernetesObject;

  const apply: Action<z.output<typeof ApplyParams>> = {
    name: 'k8s.apply',
    description:
      'server-side apply of manifests (force, field manager "vaultmesh"); a dry-run sends dryRun=All for every manifest and reports what live would change',
    params: ApplyParams,
    dryRun: true,
    effect: 'write',
    idempotent: true,
    async run(p, ctx): Promise<ActionResult> {
      const c = await connect();
      if (ctx.dryRun) return dryRunApply(p, ctx, c);
      const applied: Record<string, unknown>[] = [];
      for (const m of p.manifests) {
        const spec = specOf(m, ctx);
        try {
          const r = await c.objects.patch(
            spec,
            undefined,
            undefined,
            fieldManager,
            true,
            c.k8s.PatchStrategy.ServerSideApply,
          );
          applied.push({
            kind: m.kind,
            name: m.metadata.name,
            namespace: spec.metadata?.namespace ?? null,
            uid: r.metadata?.uid ?? null,
            resourceVersion: r.metadata?.resourceVersion ?? null,
            generation: r.metadata?.generation ?? null,
          });
        } catch (e) {
          return {
            ok: false,
            output: { applied, dryRun: false },
            error: `apply ${m.kind}/${m.metadata.name}: ${k8sError(e)}`,
          };
        }
      }
      return {
        ok: true,
        output: { applied, dryRun: false },
        summary:
          applied
            .map((a) => `${String(a.kind)} ${a.namespace ? `${String(a.namespace)}/` : ''}${String(a.name)}`)
            .join(', ') + ' applied',
      };
    },
  };

  const rollout: Action<z.output<typeof RolloutParams>> = {
    name: 'k8s.rollout',
    description: "set a deployment container's image, then wait until every replica is updated and available",
    params: RolloutParams,
    dryRun: true,
    effect: 'write',
    idempotent: true,
    async run(p, ctx): Promise<ActionResult> {
      const { apps, k8s } = await connect();
      const namespace = ns(p.namespace, ctx);
      try {
        const cur = await apps.readNamespacedDeployment({ name: p.deployment, namespace });
        const containers = cur.spec?.template.spec?.containers ?? [];
        const c = p.container
          ? containers.find((x) => x.name === p.container)
          : containers.length === 1
            ? containers[0]
            : undefined;
        if (!c)
          return {
            ok: false,
            output: { containers: containers.map((x) => x.name) },
            error: p.container
              ? `deployment ${p.deployment} has no container "${p.container}"`
              : `deployment ${p.deployment} has ${containers.length} containers: name one in params.container`,
          };
        const previousImage = c.image ?? null;
        const patched = await apps.patchNamespacedDeployment(
          {
            name: p.deployment,
            namespace,
            body: { spec: { template: { spec: { containers: [{ name: c.name, image: p.image }] } } } },
            fieldManager,
            ...(ctx.dryRun ? { dryRun: 'All' } : {}),
          },
          k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
        );
        const base = {
          deployment: p.deployment,
          namespace,
          container: c.name,
          previousImage,
          image: p.image,
        };
        if (ctx.dryRun) return { ok: true, output: { ...base, dryRun: true, ...summary(patched) } };
        const w = await waitFor(apps, p.deployment, namespace, ctx, rolloutDone);
        return {
          ok: w.ok,
          output: { ...base, polls: w.polls, ...summary(w.dep) },
          ...(w.ok ? {} : { error: `rollout of ${p.deployment} to ${p.image} did not finish: ${w.why}` }),
        };
      } catch (e) {
        return {
          ok: false,
          output: { deployment: p.deployment, namespace },
          error: `rollout: ${k8sError(e)}`,
        };
      }
    },
  };

  const scale: Action<z.output<typeof ScaleParams>> = {
    name: 'k8s.scale',
    description: "set a deployment's replicas, then wait until that many are available",
    params: ScaleParams,
    dryRun: true,
    effect: 'write',
    idempotent: true,
    async run(p, ctx): Promise<ActionResult> {
      const { apps, k8s } = await connect();
      const namespace = ns(p.namespace, ctx);
      try {
        const patched = await apps.patchNamespacedDeployment(
          {
            name: p.deployment,
            namespace,
            body: { spec: { replicas: p.replicas } },
            fieldManager,
            ...(ctx.dryRun ? { dryRun: 'All' } : {}),
          },
          k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
        );
        const base = { deployment: p.deployment, namespace, replicas: p.replicas };
        if (ctx.dryRun) return { ok: true, output: { ...base, dryRun: true, ...summary(patched) } };
        const w = await waitFor(apps, p.deployment, namespace, ctx, (d) => {
          const st = d.status ?? {};
          if ((st.observedGeneration ?? 0) < (d.metadata?.generation ?? 0))
            return { done: false, why: 'waiting for the controller to observe the new spec' };
          const avail = st.availableReplicas ?? 0;
          const total = st.replicas ?? 0;
          return avail >= p.replicas && total === p.replicas
            ? { done: true, why: 'scaled' }
            : { done: false, why: `${avail} available, ${total} total, want ${p.replicas}` };
        });
        return {
          ok: w.ok,
          output: { ...base, polls: w.polls, ...summary(w.dep) },
          ...(w.ok ? {} : { error: `scale of ${p.deployment} to ${p.replicas} did not finish: ${w.why}` }),
        };
      } catch (e) {
        return { ok: false, output: { deployment: p.deployment, namespace }, error: `scale: ${k8sError(e)}` };
      }
    },
  };

  return [apply, rollout, scale] as unknown as Action[];
}
