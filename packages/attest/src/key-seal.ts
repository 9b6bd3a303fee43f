// Node keys sealed at rest: AES-256-GCM under a scrypt key from a passphrase, over the key's PKCS#8 DER, in a
// PEM-like armored JSON file whose parameters are authenticated as AAD. Messages never contain secrets.
import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  randomBytes,
  scryptSync,
  type KeyObject,
} from 'node:crypto';
import {
  closeSync,
  fchmodSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { bytesEqual, canonicalize, parseVerifierKey } from '@vaultmesh/ledger';
import { AttestError } from './errors.ts';
import type { NodeKey } from './keys.ts';

const BEGIN = '-----BEGIN VAULTMESH SEALED NODE KEY-----';
const END = '-----END VAULTMESH SEALED NODE KEY-----';
const SPKI_ED25519_PREFIX_LENGTH = 12;

/** scrypt cost of newly sealed keys: OWASP's N = 2^17, r = 8, p = 1 (128 MiB, a few hundred ms). */
export const SEAL_DEFAULTS = { N: 2 ** 17, r: 8, p: 1 } as const;

/** Shortest passphrase `sealNodeKey` accepts. */
export const MIN_PASSPHRASE_LENGTH = 8;

/** Limits on parameters read from a sealed file (attacker-controlled): at most 2^20 and 512 MiB of scrypt. */
const MAX_N = 2 ** 20;
const MAX_SCRYPT_MEMORY = 512 * 1024 * 1024;

/** Options of `sealNodeKey`; the scrypt cost defaults to SEAL_DEFAULTS. */
export interface SealOptions {
  readonly scrypt?: { readonly N?: number; readonly r?: number; readonly p?: number };
}

/** The public, authenticated header of a sealed key file: readable without the passphrase. */
export interface SealedKeyInfo {
  readonly v: 1;
  /** The C2SP verifier key of the sealed private key. */
  readonly verifierKey: string;
  readonly kdf: {
    readonly name: 'scrypt';
    readonly N: number;
    readonly r: number;
    readonly p: number;
    readonly salt: string;
  };
  readonly cipher: { readonly name: 'aes-256-gcm'; readonly iv: string };
}

interface SealedKeyFile {
  info: SealedKeyInfo;
  tag: Buffer;
  ciphertext: Buffer;
}

/** True when the text of a key file is a sealed key (not a plain PKCS#8 PEM key). */
export function isSealedKeyText(text: string): boolean {
  return text.trimStart().startsWith(BEGIN);
}

/** True when the key file at `path` is sealed. */
export function isSealedKeyFile(path: string): boolean {
  return isSealedKeyText(readFileSync(path, 'utf8'));
}

// The additional authenticated data: every field except the tag and the ciphertext, as RFC 8785 bytes.
function aad(info: SealedKeyInfo): Buffer {
  return Buffer.from(canonicalize(info), 'utf8');
}

function deriveKey(passphrase: string, kdf: SealedKeyInfo['kdf']): Buffer {
  return scryptSync(passphrase.normalize('NFC'), Buffer.from(kdf.salt, 'base64'), 32, {
    N: kdf.N,
    r: kdf.r,
    p: kdf.p,
    maxmem: 128 * kdf.N * kdf.r + 128 * kdf.r * kdf.p + 1024 * 1024,
  });
}

function checkScrypt(N: number, r: number, p: number, source: string): void {
  const ok =
    Number.isSafeInteger(N) &&
    Number.isSafeInteger(r) &&
    Number.isSafeInteger(p) &&
    N >= 2 &&
    N <= MAX_N &&
    (N & (N - 1)) === 0 &&
    r >= 1 &&
    r <= 32 &&
    p >= 1 &&
    p <= 16 &&
    128 * N * r <= MAX_SCRYPT_MEMORY;
  if (!ok)
    throw new AttestError(
      'KEY_INVALID',
      `${source}: scrypt parameters out of range (N a power of 2 up to 2^20)`,
    );
}

/**
 * Seals a node key under a passphrase: scrypt (fresh 16-byte salt) → AES-256-GCM (fresh 12-byte IV) over the
 * PKCS#8 DER, with the header (version, verifier key, kdf, cipher) as AAD. Returns the armored file text.
 */
export function sealNodeKey(
  key: Pick<NodeKey, 'privateKey' | 'verifierKeyText'>,
  passphrase: string,
  opts: SealOptions = {},
): string {
  if (passphrase.length < MIN_PASSPHRASE_LENGTH)
    throw new AttestError(
      'KEY_PASSPHRASE',
      `a passphrase for sealing must have at least ${MIN_PASSPHRASE_LENGTH} characters`,
    );
  const N = opts.scrypt?.N ?? SEAL_DEFAULTS.N;
  const r = opts.scrypt?.r ?? SEAL_DEFAULTS.r;
  const p = opts.scrypt?.p ?? SEAL_DEFAULTS.p;
  checkScrypt(N, r, p, 'seal options');
  const info: SealedKeyInfo = {
    v: 1,
    verifierKey: key.verifierKeyText,
    kdf: { name: 'scrypt', N, r, p, salt: randomBytes(16).toString('base64') },
    cipher: { name: 'aes-256-gcm', iv: randomBytes(12).toString('base64') },
  };
  const dek = deriveKey(passphrase, info.kdf);
  const der = key.privateKey.export({ type: 'pkcs8', format: 'der' });
  try {
    const cipher = createCipheriv('aes-256-gcm', dek, Buffer.from(info.cipher.iv, 'base64'));
    cipher.setAAD(aad(info));
    const ciphertext = Buffer.concat([cipher.update(der), cipher.final()]);
    const file = {
      ...info,
      cipher: { ...info.cipher, tag: cipher.getAuthTag().toString('base64') },
      ciphertext: ciphertext.toString('base64'),
    };
    const body = Buffer.from(JSON.stringify(file), 'utf8').toString('base64');
    return `${BEGIN}\n${body.replace(/.{1,64}/g, '$&\n')}${END}\n`;
  } finally {
    dek.fill(0);
    der.fill(0);
  }
}

// Parses the armored file strictly (attacker-controlled): exactly the known fields, with sane sizes.
function parseSealed(text: string, source: string): SealedKeyFile {
  const bad = (why: string) => new AttestError('KEY_INVALID', `${source} is not a valid sealed key: ${why}`);
  const trimmed = text.trim();
  if (!trimmed.startsWith(BEGIN) || !trimmed.endsWith(END)) throw bad('missing armor lines');
  const b64 = trimmed.slice(BEGIN.length, trimmed.length - END.length).replace(/\s+/g, '');
  if (b64.length > 16_384 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw bad('armor body is not base64');
  let obj: unknown;
  try {
    obj = JSON.parse(Buffer.from(b64, 'base64').toString('utf8'));
  } catch {
    throw bad('armor body is not JSON');
  }
  const isObject = (v: unknown, keys: string[]): v is Record<string, unknown> =>
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    Object.keys(v).sort().join() === [...keys].sort().join();
  const b64Of = (v: unknown, bytes: number | [number, number], what: string): Buffer => {
    if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) throw bad(`${what} is not base64`);
    const buf = Buffer.from(v, 'base64');
    const [min, max] = typeof bytes === 'number' ? [bytes, bytes] : bytes;
    if (buf.length < min || buf.length > max || buf.toString('base64') !== v)
      throw bad(`${what} has a bad length`);
    return buf;
  };
  if (!isObject(obj, ['v', 'verifierKey', 'kdf', 'cipher', 'ciphertext'])) throw bad('unexpected fields');
  if (obj.v !== 1) throw bad(`unsupported version ${JSON.stringify(obj.v)}`);
  const { kdf, cipher } = obj;
  if (!isObject(kdf, ['name', 'N', 'r', 'p', 'salt']) || kdf.name !== 'scrypt')
    throw bad('kdf must be scrypt');
  if (!isObject(cipher, ['name', 'iv', 'tag']) || cipher.name !== 'aes-256-gcm')
    throw bad('cipher must be aes-256-gcm');
  if (typeof kdf.N !== 'number' || typeof kdf.r !== 'number' || typeof kdf.p !== 'number')
    throw bad('scrypt parameters must be numbers');
  checkScrypt(kdf.N, kdf.r, kdf.p, source);
  b64Of(kdf.salt, [16, 64], 'salt');
  b64Of(cipher.iv, 12, 'iv');
  const tag = b64Of(cipher.tag, 16, 'tag');
  const ciphertext = b64Of(obj.ciphertext, [1, 1024], 'ciphertext');
  if (typeof obj.verifierKey !== 'string') throw bad('verifierKey is missing');
  try {
    parseVerifierKey(obj.verifierKey);
  } catch {
    throw bad('verifierKey is not a verifier key');
  }
  const info: SealedKeyInfo = {
    v: 1,
    verifierKey: obj.verifierKey,
    kdf: { name: 'scrypt', N: kdf.N, r: kdf.r, p: kdf.p, salt: kdf.salt as string },
    cipher: { name: 'aes-256-gcm', iv: cipher.iv as string },
  };
  return { info, tag, ciphertext };
}

/** Reads the header of a sealed key (no passphrase needed; nothing secret in it). */
export function readSealedKeyInfo(text: string, source = 'sealed key'): SealedKeyInfo {
  return parseSealed(text, source).info;
}

/**
 * Unseals an armored key with its passphrase and returns the Ed25519 private key. A wrong passphrase and an
 * altered file both fail GCM authentication: AttestError 'KEY_PASSPHRASE', naming only `source`.
 */
export function unsealNodeKey(text: string, passphrase: string, opts: { source?: string } = {}): KeyObject {
  const source = opts.source ?? 'sealed key';
  const { info, tag, ciphertext } = parseSealed(text, source);
  if (passphrase.length === 0) throw new AttestError('KEY_PASSPHRASE', `${source}: the passphrase is empty`);
  const dek = deriveKey(passphrase, info.kdf);
  let der: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', dek, Buffer.from(info.cipher.iv, 'base64'));
    decipher.setAAD(aad(info));
    decipher.setAuthTag(tag);
    der = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    throw new AttestError(
      'KEY_PASSPHRASE',
      `${source}: wrong passphrase, or the sealed file was altered (AES-256-GCM authentication failed)`,
    );
  } finally {
    dek.fill(0);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } catch {
    throw new AttestError('KEY_INVALID', `${source}: the sealed content is not a PKCS#8 private key`);
  } finally {
    der.fill(0);
  }
  if (key.asymmetricKeyType !== 'ed25519')
    throw new AttestError('KEY_INVALID', `${source}: the sealed key is not an Ed25519 key`);
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const pub = new Uint8Array(spki.subarray(SPKI_ED25519_PREFIX_LENGTH));
  if (!bytesEqual(pub, parseVerifierKey(info.verifierKey).publicKey))
    throw new AttestError(
      'KEY_INVALID',
      `${source}: the sealed key does not match the verifier key it names`,
    );
  return key;
}

/** The text of a key file: sealed under `passphrase` when one is given, else plain PKCS#8 PEM. */
export function formatNodeKeyFile(
  key: Pick<NodeKey, 'privateKey' | 'verifierKeyText'>,
  opts: SealOptions & { passphrase?: string } = {},
): string {
  if (opts.passphrase !== undefined) return sealNodeKey(key, opts.passphrase, opts);
  return key.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}

/**
 * Replaces a file atomically with mode 0600: writes a temporary file next to it (0600, fsync), renames it
 * over `path`, then fsyncs the directory. A crash leaves either the old or the new content, never a mix.
 */
export function writeFileAtomic(path: string, text: string, mode = 0o600): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    fchmodSync(fd, mode);
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}
