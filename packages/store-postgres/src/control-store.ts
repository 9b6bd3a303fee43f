// PostgreSQL ControlStore: control-plane documents in table control_docs, each put one atomic statement (an insert
// that must not conflict, an update guarded by the expected version, or an upsert that bumps it), durable at commit.
import type pg from 'pg';
import { StoreError, type ControlDoc, type ControlStore } from '@vaultmesh/types';
import { isUnavailable, pgMessage } from './connect.ts';

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

/** A pg failure as a StoreError (UNAVAILABLE when the server cannot be reached). */
function storeError(err: unknown, url: string, what: string): StoreError {
  if (err instanceof StoreError) return err;
  return new StoreError(isUnavailable(err) ? 'UNAVAILABLE' : 'STORAGE', `${what}: ${pgMessage(err, url)}`, {
    cause: err,
  });
}

/** A ControlStore over a pool whose search_path is the VaultMesh schema. */
export function createControlStore(pool: pg.Pool, url: string, now: () => number = Date.now): ControlStore {
  const q = async (what: string, sql: string, args: unknown[]) => {
    try {
      return (await pool.query<DocRow>(sql, args)).rows;
    } catch (err) {
      throw storeError(err, url, what);
    }
  };
  const conflict = async (collection: string, id: string, expected: number) => {
    const cur = await q(
      'reading a document',
      'SELECT version FROM control_docs WHERE collection = $1 AND id = $2',
      [collection, id],
    );
    const found = cur[0]?.version ?? 0;
    return new StoreError('CONFLICT', `${collection}/${id} is at version ${found}, expected ${expected}`, {
      evidence: { collection, id, expected, found },
    });
  };
  return {
    async get<T>(collection: string, id: string) {
      const r = await q(
        'reading a document',
        'SELECT * FROM control_docs WHERE collection = $1 AND id = $2',
        [collection, id],
      );
      return r[0] ? toDoc<T>(r[0]) : undefined;
    },
    async put<T>(collection: string, id: string, doc: T, opts: { expectedVersion?: number } = {}) {
      const json = JSON.stringify(doc);
      if (json === undefined) throw new StoreError('INVALID_ARGUMENT', 'document is not JSON-serializable');
      const at = now();
      const expected = opts.expectedVersion;
      const rows =
        expected === 0
          ? await q(
              'storing a document',
              'INSERT INTO control_docs (collection, id, version, doc, updated_at) VALUES ($1, $2, 1, $3, $4) ON CONFLICT (collection, id) DO NOTHING RETURNING version',
              [collection, id, json, at],
            )
          : expected !== undefined
            ? await q(
                'storing a document',
                'UPDATE control_docs SET version = version + 1, doc = $3, updated_at = $4 WHERE collection = $1 AND id = $2 AND version = $5 RETURNING version',
                [collection, id, json, at, expected],
              )
            : await q(
                'storing a document',
                'INSERT INTO control_docs AS d (collection, id, version, doc, updated_at) VALUES ($1, $2, 1, $3, $4) ON CONFLICT (collection, id) DO UPDATE SET version = d.version + 1, doc = excluded.doc, updated_at = excluded.updated_at RETURNING version',
                [collection, id, json, at],
              );
      if (!rows[0]) throw await conflict(collection, id, expected ?? 0);
      return { collection, id, version: rows[0].version, doc: JSON.parse(json) as T, updatedAt: at };
    },
    async list<T>(collection: string, opts: { prefix?: string; limit?: number } = {}) {
      const limit = opts.limit !== undefined && opts.limit >= 0 ? opts.limit : null;
      const rows = opts.prefix
        ? await q(
            'listing documents',
            'SELECT * FROM control_docs WHERE collection = $1 AND starts_with(id, $2) ORDER BY id LIMIT $3',
            [collection, opts.prefix, limit],
          )
        : await q(
            'listing documents',
            'SELECT * FROM control_docs WHERE collection = $1 ORDER BY id LIMIT $2',
            [collection, limit],
          );
      return rows.map((r) => toDoc<T>(r));
    },
    async delete(collection: string, id: string) {
      const rows = await q(
        'deleting a document',
        'DELETE FROM control_docs WHERE collection = $1 AND id = $2 RETURNING version',
        [collection, id],
      );
      return rows.length > 0;
    },
  };
}
