// C2SP tlog-cosignature v1 with Ed25519 (https://c2sp.org/tlog-cosignature): a witness's timestamped signature of
// a checkpoint, carried as one more signature line of the checkpoint's signed note. Beside the note format (note.ts)
// in the pure core: no I/O; SHA-256 and Ed25519 verification are the pure ones unless the edge injects faster ones.
//   key ID  = SHA-256(<name> || "\n" || 0x04 || 32-byte public key)[:4]
//   line    = "— <name> " || base64(key ID || u64 big-endian timestamp || Ed25519 signature)
//   message = "cosignature/v1\n" || "time <timestamp>\n" || the note body (with its final newline)
import { sha256 as nobleSha256 } from '@noble/hashes/sha256';
import { bytesEqual, concatBytes, fromBase64, toBase64, toHex, utf8 } from './bytes.ts';
import { LedgerError } from './errors.ts';
import type { Sha256 } from './hash.ts';
import { nobleEd25519Verify, type Ed25519Verify } from './note.ts';

/** The C2SP signature-type byte of Ed25519 cosignatures. */
export const COSIGNATURE_ALG = 0x04;
const DASH = '\u2014';
const LINE = new RegExp(`^${DASH} (\\S+) ([A-Za-z0-9+/=]+)$`);

/** A cosigner's public key and name. */
export interface CosignerKey {
  readonly name: string;
  readonly publicKey: Uint8Array;
}

/** A parsed cosignature line (not yet verified). */
export interface CosignatureLine {
  readonly name: string;
  readonly keyId: Uint8Array;
  readonly timestamp: number;
  readonly signature: Uint8Array;
}

/** SHA-256(name || "\n" || 0x04 || key)[:4]. */
export function cosignatureKeyId(
  name: string,
  publicKey: Uint8Array,
  sha256: Sha256 = nobleSha256,
): Uint8Array {
  return sha256(concatBytes(utf8(name + '\n'), new Uint8Array([COSIGNATURE_ALG]), publicKey)).slice(0, 4);
}

/** The cosigner's verifier key text, as signed-note vkeys are written: `<name>+<hex key ID>+<base64(0x04 || key)>`. */
export function cosignerVerifierKey(name: string, publicKey: Uint8Array): string {
  const id = toHex(cosignatureKeyId(name, publicKey));
  return `${name}+${id}+${toBase64(concatBytes(new Uint8Array([COSIGNATURE_ALG]), publicKey))}`;
}

const decode = (text: string, code: 'INVALID_ARGUMENT' | 'COSIGNATURE_INVALID', what: string) => {
  try {
    return fromBase64(text);
  } catch (err) {
    throw new LedgerError(code, `${what}: ${(err as Error).message}`);
  }
};

/** Parses a cosigner vkey (type 0x04 only); INVALID_ARGUMENT otherwise. */
export function parseCosignerKey(text: string): CosignerKey {
  const m = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/.exec(text.trim());
  if (!m) throw new LedgerError('INVALID_ARGUMENT', 'a cosigner key is <name>+<8 hex>+<base64>');
  const raw = decode(m[3]!, 'INVALID_ARGUMENT', 'a cosigner key');
  if (raw.length !== 33 || raw[0] !== COSIGNATURE_ALG)
    throw new LedgerError('INVALID_ARGUMENT', 'a cosigner key must be type 0x04 with a 32-byte Ed25519 key');
  const key = { name: m[1]!, publicKey: raw.slice(1) };
  if (toHex(cosignatureKeyId(key.name, key.publicKey)) !== m[2])
    throw new LedgerError('INVALID_ARGUMENT', 'the cosigner key ID does not match its name and key');
  return key;
}

/** The exact bytes a cosigner signs. */
export function cosignatureMessage(noteBody: string, timestamp: number): Uint8Array {
  if (!noteBody.endsWith('\n'))
    throw new LedgerError('INVALID_ARGUMENT', 'a checkpoint note body ends with a newline');
  return utf8(`cosignature/v1\ntime ${timestamp}\n${noteBody}`);
}

/** Signs a checkpoint body as a cosigner; returns the signature line (without newline). */
export function signCosignature(opts: {
  noteBody: string;
  name: string;
  publicKey: Uint8Array;
  sign: (message: Uint8Array) => Uint8Array;
  timestamp: number;
}): string {
  if (!Number.isSafeInteger(opts.timestamp) || opts.timestamp < 0)
    throw new LedgerError(
      'INVALID_ARGUMENT',
      'a cosignature timestamp is a non-negative integer (POSIX seconds)',
    );
  const sig = opts.sign(cosignatureMessage(opts.noteBody, opts.timestamp));
  if (sig.length !== 64) throw new LedgerError('INVALID_ARGUMENT', 'an Ed25519 signature is 64 bytes');
  const ts = new Uint8Array(8);
  new DataView(ts.buffer).setBigUint64(0, BigInt(opts.timestamp));
  const blob = concatBytes(cosignatureKeyId(opts.name, opts.publicKey), ts, sig);
  return `${DASH} ${opts.name} ${toBase64(blob)}`;
}

/** Parses one signature line as a cosignature (76-byte payload); COSIGNATURE_INVALID if it cannot be one. */
export function parseCosignatureLine(line: string): CosignatureLine {
  const m = LINE.exec(line.trim());
  if (!m) throw new LedgerError('COSIGNATURE_INVALID', 'not a signature line ("— <name> <base64>")');
  const raw = decode(m[2]!, 'COSIGNATURE_INVALID', 'a cosignature');
  if (raw.length !== 4 + 8 + 64)
    throw new LedgerError('COSIGNATURE_INVALID', `a cosignature is 76 bytes, this one ${raw.length}`);
  const ts = new DataView(raw.buffer, raw.byteOffset + 4, 8).getBigUint64(0);
  if (ts > BigInt(Number.MAX_SAFE_INTEGER))
    throw new LedgerError('COSIGNATURE_INVALID', 'cosignature timestamp out of range');
  return { name: m[1]!, keyId: raw.slice(0, 4), timestamp: Number(ts), signature: raw.slice(12) };
}

/** Options of verifyCosignature: the clock, the allowed skew, and the Ed25519 primitive (edges pass node's). */
export interface VerifyCosignatureOptions {
  readonly now?: number;
  readonly maxSkewSeconds?: number;
  readonly ed25519Verify?: Ed25519Verify;
}

/**
 * Verifies a cosignature line over a note body with the cosigner's key; returns its timestamp. Throws
 * COSIGNATURE_INVALID naming why (name, key ID, signature, or a timestamp more than `maxSkewSeconds` ahead).
 */
export function verifyCosignature(
  noteBody: string,
  line: string,
  key: CosignerKey,
  opts: VerifyCosignatureOptions = {},
): { timestamp: number } {
  const c = parseCosignatureLine(line);
  if (c.name !== key.name)
    throw new LedgerError('COSIGNATURE_INVALID', `cosignature is by ${c.name}, not ${key.name}`);
  if (!bytesEqual(c.keyId, cosignatureKeyId(key.name, key.publicKey)))
    throw new LedgerError('COSIGNATURE_INVALID', `cosignature key ID does not match ${key.name}'s key`);
  const now = Math.floor((opts.now ?? Date.now()) / 1000);
  if (c.timestamp > now + (opts.maxSkewSeconds ?? 300))
    throw new LedgerError('COSIGNATURE_INVALID', `cosignature timestamp ${c.timestamp} is in the future`);
  const verify = opts.ed25519Verify ?? nobleEd25519Verify;
  if (!verify(c.signature, cosignatureMessage(noteBody, c.timestamp), key.publicKey))
    throw new LedgerError('COSIGNATURE_INVALID', `cosignature by ${key.name} does not verify`);
  return { timestamp: c.timestamp };
}

/** The signature lines of a signed note (everything after the blank line). */
export function noteSignatureLines(note: string): { body: string; lines: string[] } {
  const i = note.indexOf('\n\n');
  if (i < 0) throw new LedgerError('NOTE_MALFORMED', 'not a signed note (no blank line)');
  return {
    body: note.slice(0, i + 1),
    lines: note
      .slice(i + 2)
      .split('\n')
      .filter((l) => l.length > 0),
  };
}

/** Adds cosignature lines to a signed note (after its existing lines, no duplicates, in a stable order). */
export function addCosignatures(note: string, lines: readonly string[]): string {
  const { body, lines: existing } = noteSignatureLines(note);
  const extra = [...new Set(lines.map((l) => l.trim()))].filter((l) => !existing.includes(l)).sort();
  return `${body}\n${[...existing, ...extra].map((l) => l + '\n').join('')}`;
}

/** Which of the given cosigners' cosignatures on a note verify (lines by other names are ignored). */
export function verifyCosignedNote(
  note: string,
  cosigners: readonly CosignerKey[],
  opts: VerifyCosignatureOptions = {},
): { name: string; ok: boolean; timestamp?: number; error?: string }[] {
  const { body, lines } = noteSignatureLines(note);
  return cosigners.map((k) => {
    const mine = lines.filter((l) => l.startsWith(`${DASH} ${k.name} `));
    let lastError = 'no cosignature by this cosigner';
    for (const l of mine) {
      try {
        const { timestamp } = verifyCosignature(body, l, k, opts);
        return { name: k.name, ok: true, timestamp };
      } catch (err) {
        lastError = (err as Error).message;
      }
    }
    return { name: k.name, ok: false, error: lastError };
  });
}
