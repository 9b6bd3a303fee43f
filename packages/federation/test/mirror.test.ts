// Witnessing and mirroring against an in-process peer (a real Log in memory behind a PeerClient): resumable
// verified mirroring, a changed entry caught before anything of its chunk is stored, equivocation caught with both
// signed notes as evidence, and stale answers tolerated.
import { generateNodeKey, nodeEd25519Verify, nodeHasher } from '@vaultmesh/attest';
import { toHex, verifyCosignature } from '@vaultmesh/ledger';
import { Log, createMemoryStorage } from '@vaultmesh/log';
import { describe, expect, it } from 'vitest';
import {
  FederationError,
  createMemoryFederationStore,
  mirrorPeer,
  verifyMirror,
  type MirrorEntry,
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

describe('witnessing a peer: only cryptographic evidence flags it (issue 13)', () => {
  /** A peer cosigned at size 8 that has grown to 12, whose client `override` changes. */
  async function grown(override: Partial<PeerClient> = {}) {
    const { key, log } = await peerLog(8);
    const d = deps();
    await d.store.putPeer(peerRecord(key));
    await witnessPeer(peerRecord(key), clientOf(log), d);
    for (let i = 0; i < 4; i++)
      void log.append({ kind: 'decision', actor: 't', tenant: 'acme', body: { title: `g${i}` } });
    await log.idle();
    await log.checkpoint();
    const client = { ...clientOf(log), ...override };
    return { key, log, d, client };
  }

  it.each([
    ['a 200 HTML page from a proxy', new SyntaxError('Unexpected token < in JSON at position 0')],
    ['a proof that arrives after the timeout', new DOMException('The operation timed out.', 'TimeoutError')],
    ['a malformed proof', new FederationError('CHECKPOINT_INVALID', 'malformed consistency proof')],
  ])(
    '%s is a failure with backoff, not evidence: nothing is recorded, the peer stays trusted',
    async (_, err) => {
      const { key, d, client } = await grown({
        async consistencyProof() {
          throw err;
        },
      });
      const e = (await witnessPeer(peerRecord(key), client, d).catch((x: unknown) => x)) as FederationError;
      expect(e).toBeInstanceOf(FederationError);
      expect(['PEER_UNREACHABLE', 'CHECKPOINT_INVALID']).toContain(e.code);
      expect(d.recorded).toEqual([]);
      expect((await d.store.getPeer('p'))!.trusted).toBe(true);
    },
  );

  it('a proof that fails once and then verifies is a glitch; one that fails twice is an inconsistent history', async () => {
    let calls = 0;
    const once = await grown();
    const real = once.client.consistencyProof.bind(once.client);
    const flaky = {
      ...once.client,
      async consistencyProof(a: number, b: number) {
        calls++;
        const p = await real(a, b);
        return calls === 1 ? p.map(() => 'ab'.repeat(32)) : p;
      },
    };
    expect((await witnessPeer(peerRecord(once.key), flaky, once.d)).status).toBe('cosigned');
    expect(once.d.recorded).toEqual([]);

    const bad = await grown();
    const lying = {
      ...bad.client,
      async consistencyProof() {
        return ['cd'.repeat(32), 'ef'.repeat(32)];
      },
    };
    const e = (await witnessPeer(peerRecord(bad.key), lying, bad.d).catch(
      (x: unknown) => x,
    )) as FederationError;
    expect(e.code).toBe('INCONSISTENT');
    expect(bad.d.recorded[0]!.body).toMatchObject({
      operation: 'inconsistent-history',
      proof: { from: 8, to: 12, hashes: ['cd'.repeat(32), 'ef'.repeat(32)] },
    });
    expect((bad.d.recorded[0]!.body.checkpoints as string[]).length).toBe(2);
    expect((await bad.d.store.getPeer('p'))!.trusted).toBe(false);
  });

  it('a same-size fork padded with junk signature lines is recorded within the receipt limit, the peer untrusted', async () => {
    const honest = await peerLog(8, 'h');
    const d = deps();
    await d.store.putPeer(peerRecord(honest.key));
    await witnessPeer(peerRecord(honest.key), clientOf(honest.log), d);
    const forked = await peerLog(0);
    const fork = await Log.open({
      storage: createMemoryStorage(),
      origin: honest.key.name,
      signer: honest.key.signer,
      hasher: nodeHasher,
    });
    for (let i = 0; i < 8; i++)
      void fork.append({ kind: 'decision', actor: 't', tenant: 'acme', body: { title: `f${i}` } });
    await fork.idle();
    await fork.checkpoint();
    void forked;
    const note = (await fork.latestCheckpoint())!.note;
    // 99 well-formed signature lines of keys nobody configured (ignored by note verification), ~94 KB in all.
    const junk = Array.from(
      { length: 99 },
      (_, i) => `— junk${i}.example/log ${Buffer.alloc(700, i).toString('base64')}`,
    ).join('\n');
    const padded = `${note}${junk}\n`;
    const e = (await witnessPeer(peerRecord(honest.key), clientOf(fork, { note: () => padded }), d).catch(
      (x: unknown) => x,
    )) as FederationError;
    expect(e.code).toBe('EQUIVOCATION');
    const body = d.recorded[0]!.body;
    expect(body.operation).toBe('equivocation');
    // Each note is its signed body and the peer's own signature line: verifiable, and far below 64 KiB.
    expect(body.checkpoints).toEqual([(await honest.log.latestCheckpoint())!.note, note]);
    expect(Buffer.byteLength(JSON.stringify(body))).toBeLessThan(8 * 1024);
    expect((await d.store.getPeer('p'))!.trusted).toBe(false);
  });

  it('untrusts the peer first: a receipt that cannot be written leaves it untrusted all the same', async () => {
    const honest = await peerLog(5, 'h');
    const d = deps();
    await d.store.putPeer(peerRecord(honest.key));
    await witnessPeer(peerRecord(honest.key), clientOf(honest.log), d);
    const fork = await peerLog(0);
    void fork;
    const other = await Log.open({
      storage: createMemoryStorage(),
      origin: honest.key.name,
      signer: honest.key.signer,
      hasher: nodeHasher,
    });
    for (let i = 0; i < 5; i++)
      void other.append({ kind: 'decision', actor: 't', tenant: 'acme', body: { title: `x${i}` } });
    await other.idle();
    await other.checkpoint();
    const failing = {
      ...d,
      receipts: {
        async append(): Promise<{ index: number; leafHash: string }> {
          throw new Error('receipt is 99747 bytes; the limit is 65535');
        },
      },
    };
    const e = (await witnessPeer(peerRecord(honest.key), clientOf(other), failing).catch(
      (x: unknown) => x,
    )) as FederationError;
    expect(e.code).toBe('EQUIVOCATION');
    expect(e.message).toMatch(
      /marked untrusted \(the evidence could not be recorded: receipt is 99747 bytes/,
    );
    expect((await d.store.getPeer('p'))!.trusted).toBe(false);
  });

  it('a cosignature whose delivery failed is sent again on every round until the peer has it', async () => {
    const { key, log } = await peerLog(6);
    const d = deps();
    await d.store.putPeer(peerRecord(key));
    const client = clientOf(log);
    let fail = 2;
    const resetting = {
      ...client,
      async postCosignature(note: string, line: string) {
        if (fail-- > 0) throw new Error('read ECONNRESET');
        await client.postCosignature(note, line);
      },
    };
    expect(await witnessPeer(peerRecord(key), resetting, d)).toMatchObject({
      status: 'cosigned',
      delivered: false,
      deliveryFailures: 1,
    });
    expect(await witnessPeer(peerRecord(key), resetting, d)).toMatchObject({
      status: 'unchanged',
      delivered: false,
      deliveryFailures: 2,
    });
    const third = await witnessPeer(peerRecord(key), resetting, d);
    expect(third).toMatchObject({ status: 'unchanged', delivered: true });
    expect(client.cosignatures).toHaveLength(1);
    // Delivered: not sent again.
    expect((await witnessPeer(peerRecord(key), resetting, d)).delivered).toBeUndefined();
    expect(client.cosignatures).toHaveLength(1);
  });
});

describe('verifying a stored mirror (vm audit verify --full, merges)', () => {
  it('rehashes every entry: changed bytes or a changed stored leaf hash are reported, a clean mirror passes', async () => {
    const { key, log } = await peerLog(600);
    const d = deps();
    await d.store.putPeer(peerRecord(key));
    await mirrorPeer(peerRecord(key), clientOf(log), d);
    const ok = await verifyMirror(d.store, peerRecord(key), d);
    expect(ok).toMatchObject({ size: 600, problems: [] });
    expect(ok.rootHash).toBe(toHex((await log.latestCheckpoint())!.root));
    const tampered = (change: (e: MirrorEntry) => MirrorEntry) => ({
      ...d.store,
      mirrorEntries: async (peer: string, start: number, limit: number) =>
        (await d.store.mirrorEntries(peer, start, limit)).map((e) => (e.index === 300 ? change(e) : e)),
    });
    const bytes = await verifyMirror(
      tampered((e) => ({ ...e, bytes: new TextEncoder().encode(new TextDecoder().decode(e.bytes) + ' ') })),
      peerRecord(key),
      d,
    );
    expect(bytes.problems.map((p) => `${p.index ?? '-'}:${p.field}`)).toEqual([
      '300:leaf_hash',
      '-:root',
      '-:checkpoint',
    ]);
    // A stored leaf hash that was changed is never believed: the bytes are hashed again.
    const hash = await verifyMirror(
      tampered((e) => ({ ...e, leafHash: 'ab'.repeat(32) })),
      peerRecord(key),
      d,
    );
    expect(hash.problems.map((p) => `${p.index ?? '-'}:${p.field}`)).toEqual(['300:leaf_hash']);
    expect(hash.rootHash).toBe(ok.rootHash);
  });
});
