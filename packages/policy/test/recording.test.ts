// The recording decider: every deny is recorded and awaited, allows are sampled and appended in the background,
// in decision order. The ReceiptWriter is a port, so most tests use a fake that records its calls; one uses a
// real Log.
import { generateNodeKey, nodeHasher } from '@vaultmesh/attest';
import type { PolicyRequest, ReceiptWriter } from '@vaultmesh/types';
import { decodeReceipt } from '@vaultmesh/ledger';
import { Log, createMemoryStorage } from '@vaultmesh/log';
import { describe, expect, it } from 'vitest';
import {
  PolicyError,
  createPolicyEngine,
  createRecordingDecider,
  readDefaultPolicies,
  type PolicyReceiptInput,
} from '../src/index.ts';

// A generous limit: these tests check outcomes, and CI's shared cores can stall any one decision.
const engine = createPolicyEngine({ policies: readDefaultPolicies(), timeoutMs: 10_000 });

const req = (role: 'admin' | 'viewer', id: string, action = 'approve'): PolicyRequest => ({
  principal: { type: 'person', id: `${role}-1`, role, tenant: 'acme' },
  action,
  resource: { type: 'plan', id, tenant: 'acme' },
  context: {},
});
const allowReq = (id: string) => req('admin', id);
const denyReq = (id: string) => req('viewer', id);

/** A ReceiptWriter that records each call and resolves it only when told to (or at once with `auto`). */
function fakeWriter(opts: { auto?: boolean; fail?: (input: PolicyReceiptInput) => boolean } = {}) {
  const calls: PolicyReceiptInput[] = [];
  const waiting: { resolve: () => void; reject: (e: Error) => void; input: PolicyReceiptInput }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const writer: ReceiptWriter = {
    append(input) {
      const i = input as unknown as PolicyReceiptInput;
      calls.push(i);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      return new Promise((resolve, reject) => {
        const index = calls.length - 1;
        const ok = () => {
          inFlight--;
          resolve({ index, leafHash: '00'.repeat(32) });
        };
        const fail = (e: Error) => {
          inFlight--;
          reject(e);
        };
        if (opts.fail?.(i)) queueMicrotask(() => fail(new Error(`disk full at ${i.body.resource}`)));
        else if (opts.auto) queueMicrotask(ok);
        else waiting.push({ resolve: ok, reject: fail, input: i });
      });
    },
  };
  return {
    writer,
    calls,
    maxInFlight: () => maxInFlight,
    /** Makes every waiting append durable. */
    commitAll() {
      for (const w of waiting.splice(0)) w.resolve();
    },
  };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('createRecordingDecider', () => {
  it('records a deny as a policy receipt and returns it only once the receipt is durable', async () => {
    const fake = fakeWriter();
    const rec = createRecordingDecider(engine, fake.writer);
    let returned = false;
    const pending = rec.decide(denyReq('p-1')).then((d) => ((returned = true), d));
    await settle();
    expect(fake.calls).toHaveLength(1);
    expect(returned).toBe(false);
    fake.commitAll();
    const d = await pending;
    expect(d).toMatchObject({ decision: 'deny', reasons: [] });
    expect(fake.calls[0]).toEqual({
      kind: 'policy',
      actor: 'policy',
      tenant: 'acme',
      body: {
        action: 'approve',
        principal: 'person:viewer-1',
        resource: 'plan:p-1',
        decision: 'deny',
        reasons: [],
        tenant: 'acme',
        role: 'viewer',
        policySetHash: engine.policySetHash,
      },
    });
  });

  it('returns an allow at once and appends its receipt in the background', async () => {
    const fake = fakeWriter();
    const rec = createRecordingDecider(engine, fake.writer);
    const d = await rec.decide(allowReq('p-1'));
    expect(d).toMatchObject({ decision: 'allow', reasons: ['admin'] });
    // Not even handed to the writer yet: that happens on a later turn of the event loop.
    expect(fake.calls).toHaveLength(0);
    expect(rec.stats()).toMatchObject({ pending: 1, recorded: 0 });
    await settle();
    expect(fake.calls.map((c) => c.body.decision)).toEqual(['allow']);
    let flushed = false;
    const f = rec.flush().then(() => (flushed = true));
    await settle();
    expect(flushed).toBe(false);
    fake.commitAll();
    await f;
    expect(rec.stats()).toMatchObject({ decisions: 1, recorded: 1, pending: 0, failed: 0 });
  });

  it('appends receipts in decision order, allows and denies interleaved', async () => {
    const fake = fakeWriter({ auto: true });
    const rec = createRecordingDecider(engine, fake.writer);
    const ids = Array.from({ length: 40 }, (_, i) => `p-${i}`);
    const decisions = ids.map((id, i) => rec.decide(i % 3 === 0 ? denyReq(id) : allowReq(id)));
    await Promise.all(decisions);
    await rec.flush();
    expect(fake.calls.map((c) => c.body.resource)).toEqual(ids.map((id) => `plan:${id}`));
  });

  it('keeps the order with a bounded number of appends in flight', async () => {
    const fake = fakeWriter({ auto: true });
    const rec = createRecordingDecider(engine, fake.writer, { maxInFlight: 1 });
    for (let i = 0; i < 20; i++) void rec.decide(allowReq(`p-${i}`));
    await rec.flush();
    expect(fake.maxInFlight()).toBe(1);
    expect(fake.calls.map((c) => c.body.resource)).toEqual(
      Array.from({ length: 20 }, (_, i) => `plan:p-${i}`),
    );
  });

  it('samples allows by sampleAllows and marks kept ones with sampleRate, but records every deny', async () => {
    const fake = fakeWriter({ auto: true });
    let n = 0;
    // A deterministic "random": 0, 0.1, 0.2, ... 0.9, 0, ... keeps 3 of every 10 allows at a rate of 0.3.
    const rec = createRecordingDecider(engine, fake.writer, {
      sampleAllows: 0.3,
      random: () => (n++ % 10) / 10,
    });
    for (let i = 0; i < 20; i++) await rec.decide(allowReq(`a-${i}`));
    for (let i = 0; i < 20; i++) await rec.decide(denyReq(`d-${i}`));
    await rec.flush();
    const allows = fake.calls.filter((c) => c.body.decision === 'allow');
    const denies = fake.calls.filter((c) => c.body.decision === 'deny');
    expect(allows).toHaveLength(6);
    expect(allows.every((c) => c.body.sampleRate === 0.3)).toBe(true);
    expect(denies).toHaveLength(20);
    expect(denies.every((c) => c.body.sampleRate === undefined)).toBe(true);
    expect(rec.stats()).toMatchObject({ decisions: 40, recorded: 26, sampledOut: 14 });
  });

  it('records no allow at sampleAllows 0, still every deny', async () => {
    const fake = fakeWriter({ auto: true });
    const rec = createRecordingDecider(engine, fake.writer, { sampleAllows: 0 });
    await rec.decide(allowReq('a'));
    await rec.decide(denyReq('d'));
    await rec.flush();
    expect(fake.calls.map((c) => c.body.decision)).toEqual(['deny']);
  });

  it('refuses a sample rate outside [0, 1]', () => {
    const fake = fakeWriter();
    for (const sampleAllows of [-0.1, 1.5, Number.NaN]) {
      expect(() => createRecordingDecider(engine, fake.writer, { sampleAllows })).toThrow(PolicyError);
    }
  });

  it('with durableDenies false, returns a deny before its receipt is durable, yet records it in order and flush() waits for it', async () => {
    const fake = fakeWriter();
    const rec = createRecordingDecider(engine, fake.writer, { durableDenies: false, sampleAllows: 0 });
    const d = await rec.decide(denyReq('p-fast'));
    expect(d).toMatchObject({ decision: 'deny' });
    await rec.decide(allowReq('p-allow'));
    await rec.decide(denyReq('p-fast-2'));
    const flushed = rec.flush();
    await settle();
    expect(fake.calls.map((c) => c.body.resource)).toEqual(
      ['Plan:p-fast', 'Plan:p-fast-2'].map((r) => expect.stringContaining(r.split(':')[1]!)),
    );
    fake.commitAll();
    await flushed;
    expect(rec.stats()).toMatchObject({ recorded: 2, sampledOut: 1 });
  });

  it('still denies when the deny receipt cannot be written, and says so; flush then fails with RECORD_FAILED', async () => {
    const errors: unknown[] = [];
    const fake = fakeWriter({ fail: () => true });
    const rec = createRecordingDecider(engine, fake.writer, { onError: (e) => errors.push(e) });
    const d = await rec.decide(denyReq('p-1'));
    expect(d.decision).toBe('deny');
    expect(d.errors).toEqual(['deny receipt not recorded: disk full at plan:p-1']);
    const allow = await rec.decide(allowReq('p-2'));
    expect(allow.decision).toBe('allow');
    const err = await rec.flush().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PolicyError);
    expect((err as PolicyError).code).toBe('RECORD_FAILED');
    expect(errors).toHaveLength(2);
    expect(rec.stats()).toMatchObject({ failed: 2, recorded: 0 });
    await expect(rec.flush()).resolves.toBeUndefined();
  });

  it('records error denies of malformed requests under a valid tenant', async () => {
    const fake = fakeWriter({ auto: true });
    const rec = createRecordingDecider(engine, fake.writer);
    const bad = {
      principal: { type: 'robot', id: 'r2', tenant: 'acme' },
      action: 'x'.repeat(500),
    } as unknown as PolicyRequest;
    const d = await rec.decide(bad);
    expect(d.decision).toBe('deny');
    expect(fake.calls[0]!.tenant).toBe('acme');
    expect(fake.calls[0]!.body).toMatchObject({
      principal: 'robot:r2',
      resource: '?:?',
      reasons: ['error:request'],
    });
    expect(fake.calls[0]!.body.action).toHaveLength(200);
    expect(fake.calls[0]!.body.errors![0]).toMatch(/malformed request/);
    await rec.decide({} as unknown as PolicyRequest);
    expect(fake.calls[1]!.tenant).toBe('unknown');
  });

  it('writes valid, verifiable policy receipts to a real Log, denies durable on return', async () => {
    const key = generateNodeKey('test.vaultmesh/policy');
    const storage = createMemoryStorage();
    const log = await Log.open({ storage, origin: key.name, signer: key.signer, hasher: nodeHasher });
    try {
      const rec = createRecordingDecider(engine, log, { actor: 'policy:test' });
      const d = await rec.decide(denyReq('p-deny'));
      expect(d.errors).toEqual([]);
      expect(await storage.size()).toBe(1);
      for (let i = 0; i < 10; i++) await rec.decide(allowReq(`p-${i}`));
      await rec.flush();
      expect(await storage.size()).toBe(11);
      const receipts = [];
      for (let i = 0; i < 11; i++) receipts.push(decodeReceipt((await log.getEntry(i)).bytes));
      expect(receipts.map((r) => r.kind)).toEqual(Array(11).fill('policy'));
      expect(receipts[0]).toMatchObject({
        actor: 'policy:test',
        tenant: 'acme',
        body: { decision: 'deny', resource: 'plan:p-deny', policySetHash: engine.policySetHash },
      });
      expect(receipts.slice(1).map((r) => r.body['resource'])).toEqual(
        Array.from({ length: 10 }, (_, i) => `plan:p-${i}`),
      );
    } finally {
      await log.close();
    }
  });
});
