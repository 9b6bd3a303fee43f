// Key rotation statements: the old and the new node key both sign RFC 8785 bytes that name each other.
import { fromBase64, toBase64, toHex } from './bytes.ts';
import { LedgerError } from './errors.ts';
import { canonicalBytes } from './jcs.ts';
import { nobleEd25519Verify, parseVerifierKey, type Ed25519Verify, type NoteVerifierKey } from './note.ts';

/** Names what the signed bytes are, so a rotation signature can never pass for a note or anything else. */
export const KEY_ROTATION_STATEMENT = 'vaultmesh/key-rotation/v1';

/**
 * What a rotation says: in the log of `origin`, `verifierKey` replaces `previousVerifierKey`. The new key signs
 * every checkpoint that contains the rotation's `key` receipt; the previous key signs the smaller ones.
 */
export interface KeyRotation {
  readonly origin: string;
  readonly previousVerifierKey: string;
  readonly verifierKey: string;
  /** The log size when both keys signed: at most the index of the `key` receipt (equal when no one else wrote). */
  readonly treeSize: number;
}

/** The body of a `key` receipt with operation `rotate`: the statement plus both signatures (base64). */
export type KeyRotationBody = {
  operation: 'rotate';
  keyName: string;
  verifierKey: string;
  previousVerifierKey: string;
  treeSize: number;
  previousKeySignature: string;
  newKeySignature: string;
};

/** The bytes both keys sign: RFC 8785 of {statement, origin, previousVerifierKey, verifierKey, treeSize}. */
export function keyRotationStatement(r: KeyRotation): Uint8Array {
  return canonicalBytes({
    statement: KEY_ROTATION_STATEMENT,
    origin: r.origin,
    previousVerifierKey: r.previousVerifierKey,
    verifierKey: r.verifierKey,
    treeSize: r.treeSize,
  });
}

/** Builds a rotation receipt body from the statement and the two raw Ed25519 signatures over its bytes. */
export function keyRotationBody(
  r: KeyRotation,
  signatures: { previous: Uint8Array; next: Uint8Array },
): KeyRotationBody {
  return {
    operation: 'rotate',
    keyName: r.origin,
    verifierKey: r.verifierKey,
    previousVerifierKey: r.previousVerifierKey,
    treeSize: r.treeSize,
    previousKeySignature: toBase64(signatures.previous),
    newKeySignature: toBase64(signatures.next),
  };
}

/** A rotation whose two signatures verified. */
export interface VerifiedKeyRotation {
  readonly previous: NoteVerifierKey;
  readonly next: NoteVerifierKey;
  readonly previousText: string;
  readonly nextText: string;
}

/**
 * Checks a rotation receipt body (attacker-controlled) recorded at `index` of the log of `origin`: both keys
 * are distinct Ed25519 verifier keys named `origin`, `treeSize` is at most `index`, and both the previous and
 * the new key signed the statement. Fails with SIGNATURE_INVALID (naming which signature) or RECEIPT_INVALID.
 */
export function verifyKeyRotation(
  body: Record<string, unknown>,
  opts: { origin: string; index: number; verify?: Ed25519Verify },
): VerifiedKeyRotation {
  const text = (field: string): string => {
    const v = body[field];
    if (typeof v !== 'string') throw new LedgerError('RECEIPT_INVALID', `rotation: ${field} is missing`);
    return v;
  };
  if (body.operation !== 'rotate') throw new LedgerError('RECEIPT_INVALID', 'not a rotation receipt');
  const previousText = text('previousVerifierKey');
  const nextText = text('verifierKey');
  const previous = parseVerifierKey(previousText);
  const next = parseVerifierKey(nextText);
  if (previous.name !== opts.origin || next.name !== opts.origin || body.keyName !== opts.origin)
    throw new LedgerError('RECEIPT_INVALID', `rotation: keys must be named by the log origin ${opts.origin}`);
  if (previousText === nextText)
    throw new LedgerError('RECEIPT_INVALID', 'rotation: the key does not change');
  const treeSize = body.treeSize;
  if (
    typeof treeSize !== 'number' ||
    !Number.isSafeInteger(treeSize) ||
    treeSize < 0 ||
    treeSize > opts.index
  )
    throw new LedgerError(
      'RECEIPT_INVALID',
      `rotation: treeSize ${String(treeSize)} must be an integer from 0 to the receipt's index ${opts.index}`,
    );
  const msg = keyRotationStatement({
    origin: opts.origin,
    previousVerifierKey: previousText,
    verifierKey: nextText,
    treeSize,
  });
  const verify = opts.verify ?? nobleEd25519Verify;
  const check = (field: string, key: NoteVerifierKey, who: string) => {
    const encoded = text(field);
    let sig: Uint8Array;
    try {
      sig = fromBase64(encoded);
    } catch {
      throw new LedgerError('RECEIPT_INVALID', `rotation: ${field} is not base64`);
    }
    if (sig.length !== 64 || !verify(sig, msg, key.publicKey))
      throw new LedgerError('SIGNATURE_INVALID', `rotation: the ${who} key's signature does not verify`, {
        key: `${key.name}+${toHex(key.keyHash)}`,
        field,
      });
  };
  check('previousKeySignature', previous, 'previous');
  check('newKeySignature', next, 'new');
  return { previous, next, previousText, nextText };
}
