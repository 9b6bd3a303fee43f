// Behaviour of the Log over a storage driver; run for every driver. The caller brings the node crypto (keys, the
// native hasher and Ed25519), so this package needs no dependency on the one that makes them (@vaultmesh/attest).
import {
  TreeBuilder,
  canonicalBytes,
  fromHex,
  openNote,
  parseCheckpoint,
  toHex,
  verifyConsistency,
  verifyInclusion,
  type Ed25519Verify,
  type MerkleHasher,
  type NoteSigner,
  type NoteVerifierKey,
} from '@vaultmesh/ledger';
import { describe, expect, it } from 'vitest';
import { LogError } from '../errors.ts';
import { Log, verifyLog, type LogStorage } from '../index.ts';

const ORIGIN = 'test.vaultmesh/log';
const decision = (i: number, tenant = 'default') => ({
  kind: 'decision',
  actor: 'test',
  tenant,
  body: { title: `decision ${i}` },
});

/** The node crypto the contract signs and verifies with (@vaultmesh/attest: generateNodeKey, nodeHasher ...). */
export interface LogContractCrypto {
  newKey(origin: string): { signer: NoteSigner; verifierKey: NoteVerifierKey };
  readonly hasher: MerkleHasher;
  readonly ed25519Verify: Ed25519Verify;
}

export function logContract(
  name: string,
  create: () => Promise<LogStorage>,
  { newKey, hasher: nodeHasher, ed25519Verify: nodeEd25519Verify }: LogContractCrypto,
): void {
  describe(`Log over ${name}`, () => {
    const key = newKey(ORIGIN);
    const open = (storage: LogStorage, extra: Partial<Parameters<typeof Log.open>[0]> = {}) =>
      Log.open({ storage, origin: ORIGIN, signer: key.signer, hasher: nodeHasher, ...extra });

    it('sequences appends and returns the RFC 6962 leaf hash of the canonical receipt', async () => {
      const log = await open(await create());
      const a = await log.append(decision(0));
      const b = await log.append(decision(1));
      expect([a.index, b.index]).toEqual([0, 1]);
      expect(a.leafHash).toBe(toHex(nodeHasher.hashLeaf(canonicalBytes(a.receipt))));
      const stored = await log.getEntry(1);
      expect(new TextDecoder().decode(stored.bytes)).toBe(
        new TextDecoder().decode(canonicalBytes(b.receipt)),
      );
      await log.close();
    });

    it('group-commits concurrent appends into few transactions without losing or duplicating any', async () => {
      const batches: number[] = [];
      const log = await open(await create(), { onCommit: (i) => batches.push(i.entries) });
      const results = await Promise.all(Array.from({ length: 3000 }, (_, i) => log.append(decision(i))));
      expect(results.map((r) => r.index).sort((x, y) => x - y)).toEqual(
        Array.from({ length: 3000 }, (_, i) => i),
      );
      expect(batches.reduce((s, n) => s + n, 0)).toBe(3000);
      expect(batches.length).toBeLessThan(10);
      expect(log.size).toBe(3000);
      await log.close();
    });

    it('publishes signed checkpoints whose proofs verify, across tile boundaries', async () => {
      const log = await open(await create());
      const builder = new TreeBuilder(nodeHasher);
      const leaves: Uint8Array[] = [];
      const sizes = [1, 255, 256, 257, 700];
      const cps = [];
      for (const target of sizes) {
        const rs = await Promise.all(
          Array.from({ length: target - leaves.length }, (_, i) => log.append(decision(leaves.length + i))),
        );
        for (const r of rs) {
          leaves.push(fromHex(r.leafHash));
          builder.push(fromHex(r.leafHash));
        }
        const cp = await log.checkpoint();
        const parsed = parseCheckpoint(openNote(cp.note, [key.verifierKey], nodeEd25519Verify).text);
        expect(parsed).toMatchObject({ origin: ORIGIN, size: target });
        expect(toHex(parsed.root)).toBe(toHex(builder.root()));
        cps.push(parsed);
      }
      for (const cp of cps) {
        for (const i of [0, cp.size - 1, Math.floor(cp.size / 2)]) {
          const p = await log.inclusionProof(i, cp.size);
          expect(verifyInclusion(nodeHasher, i, cp.size, leaves[i]!, p.proof, cp.root)).toBe(true);
        }
      }
      for (let i = 0; i < cps.length; i++) {
        for (let j = i; j < cps.length; j++) {
          const proof = await log.consistencyProof(cps[i]!.size, cps[j]!.size);
          expect(
            verifyConsistency(nodeHasher, cps[i]!.size, cps[j]!.size, proof, cps[i]!.root, cps[j]!.root),
          ).toBe(true);
        }
      }
      // The tlog-tiles resources carry exactly the leaf hashes and the entry bytes.
      const t0 = await log.readTileResource({ level: 0, index: 0, width: 256 });
      expect(toHex(t0.subarray(32 * 255, 32 * 256))).toBe(toHex(leaves[255]!));
      const bundle = await log.readTileResource({ level: -1, index: 2, width: 3 });
      const len = (bundle[0]! << 8) | bundle[1]!;
      expect(toHex(nodeHasher.hashLeaf(bundle.subarray(2, 2 + len)))).toBe(toHex(leaves[512]!));
      await expect(log.readTileResource({ level: 0, index: 2, width: 256 })).rejects.toThrow(/not available/);
      expect(
        (
          await verifyLog({
            storage: (log as unknown as { storage: LogStorage }).storage,
            origin: ORIGIN,
            verifierKey: key.verifierKey,
            hasher: nodeHasher,
            full: true,
          })
        ).ok,
      ).toBe(true);
      await log.close();
    });

    it('lets a caller wait for the next checkpoint and its inclusion proof, or time out', async () => {
      const log = await open(await create());
      const r = await log.append(decision(0));
      await expect(log.waitForCheckpoint(r.index, { timeoutMs: 50 })).rejects.toMatchObject({
        code: 'TIMEOUT',
      });
      const { checkpoint, proof } = await log.waitForCheckpoint(r.index, { publish: true });
      expect(checkpoint.size).toBe(1);
      expect(verifyInclusion(nodeHasher, 0, 1, fromHex(r.leafHash), proof.proof, checkpoint.root)).toBe(true);
      await log.close();
    });

    it('publishes on an interval when the log grew', async () => {
      const log = await open(await create(), { checkpointIntervalMs: 20 });
      const r = await log.append(decision(0));
      const { checkpoint } = await log.waitForCheckpoint(r.index, { timeoutMs: 2000 });
      expect(checkpoint.size).toBe(1);
      await log.close();
    });

    it('an empty log publishes its size-0 checkpoint on the first tick (peers find one from the start)', async () => {
      const log = await open(await create(), { checkpointIntervalMs: 20 });
      let cp = await log.latestCheckpoint();
      for (let i = 0; i < 200 && !cp; i++) {
        await new Promise((r) => setTimeout(r, 20));
        cp = await log.latestCheckpoint();
      }
      expect(cp?.size).toBe(0);
      expect(cp?.note).toMatch(/\n0\n/);
      await log.close();
    });

    it('rejects invalid receipts with a clear error and writes nothing', async () => {
      const log = await open(await create());
      await log.append(decision(0));
      await expect(log.append({ ...decision(1), kind: 'unknown' })).rejects.toThrow(/kind: must be one of/);
      await expect(log.append({ ...decision(1), body: {} })).rejects.toThrow(/title/);
      await expect(log.append({ ...decision(1), tenant: 'NOT OK' })).rejects.toThrow(/tenant/);
      await expect(log.append({ ...decision(1), parents: [5] })).rejects.toThrow(/parent 5 does not exist/);
      await expect(
        log.append({ ...decision(1), parents: [{ index: 0, leafHash: '00'.repeat(32) }] }),
      ).rejects.toThrow(/does not match/);
      await log.idle();
      expect(log.size).toBe(1);
      const child = await log.append({ ...decision(2), parents: [0] });
      expect(child.receipt.parents).toEqual([
        { index: 0, leafHash: toHex((await log.getEntry(0)).leafHash) },
      ]);
      await log.close();
    });

    it('rejects proof requests outside the log', async () => {
      const log = await open(await create());
      await expect(log.inclusionProof(0)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await log.append(decision(0));
      await expect(log.inclusionProof(0, 2)).rejects.toBeInstanceOf(LogError);
      await expect(log.inclusionProof(1, 1)).rejects.toThrow(/not below/);
      await expect(log.consistencyProof(2, 1)).rejects.toThrow(/exceeds|between/);
      await expect(log.getEntry(9)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await log.close();
    });

    it('resumes after reopening and serializes two writers on one storage without loss', async () => {
      const storage = await create();
      const a = await open(storage);
      const first = await Promise.all(Array.from({ length: 300 }, (_, i) => a.append(decision(i))));
      const root300 = toHex(await a.rootAt(300));
      const b = await open(storage);
      expect(b.size).toBe(300);
      expect(toHex(await b.rootAt(300))).toBe(root300);
      // Interleave two writers (as two processes would): storage rejects stale writers, which re-sequence.
      const more = await Promise.all(
        Array.from({ length: 400 }, (_, i) => (i % 2 ? a : b).append(decision(1000 + i))),
      );
      const all = [...first, ...more].map((r) => r.index).sort((x, y) => x - y);
      expect(all).toEqual(Array.from({ length: 700 }, (_, i) => i));
      await b.checkpoint();
      const report = await verifyLog({
        storage,
        origin: ORIGIN,
        verifierKey: key.verifierKey,
        hasher: nodeHasher,
        full: true,
      });
      expect(report).toMatchObject({ ok: true, size: 700, entriesChecked: 700 });
      await a.close();
      await b.close();
    });

    it('three busy writers on one storage: each backs off and retries, nothing is lost', async () => {
      const storage = await create();
      const writers = [await open(storage), await open(storage), await open(storage)];
      // Each writer appends in many small waves, so their batches keep colliding (as an import beside two servers).
      const results = await Promise.all(
        writers.map(async (w, k) => {
          const out = [];
          for (let wave = 0; wave < 40; wave++)
            out.push(
              ...(await Promise.all(
                Array.from({ length: 10 }, (_, i) => w.append(decision(k * 10_000 + wave * 10 + i))),
              )),
            );
          return out;
        }),
      );
      const all = results
        .flat()
        .map((r) => r.index)
        .sort((x, y) => x - y);
      expect(all).toEqual(Array.from({ length: 1200 }, (_, i) => i));
      for (const w of writers) await w.close();
    }, 120_000);
  });
}
