// Deterministic merge of federated logs. The union of the verified receipts of the participating logs (a receipt
// in several logs counts once), in canonical order v1 (receipt time, then leaf hash bytes), is the leaf sequence of
// an RFC 6962 tree whose root is the merged root: every node computes it identically from the same logs at the same
// sizes, whatever order their entries arrived in. The merge statement (RFC 8785 JSON) is signed by every
// participant with its node key over "vaultmesh-merge/v1\n" || statement (domain-separated from notes).
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { canonicalize, ed25519KeyHash, parseVerifierKey, toHex, type MerkleHasher } from '@vaultmesh/ledger';
import { CompactRange } from './compact-range.ts';
import { FederationError } from './errors.ts';

export const MERGE_ORDER = 'vaultmesh-merge/v1: time, leafHash';
const SIGN_PREFIX = 'vaultmesh-merge/v1\n';

/** One receipt of a log: its leaf hash and its time (Unix ms, from the receipt). */
export interface MergeLeaf {
  readonly leafHash: Uint8Array;
  readonly time: number;
}

/** One participating log at a verified size. */
export interface MergeInput {
  readonly origin: string;
  readonly size: number;
  readonly rootHash: string;
  readonly leaves: readonly MergeLeaf[];
}

export interface MergeResult {
  readonly order: string;
  readonly logs: readonly { origin: string; size: number; rootHash: string }[];
  readonly mergedSize: number;
  readonly mergedRoot: string;
  readonly counts: {
    readonly perLog: Readonly<Record<string, number>>;
    readonly duplicates: number;
    readonly union: number;
  };
}

/** One participant's signature of a merge statement. */
export interface MergeSignature {
  /** The signer's origin (its key name). */
  readonly signer: string;
  /** Hex note key ID of the signer's key. */
  readonly keyId: string;
  /** Base64 Ed25519 signature. */
  readonly signature: string;
}

/** Computes the merge; the result is the same for any order of logs and of leaves. */
export function computeMerge(inputs: readonly MergeInput[], hasher: MerkleHasher): MergeResult {
  const origins = new Set<string>();
  for (const l of inputs) {
    if (origins.has(l.origin))
      throw new FederationError('INVALID_ARGUMENT', `log ${l.origin} is listed twice`);
    origins.add(l.origin);
    if (l.leaves.length !== l.size)
      throw new FederationError(
        'INVALID_ARGUMENT',
        `log ${l.origin} has ${l.leaves.length} leaves, not ${l.size}`,
      );
  }
  const seen = new Map<string, MergeLeaf>();
  let total = 0;
  for (const l of inputs)
    for (const leaf of l.leaves) {
      total++;
      const key = toHex(leaf.leafHash);
      const had = seen.get(key);
      // The same bytes have the same time, so which copy is kept does not matter.
      if (!had) seen.set(key, leaf);
    }
  const sorted = [...seen.values()].sort(
    (a, b) => a.time - b.time || Buffer.compare(Buffer.from(a.leafHash), Buffer.from(b.leafHash)),
  );
  const range = new CompactRange(hasher);
  for (const leaf of sorted) range.append(leaf.leafHash);
  const logs = [...inputs]
    .map((l) => ({ origin: l.origin, size: l.size, rootHash: l.rootHash }))
    .sort((a, b) => (a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : 0));
  return {
    order: MERGE_ORDER,
    logs,
    mergedSize: sorted.length,
    mergedRoot: toHex(range.root()),
    counts: {
      perLog: Object.fromEntries(logs.map((l) => [l.origin, l.size])),
      duplicates: total - sorted.length,
      union: sorted.length,
    },
  };
}

/** The statement every participant signs: the RFC 8785 form of the merge result. */
export function mergeStatement(result: MergeResult): string {
  return canonicalize({ v: 1, type: 'vaultmesh-merge', ...result });
}

/** Signs a statement with a node key (its origin is the key name). */
export function signMergeStatement(
  statement: string,
  signer: { name: string; publicKey: Uint8Array; sign: (message: Uint8Array) => Uint8Array },
): MergeSignature {
  const sig = signer.sign(new Uint8Array(Buffer.from(SIGN_PREFIX + statement, 'utf8')));
  return {
    signer: signer.name,
    keyId: toHex(ed25519KeyHash(signer.name, signer.publicKey)),
    signature: Buffer.from(sig).toString('base64'),
  };
}

function ed25519Verify(sig: Uint8Array, msg: Uint8Array, pub: Uint8Array): boolean {
  try {
    const key = createPublicKey({
      key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(pub)]),
      format: 'der',
      type: 'spki',
    });
    return cryptoVerify(null, msg, key, sig);
  } catch {
    return false;
  }
}

/** Checks each signature against the trusted verifier key of its signer (none: not ok). */
export function verifyMergeSignatures(
  statement: string,
  signatures: readonly MergeSignature[],
  trustedKeys: readonly string[],
): { signer: string; ok: boolean; detail: string }[] {
  const keys = trustedKeys.flatMap((t) => {
    try {
      return [parseVerifierKey(t)];
    } catch {
      return [];
    }
  });
  const msg = new Uint8Array(Buffer.from(SIGN_PREFIX + statement, 'utf8'));
  return signatures.map((s) => {
    const signer = typeof s?.signer === 'string' ? s.signer : '?';
    const key = keys.find((k) => k.name === signer && toHex(k.keyHash) === s.keyId);
    if (!key)
      return { signer, ok: false, detail: `no trusted key for ${signer} (key ID ${String(s?.keyId)})` };
    const sig = typeof s.signature === 'string' ? Buffer.from(s.signature, 'base64') : Buffer.alloc(0);
    const ok = sig.length === 64 && ed25519Verify(sig, msg, key.publicKey);
    return { signer, ok, detail: ok ? `signed by ${signer}` : `signature by ${signer} does not verify` };
  });
}

/** The offline check of a merge receipt file (`vm federate verify-merge`). */
export function verifyMergeReceipt(
  doc: unknown,
  trustKeys?: readonly string[],
): { ok: boolean; checks: { name: string; ok: boolean; detail: string }[] } {
  const checks: { name: string; ok: boolean; detail: string }[] = [];
  const add = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });
  const d = doc as {
    format?: unknown;
    statement?: MergeResult & { v?: unknown; type?: unknown };
    signatures?: MergeSignature[];
    verifierKeys?: string[];
  };
  if (
    typeof d !== 'object' ||
    d === null ||
    typeof d.statement !== 'object' ||
    !Array.isArray(d.signatures)
  ) {
    add('format', false, 'not a merge receipt (statement and signatures are required)');
    return { ok: false, checks };
  }
  const st = d.statement;
  const shapeOk =
    st.v === 1 &&
    st.type === 'vaultmesh-merge' &&
    st.order === MERGE_ORDER &&
    Array.isArray(st.logs) &&
    st.logs.length >= 2 &&
    typeof st.mergedRoot === 'string' &&
    /^[0-9a-f]{64}$/.test(st.mergedRoot) &&
    Number.isSafeInteger(st.mergedSize) &&
    st.counts?.union === st.mergedSize &&
    st.logs.every((l) => st.counts.perLog?.[l.origin] === l.size) &&
    st.mergedSize + st.counts.duplicates === st.logs.reduce((s, l) => s + l.size, 0);
  add(
    'statement',
    shapeOk,
    shapeOk
      ? `${st.logs.length} logs, ${st.mergedSize} receipts, merged root ${st.mergedRoot}`
      : 'the statement is malformed or its counts do not add up',
  );
  let statement: string;
  try {
    statement = canonicalize(st);
  } catch {
    add('canonical form', false, 'the statement cannot be canonicalized');
    return { ok: false, checks };
  }
  const pinned = trustKeys && trustKeys.length > 0;
  const keys = pinned ? trustKeys : (d.verifierKeys ?? []);
  const results = verifyMergeSignatures(statement, d.signatures, keys);
  for (const r of results)
    add(`signature ${r.signer}`, r.ok, r.detail + (pinned ? ' (pinned key)' : ' (key from the file)'));
  if (Array.isArray(st.logs))
    for (const l of st.logs) {
      const signed = results.some((r) => r.ok && r.signer === l.origin);
      add(
        `log ${l.origin}`,
        signed,
        signed ? `size ${l.size}, root ${l.rootHash}` : 'no valid signature by this log’s node',
      );
    }
  return { ok: checks.every((c) => c.ok), checks };
}
