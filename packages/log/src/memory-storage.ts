// In-memory LogStorage: for tests and ephemeral nodes. Not durable across restarts, by design.
import { LogError } from './errors.ts';
import type {
  CommitBatch,
  EntryFilter,
  LogStorage,
  StoredAnchor,
  StoredCheckpoint,
  StoredEntry,
  StoredTile,
} from './storage.ts';

const textDecoder = new TextDecoder();
const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Creates an empty in-memory storage; commits are atomic (validated before any mutation). */
export function createMemoryStorage(): LogStorage {
  const entries: StoredEntry[] = [];
  const tiles = new Map<string, StoredTile>();
  const checkpoints = new Map<number, StoredCheckpoint>();
  const anchors = new Map<string, StoredAnchor>();
  const meta = new Map<string, string>();
  let closed = false;
  const open = () => {
    if (closed) throw new LogError('CLOSED', 'storage is closed');
  };
  const copyEntry = (e: StoredEntry): StoredEntry => ({
    ...e,
    leafHash: e.leafHash.slice(),
    bytes: e.bytes.slice(),
  });
  const copyTile = (t: StoredTile): StoredTile => ({ ...t, data: t.data.slice() });

  return {
    async size() {
      open();
      return entries.length;
    },
    async commit(batch: CommitBatch) {
      open();
      if (batch.expectedSize !== entries.length) {
        throw new LogError('CONFLICT', `expected size ${batch.expectedSize}, storage has ${entries.length}`);
      }
      const tail = entries[entries.length - 1];
      if (batch.expectedTail && (!tail || !sameBytes(tail.leafHash, batch.expectedTail))) {
        throw new LogError('CONFLICT', `entry ${entries.length - 1} is not the expected tail`);
      }
      batch.entries.forEach((e, i) => {
        if (e.index !== entries.length + i)
          throw new LogError('INVALID_ARGUMENT', `entry index ${e.index} is out of sequence`);
      });
      for (const t of batch.tiles) {
        const old = tiles.get(`${t.level}/${t.index}`);
        if (old && old.width > t.width) throw new LogError('INVALID_ARGUMENT', 'tile width cannot shrink');
      }
      for (const e of batch.entries) entries.push(copyEntry(e));
      for (const t of batch.tiles) tiles.set(`${t.level}/${t.index}`, copyTile(t));
    },
    async getEntry(index) {
      open();
      const e = entries[index];
      return e ? copyEntry(e) : undefined;
    },
    async getEntries(start, end) {
      open();
      return entries.slice(Math.max(0, start), Math.max(0, end)).map(copyEntry);
    },
    async listEntries(f: EntryFilter) {
      open();
      const desc = f.order === 'desc';
      const out: StoredEntry[] = [];
      const match = (e: StoredEntry) =>
        (f.kind === undefined || e.kind === f.kind) &&
        (f.tenants === undefined || f.tenants.includes(e.tenant)) &&
        (f.fromTime === undefined || e.time >= f.fromTime) &&
        (f.toTime === undefined || e.time <= f.toTime) &&
        (f.after === undefined || e.index > f.after) &&
        (f.before === undefined || e.index < f.before) &&
        (f.text === undefined || textDecoder.decode(e.bytes).includes(f.text));
      for (let k = 0; k < entries.length && out.length < f.limit; k++) {
        const e = entries[desc ? entries.length - 1 - k : k]!;
        if (match(e)) out.push(copyEntry(e));
      }
      return out;
    },
    async getTile(level, index) {
      open();
      const t = tiles.get(`${level}/${index}`);
      return t ? copyTile(t) : undefined;
    },
    async *listTiles() {
      open();
      const sorted = [...tiles.values()].sort((a, b) => a.level - b.level || a.index - b.index);
      for (const t of sorted) yield copyTile(t);
    },
    async putCheckpoint(cp) {
      open();
      if (!checkpoints.has(cp.size)) checkpoints.set(cp.size, { ...cp, root: cp.root.slice() });
    },
    async getCheckpoint(size) {
      open();
      if (size === undefined) {
        let best: StoredCheckpoint | undefined;
        for (const cp of checkpoints.values()) if (!best || cp.size > best.size) best = cp;
        return best;
      }
      return checkpoints.get(size);
    },
    async listCheckpoints() {
      open();
      return [...checkpoints.values()].sort((a, b) => a.size - b.size);
    },
    async putAnchor(a) {
      open();
      const k = `${a.size}/${a.authority}`;
      if (!anchors.has(k)) anchors.set(k, { ...a, proof: a.proof.slice() });
    },
    async listAnchors(size) {
      open();
      return [...anchors.values()]
        .filter((a) => size === undefined || a.size === size)
        .sort(
          (a, b) => a.size - b.size || (a.authority < b.authority ? -1 : a.authority > b.authority ? 1 : 0),
        )
        .map((a) => ({ ...a, proof: a.proof.slice() }));
    },
    async getMeta(key) {
      open();
      return meta.get(key);
    },
    async setMeta(key, value) {
      open();
      meta.set(key, value);
    },
    async close() {
      closed = true;
    },
  };
}
