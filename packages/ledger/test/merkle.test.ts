import { describe, expect, it } from 'vitest';
import {
  TreeBuilder,
  consistencyProofPlan,
  defaultHasher as h,
  fromHex,
  inclusionProofPlan,
  resolvePlan,
  rootFromInclusionProof,
  rootPlan,
  foldNodes,
  toHex,
  verifyConsistency,
  verifyInclusion,
  type NodeId,
} from '../src/index.ts';
import { readTestdata } from './helpers.ts';

interface Vectors {
  leafInputs: string[];
  emptyRoot: string;
  rootHashes: { size: number; root: string }[];
  leafHashVectors: { input: string; hash: string }[];
  nodeHashVectors: { left: string; right: string; hash: string }[];
  inclusionProofs: { leafIndex: number; treeSize: number; leafHash: string; root: string; proof: string[] }[];
  consistencyProofs: { size1: number; size2: number; root1: string; root2: string; proof: string[] }[];
}
const v = readTestdata<Vectors>('merkle/rfc6962-vectors.json');

/** Reference MTH straight from RFC 6962 section 2.1, recursive over leaf hashes. */
function mth(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return h.emptyRoot();
  if (leaves.length === 1) return leaves[0]!;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return h.hashChildren(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

function leafHashes(n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => h.hashLeaf(new TextEncoder().encode(`leaf ${i}`)));
}

function nodeGetter(leaves: Uint8Array[]) {
  return (id: NodeId) => {
    const start = id.index * 2 ** id.level;
    const end = start + 2 ** id.level;
    if (end > leaves.length) throw new Error(`node ${id.level}/${id.index} is not complete`);
    return mth(leaves.slice(start, end));
  };
}

const flip = (b: Uint8Array, i = 0): Uint8Array => {
  const c = b.slice();
  c[i % c.length]! ^= 1;
  return c;
};

describe('RFC 6962 vectors (transparency-dev/merkle)', () => {
  const leaves = v.leafInputs.map((x) => h.hashLeaf(fromHex(x)));

  it('hashes the empty tree, leaves and nodes as published', () => {
    expect(toHex(h.emptyRoot())).toBe(v.emptyRoot);
    for (const lv of v.leafHashVectors) expect(toHex(h.hashLeaf(fromHex(lv.input)))).toBe(lv.hash);
    for (const nv of v.nodeHashVectors) {
      expect(toHex(h.hashChildren(fromHex(nv.left), fromHex(nv.right)))).toBe(nv.hash);
    }
  });

  it('computes the published roots for every prefix size with the streaming builder and from stored nodes', () => {
    for (const { size, root } of v.rootHashes) {
      const b = new TreeBuilder(h);
      for (let i = 0; i < size; i++) b.push(leaves[i]!);
      expect(toHex(b.root())).toBe(root);
      if (size > 0)
        expect(toHex(foldNodes(h, rootPlan(size).map(nodeGetter(leaves.slice(0, size)))))).toBe(root);
    }
  });

  it('generates exactly the published inclusion proofs, and they verify', () => {
    expect(v.inclusionProofs.length).toBeGreaterThan(0);
    for (const p of v.inclusionProofs) {
      const proof = resolvePlan(
        h,
        inclusionProofPlan(p.leafIndex, p.treeSize),
        nodeGetter(leaves.slice(0, p.treeSize)),
      );
      expect(proof.map(toHex)).toEqual(p.proof);
      expect(
        verifyInclusion(
          h,
          p.leafIndex,
          p.treeSize,
          fromHex(p.leafHash),
          p.proof.map(fromHex),
          fromHex(p.root),
        ),
      ).toBe(true);
    }
  });

  it('generates exactly the published consistency proofs, and they verify', () => {
    expect(v.consistencyProofs.length).toBeGreaterThan(0);
    for (const p of v.consistencyProofs) {
      const proof = resolvePlan(
        h,
        consistencyProofPlan(p.size1, p.size2),
        nodeGetter(leaves.slice(0, p.size2)),
      );
      expect(proof.map(toHex)).toEqual(p.proof);
      expect(
        verifyConsistency(h, p.size1, p.size2, p.proof.map(fromHex), fromHex(p.root1), fromHex(p.root2)),
      ).toBe(true);
    }
  });
});

describe('exhaustive trees of size 1..64', () => {
  const all = leafHashes(64);
  const roots = Array.from({ length: 65 }, (_, n) => mth(all.slice(0, n)));

  it('every inclusion proof verifies and any flipped byte or wrong position fails', () => {
    for (let n = 1; n <= 64; n++) {
      const get = nodeGetter(all.slice(0, n));
      for (let i = 0; i < n; i++) {
        const proof = resolvePlan(h, inclusionProofPlan(i, n), get);
        expect(verifyInclusion(h, i, n, all[i]!, proof, roots[n]!)).toBe(true);
        expect(verifyInclusion(h, i, n, flip(all[i]!, i), proof, roots[n]!)).toBe(false);
        expect(verifyInclusion(h, i, n, all[i]!, proof, flip(roots[n]!, n))).toBe(false);
        for (let j = 0; j < proof.length; j++) {
          const bad = proof.slice();
          bad[j] = flip(bad[j]!, i + j);
          expect(verifyInclusion(h, i, n, all[i]!, bad, roots[n]!)).toBe(false);
        }
        if (n > 1) expect(verifyInclusion(h, (i + 1) % n, n, all[i]!, proof, roots[n]!)).toBe(false);
        if (n < 64) expect(verifyInclusion(h, i, n + 1, all[i]!, proof, roots[n + 1]!)).toBe(false);
        if (proof.length > 0)
          expect(verifyInclusion(h, i, n, all[i]!, proof.slice(1), roots[n]!)).toBe(false);
      }
    }
  });

  it('every consistency proof verifies and any flipped byte fails', () => {
    for (let n = 1; n <= 64; n++) {
      const get = nodeGetter(all.slice(0, n));
      for (let m = 1; m <= n; m++) {
        const proof = resolvePlan(h, consistencyProofPlan(m, n), get);
        expect(verifyConsistency(h, m, n, proof, roots[m]!, roots[n]!)).toBe(true);
        expect(verifyConsistency(h, m, n, proof, flip(roots[m]!, m), roots[n]!)).toBe(false);
        expect(verifyConsistency(h, m, n, proof, roots[m]!, flip(roots[n]!, n))).toBe(false);
        for (let j = 0; j < proof.length; j++) {
          const bad = proof.slice();
          bad[j] = flip(bad[j]!, m + j);
          expect(verifyConsistency(h, m, n, bad, roots[m]!, roots[n]!)).toBe(false);
        }
        if (m < n) {
          expect(verifyConsistency(h, m, n, [], roots[m]!, roots[n]!)).toBe(false);
          expect(verifyConsistency(h, m, n, [...proof, roots[n]!], roots[m]!, roots[n]!)).toBe(false);
        }
      }
    }
  });

  it('the streaming builder reports each complete subtree with the reference hash', () => {
    const b = new TreeBuilder(h);
    const get = nodeGetter(all);
    for (let i = 0; i < 64; i++) {
      b.push(all[i]!, (node) => expect(toHex(node.hash)).toBe(toHex(get(node))));
      expect(toHex(b.root())).toBe(toHex(roots[i + 1]!));
    }
    const resumed = new TreeBuilder(h, b.frontier().slice(), 64);
    expect(toHex(resumed.root())).toBe(toHex(roots[64]!));
  });

  it('the streaming builder takes whole subtrees and reports the nodes above them', () => {
    const get = nodeGetter(all);
    // Any aligned split of 0..64 into subtrees gives the same roots and reports every node above them.
    for (const levels of [[3, 3, 4, 5], [5, 2, 2, 1, 0, 0, 2, 4], [6], [0, 0, 1, 2, 3, 4, 5]]) {
      const b = new TreeBuilder(h);
      const reported: string[] = [];
      for (const level of levels) {
        const index = b.size / 2 ** level;
        b.pushSubtree(level, get({ level, index }), (node) => {
          expect(node.level).toBeGreaterThan(level);
          expect(toHex(node.hash)).toBe(toHex(get(node)));
          reported.push(`${node.level}/${node.index}`);
        });
        expect(toHex(b.root())).toBe(toHex(roots[b.size]!));
      }
      expect(b.size).toBe(64);
      // The whole tree's root completes above the last subtree, unless it was pushed whole.
      expect(reported.includes('6/0')).toBe(levels.length > 1);
    }
    const b = new TreeBuilder(h);
    b.push(all[0]!);
    expect(() => b.pushSubtree(1, all[1]!)).toThrow(/cannot start at 1/);
  });

  it('rejects out-of-range proof requests', () => {
    expect(() => inclusionProofPlan(5, 5)).toThrow(/not below/);
    expect(() => consistencyProofPlan(6, 5)).toThrow(/exceeds/);
    expect(() => rootFromInclusionProof(h, 0, 0, all[0]!, [])).toThrow();
  });

  it('plans need O(log n) stored nodes even at 2^40 leaves', () => {
    const plan = inclusionProofPlan(2 ** 40 - 3, 2 ** 40 - 1);
    expect(plan.length).toBeLessThanOrEqual(40);
    expect(plan.flat().length).toBeLessThanOrEqual(80);
    const cplan = consistencyProofPlan(123_456_789, 2 ** 40 - 1);
    expect(cplan.flat().length).toBeLessThanOrEqual(120);
  });
});
