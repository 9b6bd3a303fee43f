// A fake Kubernetes API server (node:http on 127.0.0.1) for apps/v1 Deployments and core v1 Namespaces, Services,
// ConfigMaps and Secrets, answering the real paths and shapes that @kubernetes/client-node uses: API discovery
// (GET /api/v1, /apis/apps/v1), GET and PATCH /apis/apps/v1/namespaces/{ns}/deployments/{name} with server-side
// apply (application/apply-patch+yaml, which needs fieldManager), strategic merge and JSON merge patches, GET and
// apply of /api/v1/namespaces/{name} and /api/v1/namespaces/{ns}/{services|configmaps|secrets}/{name}, the
// dryRun=All query (nothing persisted), `namespaces "x" not found` for an object in a namespace that does not exist
// (default, shop and kube-system do), bearer token authentication and Status bodies for errors. It speaks HTTPS with a throwaway self-signed certificate
// (openssl CLI) that the kubeconfig trusts as certificate-authority-data, as client-node refuses plain HTTP. A tiny "controller" advances a rollout one stage per GET.
// It is not Kubernetes: no admission, no defaulting beyond the fields the actions read, no watch.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localServer } from './local-server.ts';

type Obj = Record<string, unknown>;
interface Deployment {
  apiVersion: 'apps/v1';
  kind: 'Deployment';
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    resourceVersion: string;
    generation: number;
    labels?: Obj;
    managedFields?: Obj[];
  };
  spec: {
    replicas: number;
    selector?: Obj;
    template: { metadata?: Obj; spec: { containers: { name: string; image: string }[] } };
  };
  status: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    readyReplicas?: number;
    conditions?: Obj[];
  };
}

export interface FakeK8sRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType: string | undefined;
  body: unknown;
}

const TOKEN = 'fake-token-123';

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return patch;
  const out: Obj = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Strategic merge for the one list the actions patch: containers, merged by name. */
function strategicMerge(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return patch;
  const out: Obj = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k === 'containers' && Array.isArray(v) && Array.isArray(out[k])) {
      const list = (out[k] as Obj[]).map((c) => ({ ...c }));
      for (const c of v as Obj[]) {
        const i = list.findIndex((x) => x.name === c.name);
        if (i >= 0) list[i] = { ...list[i], ...c };
        else list.push(c);
      }
      out[k] = list;
    } else out[k] = strategicMerge(out[k], v);
  }
  return out;
}

const status = (code: number, reason: string, message: string) => ({
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message,
  reason,
  code,
});

/** Starts the server and writes a kubeconfig for it (context "fake"; the current-context points elsewhere). */
export async function startFakeK8s() {
  const dir = mkdtempSync(join(tmpdir(), 'vm-kube-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  const tls = {
    key: readFileSync(join(dir, 'key.pem'), 'utf8'),
    cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
  };
  const deployments = new Map<string, Deployment>();
  /** Core v1 objects by `${plural}/${namespace}/${name}` (namespaces: `namespaces//${name}`). */
  const objects = new Map<string, Obj>();
  const DEFAULT_NAMESPACES = ['default', 'kube-system', 'shop'];
  const namespaceExists = (ns: string) => DEFAULT_NAMESPACES.includes(ns) || objects.has(`namespaces//${ns}`);
  const CORE = {
    namespaces: { kind: 'Namespace', namespaced: false },
    services: { kind: 'Service', namespaced: true },
    configmaps: { kind: 'ConfigMap', namespaced: true },
    secrets: { kind: 'Secret', namespaced: true },
  } as const;
  const requests: FakeK8sRequest[] = [];
  /** Images whose pods never become available (a broken release). */
  const brokenImages = new Set<string>();
  /** Images whose rollout reports ProgressDeadlineExceeded. */
  const deadlineImages = new Set<string>();
  let rv = 1000;
  let uid = 0;

  /** One controller step: observe the spec, then roll replicas over (unless the image is broken). */
  function reconcile(d: Deployment): void {
    const want = d.spec.replicas;
    const image = d.spec.template.spec.containers[0]?.image ?? '';
    if ((d.status.observedGeneration ?? 0) < d.metadata.generation) {
      d.status = {
        ...d.status,
        observedGeneration: d.metadata.generation,
        updatedReplicas: 0,
        replicas: (d.status.replicas ?? 0) + Math.min(1, want),
      };
      return;
    }
    if (deadlineImages.has(image)) {
      d.status.conditions = [
        {
          type: 'Progressing',
          status: 'False',
          reason: 'ProgressDeadlineExceeded',
          message: `ReplicaSet has timed out progressing.`,
        },
      ];
      return;
    }
    if (brokenImages.has(image)) {
      d.status = { ...d.status, updatedReplicas: want, availableReplicas: 0, readyReplicas: 0 };
      return;
    }
    d.status = {
      ...d.status,
      replicas: want,
      updatedReplicas: want,
      availableReplicas: want,
      readyReplicas: want,
      conditions: [],
    };
  }

  const srv = await localServer((req, res, raw) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const query = Object.fromEntries(url.searchParams);
    const contentType = req.headers['content-type']?.split(';')[0];
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined; // JSON is YAML too: client-node sends apply patches as JSON
    } catch {
      body = raw;
    }
    requests.push({ method: req.method ?? '', path: url.pathname, query, contentType, body });
    const send = (code: number, value: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    if (req.headers.authorization !== `Bearer ${TOKEN}`)
      return send(401, status(401, 'Unauthorized', 'Unauthorized'));
    if (req.method === 'GET' && url.pathname === '/api/v1')
      return send(200, {
        kind: 'APIResourceList',
        groupVersion: 'v1',
        resources: Object.entries(CORE).map(([name, r]) => ({
          name,
          singularName: r.kind.toLowerCase(),
          namespaced: r.namespaced,
          kind: r.kind,
          verbs: ['create', 'delete', 'get', 'list', 'patch', 'update'],
        })),
      });
    const core =
      /^\/api\/v1\/namespaces\/([^/]+)$/.exec(url.pathname) ??
      /^\/api\/v1\/namespaces\/([^/]+)\/(services|configmaps|secrets)\/([^/]+)$/.exec(url.pathname);
    if (core) {
      const [plural, ns, name] =
        core.length === 2 ? ['namespaces', '', core[1]!] : [core[2]!, core[1]!, core[3]!];
      const r = CORE[plural as keyof typeof CORE];
      const key = `${plural}/${ns}/${name}`;
      const cur =
        plural === 'namespaces' && DEFAULT_NAMESPACES.includes(name)
          ? { kind: 'Namespace', apiVersion: 'v1', metadata: { name } }
          : objects.get(key);
      if (req.method === 'GET')
        return cur ? send(200, cur) : send(404, status(404, 'NotFound', `${plural} "${name}" not found`));
      if (req.method !== 'PATCH' || contentType !== 'application/apply-patch+yaml')
        return send(405, status(405, 'MethodNotAllowed', 'the fake applies core objects only'));
      if (!query.fieldManager)
        return send(422, status(422, 'Invalid', 'fieldManager: Required value: is required for apply patch'));
      const applied = body as Obj & { kind?: string; metadata?: Obj };
      if (applied.kind !== r.kind || applied.metadata?.name !== name)
        return send(
          400,
          status(400, 'BadRequest', 'the name of the object does not match the name on the URL'),
        );
      if (r.namespaced && !namespaceExists(ns))
        return send(404, status(404, 'NotFound', `namespaces "${ns}" not found`));
      const { metadata: m, status: _s, ...rest } = applied;
      const base: Obj = (cur as Obj | undefined) ?? {
        apiVersion: 'v1',
        kind: r.kind,
        metadata: { name, ...(r.namespaced ? { namespace: ns } : {}), uid: `uid-${++uid}` },
      };
      const next = mergePatch(base, {
        ...rest,
        metadata: { labels: m?.labels ?? null, annotations: m?.annotations ?? null },
      }) as Obj & { metadata: Obj };
      next.metadata = {
        ...next.metadata,
        resourceVersion: String(++rv),
        managedFields: [{ manager: query.fieldManager, operation: 'Apply' }],
      };
      if (query.dryRun !== 'All') objects.set(key, next);
      return send(cur ? 200 : 201, next);
    }
    if (req.method === 'GET' && url.pathname === '/apis/apps/v1')
      return send(200, {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: 'apps/v1',
        resources: [
          {
            name: 'deployments',
            singularName: 'deployment',
            namespaced: true,
            kind: 'Deployment',
            verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
            shortNames: ['deploy'],
          },
          {
            name: 'deployments/scale',
            singularName: '',
            namespaced: true,
            group: 'autoscaling',
            version: 'v1',
            kind: 'Scale',
            verbs: ['get', 'patch', 'update'],
          },
          {
            name: 'deployments/status',
            singularName: '',
            namespaced: true,
            kind: 'Deployment',
            verbs: ['get', 'patch', 'update'],
          },
        ],
      });
    const m = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments\/([^/]+)$/.exec(url.pathname);
    if (!m) return send(404, status(404, 'NotFound', 'the server could not find the requested resource'));
    const [, ns, name] = m as unknown as [string, string, string];
    const key = `${ns}/${name}`;
    const cur = deployments.get(key);
    if (req.method === 'GET') {
      if (!cur) return send(404, status(404, 'NotFound', `deployments.apps "${name}" not found`));
      reconcile(cur);
      return send(200, cur);
    }
    if (req.method !== 'PATCH') return send(405, status(405, 'MethodNotAllowed', 'method not allowed'));
    if (query.dryRun !== undefined && query.dryRun !== 'All')
      return send(400, status(400, 'BadRequest', `Invalid dry run value: ${query.dryRun}`));
    let next: Deployment;
    if (contentType === 'application/apply-patch+yaml') {
      if (!query.fieldManager)
        return send(
          422,
          status(
            422,
            'Invalid',
            'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
          ),
        );
      const applied = body as Deployment;
      if (applied.kind !== 'Deployment' || applied.metadata?.name !== name)
        return send(
          400,
          status(400, 'BadRequest', 'the name of the object does not match the name on the URL'),
        );
      if (!namespaceExists(ns)) return send(404, status(404, 'NotFound', `namespaces "${ns}" not found`));
      const base: Deployment = cur ?? {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name, namespace: ns, uid: `uid-${++uid}`, resourceVersion: '', generation: 0 },
        spec: { replicas: 1, template: { spec: { containers: [] } } },
        status: {},
      };
      next = mergePatch(base, {
        spec: applied.spec,
        metadata: { labels: applied.metadata.labels ?? null },
      }) as Deployment;
      next.metadata = {
        ...next.metadata,
        managedFields: [{ manager: query.fieldManager, operation: 'Apply' }],
      };
    } else if (
      contentType === 'application/strategic-merge-patch+json' ||
      contentType === 'application/merge-patch+json'
    ) {
      if (!cur) return send(404, status(404, 'NotFound', `deployments.apps "${name}" not found`));
      next = (
        contentType === 'application/merge-patch+json' ? mergePatch(cur, body) : strategicMerge(cur, body)
      ) as Deployment;
    } else
      return send(
        415,
        status(
          415,
          'UnsupportedMediaType',
          `the body of the request was in an unknown format: ${contentType}`,
        ),
      );
    const changed = JSON.stringify(next.spec) !== JSON.stringify(cur?.spec);
    next.metadata = {
      ...next.metadata,
      generation: next.metadata.generation + (changed ? 1 : 0),
      resourceVersion: String(++rv),
    };
    if (query.dryRun !== 'All') deployments.set(key, next);
    return send(cur ? 200 : 201, next);
  }, tls);

  const kubeconfigPath = join(dir, 'kubeconfig.yaml');
  writeFileSync(
    kubeconfigPath,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: fake`,
      `  cluster: { server: "${srv.url}", certificate-authority-data: ${Buffer.from(tls.cert).toString('base64')} }`,
      `- name: elsewhere`,
      `  cluster: { server: "https://127.0.0.1:9" }`,
      'users:',
      `- name: tester`,
      `  user: { token: ${TOKEN} }`,
      'contexts:',
      `- name: fake`,
      `  context: { cluster: fake, user: tester, namespace: shop }`,
      `- name: elsewhere`,
      `  context: { cluster: elsewhere, user: tester }`,
      'current-context: elsewhere',
      '',
    ].join('\n'),
  );

  /** Puts a deployment that is fully rolled out (as if created long ago). */
  function seed(ns: string, name: string, image: string, replicas: number): void {
    deployments.set(`${ns}/${name}`, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: ns, uid: `uid-${++uid}`, resourceVersion: String(++rv), generation: 1 },
      spec: { replicas, template: { spec: { containers: [{ name, image }] } } },
      status: {
        observedGeneration: 1,
        replicas,
        updatedReplicas: replicas,
        availableReplicas: replicas,
        readyReplicas: replicas,
      },
    });
  }

  return {
    url: srv.url,
    kubeconfigPath,
    deployments,
    objects,
    requests,
    brokenImages,
    deadlineImages,
    seed,
    close: srv.close,
  };
}
