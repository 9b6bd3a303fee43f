// SQLite ControlStore: control-plane documents in the node's database (table control_docs), each put one
// durable transaction (WAL, synchronous=FULL as set by openSqliteStorage), compare-and-swap inside it.
import type Database from 'better-sqlite3';
import { StoreError, type ControlDoc, type ControlStore } from '@vaultmesh/types';

interface DocRow {
  collection: string;
  id: string;
  version: number;
  doc: string;
  updated_at: number;
}

const toDoc = <T>(r: DocRow): ControlDoc<T> => ({
  collection: r.collection,
  id: r.id,
  version: r.version,
  doc: JSON.parse(r.doc) as T,
  updatedAt: r.updated_at,
});

/** A ControlStore over an open database (creates its table; shares the connection's durability settings). */
export function createSqliteControlStore(db: Database.Database, now: () => number = Date.now): ControlStore {
  db.exec(`CREATE TABLE IF NOT EXISTS control_docs (
  collection TEXT NOT NULL,
  id TEXT NOT NULL,
  version INTEGER NOT NULL,
  doc TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (collection, id)
)`);
  const q = {
    get: db.prepare<[string, string], DocRow>('SELECT * FROM control_docs WHERE collection = ? AND id = ?'),
    upsert: db.prepare(
      'INSERT INTO control_docs (collection, id, version, doc, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(collection, id) DO UPDATE SET version = excluded.version, doc = excluded.doc, updated_at = excluded.updated_at',
    ),
    list: db.prepare<[string, string, string, number], DocRow>(
      'SELECT * FROM control_docs WHERE collection = ? AND id >= ? AND id < ? ORDER BY id LIMIT ?',
    ),
    listAll: db.prepare<[string, number], DocRow>(
      'SELECT * FROM control_docs WHERE collection = ? ORDER BY id LIMIT ?',
    ),
    del: db.prepare('DELETE FROM control_docs WHERE collection = ? AND id = ?'),
  };
  const put = db.transaction((collection: string, id: string, json: string, expected: number | undefined) => {
    const cur = q.get.get(collection, id);
    const version = cur?.version ?? 0;
    if (expected !== undefined && expected !== version)
      throw new StoreError('CONFLICT', `${collection}/${id} is at version ${version}, expected ${expected}`, {
        evidence: { collection, id, expected, found: version },
      });
    const at = now();
    q.upsert.run(collection, id, version + 1, json, at);
    return { version: version + 1, at };
  });
  return {
    async get<T>(collection: string, id: string) {
      const r = q.get.get(collection, id);
      return r ? toDoc<T>(r) : undefined;
    },
    async put<T>(collection: string, id: string, doc: T, opts: { expectedVersion?: number } = {}) {
      const json = JSON.stringify(doc);
      if (json === undefined) throw new StoreError('INVALID_ARGUMENT', 'document is not JSON-serializable');
      // BEGIN IMMEDIATE: the version read and the write happen under one write lock (other processes wait).
      const r = put.immediate(collection, id, json, opts.expectedVersion);
      return { collection, id, version: r.version, doc: JSON.parse(json) as T, updatedAt: r.at };
    },
    async list<T>(collection: string, opts: { prefix?: string; limit?: number } = {}) {
      const limit = opts.limit ?? -1;
      const rows = opts.prefix
        ? q.list.all(collection, opts.prefix, opts.prefix + '\uffff', limit)
        : q.listAll.all(collection, limit);
      return rows.map((r) => toDoc<T>(r));
    },
    async delete(collection: string, id: string) {
      return q.del.run(collection, id).changes > 0;
    },
  };
}
