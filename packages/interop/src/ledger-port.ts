// LedgerPort over a @vaultmesh/log Log and its storage (the node's real ledger, or an in-memory one in tests).
import { decodeReceipt, toHex } from '@vaultmesh/ledger';
import { LogError, type Log, type LogStorage, type StoredEntry } from '@vaultmesh/log';
import type { CheckpointView, LedgerPort, ReceiptView } from './services.ts';

export interface LogLedgerPortOptions {
  readonly log: Log;
  readonly storage: LogStorage;
  /** The node's verifier key (signed-note key text) served with checkpoints. */
  readonly verifierKeyText: string;
  /** Ledger verification (@vaultmesh/node passes the node's quick `vm audit verify`). */
  readonly verify: LedgerPort['verify'];
}

/** A stored entry as a ReceiptView. */
export function receiptView(e: StoredEntry): ReceiptView {
  return { index: e.index, leafHash: toHex(e.leafHash), receipt: decodeReceipt(e.bytes) };
}

/** Builds the LedgerPort of a node. */
export function createLogLedgerPort(opts: LogLedgerPortOptions): LedgerPort {
  const { log, storage } = opts;
  const view = (cp: { size: number; root: Uint8Array; note: string }): CheckpointView => ({
    origin: log.origin,
    size: cp.size,
    rootHash: toHex(cp.root),
    note: cp.note,
    verifierKey: opts.verifierKeyText,
  });
  return {
    append: (input) => log.append(input),
    async list(q) {
      const rows = await storage.listEntries({
        tenants: q.tenants,
        kind: q.kind,
        text: q.text,
        after: q.after,
        before: q.before,
        order: q.order,
        limit: q.limit,
      });
      return rows.map(receiptView);
    },
    async get(index) {
      return receiptView(await log.getEntry(index));
    },
    async checkpointCovering(index) {
      let cp = await log.latestCheckpoint();
      if (index !== undefined && (!cp || cp.size <= index)) {
        if (index >= log.stats().size) throw new LogError('NOT_FOUND', `no receipt at index ${index}`);
        await log.idle();
        cp = await log.checkpoint();
      }
      return cp ? view(cp) : undefined;
    },
    async inclusionProof(index, size) {
      const p = await log.inclusionProof(index, size);
      return { leafHash: toHex(p.leafHash), proof: p.proof.map(toHex) };
    },
    verify: (o) => opts.verify(o),
  };
}
