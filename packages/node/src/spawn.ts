// Spawn on a node: the template catalog, and recording a spawn. The node renders the tree from the template,
// version and parameters itself (refusing a caller whose tree differs), asks the tenant's Cedar policy (action
// "spawn" on the Template; the decision is recorded like every other), then appends the `spawn` receipt. What the
// caller declares decides nothing: the digest on the receipt is the node's own.
import type { SpawnApi, SpawnRecordRequest } from '@vaultmesh/api';
import { checkUpgrade, getTemplate, listTemplates, render, SpawnError } from '@vaultmesh/spawn';
import type { PolicyDecider, Principal, ReceiptWriter } from '@vaultmesh/types';

export interface NodeSpawnDeps {
  readonly policy: PolicyDecider;
  readonly receipts: ReceiptWriter;
  /** The log's origin, returned with each receipt so the manifest can name where it is. */
  readonly origin: string;
}

export function createNodeSpawn(deps: NodeSpawnDeps): SpawnApi {
  return {
    templates: () => listTemplates(),
    async record(req: SpawnRecordRequest, principal: Principal) {
      const t = getTemplate(req.template);
      const version = req.version ?? t.version;
      if (req.operation === 'update') checkUpgrade(t, req.from ?? '', version);
      // The generated files name the tenant that governs the service (its deploy intent): it is the spawn's own.
      if (req.params['tenant'] !== undefined && req.params['tenant'] !== req.tenant)
        throw new SpawnError(
          'INVALID_PARAMS',
          `--tenant ${String(req.params['tenant'])} is not the tenant of the spawn (${req.tenant})`,
          { problems: ['the tenant parameter must be the spawn tenant'] },
        );
      const rendered = render({
        template: t.id,
        service: req.service,
        params: { ...req.params, tenant: req.tenant },
        version,
      });
      if (rendered.treeSha256 !== req.treeSha256)
        throw new SpawnError(
          'DIGEST_MISMATCH',
          `${t.id}@${version} with these parameters renders tree ${rendered.treeSha256} on this node, not ${req.treeSha256} (is the CLI from another VaultMesh version?)`,
        );
      const decision = await deps.policy.decide({
        principal,
        action: 'spawn',
        resource: { type: 'template', id: t.id, tenant: req.tenant },
        context: { templateVersion: version, operation: req.operation, time: new Date().toISOString() },
      });
      if (decision.decision !== 'allow')
        throw new SpawnError(
          'POLICY_DENIED',
          `policy denied ${principal.id} spawning from template ${t.id} in tenant ${req.tenant}`,
        );
      const appended = await deps.receipts.append({
        kind: 'spawn',
        actor: principal.id,
        tenant: req.tenant,
        body: {
          operation: req.operation,
          service: rendered.service,
          template: t.id,
          version,
          ...(req.from !== undefined ? { from: req.from } : {}),
          params: rendered.params,
          treeSha256: rendered.treeSha256,
          files: rendered.files.size,
        },
      });
      return {
        index: appended.index,
        leafHash: appended.leafHash,
        origin: deps.origin,
        tenant: req.tenant,
        version,
        params: rendered.params,
        treeSha256: rendered.treeSha256,
      };
    },
  };
}
