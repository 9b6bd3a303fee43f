// RFC 9421 message signatures: sign + verify against the raw Ed25519 operations underneath, same run.
import {
  createHttpSignatureKey,
  createReplayCache,
  generateNodeKey,
  publicKeyFromRaw,
  signHttpMessage,
  type HttpMessage,
  verifyHttpMessage,
} from '@vaultmesh/attest';
import { createHash, verify as cryptoVerify } from 'node:crypto';
import type { BenchResult } from './result.ts';

/**
 * RFC 9421 verification of signed callbacks (parse Signature-Input/Signature, rebuild the base, Content-Digest,
 * replay cache, Ed25519) against raw node:crypto Ed25519 verification of the same signature bases.
 */
export async function benchHttpSignature(n = 10_000, rounds = 5): Promise<BenchResult[]> {
  const node = generateNodeKey('bench.vaultmesh/httpsig');
  const signingKey = createHttpSignatureKey('ed25519', node.privateKey);
  const publicKey = createHttpSignatureKey('ed25519', publicKeyFromRaw(node.publicKey));
  const url = 'http://127.0.0.1:8080/callbacks/vaultmesh';
  // n distinct callbacks (distinct nonces), as a receiver sees them: Node's lowercase header names.
  const messages: HttpMessage[] = [];
  const bases: Buffer[] = [];
  const sigs: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const body = JSON.stringify({
      planId: `bench-${i}`,
      planHash: createHash('sha256').update(String(i)).digest('hex'),
      status: 'succeeded',
      receipts: [{ index: i, leafHash: createHash('sha256').update(`leaf${i}`).digest('hex') }],
    });
    const headers = {
      host: '127.0.0.1:8080',
      'content-type': 'application/json',
      'user-agent': 'node',
      accept: '*/*',
      'content-length': String(Buffer.byteLength(body)),
    };
    const s = signHttpMessage(
      { method: 'POST', url, headers, body },
      { key: signingKey, keyid: node.name, expiresIn: 300, nonce: true },
    );
    messages.push({ method: 'POST', url, headers: { ...headers, ...s.headers }, body: Buffer.from(body) });
    bases.push(Buffer.from(s.signatureBase, 'latin1'));
    sigs.push(Buffer.from(s.signature));
  }
  const options = {
    keys: (keyid: string | undefined) => (keyid === node.name ? publicKey : undefined),
    requiredComponents: ['@method', '@target-uri', 'content-digest', 'content-type'],
    requiredParams: ['created', 'expires', 'nonce', 'keyid'] as const,
  };
  const ours = () => {
    const replayCache = createReplayCache({ maxEntries: n });
    const t0 = performance.now();
    for (const m of messages) verifyHttpMessage(m, { ...options, replayCache });
    return n / ((performance.now() - t0) / 1000);
  };
  const raw = () => {
    const key = publicKey.key;
    const t0 = performance.now();
    for (let i = 0; i < n; i++)
      if (!cryptoVerify(null, bases[i]!, key, sigs[i]!)) throw new Error('bad signature');
    return n / ((performance.now() - t0) / 1000);
  };
  ours(); // warm-up (JIT)
  raw();
  let best = 0;
  let bestRaw = 0;
  // Interleaved rounds, best of each, so both sides see the same machine load.
  for (let r = 0; r < rounds; r++) {
    best = Math.max(best, ours());
    bestRaw = Math.max(bestRaw, raw());
  }
  return [
    {
      name: 'RFC 9421 verify, Ed25519 (ops/s)',
      value: best,
      unit: '/s',
      baselineName: 'raw node:crypto Ed25519 verify of the same signature bases',
      baseline: bestRaw,
      ratio: best / bestRaw,
      target: '>= 0.5x raw (within 2x)',
      pass: best / bestRaw >= 0.5,
    },
  ];
}
