// Compact ranges against the reference tree hash, and the deterministic merge: same root from any order of logs
// and leaves, duplicates counted once, statements signed and verified, receipts checked offline.
import { generateKeyPairSync, sign } from 'node:crypto';
import { nodeHasher } from '@vaultmesh/attest';
import { formatVerifierKey, toHex } from '@vaultmesh/ledger';
import { describe, expect, it } from 'vitest';
import {
  CompactRange,
  computeMerge,
  mergeStatement,
  signMergeStatement,
  verifyMergeReceipt,
  verifyMergeSignatures,
  type MergeInput,
} from '../src/index.ts';

const h = nodeHasher;
const leaf = (s: string) => h.hashLeaf(new TextEncoder().encode(s));

/** RFC 6962 MTH, recursively (the reference). */
function mth(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return h.emptyRoot();
  if (leaves.length === 1) return leaves[0]!;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return h.hashChildren(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

describe('compact range', () => {
  it('has the reference root for every size 0..300, also after a save and restore mid-way', () => {
    const leaves = Array.from({ length: 300 }, (_, i) => leaf(`e${i}`));
    const r = new CompactRange(h);
    expect(toHex(r.root())).toBe(toHex(mth([])));
    for (let n = 1; n <= 300; n++) {
      r.append(leaves[n - 1]!);
      expect(toHex(r.root()), `size ${n}`).toBe(toHex(mth(leaves.slice(0, n))));
      if (n === 137) {
        const restored = CompactRange.fromJSON(h, JSON.parse(JSON.stringify(r.toJSON())));
        for (let m = n; m < 300; m++) restored.append(leaves[m]!);
        expect(toHex(restored.root())).toBe(toHex(mth(leaves)));
      }
    }
    expect(() => CompactRange.fromJSON(h, { size: 3, hashes: ['00'] })).toThrow(/malformed/);
  });
});

function logOf(origin: string, items: [string, number][]): MergeInput {
  const leaves = items.map(([s, t]) => ({ leafHash: leaf(s), time: t }));
  return { origin, size: leaves.length, rootHash: toHex(mth(leaves.map((l) => l.leafHash))), leaves };
}
const shuffle = <T>(xs: readonly T[], seed: number): T[] => {
  const a = [...xs];
  let s = seed;
  for (let i = a.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
};

describe('deterministic merge', () => {
  const a = logOf('a.example/log', [
    ['x', 10],
    ['y', 30],
    ['shared', 20],
  ]);
  const b = logOf('b.example/log', [
    ['p', 5],
    ['shared', 20],
    ['q', 30],
  ]);
  const c = logOf('c.example/log', [['r', 1]]);

  it('gives the same merged root whatever the order of logs and of their leaves', () => {
    const base = computeMerge([a, b, c], h);
    for (let seed = 1; seed < 20; seed++) {
      const logs = shuffle([a, b, c], seed).map((l) => ({ ...l, leaves: shuffle(l.leaves, seed * 7) }));
      expect(computeMerge(logs, h)).toEqual(base);
    }
    expect(base.counts).toEqual({
      perLog: { 'a.example/log': 3, 'b.example/log': 3, 'c.example/log': 1 },
      duplicates: 1,
      union: 6,
    });
    // Order v1: time, then leaf hash.
    const sorted = [
      ['r', 1],
      ['p', 5],
      ['x', 10],
      ['shared', 20],
    ] as const;
    const thirty = [leaf('y'), leaf('q')].sort((m, n) => Buffer.compare(Buffer.from(m), Buffer.from(n)));
    expect(base.mergedRoot).toBe(toHex(mth([...sorted.map(([s]) => leaf(s)), ...thirty])));
  });

  it('refuses a log listed twice or whose leaves do not match its size', () => {
    expect(() => computeMerge([a, a], h)).toThrow(/listed twice/);
    expect(() => computeMerge([{ ...a, size: 4 }], h)).toThrow(/3 leaves, not 4/);
  });

  it('signs statements per node; a changed statement or a missing signer fails the offline check', () => {
    const keys = ['a.example/log', 'b.example/log'].map((name) => {
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      const raw = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(12));
      return {
        name,
        publicKey: raw,
        sign: (m: Uint8Array) => new Uint8Array(sign(null, m, privateKey)),
        vkey: formatVerifierKey(name, raw),
      };
    });
    const result = computeMerge([a, b], h);
    const statement = mergeStatement(result);
    const sigs = keys.map((k) => signMergeStatement(statement, k));
    expect(
      verifyMergeSignatures(
        statement,
        sigs,
        keys.map((k) => k.vkey),
      ).every((r) => r.ok),
    ).toBe(true);
    const file = {
      statement: JSON.parse(statement) as unknown,
      signatures: sigs,
      verifierKeys: keys.map((k) => k.vkey),
    };
    expect(verifyMergeReceipt(file).ok).toBe(true);
    const changed = JSON.parse(JSON.stringify(file)) as { statement: { mergedRoot: string } };
    changed.statement.mergedRoot = 'f'.repeat(64);
    expect(verifyMergeReceipt(changed).ok).toBe(false);
    const oneSigner = { ...file, signatures: [sigs[0]] };
    const r = verifyMergeReceipt(oneSigner);
    expect(r.ok).toBe(false);
    expect(r.checks.find((x) => x.name === 'log b.example/log')!.ok).toBe(false);
    // Pinned keys: a file whose keys were swapped for an attacker's does not verify against the pinned ones.
    expect(verifyMergeReceipt(file, [keys[0]!.vkey]).ok).toBe(false);
  });
});
