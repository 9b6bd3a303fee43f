// Key rotation: verification follows the chain of rotation receipts from a trusted key.
import { generateNodeKey, nodeEd25519Verify, nodeHasher, type NodeKey } from '@vaultmesh/attest';
import { keyRotationBody, keyRotationStatement } from '@vaultmesh/ledger';
import { describe, expect, it } from 'vitest';
import {
  Log,
  createMemoryStorage,
  keyHistory,
  keyId,
  readKeyChain,
  verifyLog,
  type LogStorage,
  type VerifyProblem,
} from '../src/index.ts';

const ORIGIN = 'chain.test/log';

const open = (storage: LogStorage, key: NodeKey) =>
  Log.open({ storage, origin: ORIGIN, signer: key.signer, hasher: nodeHasher });

async function appendDecisions(log: Log, n: number): Promise<void> {
  for (let i = 0; i < n; i++)
    await log.append({ kind: 'decision', actor: 'test', tenant: 'default', body: { title: `d${i}` } });
}

/** Seals the old key's epoch and records a rotation receipt; `forge` replaces the old key's signature. */
async function recordRotation(log: Log, old: NodeKey, next: NodeKey, forge?: NodeKey): Promise<number> {
  const cp = await log.checkpoint();
  const r = {
    origin: ORIGIN,
    previousVerifierKey: old.verifierKeyText,
    verifierKey: next.verifierKeyText,
    treeSize: cp.size,
  };
  const msg = keyRotationStatement(r);
  const body = keyRotationBody(r, { previous: (forge ?? old).signer.sign(msg), next: next.signer.sign(msg) });
  return (await log.append({ kind: 'key', actor: 'test', tenant: 'system', body })).index;
}

async function verify(storage: LogStorage, trusted: NodeKey, full = false) {
  const chain = await readKeyChain({
    storage,
    origin: ORIGIN,
    trusted: trusted.verifierKey,
    hasher: nodeHasher,
    ed25519Verify: nodeEd25519Verify,
  });
  const report = await verifyLog({
    storage,
    origin: ORIGIN,
    verifierKey: trusted.verifierKey,
    verifierKeys: chain.epochs,
    hasher: nodeHasher,
    ed25519Verify: nodeEd25519Verify,
    full,
  });
  const problems: VerifyProblem[] = [...chain.problems, ...report.problems];
  return { chain, report, problems };
}

describe('verification across key rotations', () => {
  it('accepts checkpoints signed by the key of their epoch, anchored on the first key or on the new one', async () => {
    const [k0, k1] = [generateNodeKey(ORIGIN), generateNodeKey(ORIGIN)];
    const storage = createMemoryStorage();
    const before = await open(storage, k0);
    await appendDecisions(before, 3);
    const index = await recordRotation(before, k0, k1);
    await before.close();
    expect(index).toBe(3);
    const after = await open(storage, k1);
    expect((await after.checkpoint()).size).toBe(4);
    await appendDecisions(after, 2);
    await after.checkpoint();
    await after.close();

    for (const trusted of [k0, k1]) {
      for (const full of [false, true]) {
        const { chain, report, problems } = await verify(storage, trusted, full);
        expect(problems).toEqual([]);
        expect(report).toMatchObject({ ok: true, size: 6, checkpointsChecked: 3 });
        expect(chain.anchored).toBe(true);
        expect(keyHistory(chain.epochs)).toEqual([
          { verifierKey: k0.verifierKeyText, fromSize: 0 },
          { verifierKey: k1.verifierKeyText, fromSize: 4 },
        ]);
        expect(chain.epochs.map((e) => [e.fromSize, e.toSize])).toEqual([
          [0, 3],
          [4, undefined],
        ]);
      }
    }
  });

  it('rejects a rotation signed only by the new key, and reports the checkpoints that key signed', async () => {
    const [k0, k1] = [generateNodeKey(ORIGIN), generateNodeKey(ORIGIN)];
    const storage = createMemoryStorage();
    const before = await open(storage, k0);
    await appendDecisions(before, 2);
    const index = await recordRotation(before, k0, k1, k1);
    await before.close();
    const after = await open(storage, k1);
    await appendDecisions(after, 1);
    await after.checkpoint();
    await after.close();

    const { chain, problems } = await verify(storage, k0);
    expect(chain.epochs.map((e) => e.text)).toEqual([k0.verifierKeyText]);
    expect(problems).toEqual([
      expect.objectContaining({
        where: 'entry',
        index,
        field: 'key rotation',
        message: expect.stringMatching(/previous key's signature does not verify/),
      }),
      expect.objectContaining({
        where: 'checkpoint',
        index: 4,
        field: 'note',
        expected: keyId(k0.verifierKey),
        found: keyId(k1.verifierKey),
        message: 'checkpoint 4 is not signed by the key trusted at that size (signed by an unknown key)',
      }),
    ]);
  });

  it('reports every checkpoint signed after a key switch that no rotation receipt records', async () => {
    const [k0, k1] = [generateNodeKey(ORIGIN), generateNodeKey(ORIGIN)];
    const storage = createMemoryStorage();
    const before = await open(storage, k0);
    await appendDecisions(before, 2);
    await before.checkpoint();
    await before.close();
    const after = await open(storage, k1);
    for (const n of [1, 1]) {
      await appendDecisions(after, n);
      await after.checkpoint();
    }
    await after.close();

    const { problems } = await verify(storage, k0, true);
    expect(problems.map((p) => [p.where, p.index, p.field, p.expected, p.found])).toEqual([
      ['checkpoint', 3, 'note', keyId(k0.verifierKey), keyId(k1.verifierKey)],
      ['checkpoint', 4, 'note', keyId(k0.verifierKey), keyId(k1.verifierKey)],
    ]);
    // Trusting the switched-to key instead does not help: the older checkpoints are then unknown.
    const other = await verify(storage, k1);
    expect(other.problems.map((p) => [p.where, p.index, p.found])).toEqual([
      ['checkpoint', 2, keyId(k0.verifierKey)],
    ]);
  });

  it('reports a checkpoint signed by the old key after the rotation as signed by the wrong epoch', async () => {
    const [k0, k1] = [generateNodeKey(ORIGIN), generateNodeKey(ORIGIN)];
    const storage = createMemoryStorage();
    const first = await open(storage, k0);
    await appendDecisions(first, 3);
    await recordRotation(first, k0, k1);
    await first.close();
    const stale = await open(storage, k0); // e.g. a node left running with the retired key
    await appendDecisions(stale, 1);
    await stale.checkpoint();
    await stale.close();

    const { problems } = await verify(storage, k1);
    expect(problems).toEqual([
      expect.objectContaining({
        where: 'checkpoint',
        index: 5,
        field: 'note',
        expected: keyId(k1.verifierKey),
        found: keyId(k0.verifierKey),
        message: 'checkpoint 5 is signed by the key for sizes 0..3, not by the key for sizes 4..',
      }),
    ]);
  });

  it('rejects a rotation away from a key that is no longer current', async () => {
    const [k0, k1, k2] = [generateNodeKey(ORIGIN), generateNodeKey(ORIGIN), generateNodeKey(ORIGIN)];
    const storage = createMemoryStorage();
    const first = await open(storage, k0);
    await appendDecisions(first, 1);
    await recordRotation(first, k0, k1);
    await first.close();
    const second = await open(storage, k1);
    const replay = await recordRotation(second, k0, k2); // a holder of the retired key tries to fork
    await second.close();

    const { chain, problems } = await verify(storage, k0);
    expect(chain.epochs.map((e) => e.text)).toEqual([k0.verifierKeyText, k1.verifierKeyText]);
    expect(problems).toEqual([
      expect.objectContaining({
        where: 'entry',
        index: replay,
        field: 'previousVerifierKey',
        expected: k1.verifierKeyText,
        found: k0.verifierKeyText,
      }),
    ]);
  });

  it('reports a trusted key that is not in the chain, and then trusts only that key', async () => {
    const [k0, k1, outsider] = [generateNodeKey(ORIGIN), generateNodeKey(ORIGIN), generateNodeKey(ORIGIN)];
    const storage = createMemoryStorage();
    const log = await open(storage, k0);
    await recordRotation(log, k0, k1);
    await log.close();

    const { chain, problems } = await verify(storage, outsider);
    expect(chain.anchored).toBe(false);
    expect(chain.epochs.map((e) => e.text)).toEqual([outsider.verifierKeyText]);
    expect(problems.map((p) => [p.where, p.field, p.index])).toEqual([
      ['log', 'verifier key', undefined],
      ['checkpoint', 'note', 0],
    ]);
  });

  it('ignores rotations that are not the node’s: another tenant’s, or between keys the log is not signed with', async () => {
    const [k0, k1, a, b, c] = [1, 2, 3, 4, 5].map(() => generateNodeKey(ORIGIN)) as NodeKey[];
    const storage = createMemoryStorage();
    const log = await open(storage, k0!);
    await appendDecisions(log, 2);
    // An intruder's rotations: a valid one between its own keys, and an unverifiable one.
    const planted = async (old: NodeKey, next: NodeKey, forge?: NodeKey) => {
      const r = {
        origin: ORIGIN,
        previousVerifierKey: old.verifierKeyText,
        verifierKey: next.verifierKeyText,
        treeSize: 2,
      };
      const msg = keyRotationStatement(r);
      const body = keyRotationBody(r, {
        previous: (forge ?? old).signer.sign(msg),
        next: next.signer.sign(msg),
      });
      return (await log.append({ kind: 'key', actor: 'token:intruder', tenant, body })).index;
    };
    let tenant = 'beta'; // an agent's tenant (before the public write path refused key receipts)
    const foreign = await planted(a!, b!);
    tenant = 'system'; // or even under the node's own tenant
    const junk = await planted(a!, b!);
    const unsigned = await planted(c!, a!, b!);
    await appendDecisions(log, 1);
    await log.checkpoint();
    const rotation = await recordRotation(log, k0!, k1!);
    await log.close();
    const after = await open(storage, k1!);
    await appendDecisions(after, 1);
    await after.checkpoint();
    await after.close();

    for (const trusted of [k0!, k1!]) {
      const { chain, report, problems } = await verify(storage, trusted, true);
      expect(problems).toEqual([]);
      expect(report.ok).toBe(true);
      expect(chain.anchored).toBe(true);
      expect(chain.epochs.map((e) => [e.text, e.fromSize])).toEqual([
        [k0!.verifierKeyText, 0],
        [k1!.verifierKeyText, rotation + 1],
      ]);
      expect(chain.ignored.map((i) => i.index)).toEqual([foreign, junk, unsigned]);
    }
  });
});
