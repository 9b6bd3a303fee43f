// Ledger tools: record a decision, search, read and prove receipts, verify the ledger, read the checkpoint.
import { z } from 'zod';
import { InteropError } from '../errors.ts';
import type { ToolSpec } from '../gateway.ts';
import type { InteropServices } from '../services.ts';
import { Checkpoint, Index, Receipt, Tenant, getVisible, readScope, receiptShape } from './shared.ts';

/** The ledger tools. */
export function ledgerTools(): ToolSpec<InteropServices>[] {
  const tools: ToolSpec<InteropServices, z.ZodRawShape, z.ZodRawShape>[] = [];
  const add = <I extends z.ZodRawShape, O extends z.ZodRawShape>(t: ToolSpec<InteropServices, I, O>) =>
    tools.push(t as unknown as ToolSpec<InteropServices>);

  add({
    name: 'record_decision',
    title: 'Record a decision',
    description:
      'Records an architecture or operations decision as a signed, append-only `decision` receipt on the ledger.',
    input: {
      title: z.string().min(1).max(500),
      rationale: z.string().max(10_000).optional(),
      status: z.enum(['proposed', 'accepted', 'superseded', 'rejected']).optional(),
      tags: z.array(z.string().min(1).max(200)).max(20).optional(),
      tenant: Tenant,
    },
    output: { index: z.number().int(), leafHash: z.string() },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    async run(a, ctx) {
      const body: Record<string, unknown> = { title: a.title };
      if (a.rationale !== undefined) body.rationale = a.rationale;
      if (a.status !== undefined) body.status = a.status;
      if (a.tags !== undefined) body.tags = a.tags;
      const r = await ctx.services.ledger.append({
        kind: 'decision',
        actor: ctx.caller.principal.id,
        tenant: ctx.tenant,
        body,
      });
      ctx.addParent(r);
      return { index: r.index, leafHash: r.leafHash };
    },
  });
  add({
    name: 'search_receipts',
    title: 'Search receipts',
    description:
      'Lists receipts newest first, filtered by kind and by text in their body, within the caller’s tenants.',
    input: {
      kind: z.string().min(1).max(40).optional(),
      text: z.string().min(1).max(200).optional(),
      before: z.number().int().min(0).optional().describe('Page: only receipts with a smaller index'),
      limit: z.number().int().min(1).max(100).default(20),
      tenant: Tenant,
    },
    output: { items: z.array(Receipt), next: z.object({ before: z.number().int() }).nullable() },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async run(a, ctx) {
      const items = await ctx.services.ledger.list({
        ...readScope(ctx.caller, a.tenant),
        kind: a.kind,
        text: a.text,
        before: a.before,
        order: 'desc',
        limit: a.limit,
      });
      const last = items[items.length - 1];
      return { items, next: items.length === a.limit && last ? { before: last.index } : null };
    },
  });
  add({
    name: 'get_receipt',
    title: 'Get a receipt',
    description: 'Returns one receipt by its ledger index.',
    input: { index: Index, tenant: Tenant },
    output: receiptShape,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    run: async (a, ctx) => getVisible(ctx, a.index, a.tenant),
  });
  add({
    name: 'prove_receipt',
    title: 'Prove a receipt',
    description:
      'Returns a receipt with its RFC 9162 inclusion proof and the signed checkpoint (C2SP signed note) it is ' +
      'proven against, so anyone can verify it offline with the verifier key.',
    input: { index: Index, tenant: Tenant },
    output: {
      receipt: Receipt,
      proof: z.object({
        index: z.number().int(),
        size: z.number().int(),
        leafHash: z.string(),
        proof: z.array(z.string()),
      }),
      checkpoint: Checkpoint,
    },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async run(a, ctx) {
      const receipt = await getVisible(ctx, a.index, a.tenant);
      const cp = await ctx.services.ledger.checkpointCovering(a.index);
      if (!cp || cp.size <= a.index)
        throw new InteropError('UNAVAILABLE', `no signed checkpoint covers index ${a.index} yet`);
      const p = await ctx.services.ledger.inclusionProof(a.index, cp.size);
      return {
        receipt,
        proof: { index: a.index, size: cp.size, leafHash: p.leafHash, proof: p.proof },
        checkpoint: cp,
      };
    },
  });
  add({
    name: 'verify_ledger',
    title: 'Verify the ledger',
    description:
      'Checks every stored checkpoint’s signature, root and mutual consistency (like `vm audit verify`) and ' +
      'reports each problem found.',
    input: {},
    output: {
      ok: z.boolean(),
      size: z.number().int(),
      checkpointsChecked: z.number().int(),
      problems: z.array(z.string()),
    },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    timeoutMs: 300_000,
    run: async (_a, ctx) =>
      ctx.services.ledger.verify({ onProgress: (done, total) => ctx.progress(done, total, 'verifying') }),
  });
  add({
    name: 'get_checkpoint',
    title: 'Latest signed checkpoint',
    description:
      'The ledger’s latest signed checkpoint (C2SP tlog-checkpoint in a signed note) and verifier key.',
    input: {},
    output: { checkpoint: Checkpoint.nullable() },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    run: async (_a, ctx) => ({ checkpoint: (await ctx.services.ledger.checkpointCovering()) ?? null }),
  });

  return tools;
}
