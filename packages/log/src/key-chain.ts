// The chain of node keys a log is signed with: a trusted key, extended by the log's own rotation receipts.
import {
  LedgerError,
  bytesEqual,
  decodeReceipt,
  defaultHasher,
  formatVerifierKey,
  nobleEd25519Verify,
  openNote,
  parseNote,
  toHex,
  verifyKeyRotation,
  type Ed25519Verify,
  type MerkleHasher,
  type NoteVerifierKey,
  type VerifiedKeyRotation,
} from '@vaultmesh/ledger';
import type { LogStorage } from './storage.ts';
import { TileReader } from './tile-reader.ts';
import type { VerifyProblem } from './verify.ts';

/** A node key and the checkpoint sizes it signs: `fromSize`..`toSize` inclusive (no `toSize`: still current). */
export interface KeyEpoch {
  readonly key: NoteVerifierKey;
  /** The C2SP verifier key text. */
  readonly text: string;
  readonly fromSize: number;
  readonly toSize?: number;
}

/** The keys of a log in order, and what was wrong with its rotation receipts. */
export interface KeyChain {
  /** At least one epoch. When the trusted key is not in the chain, only the trusted key, for every size. */
  readonly epochs: KeyEpoch[];
  /** Whether the trusted key is one of the chain's keys. */
  readonly anchored: boolean;
  readonly problems: VerifyProblem[];
}

/** One element of the meta `verifier_keys` history. */
export interface KeyHistoryItem {
  verifierKey: string;
  fromSize: number;
}

/** The `verifier_keys` meta form of a chain: [{verifierKey, fromSize}] in order. */
export function keyHistory(epochs: readonly KeyEpoch[]): KeyHistoryItem[] {
  return epochs.map((e) => ({ verifierKey: e.text, fromSize: e.fromSize }));
}

/** `name+keyhash`, the way a note signature line names its key. */
export function keyId(key: NoteVerifierKey): string {
  return `${key.name}+${toHex(key.keyHash)}`;
}

/** The epoch whose range covers a checkpoint of `size` (epochs from readKeyChain cover every size). */
export function epochFor(epochs: readonly KeyEpoch[], size: number): KeyEpoch {
  for (const e of epochs) if (size >= e.fromSize && (e.toSize === undefined || size <= e.toSize)) return e;
  return epochs[epochs.length - 1]!;
}

/**
 * Reads the `key` receipts with operation `rotate` in index order and builds the chain of keys. A rotation
 * is accepted only when its leaf is the one in the tree, both its signatures verify (verifyKeyRotation) and
 * its previous key is the key current before it; the first accepted rotation's previous key starts the chain.
 * The chain is anchored when `trusted` is one of its keys: every link is signed by both of its keys, so
 * trust in any one key extends to the whole chain. Rejected rotations are problems, never exceptions.
 */
export async function readKeyChain(opts: {
  readonly storage: LogStorage;
  readonly origin: string;
  readonly trusted: NoteVerifierKey;
  readonly hasher?: MerkleHasher;
  readonly ed25519Verify?: Ed25519Verify;
}): Promise<KeyChain> {
  const hasher = opts.hasher ?? defaultHasher;
  const reader = new TileReader(opts.storage, hasher, 0);
  const problems: VerifyProblem[] = [];
  const chain: { key: NoteVerifierKey; text: string; fromSize: number; toSize?: number }[] = [];
  for (let after = -1; ;) {
    // The kind column only selects candidates: the kind and body are read from the bytes below.
    const page = await opts.storage.listEntries({ kind: 'key', after, order: 'asc', limit: 1000 });
    for (const e of page) {
      const reject = (field: string, message: string, expected?: string, found?: string) =>
        problems.push({ where: 'entry', index: e.index, field, expected, found, message });
      let body: Record<string, unknown>;
      try {
        const receipt = decodeReceipt(e.bytes);
        if (receipt.kind !== 'key' || receipt.body.operation !== 'rotate') continue;
        body = receipt.body;
      } catch (err) {
        if (!(err instanceof LedgerError)) throw err;
        reject('bytes', `key receipt ${e.index} cannot be read: ${err.message}`);
        continue;
      }
      // Bind the receipt to the tree: its leaf hash must be the stored level-0 node (quick mode reads no
      // other sealed entry bytes, and these decide which keys are trusted).
      const leaf = hasher.hashLeaf(e.bytes);
      const [node] = await reader.getNodes([{ level: 0, index: e.index }]).catch(() => [undefined]);
      if (!node || !bytesEqual(node, leaf)) {
        reject(
          'leaf_hash',
          `key rotation ${e.index} is not the leaf stored in the tree`,
          toHex(leaf),
          node ? toHex(node) : 'missing',
        );
        continue;
      }
      let link: VerifiedKeyRotation;
      try {
        link = verifyKeyRotation(body, { origin: opts.origin, index: e.index, verify: opts.ed25519Verify });
      } catch (err) {
        if (!(err instanceof LedgerError)) throw err;
        reject('key rotation', `key rotation ${e.index} rejected: ${err.message}`);
        continue;
      }
      const current = chain[chain.length - 1];
      if (current && current.text !== link.previousText) {
        reject(
          'previousVerifierKey',
          `key rotation ${e.index} rotates away from a key that is not the current one`,
          current.text,
          link.previousText,
        );
        continue;
      }
      if (chain.some((c) => c.text === link.nextText)) {
        reject(
          'verifierKey',
          `key rotation ${e.index} returns to a key used before`,
          undefined,
          link.nextText,
        );
        continue;
      }
      if (!current) chain.push({ key: link.previous, text: link.previousText, fromSize: 0 });
      chain[chain.length - 1]!.toSize = e.index;
      chain.push({ key: link.next, text: link.nextText, fromSize: e.index + 1 });
    }
    if (page.length < 1000) break;
    after = page[page.length - 1]!.index;
  }
  const trustedText = formatVerifierKey(opts.trusted.name, opts.trusted.publicKey);
  if (chain.length === 0) chain.push({ key: opts.trusted, text: trustedText, fromSize: 0 });
  const anchored = chain.some((c) => c.text === trustedText);
  if (!anchored) {
    problems.push({
      where: 'log',
      field: 'verifier key',
      expected: trustedText,
      found: chain.map((c) => c.text).join(' -> '),
      message: "the trusted key is not one of the keys in the log's chain of key rotations",
    });
    return { epochs: [{ key: opts.trusted, text: trustedText, fromSize: 0 }], anchored, problems };
  }
  return { epochs: chain, anchored, problems };
}

/**
 * Describes a checkpoint note that the key of its epoch did not sign: a key of another epoch signed it, a
 * key outside the chain signed it, or the epoch key's own signature does not verify (altered note).
 */
export function checkpointKeyProblem(
  note: string,
  size: number,
  epochs: readonly KeyEpoch[],
  verify: Ed25519Verify = nobleEd25519Verify,
): VerifyProblem {
  const expected = epochFor(epochs, size);
  const range = (e: KeyEpoch) => `sizes ${e.fromSize}..${e.toSize ?? ''}`;
  let signers: string[] = [];
  try {
    signers = parseNote(note).signatures.map((s) => `${s.name}+${toHex(s.keyHash)}`);
  } catch {
    // An unparsable note never reaches here (openNote parsed it first).
  }
  const base = { where: 'checkpoint' as const, index: size, field: 'note', expected: keyId(expected.key) };
  if (signers.includes(keyId(expected.key)))
    return {
      ...base,
      found: signers.join(', '),
      message: `checkpoint note rejected: the signature by the key for ${range(expected)} does not verify`,
    };
  for (const other of epochs) {
    if (other === expected) continue;
    try {
      openNote(note, [other.key], verify);
    } catch {
      continue;
    }
    return {
      ...base,
      found: keyId(other.key),
      message: `checkpoint ${size} is signed by the key for ${range(other)}, not by the key for ${range(expected)}`,
    };
  }
  return {
    ...base,
    found: signers.join(', '),
    message: `checkpoint ${size} is not signed by the key trusted at that size (signed by an unknown key)`,
  };
}
