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
  /** Whether the trusted key is one of the chain's keys (true when the log has no verified rotation). */
  readonly anchored: boolean;
  readonly problems: VerifyProblem[];
  /** Rotation receipts that are not the log's (another chain of keys, or unverifiable ones away from foreign keys). */
  readonly ignored: readonly { readonly index: number; readonly reason: string }[];
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

/** The tenant the node records its key receipts under; rotations under any other tenant are not the node's. */
export const KEY_RECEIPT_TENANT = 'system';

/** A rotation receipt as read from the log: verified, or why not (with the key it claims to rotate away from). */
type RotationRecord =
  | { readonly index: number; readonly link: VerifiedKeyRotation }
  | { readonly index: number; readonly previousText?: string; readonly message: string };

interface Chain {
  readonly keys: { key: NoteVerifierKey; text: string; fromSize: number; toSize?: number }[];
  readonly problems: VerifyProblem[];
}

/**
 * Reads the `key` receipts with operation `rotate` in index order and builds the chain of keys that contains
 * `trusted`. A rotation counts only when the node recorded it (tenant KEY_RECEIPT_TENANT), its leaf is the one in
 * the tree and both its signatures verify, i.e. the old key signed it: rotations form chains (each link rotates away from the chain's current key), and only the
 * chain holding the trusted key is the log's. Rotations of other chains, and unverifiable rotations away from
 * keys this log never had, are `ignored` (anyone who could append a receipt could write them; they prove nothing).
 * Problems are what concerns the log's own chain: a bad rotation away from one of its keys, a fork from a retired
 * key, a return to an old key, an entry that cannot be read or is not in the tree. Never throws for bad receipts.
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
  const records: RotationRecord[] = [];
  const ignored: { index: number; reason: string }[] = [];
  for (let after = -1; ;) {
    // The kind column only selects candidates: the kind and body are read from the bytes below.
    const page = await opts.storage.listEntries({ kind: 'key', after, order: 'asc', limit: 1000 });
    for (const e of page) {
      let body: Record<string, unknown>;
      let tenant: string;
      try {
        const receipt = decodeReceipt(e.bytes);
        if (receipt.kind !== 'key' || receipt.body.operation !== 'rotate') continue;
        body = receipt.body;
        tenant = receipt.tenant;
      } catch (err) {
        if (!(err instanceof LedgerError)) throw err;
        problems.push({
          where: 'entry',
          index: e.index,
          field: 'bytes',
          message: `key receipt ${e.index} cannot be read: ${err.message}`,
        });
        continue;
      }
      // Bind the receipt to the tree: its leaf hash must be the stored level-0 node (quick mode reads no
      // other sealed entry bytes, and these decide which keys are trusted).
      const leaf = hasher.hashLeaf(e.bytes);
      const [node] = await reader.getNodes([{ level: 0, index: e.index }]).catch(() => [undefined]);
      if (!node || !bytesEqual(node, leaf)) {
        problems.push({
          where: 'entry',
          index: e.index,
          field: 'leaf_hash',
          expected: toHex(leaf),
          found: node ? toHex(node) : 'missing',
          message: `key rotation ${e.index} is not the leaf stored in the tree`,
        });
        continue;
      }
      if (tenant !== KEY_RECEIPT_TENANT) {
        ignored.push({ index: e.index, reason: `not the node's: recorded under tenant ${tenant}` });
        continue;
      }
      try {
        records.push({
          index: e.index,
          link: verifyKeyRotation(body, { origin: opts.origin, index: e.index, verify: opts.ed25519Verify }),
        });
      } catch (err) {
        if (!(err instanceof LedgerError)) throw err;
        const prev = body.previousVerifierKey;
        records.push({
          index: e.index,
          ...(typeof prev === 'string' ? { previousText: prev } : {}),
          message: `key rotation ${e.index} rejected: ${err.message}`,
        });
      }
    }
    if (page.length < 1000) break;
    after = page[page.length - 1]!.index;
  }

  // Chains of verified links, in index order.
  const chains: Chain[] = [];
  for (const r of records) {
    if (!('link' in r)) continue;
    const { link, index } = r;
    const extending = chains.find((c) => c.keys[c.keys.length - 1]!.text === link.previousText);
    if (extending) {
      if (extending.keys.some((k) => k.text === link.nextText)) {
        extending.problems.push({
          where: 'entry',
          index,
          field: 'verifierKey',
          found: link.nextText,
          message: `key rotation ${index} returns to a key used before`,
        });
        continue;
      }
      extending.keys[extending.keys.length - 1]!.toSize = index;
      extending.keys.push({ key: link.next, text: link.nextText, fromSize: index + 1 });
      continue;
    }
    const forked = chains.find((c) => c.keys.some((k) => k.text === link.previousText));
    if (forked) {
      forked.problems.push({
        where: 'entry',
        index,
        field: 'previousVerifierKey',
        expected: forked.keys[forked.keys.length - 1]!.text,
        found: link.previousText,
        message: `key rotation ${index} rotates away from a key that is not the current one`,
      });
      continue;
    }
    chains.push({
      keys: [
        { key: link.previous, text: link.previousText, fromSize: 0, toSize: index },
        { key: link.next, text: link.nextText, fromSize: index + 1 },
      ],
      problems: [],
    });
  }

  const trustedText = formatVerifierKey(opts.trusted.name, opts.trusted.publicKey);
  const own = chains.find((c) => c.keys.some((k) => k.text === trustedText));
  const ownKeys = new Set(own ? own.keys.map((k) => k.text) : [trustedText]);
  for (const r of records) {
    if ('link' in r) {
      if (!own || !ownKeys.has(r.link.previousText))
        ignored.push({ index: r.index, reason: `rotates keys this log is not signed with` });
      continue;
    }
    // An unverifiable rotation away from one of the log's keys is a problem; away from any other key, noise.
    if (r.previousText !== undefined && ownKeys.has(r.previousText))
      problems.push({ where: 'entry', index: r.index, field: 'key rotation', message: r.message });
    else ignored.push({ index: r.index, reason: r.message });
  }
  if (own) problems.push(...own.problems);
  problems.sort((a, b) => (a.index ?? -1) - (b.index ?? -1));
  ignored.sort((a, b) => a.index - b.index);
  // The node rotated its key, and the trusted key is none of the node's keys: a wrong trust anchor.
  const anchored = own !== undefined || chains.length === 0;
  if (!anchored)
    problems.unshift({
      where: 'log',
      field: 'verifier key',
      expected: trustedText,
      found: chains.map((c) => c.keys.map((k) => k.text).join(' -> ')).join('; '),
      message: "the trusted key is not one of the keys in the log's chain of key rotations",
    });
  return {
    epochs: own ? own.keys : [{ key: opts.trusted, text: trustedText, fromSize: 0 }],
    anchored,
    problems,
    ignored,
  };
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
