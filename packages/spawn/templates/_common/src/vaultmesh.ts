// Records this service's deploys and releases as receipts on a VaultMesh node (POST /api/ledger/receipts), so
// what ran where is in the same verifiable ledger as the plans and approvals that put it there. The node's URL and
// an API token come from the environment (VM_URL, VM_TOKEN); the token is sent only in the Authorization header and
// never appears in an error, even when the node echoes it back.

export interface VaultMeshOptions {
  /** The node's base URL, e.g. https://vaultmesh.example (default: VM_URL). */
  readonly url?: string;
  /** An API token with receipts:write (default: VM_TOKEN). */
  readonly token?: string;
  /** The tenant the receipt belongs to (default: VM_TENANT, else the token's own tenant). */
  readonly tenant?: string;
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
}

export interface DeployRecord {
  readonly version: string;
  readonly environment: string;
  /** "deployed", "released", "rolled-back" … (default "deployed"). */
  readonly status?: string;
  readonly image?: string;
  readonly commit?: string;
}

/** Where the node put the receipt. */
export interface RecordedReceipt {
  readonly index: number;
  readonly leafHash: string;
}

export class VaultMeshClientError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'VaultMeshClientError';
  }
}

export const SERVICE_NAME = '{{name}}';

function redact(text: string, secret: string): string {
  return secret.length > 0 ? text.split(secret).join('[redacted]') : text;
}

/** Records one deploy of this service. */
export async function recordDeploy(
  record: DeployRecord,
  opts: VaultMeshOptions = {},
): Promise<RecordedReceipt> {
  const url = opts.url ?? process.env['VM_URL'];
  const token = opts.token ?? process.env['VM_TOKEN'];
  const tenant = opts.tenant ?? process.env['VM_TENANT'];
  if (!url) throw new VaultMeshClientError('VM_URL is not set (the VaultMesh node to record on)');
  if (!token)
    throw new VaultMeshClientError('VM_TOKEN is not set (an API token with receipts:write)');
  let endpoint: URL;
  try {
    endpoint = new URL('/api/ledger/receipts', url);
  } catch {
    throw new VaultMeshClientError(`VM_URL is not a URL: ${redact(url, token)}`);
  }
  const body = {
    kind: 'deploy',
    ...(tenant ? { tenant } : {}),
    body: {
      service: SERVICE_NAME,
      version: record.version,
      environment: record.environment,
      status: record.status ?? 'deployed',
      ...(record.image ? { image: record.image } : {}),
      ...(record.commit ? { commit: record.commit } : {}),
    },
  };
  let res: Response;
  try {
    res = await (opts.fetch ?? fetch)(endpoint, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
    });
  } catch (err) {
    throw new VaultMeshClientError(
      `could not reach ${endpoint.origin}: ${redact((err as Error).message, token)}`,
    );
  }
  const text = await res.text();
  if (!res.ok) {
    let detail = text.slice(0, 500);
    try {
      const problem = JSON.parse(text) as { detail?: unknown; title?: unknown };
      detail = String(problem.detail ?? problem.title ?? detail);
    } catch {
      // not problem+json: keep the start of the body
    }
    throw new VaultMeshClientError(
      `VaultMesh refused the receipt (HTTP ${res.status}): ${redact(detail, token)}`,
      res.status,
    );
  }
  const out = JSON.parse(text) as { index?: unknown; leafHash?: unknown };
  if (typeof out.index !== 'number' || typeof out.leafHash !== 'string')
    throw new VaultMeshClientError('VaultMesh answered without a receipt index');
  return { index: out.index, leafHash: out.leafHash };
}
