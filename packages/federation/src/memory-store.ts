// FederationStore in memory (tests, ephemeral nodes).
import type {
  FederationStore,
  MirrorEntry,
  MirrorState,
  PeerRecord,
  StoredCosignature,
  WitnessState,
} from './ports.ts';
import { FederationError } from './errors.ts';

/** A FederationStore that keeps everything in maps. */
export function createMemoryFederationStore(): FederationStore {
  const peers = new Map<string, PeerRecord>();
  const witness = new Map<string, WitnessState>();
  const mirror = new Map<string, MirrorState>();
  const entries = new Map<string, MirrorEntry[]>();
  const cosigs = new Map<string, StoredCosignature>();
  return {
    listPeers: async () => [...peers.values()].sort((a, b) => a.name.localeCompare(b.name)),
    getPeer: async (name) => peers.get(name),
    putPeer: async (p) => void peers.set(p.name, { ...p }),
    removePeer: async (name) => peers.delete(name),
    getWitnessState: async (peer) => witness.get(peer),
    putWitnessState: async (s) => void witness.set(s.peer, { ...s }),
    getMirrorState: async (peer) => mirror.get(peer),
    async commitMirrorChunk(peer, chunk, state) {
      const have = entries.get(peer) ?? [];
      if (chunk.length && chunk[0]!.index !== have.length)
        throw new FederationError(
          'INVALID_ARGUMENT',
          `mirror of ${peer} holds ${have.length} entries; a chunk must start there, not at ${chunk[0]!.index}`,
        );
      entries.set(peer, [...have, ...chunk]);
      mirror.set(peer, { ...state });
    },
    mirrorEntries: async (peer, start, limit) => (entries.get(peer) ?? []).slice(start, start + limit),
    putCosignature: async (c) => void cosigs.set(`${c.size}\u0000${c.witness}`, { ...c }),
    listCosignatures: async (size) =>
      [...cosigs.values()].filter((c) => c.size === size).sort((a, b) => a.witness.localeCompare(b.witness)),
  };
}
