// The sealer + anchor manager over a real Log (memory storage). The authority here is a scripted port double;
// the RFC 3161 authority against a real openssl TSA is tested in test/anchor.test.ts.
import { createHash } from 'node:crypto';
import { generateNodeKey, nodeHasher } from '@vaultmesh/attest';
import { describe, expect, it } from 'vitest';
import {
  AnchorScheduler,
  Log,
  backoffDelay,
  createMemoryStorage,
  type Anchor,
  type AnchorEvent,
  type StoredCheckpoint,
} from '../src/index.ts';

const ORIGIN = 'test.vaultmesh/anchor';
const key = generateNodeKey(ORIGIN);

/** An authority that signs nothing but records what it was asked, and can be made to fail. */
function scriptedAnchor(name: string) {
  const seen: number[] = [];
  let down = false;
  const anchor: Anchor = {
    name,
    type: 'test',
    async anchor(cp: StoredCheckpoint) {
      if (down) throw new Error(`${name} is unreachable`);
      seen.push(cp.size);
      return {
        proof: new TextEncoder().encode(`proof of ${cp.size}`),
        anchoredAt: 1_700_000_000_000 + cp.size,
      };
    },
  };
  return { anchor, seen, setDown: (d: boolean) => (down = d) };
}

async function setup(n = 5) {
  const storage = createMemoryStorage();
  const log = await Log.open({ storage, origin: ORIGIN, signer: key.signer, hasher: nodeHasher });
  for (let i = 0; i < n; i++)
    await log.append({ kind: 'decision', actor: 't', tenant: 'a', body: { title: `d${i}` } });
  return { storage, log };
}

/** One tick, then wait for the attempts it started. */
async function settleAll(sched: AnchorScheduler) {
  await sched.tick();
  await Promise.all(
    (sched as unknown as { states: { inFlight?: Promise<void> }[] }).states.map((s) => s.inFlight),
  );
}

describe('backoffDelay (full jitter)', () => {
  it('stays within [0, min(max, base * 2^(n-1))] and grows with consecutive failures', () => {
    const b = { baseMs: 100, maxMs: 5_000 };
    expect(backoffDelay(1, b, () => 0.999999)).toBe(99);
    expect(backoffDelay(3, b, () => 0.999999)).toBe(399);
    expect(backoffDelay(30, b, () => 0.999999)).toBe(4_999);
    expect(backoffDelay(4, b, () => 0)).toBe(0);
    for (let n = 1; n < 60; n++) {
      const d = backoffDelay(n, b, Math.random);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(Math.min(5_000, 100 * 2 ** (n - 1)));
    }
  });
});

describe('AnchorScheduler', () => {
  it('seals, anchors the latest checkpoint, stores the proof and records an anchor receipt naming it', async () => {
    const { storage, log } = await setup(5);
    const tsa = scriptedAnchor('tsa:one');
    const sched = new AnchorScheduler({ log, storage, anchors: [tsa.anchor] });
    const { checkpoint, results } = await sched.runOnce();
    expect(checkpoint.size).toBe(5);
    expect(results).toEqual([{ authority: 'tsa:one', error: undefined }]);
    const [stored] = await storage.listAnchors(5);
    expect(new TextDecoder().decode(stored!.proof)).toBe('proof of 5');
    expect(stored!.anchoredAt).toBe(1_700_000_000_005);
    await log.idle();
    const receipt = JSON.parse(new TextDecoder().decode((await log.getEntry(5)).bytes));
    expect(receipt.kind).toBe('anchor');
    expect(receipt.body).toMatchObject({
      treeSize: 5,
      authority: 'tsa:one',
      type: 'test',
      tokenSha256: createHash('sha256').update(stored!.proof).digest('hex'),
    });
    expect(receipt.body.rootHash).toBe(Buffer.from(checkpoint.root).toString('hex'));
    expect(sched.status()[0]).toMatchObject({ anchoredSize: 5, failuresTotal: 0, lagEntries: 1 });
    await log.close();
  });

  it('does not anchor a checkpoint that adds only its own anchor receipts (no endless loop)', async () => {
    const { storage, log } = await setup(3);
    const tsa = scriptedAnchor('tsa:one');
    const events: AnchorEvent[] = [];
    const sched = new AnchorScheduler({
      log,
      storage,
      anchors: [tsa.anchor],
      sealIntervalMs: 1,
      onEvent: (e) => events.push(e),
    });
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setTimeout(r, 3));
      await settleAll(sched);
    }
    expect(tsa.seen).toEqual([3]);
    expect(events.some((e) => e.type === 'skipped' && e.size === 4)).toBe(true);
    // The skipped checkpoint was never timestamped: the anchored size (vaultmesh_anchor_anchored_size) stays 3,
    // while nothing is left to attest (no lag).
    expect(sched.status()[0]).toMatchObject({ anchoredSize: 3, lagEntries: 0 });
    await log.close();
  });

  it('keeps appending through an authority outage, backs off with jitter, then catches up with the newest checkpoint', async () => {
    const { storage, log } = await setup(2);
    const tsa = scriptedAnchor('tsa:flaky');
    tsa.setDown(true);
    let clock = Date.now();
    const events: AnchorEvent[] = [];
    const sched = new AnchorScheduler({
      log,
      storage,
      anchors: [tsa.anchor],
      sealIntervalMs: 10,
      backoff: { baseMs: 1_000, maxMs: 8_000 },
      now: () => clock,
      random: () => 0.5,
      onEvent: (e) => events.push(e),
    });
    const settle = () => settleAll(sched);
    const delays: number[] = [];
    for (let round = 0; round < 5; round++) {
      await log.append({ kind: 'decision', actor: 't', tenant: 'a', body: { title: `r${round}` } });
      clock += 20;
      await settle();
      const st = sched.status()[0]!;
      delays.push(st.nextAttemptAt! - clock);
      clock = st.nextAttemptAt!;
    }
    expect(delays).toEqual([500, 1_000, 2_000, 4_000, 4_000]);
    expect(sched.status()[0]).toMatchObject({ failuresTotal: 5, consecutiveFailures: 5, anchoredSize: 0 });
    expect(sched.status()[0]!.lastError).toContain('unreachable');
    expect(await storage.listAnchors()).toEqual([]);
    expect(log.stats().size).toBe(7);
    expect(sched.status()[0]!.lagSeconds).toBeGreaterThan(0);

    tsa.setDown(false);
    clock += 10_000;
    await settle();
    expect(tsa.seen).toEqual([7]);
    expect(sched.status()[0]).toMatchObject({ anchoredSize: 7, consecutiveFailures: 0, lagSeconds: 0 });
    expect(events.filter((e) => e.type === 'failed')).toHaveLength(5);
    await log.close();
  });

  it('seals early once sealMaxBatch entries are unsealed', async () => {
    const { storage, log } = await setup(0);
    const sched = new AnchorScheduler({ log, storage, anchors: [], sealIntervalMs: 0, sealMaxBatch: 4 });
    for (let i = 0; i < 3; i++)
      await log.append({ kind: 'decision', actor: 't', tenant: 'a', body: { title: `x${i}` } });
    await sched.tick();
    expect(await log.latestCheckpoint()).toBeUndefined();
    await log.append({ kind: 'decision', actor: 't', tenant: 'a', body: { title: 'x3' } });
    await sched.tick();
    expect((await log.latestCheckpoint())!.size).toBe(4);
    await log.close();
  });

  it('resumes from stored anchors after a restart and anchors each authority independently', async () => {
    const { storage, log } = await setup(4);
    const a = scriptedAnchor('tsa:a');
    const b = scriptedAnchor('tsa:b');
    b.setDown(true);
    const first = new AnchorScheduler({ log, storage, anchors: [a.anchor, b.anchor] });
    const r = await first.runOnce();
    expect(r.results.map((x) => [x.authority, x.error === undefined])).toEqual([
      ['tsa:a', true],
      ['tsa:b', false],
    ]);
    b.setDown(false);
    const second = new AnchorScheduler({ log, storage, anchors: [a.anchor, b.anchor] });
    await settleAll(second);
    expect(a.seen).toEqual([4]);
    expect(b.seen).toEqual([4]);
    expect((await storage.listAnchors()).map((x) => `${x.size}/${x.authority}`)).toEqual([
      '4/tsa:a',
      '4/tsa:b',
    ]);
    expect(second.status().map((x) => x.anchoredSize)).toEqual([4, 4]);
    await log.close();
  });

  it('refuses two authorities with the same name', async () => {
    const { storage, log } = await setup(0);
    const a = scriptedAnchor('tsa:a');
    expect(() => new AnchorScheduler({ log, storage, anchors: [a.anchor, a.anchor] })).toThrow(/twice/);
    await log.close();
  });
});
