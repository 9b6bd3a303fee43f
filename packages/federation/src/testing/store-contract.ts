// The FederationStore contract: every driver (memory, SQLite, PostgreSQL) must pass this suite unchanged.
import { describe, expect, it } from 'vitest';
import type { FederationStore, MirrorEntry, MirrorState, PeerRecord } from '../ports.ts';

const peer = (name: string, trusted = true): PeerRecord => ({
  name,
  url: `http://127.0.0.1:1/${name}`,
  origin: `${name}.example/log`,
  verifierKey: `${name}.example/log+00000000+AQ`,
  addedAt: '2026-12-01T00:00:00.000Z',
  trusted,
});
const state = (name: string, size: number): MirrorState => ({
  peer: name,
  origin: `${name}.example/log`,
  size,
  rootHash: 'ab'.repeat(32),
  range: { begin: 0, end: size, hashes: [] },
  checkpointNote: 'note\n',
  checkpointSize: size,
  updatedAt: '2026-12-01T00:00:00.000Z',
});
const entries = (from: number, to: number): MirrorEntry[] =>
  Array.from({ length: to - from }, (_, i) => ({
    index: from + i,
    leafHash: (from + i).toString(16).padStart(64, '0'),
    bytes: new Uint8Array([0, 1, 2, 255, from + i]),
  }));

export function federationStoreContract(name: string, create: () => Promise<FederationStore>): void {
  describe(`FederationStore contract: ${name}`, () => {
    it('stores, replaces, lists (by name) and removes peers', async () => {
      const s = await create();
      expect(await s.listPeers()).toEqual([]);
      await s.putPeer(peer('zeta'));
      await s.putPeer(peer('alpha'));
      await s.putPeer(peer('zeta', false));
      expect((await s.listPeers()).map((p) => [p.name, p.trusted])).toEqual([
        ['alpha', true],
        ['zeta', false],
      ]);
      expect(await s.getPeer('alpha')).toEqual(peer('alpha'));
      expect(await s.getPeer('nobody')).toBeUndefined();
      expect(await s.removePeer('alpha')).toBe(true);
      expect(await s.removePeer('alpha')).toBe(false);
      expect((await s.listPeers()).map((p) => p.name)).toEqual(['zeta']);
    });

    it('keeps witness state per peer', async () => {
      const s = await create();
      const w = {
        peer: 'p',
        size: 7,
        rootHash: 'cd'.repeat(32),
        note: 'n\n',
        cosignedAt: 'now',
        delivered: false,
      };
      await s.putWitnessState(w);
      await s.putWitnessState({ ...w, peer: 'q', size: 9 });
      expect(await s.getWitnessState('p')).toEqual(w);
      await s.putWitnessState({ ...w, delivered: true });
      expect(await s.getWitnessState('p')).toMatchObject({ delivered: true, size: 7 });
      expect(await s.getWitnessState('r')).toBeUndefined();
    });

    it('commits mirror chunks in order with their state; a chunk that does not start at the end writes nothing', async () => {
      const s = await create();
      await s.commitMirrorChunk('p', entries(0, 5), state('p', 5));
      await s.commitMirrorChunk('p', entries(5, 8), state('p', 8));
      await expect(s.commitMirrorChunk('p', entries(9, 10), state('p', 10))).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
      await expect(s.commitMirrorChunk('p', entries(3, 10), state('p', 10))).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
      expect(await s.getMirrorState('p')).toEqual(state('p', 8));
      const got = await s.mirrorEntries('p', 0, 100);
      expect(got.map((e) => e.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      expect(got.map((e) => [e.leafHash, [...e.bytes]])).toEqual(
        entries(0, 8).map((e) => [e.leafHash, [...e.bytes]]),
      );
      expect((await s.mirrorEntries('p', 6, 1)).map((e) => e.index)).toEqual([6]);
      // Each peer's mirror is its own.
      expect(await s.mirrorEntries('q', 0, 10)).toEqual([]);
      await s.commitMirrorChunk('q', entries(0, 1), state('q', 1));
      expect(await s.getMirrorState('q')).toEqual(state('q', 1));
    });

    it('keeps one cosignature per (size, witness), listed by witness', async () => {
      const s = await create();
      await s.putCosignature({ size: 10, witness: 'w2', line: '— w2 AAAA', timestamp: 1 });
      await s.putCosignature({ size: 10, witness: 'w1', line: '— w1 BBBB', timestamp: 2 });
      await s.putCosignature({ size: 11, witness: 'w1', line: '— w1 CCCC', timestamp: 3 });
      await s.putCosignature({ size: 10, witness: 'w2', line: '— w2 DDDD', timestamp: 4 });
      expect(await s.listCosignatures(10)).toEqual([
        { size: 10, witness: 'w1', line: '— w1 BBBB', timestamp: 2 },
        { size: 10, witness: 'w2', line: '— w2 DDDD', timestamp: 4 },
      ]);
      expect(await s.listCosignatures(12)).toEqual([]);
    });
  });
}
