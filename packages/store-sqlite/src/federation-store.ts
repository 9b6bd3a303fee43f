// SQLite FederationStore: peers, witness state, verified mirrors and collected cosignatures in the node's
// database. Each method is one transaction on the given connection (WAL; durability as the connection is set).
import type Database from 'better-sqlite3';
import {
  FederationError,
  type FederationStore,
  type MirrorEntry,
  type MirrorState,
  type PeerRecord,
  type StoredCosignature,
  type WitnessState,
} from '@vaultmesh/federation';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS fed_peers (name TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fed_witness (peer TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fed_mirror_state (peer TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fed_mirror_entries (
  peer TEXT NOT NULL,
  idx INTEGER NOT NULL,
  leaf_hash TEXT NOT NULL,
  bytes BLOB NOT NULL,
  PRIMARY KEY (peer, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fed_cosignatures (
  size INTEGER NOT NULL,
  witness TEXT NOT NULL,
  line TEXT NOT NULL,
  timestamp INTEGER NOT NULL,
  PRIMARY KEY (size, witness)
);
`;

const parse = <T>(row: { doc: string } | undefined): T | undefined =>
  row ? (JSON.parse(row.doc) as T) : undefined;

/** A FederationStore over an open database (creates its tables). */
export function createSqliteFederationStore(db: Database.Database): FederationStore {
  db.exec(SCHEMA);
  const q = {
    listPeers: db.prepare<[], { doc: string }>('SELECT doc FROM fed_peers ORDER BY name'),
    getPeer: db.prepare<[string], { doc: string }>('SELECT doc FROM fed_peers WHERE name = ?'),
    putPeer: db.prepare(
      'INSERT INTO fed_peers (name, doc) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET doc = excluded.doc',
    ),
    delPeer: db.prepare('DELETE FROM fed_peers WHERE name = ?'),
    getWitness: db.prepare<[string], { doc: string }>('SELECT doc FROM fed_witness WHERE peer = ?'),
    putWitness: db.prepare(
      'INSERT INTO fed_witness (peer, doc) VALUES (?, ?) ON CONFLICT(peer) DO UPDATE SET doc = excluded.doc',
    ),
    getMirror: db.prepare<[string], { doc: string }>('SELECT doc FROM fed_mirror_state WHERE peer = ?'),
    putMirror: db.prepare(
      'INSERT INTO fed_mirror_state (peer, doc) VALUES (?, ?) ON CONFLICT(peer) DO UPDATE SET doc = excluded.doc',
    ),
    countEntries: db.prepare<[string], { n: number | null }>(
      'SELECT max(idx) + 1 AS n FROM fed_mirror_entries WHERE peer = ?',
    ),
    insertEntry: db.prepare(
      'INSERT INTO fed_mirror_entries (peer, idx, leaf_hash, bytes) VALUES (?, ?, ?, ?)',
    ),
    entries: db.prepare<[string, number, number], { idx: number; leaf_hash: string; bytes: Buffer }>(
      'SELECT idx, leaf_hash, bytes FROM fed_mirror_entries WHERE peer = ? AND idx >= ? ORDER BY idx LIMIT ?',
    ),
    putCosig: db.prepare(
      'INSERT INTO fed_cosignatures (size, witness, line, timestamp) VALUES (?, ?, ?, ?) ON CONFLICT(size, witness) DO UPDATE SET line = excluded.line, timestamp = excluded.timestamp',
    ),
    cosigs: db.prepare<[number], StoredCosignature>(
      'SELECT size, witness, line, timestamp FROM fed_cosignatures WHERE size = ? ORDER BY witness',
    ),
  };
  const commit = db.transaction((peer: string, chunk: readonly MirrorEntry[], state: MirrorState) => {
    const have = q.countEntries.get(peer)?.n ?? 0;
    if (chunk.length && chunk[0]!.index !== have)
      throw new FederationError(
        'INVALID_ARGUMENT',
        `mirror of ${peer} holds ${have} entries; a chunk must start there, not at ${chunk[0]!.index}`,
      );
    for (const e of chunk) q.insertEntry.run(peer, e.index, e.leafHash, Buffer.from(e.bytes));
    q.putMirror.run(peer, JSON.stringify(state));
  });
  return {
    listPeers: async () => q.listPeers.all().map((r) => JSON.parse(r.doc) as PeerRecord),
    getPeer: async (name) => parse<PeerRecord>(q.getPeer.get(name)),
    putPeer: async (p) => void q.putPeer.run(p.name, JSON.stringify(p)),
    removePeer: async (name) => q.delPeer.run(name).changes > 0,
    getWitnessState: async (peer) => parse<WitnessState>(q.getWitness.get(peer)),
    putWitnessState: async (s) => void q.putWitness.run(s.peer, JSON.stringify(s)),
    getMirrorState: async (peer) => parse<MirrorState>(q.getMirror.get(peer)),
    commitMirrorChunk: async (peer, chunk, state) => commit(peer, chunk, state),
    mirrorEntries: async (peer, start, limit) =>
      q.entries.all(peer, start, limit).map((r) => ({
        index: r.idx,
        leafHash: r.leaf_hash,
        bytes: new Uint8Array(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength),
      })),
    putCosignature: async (c) => void q.putCosig.run(c.size, c.witness, c.line, c.timestamp),
    listCosignatures: async (size) => q.cosigs.all(size),
  };
}
