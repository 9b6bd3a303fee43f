// How complete tree nodes are packed into stored tiles (an internal layout, not the C2SP wire format).
//
// A stored tile at tile level T, index t holds the subtree whose bottom row is the level-8T nodes
// [256t, 256t + 256). Rows r = 0..7 hold the level-(8T + r) nodes, 256 >> r of them, one after another,
// so any complete node is one slot read away and proofs need no recomputation. The C2SP tile is row 0.
import { HASH_SIZE, TILE_HEIGHT, TILE_WIDTH } from '@vaultmesh/ledger';

/** Hash slots in a stored tile: 256 + 128 + ... + 2. */
export const TILE_SLOTS = 2 * TILE_WIDTH - 2;
export const TILE_BYTES = TILE_SLOTS * HASH_SIZE;

/** Where a node lives: its tile and slot. */
export interface NodeLocation {
  readonly tileLevel: number;
  readonly tileIndex: number;
  readonly row: number;
  readonly slot: number;
  /** Bottom-row width the tile needs for this node to be complete. */
  readonly minWidth: number;
}

/** First slot of row r. */
export function rowOffset(row: number): number {
  return 2 * TILE_WIDTH - ((2 * TILE_WIDTH) >> row);
}

/** Locates the complete node (level, index) in the stored tiles. */
export function locateNode(level: number, index: number): NodeLocation {
  const tileLevel = Math.floor(level / TILE_HEIGHT);
  const row = level - tileLevel * TILE_HEIGHT;
  const perRow = TILE_WIDTH >> row;
  const tileIndex = Math.floor(index / perRow);
  const pos = index - tileIndex * perRow;
  return { tileLevel, tileIndex, row, slot: rowOffset(row) + pos, minWidth: (pos + 1) << row };
}

/** Number of level-8T nodes in a tree of `size` leaves. */
export function nodesAtTileLevel(size: number, tileLevel: number): number {
  return Math.floor(size / 2 ** (TILE_HEIGHT * tileLevel));
}

/** The expected width of tile (level, index) in a tree of `size` leaves (0 when it should not exist). */
export function expectedTileWidth(size: number, tileLevel: number, tileIndex: number): number {
  const n = nodesAtTileLevel(size, tileLevel) - tileIndex * TILE_WIDTH;
  return Math.max(0, Math.min(TILE_WIDTH, n));
}

/** Number of tile levels that hold at least one node for a tree of `size` leaves. */
export function tileLevels(size: number): number {
  let levels = 0;
  while (nodesAtTileLevel(size, levels) > 0) levels++;
  return levels;
}

/** Reads slot `slot` of a tile blob. */
export function readSlot(data: Uint8Array, slot: number): Uint8Array {
  return data.subarray(slot * HASH_SIZE, (slot + 1) * HASH_SIZE);
}
