// Offline evidence bundles: building and verifying them against the bare signature and proof checks inside.
import {
  buildEvidenceBundle,
  generateNodeKey,
  nodeHasher,
  requestTimestamp,
  verifyEvidenceBundle,
} from '@vaultmesh/attest';
import { Log, createMemoryStorage } from '@vaultmesh/log';
import { createPublicKey, hash as oneShotHash, verify as cryptoVerify } from 'node:crypto';
import { receiptInput } from './append.ts';
import type { BenchResult } from './result.ts';

/**
 * Offline evidence-bundle verification (vm verify's work: parse, canonical receipt and schema, leaf hash,
 * checkpoint signature, inclusion proof, RFC 3161 token with its certificate chain) vs the raw node:crypto work
 * the same bundle needs: the note's Ed25519 verify, the token's signature verify over its signed attributes, and
 * every SHA-256 (leaf, proof path, note imprint, token content digest). The TSA is a real local openssl TSA with an
 * RSA key, as public TSAs use. Certificate parsing and chain checks are cached per exact DER bytes in both runs'
 * process, as any batch verifier would; the per-bundle signatures are never cached.
 */
export async function benchBundles(n = 2_000): Promise<BenchResult[]> {
  const { parseToken, startTestTsa } = await import('@vaultmesh/attest/testing');
  const key = generateNodeKey('bench.vaultmesh/bundles');
  const storage = createMemoryStorage();
  const log = await Log.open({ storage, origin: key.name, signer: key.signer, hasher: nodeHasher });
  for (let i = 0; i < n; i++) void log.append(receiptInput(i));
  await log.idle();
  const cp = await log.checkpoint();
  const tsa = await startTestTsa({ keyType: 'rsa' });
  try {
    const { token, info } = await requestTimestamp(
      { name: 'bench', url: tsa.url, trustAnchorsPem: [tsa.caPem] },
      new TextEncoder().encode(cp.note),
    );
    const bundles: string[] = [];
    for (let i = 0; i < n; i++) {
      const e = await log.getEntry(i);
      const p = await log.inclusionProof(i, cp.size);
      const b = buildEvidenceBundle({
        origin: key.name,
        index: i,
        leafHash: e.leafHash,
        bytes: e.bytes,
        checkpoint: cp,
        proof: p.proof,
        // The time the token states: a bundle's anchoredAt is checked against it.
        timestamps: [{ authority: 'bench', proof: token, anchoredAt: info.genTime.getTime() }],
        logKeys: [key.verifierKeyText],
        tsaTrustAnchors: [tsa.caPem],
      });
      bundles.push(JSON.stringify(b));
    }
    const pinned = { logKeys: [key.verifierKeyText], tsaTrustAnchors: [tsa.caPem] };
    // Raw inputs, extracted outside the timed loop.
    const parsed = parseToken(token);
    const signedAttrs = new Uint8Array(parsed.signer.signedAttrs.bytes);
    signedAttrs[0] = 0x31;
    const tsaKey = createPublicKey(tsa.tsaCertPem);
    const notePub = createPublicKey(key.privateKey);
    const [noteText, sigLine] = cp.note.split('\n\n') as [string, string];
    const noteMsg = Buffer.from(noteText + '\n');
    const noteSig = Buffer.from(sigLine.split(' ')[2]!, 'base64').subarray(4);
    const noteBytes = Buffer.from(cp.note);
    const sha = (d: Uint8Array) => oneShotHash('sha256', d, 'buffer');
    const raw = () => {
      for (const text of bundles) {
        const b = JSON.parse(text) as { receipt: { canonical: string }; inclusionProof: string[] };
        if (!cryptoVerify(null, noteMsg, notePub, noteSig)) throw new Error('raw note signature failed');
        if (!cryptoVerify('sha256', signedAttrs, tsaKey, parsed.signer.signature))
          throw new Error('raw token signature failed');
        sha(noteBytes);
        sha(parsed.eContent);
        let h = sha(Buffer.concat([Buffer.from([0]), Buffer.from(b.receipt.canonical)]));
        for (const x of b.inclusionProof)
          h = sha(Buffer.concat([Buffer.from([1]), h, Buffer.from(x, 'hex')]));
      }
    };
    const full = () => {
      for (const text of bundles) {
        const r = verifyEvidenceBundle(JSON.parse(text), pinned);
        if (!r.ok) throw new Error(`bundle failed: ${JSON.stringify(r.checks.filter((c) => !c.ok))}`);
      }
    };
    raw();
    full();
    // Interleaved rounds, best of each, so both see the same machine.
    let bestRaw = Infinity;
    let bestFull = Infinity;
    for (let round = 0; round < 3; round++) {
      let t = performance.now();
      full();
      bestFull = Math.min(bestFull, performance.now() - t);
      t = performance.now();
      raw();
      bestRaw = Math.min(bestRaw, performance.now() - t);
    }
    const rate = n / (bestFull / 1000);
    const rawRate = n / (bestRaw / 1000);
    return [
      {
        name: 'offline bundle verification (bundles/s)',
        value: rate,
        unit: 'bundles/s',
        baselineName: 'raw Ed25519 + token signature + SHA-256 work of the same bundles',
        baseline: rawRate,
        ratio: rate / rawRate,
        target: 'within 3x (ratio >= 0.33)',
        pass: rate / rawRate >= 1 / 3,
      },
    ];
  } finally {
    await tsa.close();
    await log.close();
  }
}
