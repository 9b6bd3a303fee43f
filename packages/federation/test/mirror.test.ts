// Witnessing and mirroring against an in-process peer (a real Log in memory behind a PeerClient): resumable
// verified mirroring, a changed entry caught before anything of its chunk is stored, equivocation caught with both
// signed notes as evidence, and stale answers tolerated.
import { generateNodeKey, nodeEd25519Verify, nodeHasher } from '@vaultmesh/attest';
import { toHex } from '@vaultmesh/ledger';
import { Log, createMemoryStorage } from '@vaultmesh/log';
import { describe, expect, it } from 'vitest';
import {
  FederationError,
  createMemoryFederationStore,
  mirrorPeer,
  verifyCosignature,
  witnessPeer,
  type PeerClient,
  type PeerRecord,
} from '../src/index.ts';

async function peerLog(n: number, label = 'p') {
  const key = generateNodeKey('peer.test/log');
  const log = await Log.open({
    storage: createMemoryStorage(),
    origin: key.name,
    signer: key.signer,
    hasher: nodeHasher,
  });
  for (let i = 0; i < n; i++)
    void log.append({ kind: 'decision', actor: 't', tenant: 'acme', body: { title: `${label}${i}` } });
  await log.idle();
  await log.checkpoint();
  return { key, log };
}

/** A PeerClient over a Log; `tamper` may change served entry bytes, `note` may override the checkpoint. */
function clientOf(
  log: Log,
  opts: {
    tamper?: (index: number, bytes: Uint8Array) => Uint8Array;
    note?: () => string;
    calls?: string[];
  } = {},
): PeerClient & { cosignatures: string[] } {
  const cosignatures: string[] = [];
  return {
    cosignatures,
    async checkpoint() {
      opts.calls?.push('checkpoint');
      return opts.note?.() ?? (await log.latestCheckpoint())!.note;
    },
    async consistencyProof(from, to) {
      return (await log.consistencyProof(from, to)).map(toHex);
    },
    async entryBundle(n, treeSize) {
      opts.calls?.push(`bundle ${n}`);
      const start = n * 256;
      const end = Math.min(treeSize, start + 256);
      const out: Uint8Array[] = [];
      for (let i = start; i < end; i++) {
        const e = await log.getEntry(i);
        out.push(opts.tamper ? opts.tamper(i, e.bytes) : e.bytes);
      }
      return out;
    },
    async postCosignature(_note, line) {
      cosignatures.push(line);
    },
    async requestMerge() {
      throw new Error('not used');
    },
  };
}

const me = generateNodeKey('me.test/log');
const deps = () => {
  const recorded: { kind: string; body: Record<string, unknown> }[] = [];
  return {
    recorded,
    store: createMemoryFederationStore(),
    hasher: nodeHasher,
    ed25519Verify: nodeEd25519Verify,
    cosigner: { name: me.name, publicKey: me.publicKey, sign: (m: Uint8Array) => me.signer.sign(m) },
    receipts: {
      async append(i: { kind: string; body: Record<string, unknown> }) {
        recorded.push(i);
        return { index: recorded.length - 1, leafHash: '00'.repeat(32) };
      },
    },
  };
};
const peerRecord = (key: { name: string; verifierKeyText: string }): PeerRecord => ({
  name: 'p',
  url: 'http://peer.invalid',
  origin: key.name,
  verifierKey: key.verifierKeyText,
  addedAt: new Date().toISOString(),
  trusted: true,
});

describe('mirroring a peer', () => {
  it('stores every entry verified against the signed checkpoint, resumes after an interruption, and is idempotent', async () => {
    const { key, log } = await peerLog(3000);
    const d = deps();
    await d.store.putPeer(peerRecord(key));
    const ac = new AbortController();
    const first = await mirrorPeer(peerRecord(key), clientOf(log), {
      ...d,
      chunkEntries: 512,
      signal: ac.signal,
      onProgress: (done) => {
        if (done >= 1024) ac.abort();
      },
    });
    expect(first.size).toBe(1024);
    const calls: string[] = [];
    const second = await mirrorPeer(peerRecord(key), clientOf(log, { calls }), { ...d, chunkEntries: 512 });
    expect(second).toMatchObject({ size: 3000, checkpointSize: 3000, fetched: 1976 });
    // Resumed at bundle 4 (entry 1024), never refetching what was stored.
    expect(calls.filter((c) => c.startsWith('bundle'))[0]).toBe('bundle 4');
    const stored = await d.store.mirrorEntries('p', 0, 5000);
    expect(stored.map((e) => e.index)).toEqual(Array.from({ length: 3000 }, (_, i) => i));
    expect(toHex((await log.getEntry(2999)).leafHash)).toBe(stored[2999]!.leafHash);
    expect((await mirrorPeer(peerRecord(key), clientOf(log), d)).fetched).toBe(0);
  });

  it('catches a changed entry: nothing of its chunk is stored, the peer is flagged with a receipt', async () => {
    const { key, log } = await peerLog(1500);
    const d = deps();
    await d.store.putPeer(peerRecord(key));
    const tamper = (i: number, b: Uint8Array) =>
      i === 1100 ? new TextEncoder().encode(new TextDecoder().decode(b).replace('p1100', 'p1101')) : b;
    const err = (await mirrorPeer(peerRecord(key), clientOf(log, { tamper }), {
      ...d,
      chunkEntries: 512,
    }).catch((e: unknown) => e)) as FederationError;
    expect(err).toBeInstanceOf(FederationError);
    expect(err.code).toBe('INCONSISTENT');
    const state = await d.store.getMirrorState('p');
    expect(state!.size).toBe(1024); // the two good chunks; not one entry of the bad one
    expect((await d.store.mirrorEntries('p', 1024, 1000)).length).toBe(0);
    expect(d.recorded.map((r) => r.body.operation)).toEqual(['inconsistent-history']);
    expect((await d.store.getPeer('p'))!.trusted).toBe(false);
    await expect(mirrorPeer((await d.store.getPeer('p'))!, clientOf(log), d)).rejects.toThrow(/untrusted/);
  });
});

describe('witnessing a peer', () => {
  it('cosigns a consistent checkpoint and hands the cosignature back; the same one again is unchanged', async () => {
    const { key, log } = await peerLog(10);
    const d = deps();
    await d.store.putPeer(peerRecord(key));
    const client = clientOf(log);
    const w = await witnessPeer(peerRecord(key), client, d);
    expect(w).toMatchObject({ status: 'cosigned', size: 10, delivered: true });
    const body = (await log.latestCheckpoint())!.note.split('\n\n')[0] + '\n';
    expect(
      verifyCosignature(body, client.cosignatures[0]!, { name: me.name, publicKey: me.publicKey }),
    ).toBeTruthy();
    expect((await witnessPeer(peerRecord(key), client, d)).status).toBe('unchanged');
    for (let i = 0; i < 5; i++)
      void log.append({ kind: 'decision', actor: 't', tenant: 'acme', body: { title: `more${i}` } });
    await log.idle();
    await log.checkpoint();
    expect(await witnessPeer(peerRecord(key), client, d)).toMatchObject({ status: 'cosigned', size: 15 });
  });

  it('flags a peer that signs two different checkpoints of one size, recording both notes', async () => {
    const honest = await peerLog(8, 'h');
    const d = deps();
    await d.store.putPeer(peerRecord(honest.key));
    await witnessPeer(peerRecord(honest.key), clientOf(honest.log), d);
    // The same key signs a different history of the same size.
    const forked = await Log.open({
      storage: createMemoryStorage(),
      origin: honest.key.name,
      signer: honest.key.signer,
      hasher: nodeHasher,
    });
    for (let i = 0; i < 8; i++)
      void forked.append({ kind: 'decision', actor: 't', tenant: 'acme', body: { title: `f${i}` } });
    await forked.idle();
    await forked.checkpoint();
    const err = (await witnessPeer(peerRecord(honest.key), clientOf(forked), d).catch(
      (e: unknown) => e,
    )) as FederationError;
    expect(err.code).toBe('EQUIVOCATION');
    const ev = d.recorded[0]!;
    expect(ev.body.operation).toBe('equivocation');
    expect(ev.body.checkpoints).toEqual([
      (await honest.log.latestCheckpoint())!.note,
      (await forked.latestCheckpoint())!.note,
    ]);
    expect((await d.store.getPeer('p'))!.trusted).toBe(false);
  });

  it('refuses a checkpoint not signed by the configured key, without flagging the peer', async () => {
    const { key, log } = await peerLog(3);
    const other = generateNodeKey(key.name);
    const d = deps();
    const rec = { ...peerRecord(key), verifierKey: other.verifierKeyText };
    await d.store.putPeer(rec);
    await expect(witnessPeer(rec, clientOf(log), d)).rejects.toThrow(/not signed by its configured key/);
    expect(d.recorded).toEqual([]);
  });
});
