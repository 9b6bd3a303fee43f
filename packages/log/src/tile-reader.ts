// Reads complete nodes out of stored tiles, with an LRU cache of full (immutable) tiles.
import {
  TILE_WIDTH,
  foldNodes,
  rootPlan,
  type MerkleHasher,
  type NodeId,
  type ProofElementPlan,
} from '@vaultmesh/ledger';
import { LogError } from './errors.ts';
import type { LogStorage, StoredTile } from './storage.ts';
import { locateNode, readSlot } from './tile-layout.ts';

/** Node access over stored tiles: O(1) tile reads per node and no hash recomputation. */
export class TileReader {
  private readonly cache = new Map<string, StoredTile>();
  constructor(
    private readonly storage: LogStorage,
    private readonly hasher: MerkleHasher,
    private readonly cacheSize = 4096,
  ) {}

  /** Remembers a full tile (full tiles never change). */
  remember(t: StoredTile): void {
    if (t.width !== TILE_WIDTH || this.cacheSize <= 0) return;
    const key = `${t.level}/${t.index}`;
    this.cache.delete(key);
    this.cache.set(key, t);
    if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
  }

  async readTile(level: number, index: number): Promise<StoredTile | undefined> {
    const hit = this.cache.get(`${level}/${index}`);
    if (hit) return hit;
    const t = await this.storage.getTile(level, index);
    if (t) this.remember(t);
    return t;
  }

  /** The hashes of complete nodes; throws STORAGE naming the first missing node. */
  async getNodes(ids: readonly NodeId[]): Promise<Uint8Array[]> {
    const locs = ids.map((id) => locateNode(id.level, id.index));
    // Every tile the nodes live in, read at once (a database driver answers them in parallel, not one by one).
    const wanted = new Map<string, { level: number; index: number }>();
    for (const loc of locs)
      wanted.set(`${loc.tileLevel}/${loc.tileIndex}`, { level: loc.tileLevel, index: loc.tileIndex });
    const keys = [...wanted.keys()];
    const read = await Promise.all(
      keys.map((k) => this.readTile(wanted.get(k)!.level, wanted.get(k)!.index)),
    );
    const tiles = new Map(keys.map((k, i) => [k, read[i]]));
    const out: Uint8Array[] = [];
    for (const [i, id] of ids.entries()) {
      const loc = locs[i]!;
      const key = `${loc.tileLevel}/${loc.tileIndex}`;
      const t = tiles.get(key);
      if (!t || t.width < loc.minWidth) {
        throw new LogError('STORAGE', `node ${id.level}/${id.index} is missing from tile ${key}`);
      }
      out.push(readSlot(t.data, loc.slot).slice());
    }
    return out;
  }

  /** Resolves proof plans into proof hashes. */
  async resolvePlan(plan: readonly ProofElementPlan[]): Promise<Uint8Array[]> {
    const hashes = await this.getNodes(plan.flat());
    const out: Uint8Array[] = [];
    let k = 0;
    for (const el of plan) {
      out.push(foldNodes(this.hasher, hashes.slice(k, k + el.length)));
      k += el.length;
    }
    return out;
  }

  /** MTH of the first `size` entries. */
  async rootAt(size: number): Promise<Uint8Array> {
    if (size === 0) return this.hasher.emptyRoot();
    return foldNodes(this.hasher, await this.getNodes(rootPlan(size)));
  }
}
