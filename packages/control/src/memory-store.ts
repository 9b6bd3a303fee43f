// In-memory ControlStore (tests, and nodes that need no persistence). Same semantics as the SQLite driver.
import { StoreError, type ControlDoc, type ControlStore } from '@vaultmesh/types';

/** Creates an empty in-memory store; documents are deep-copied in and out. */
export function createMemoryControlStore(now: () => number = Date.now): ControlStore {
  const docs = new Map<string, ControlDoc>();
  const key = (c: string, id: string) => `${c}\u0000${id}`;
  const copy = <T>(d: ControlDoc<T>): ControlDoc<T> => ({ ...d, doc: structuredClone(d.doc) });
  return {
    async get<T>(collection: string, id: string) {
      const d = docs.get(key(collection, id));
      return d ? copy(d as ControlDoc<T>) : undefined;
    },
    async put<T>(collection: string, id: string, doc: T, opts: { expectedVersion?: number } = {}) {
      const k = key(collection, id);
      const cur = docs.get(k);
      const version = cur?.version ?? 0;
      if (opts.expectedVersion !== undefined && opts.expectedVersion !== version)
        throw new StoreError(
          'CONFLICT',
          `${collection}/${id} is at version ${version}, expected ${opts.expectedVersion}`,
          { evidence: { collection, id, expected: opts.expectedVersion, found: version } },
        );
      const next: ControlDoc<T> = {
        collection,
        id,
        version: version + 1,
        doc: structuredClone(doc),
        updatedAt: now(),
      };
      docs.set(k, next);
      return copy(next);
    },
    async list<T>(collection: string, opts: { prefix?: string; limit?: number } = {}) {
      const out = [...docs.values()]
        .filter((d) => d.collection === collection && (!opts.prefix || d.id.startsWith(opts.prefix)))
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      return out.slice(0, opts.limit ?? out.length).map((d) => copy(d as ControlDoc<T>));
    },
    async delete(collection: string, id: string) {
      return docs.delete(key(collection, id));
    },
  };
}
