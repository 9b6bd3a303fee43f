// PostgreSQL FederationStore: peers, witness state, verified mirrors and collected cosignatures. A mirror chunk and
// the mirror's new state are one transaction under a per-peer advisory lock, so two nodes cannot interleave chunks.
import type pg from 'pg';
import {
  FederationError,
  type FederationStore,
  type MirrorEntry,
  type MirrorState,
  type PeerRecord,
  type StoredCosignature,
  type WitnessState,
} from '@vaultmesh/federation';
import { logError, inTransaction } from './log-storage.ts';

const parse = <T>(row: { doc: string } | undefined): T | undefined =>
  row ? (JSON.parse(row.doc) as T) : undefined;

/** A FederationStore over a pool whose search_path is the VaultMesh schema. */
export function createFederationStore(pool: pg.Pool, url: string): FederationStore {
  const q = async <R extends pg.QueryResultRow>(what: string, sql: string, args: unknown[] = []) => {
    try {
      return (await pool.query<R>(sql, args)).rows;
    } catch (err) {
      throw logError(err, url, what);
    }
  };
  const upsertDoc = (table: string, key: string) =>
    `INSERT INTO ${table} (${key}, doc) VALUES ($1, $2) ON CONFLICT (${key}) DO UPDATE SET doc = excluded.doc`;
  return {
    listPeers: async () =>
      (await q<{ doc: string }>('listing peers', 'SELECT doc FROM fed_peers ORDER BY name')).map(
        (r) => JSON.parse(r.doc) as PeerRecord,
      ),
    getPeer: async (name) =>
      parse<PeerRecord>(
        (await q<{ doc: string }>('reading a peer', 'SELECT doc FROM fed_peers WHERE name = $1', [name]))[0],
      ),
    putPeer: async (p) =>
      void (await q('storing a peer', upsertDoc('fed_peers', 'name'), [p.name, JSON.stringify(p)])),
    removePeer: async (name) =>
      (await q('removing a peer', 'DELETE FROM fed_peers WHERE name = $1 RETURNING name', [name])).length > 0,
    getWitnessState: async (peer) =>
      parse<WitnessState>(
        (
          await q<{ doc: string }>('reading witness state', 'SELECT doc FROM fed_witness WHERE peer = $1', [
            peer,
          ])
        )[0],
      ),
    putWitnessState: async (s) =>
      void (await q('storing witness state', upsertDoc('fed_witness', 'peer'), [s.peer, JSON.stringify(s)])),
    getMirrorState: async (peer) =>
      parse<MirrorState>(
        (
          await q<{ doc: string }>(
            'reading mirror state',
            'SELECT doc FROM fed_mirror_state WHERE peer = $1',
            [peer],
          )
        )[0],
      ),
    async commitMirrorChunk(peer, chunk: readonly MirrorEntry[], state: MirrorState) {
      try {
        await inTransaction(pool, async (c) => {
          await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`vaultmesh:mirror:${peer}`]);
          const have = Number(
            (
              await c.query<{ n: number | null }>(
                'SELECT max(idx) + 1 AS n FROM fed_mirror_entries WHERE peer = $1',
                [peer],
              )
            ).rows[0]?.n ?? 0,
          );
          if (chunk.length && chunk[0]!.index !== have)
            throw new FederationError(
              'INVALID_ARGUMENT',
              `mirror of ${peer} holds ${have} entries; a chunk must start there, not at ${chunk[0]!.index}`,
            );
          if (chunk.length)
            await c.query(
              `INSERT INTO fed_mirror_entries (peer, idx, leaf_hash, bytes)
               SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::bytea[])`,
              [
                peer,
                chunk.map((e) => e.index),
                chunk.map((e) => e.leafHash),
                chunk.map((e) => Buffer.from(e.bytes)),
              ],
            );
          await c.query(upsertDoc('fed_mirror_state', 'peer'), [peer, JSON.stringify(state)]);
        });
      } catch (err) {
        if (err instanceof FederationError) throw err;
        throw logError(err, url, 'storing a mirror chunk');
      }
    },
    mirrorEntries: async (peer, start, limit) =>
      (
        await q<{ idx: number; leaf_hash: string; bytes: Buffer }>(
          'reading mirrored entries',
          'SELECT idx, leaf_hash, bytes FROM fed_mirror_entries WHERE peer = $1 AND idx >= $2 ORDER BY idx LIMIT $3',
          [peer, start, limit],
        )
      ).map((r) => ({
        index: r.idx,
        leafHash: r.leaf_hash,
        bytes: new Uint8Array(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength),
      })),
    putCosignature: async (c: StoredCosignature) =>
      void (await q(
        'storing a cosignature',
        'INSERT INTO fed_cosignatures (size, witness, line, timestamp) VALUES ($1, $2, $3, $4) ON CONFLICT (size, witness) DO UPDATE SET line = excluded.line, timestamp = excluded.timestamp',
        [c.size, c.witness, c.line, c.timestamp],
      )),
    listCosignatures: async (size) =>
      q<StoredCosignature>(
        'listing cosignatures',
        'SELECT size, witness, line, timestamp FROM fed_cosignatures WHERE size = $1 ORDER BY witness',
        [size],
      ),
  };
}
