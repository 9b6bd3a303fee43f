// C2SP signed-note: text + blank line + "— <name> <base64(keyhash || sig)>" lines; Ed25519 signature type 0x01.
import { ed25519 } from '@noble/curves/ed25519';
import { sha256 as nobleSha256 } from '@noble/hashes/sha256';
import { bytesEqual, concatBytes, fromBase64, fromUtf8, toBase64, toHex, utf8 } from './bytes.ts';
import { LedgerError } from './errors.ts';
import type { Sha256 } from './hash.ts';

export const ED25519_ALG = 0x01;
const SIG_PREFIX = '\u2014 ';

/** Ed25519 verification primitive: pure by default, node:crypto injected at the edges for speed. */
export type Ed25519Verify = (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array) => boolean;

export const nobleEd25519Verify: Ed25519Verify = (sig, msg, pub) => {
  try {
    return ed25519.verify(sig, msg, pub);
  } catch {
    return false;
  }
};

/** Produces note signatures. `sign` must be deterministic Ed25519 over the exact note text bytes. */
export interface NoteSigner {
  readonly name: string;
  readonly keyHash: Uint8Array;
  sign(message: Uint8Array): Uint8Array;
}

/** A parsed note verifier key (`<name>+<hex keyhash>+<base64(0x01 || pubkey)>`). */
export interface NoteVerifierKey {
  readonly name: string;
  readonly keyHash: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** A signature line of a note. */
export interface NoteSignature {
  readonly name: string;
  readonly keyHash: Uint8Array;
  readonly signature: Uint8Array;
}

function checkName(name: string): void {
  if (name.length === 0 || /[\s+]/u.test(name)) {
    throw new LedgerError('KEY_MALFORMED', 'key name must be non-empty with no spaces or "+"');
  }
}

/** Key hash per C2SP signed-note: SHA-256(name || 0x0A || 0x01 || pubkey)[:4]. */
export function ed25519KeyHash(
  name: string,
  publicKey: Uint8Array,
  sha256: Sha256 = nobleSha256,
): Uint8Array {
  checkName(name);
  return sha256(concatBytes(utf8(name), new Uint8Array([0x0a, ED25519_ALG]), publicKey)).slice(0, 4);
}

/** Formats a verifier key string for an Ed25519 public key. */
export function formatVerifierKey(name: string, publicKey: Uint8Array): string {
  if (publicKey.length !== 32) throw new LedgerError('KEY_MALFORMED', 'Ed25519 public keys are 32 bytes');
  return `${name}+${toHex(ed25519KeyHash(name, publicKey))}+${toBase64(concatBytes(new Uint8Array([ED25519_ALG]), publicKey))}`;
}

/** Parses a verifier key string (attacker-controlled input). Only Ed25519 (0x01) keys are accepted. */
export function parseVerifierKey(text: string): NoteVerifierKey {
  // The base64 key may itself contain '+', so split only at the first two (as golang.org/x/mod/sumdb/note does).
  const p1 = text.indexOf('+');
  const p2 = p1 < 0 ? -1 : text.indexOf('+', p1 + 1);
  if (p1 < 0 || p2 < 0) throw new LedgerError('KEY_MALFORMED', 'verifier key must be name+hash+key');
  const name = text.slice(0, p1);
  const hashHex = text.slice(p1 + 1, p2);
  const keyB64 = text.slice(p2 + 1);
  checkName(name);
  if (!/^[0-9a-f]{8}$/.test(hashHex))
    throw new LedgerError('KEY_MALFORMED', 'key hash must be 8 lower-case hex digits');
  let raw: Uint8Array;
  try {
    raw = fromBase64(keyB64);
  } catch {
    throw new LedgerError('KEY_MALFORMED', 'key is not base64');
  }
  if (raw.length !== 33 || raw[0] !== ED25519_ALG)
    throw new LedgerError('KEY_MALFORMED', 'not an Ed25519 verifier key');
  const publicKey = raw.slice(1);
  const keyHash = ed25519KeyHash(name, publicKey);
  if (toHex(keyHash) !== hashHex) throw new LedgerError('KEY_MALFORMED', 'key hash does not match the key');
  return { name, keyHash, publicKey };
}

function checkText(text: string): void {
  if (!text.endsWith('\n')) throw new LedgerError('NOTE_MALFORMED', 'note text must end with a newline');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0009\u000b-\u001f\u007f]/.test(text)) {
    throw new LedgerError('NOTE_MALFORMED', 'note text contains control characters');
  }
}

/** Signs note text with each signer and returns the full note. */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  checkText(text);
  const msg = utf8(text);
  let out = text + '\n';
  for (const s of signers) {
    out += formatSignatureLine({ name: s.name, keyHash: s.keyHash, signature: s.sign(msg) });
  }
  return out;
}

/** One signature line, newline-terminated. */
export function formatSignatureLine(sig: NoteSignature): string {
  return `${SIG_PREFIX}${sig.name} ${toBase64(concatBytes(sig.keyHash, sig.signature))}\n`;
}

/** Splits a note (attacker-controlled) into text and signature lines without verifying. */
export function parseNote(note: string): { text: string; signatures: NoteSignature[] } {
  if (note.length > 1_000_000) throw new LedgerError('NOTE_MALFORMED', 'note too large');
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw new LedgerError('NOTE_MALFORMED', 'note has no signature block');
  const text = note.slice(0, split + 1);
  checkText(text);
  const block = note.slice(split + 2);
  if (!block.endsWith('\n'))
    throw new LedgerError('NOTE_MALFORMED', 'signature block must end with a newline');
  const signatures: NoteSignature[] = [];
  for (const line of block.slice(0, -1).split('\n')) {
    if (!line.startsWith(SIG_PREFIX)) throw new LedgerError('NOTE_MALFORMED', 'malformed signature line');
    const rest = line.slice(SIG_PREFIX.length);
    const sp = rest.lastIndexOf(' ');
    if (sp <= 0) throw new LedgerError('NOTE_MALFORMED', 'malformed signature line');
    const name = rest.slice(0, sp);
    let raw: Uint8Array;
    try {
      raw = fromBase64(rest.slice(sp + 1));
    } catch {
      throw new LedgerError('NOTE_MALFORMED', 'signature is not base64');
    }
    if (raw.length < 5 || /[\s+]/u.test(name))
      throw new LedgerError('NOTE_MALFORMED', 'malformed signature line');
    signatures.push({ name, keyHash: raw.slice(0, 4), signature: raw.slice(4) });
  }
  if (signatures.length === 0) throw new LedgerError('NOTE_MALFORMED', 'note has no signatures');
  if (signatures.length > 100) throw new LedgerError('NOTE_MALFORMED', 'too many signatures');
  return { text, signatures };
}

/** Result of opening a note: the text and which known keys signed it. */
export interface OpenedNote {
  text: string;
  verifiedBy: NoteVerifierKey[];
  /** Signatures from keys this verifier does not know (kept, not trusted). */
  unverified: NoteSignature[];
}

/**
 * Verifies a note against known keys. Fails with SIGNATURE_INVALID when no known key signed it or when a
 * known key's signature does not verify (the evidence names the key).
 */
export function openNote(
  note: string,
  keys: readonly NoteVerifierKey[],
  verify: Ed25519Verify = nobleEd25519Verify,
): OpenedNote {
  const { text, signatures } = parseNote(note);
  const msg = utf8(text);
  const verifiedBy: NoteVerifierKey[] = [];
  const unverified: NoteSignature[] = [];
  for (const sig of signatures) {
    const key = keys.find((k) => k.name === sig.name && bytesEqual(k.keyHash, sig.keyHash));
    if (!key) {
      unverified.push(sig);
      continue;
    }
    if (sig.signature.length !== 64 || !verify(sig.signature, msg, key.publicKey)) {
      throw new LedgerError('SIGNATURE_INVALID', `invalid signature by ${key.name}`, {
        key: key.name,
        keyHash: toHex(key.keyHash),
      });
    }
    if (!verifiedBy.includes(key)) verifiedBy.push(key);
  }
  if (verifiedBy.length === 0) {
    throw new LedgerError('SIGNATURE_INVALID', 'no signature from a known key', {
      signers: signatures.map((s) => `${s.name}+${toHex(s.keyHash)}`),
    });
  }
  return { text, verifiedBy, unverified };
}

/** Decodes note bytes strictly as UTF-8. */
export function noteFromBytes(bytes: Uint8Array): string {
  return fromUtf8(bytes);
}
