// Node keys: Ed25519 via node:crypto, stored as PKCS#8 PEM (or sealed, key-seal.ts) with 0600 permissions;
// note signers and verifiers.
import { AttestError } from './errors.ts';
import { isSealedKeyText, unsealNodeKey } from './key-seal.ts';
import {
  createHash,
  createPrivateKey,
  hash as oneShotHash,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  createMerkleHasher,
  ed25519KeyHash,
  formatVerifierKey,
  parseVerifierKey,
  type Ed25519Verify,
  type MerkleHasher,
  type NoteSigner,
  type NoteVerifierKey,
  type Sha256,
  type Sha256Into,
} from '@vaultmesh/ledger';

/** SHA-256 from node:crypto (native, several times faster than the pure fallback). */
export const nodeSha256: Sha256 =
  typeof oneShotHash === 'function'
    ? // A latin1 string result lands in Buffer's pool: ~2x faster than a fresh ArrayBuffer per digest.
      (data) => Buffer.from(oneShotHash('sha256', data, 'binary'), 'latin1')
    : (data) => createHash('sha256').update(data).digest();

const latin1Write = Buffer.prototype.latin1Write as (this: Uint8Array, s: string, offset: number) => number;
/** SHA-256 from node:crypto written straight into a buffer (no Buffer object per digest). */
const nodeSha256Into: Sha256Into =
  typeof oneShotHash === 'function'
    ? (data, out, offset) => void latin1Write.call(out, oneShotHash('sha256', data, 'binary'), offset)
    : (data, out, offset) => out.set(nodeSha256(data), offset);

/** RFC 6962 hasher over node:crypto. */
export const nodeHasher: MerkleHasher = createMerkleHasher(nodeSha256, nodeSha256Into);

const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** Raw 32-byte Ed25519 public key of a KeyObject. */
export function rawPublicKey(key: KeyObject): Uint8Array {
  const der = createPublicKey(key).export({ type: 'spki', format: 'der' });
  return new Uint8Array(der.subarray(SPKI_ED25519_PREFIX.length));
}

/** A KeyObject for a raw 32-byte Ed25519 public key. */
export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
}

/** KeyObjects of recently used raw public keys: building one costs more than an Ed25519 verify. */
const keyObjects = new Map<string, KeyObject>();
const KEY_CACHE_MAX = 256;

function cachedPublicKey(raw: Uint8Array): KeyObject {
  const id = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('latin1');
  let key = keyObjects.get(id);
  if (!key) {
    key = publicKeyFromRaw(raw);
    if (keyObjects.size >= KEY_CACHE_MAX) keyObjects.delete(keyObjects.keys().next().value!);
    keyObjects.set(id, key);
  }
  return key;
}

/** Ed25519 verification over node:crypto (native); KeyObjects of recent keys are cached. */
export const nodeEd25519Verify: Ed25519Verify = (sig, msg, pub) => {
  try {
    if (pub.length !== 32) return false;
    return verify(null, msg, cachedPublicKey(pub), sig);
  } catch {
    return false;
  }
};

/** An Ed25519 node key with its note identity. */
export interface NodeKey {
  readonly name: string;
  readonly privateKey: KeyObject;
  readonly publicKey: Uint8Array;
  readonly signer: NoteSigner;
  readonly verifierKey: NoteVerifierKey;
  /** The C2SP verifier key string. */
  readonly verifierKeyText: string;
}

/** Wraps a private key as a note signer named `name`. */
export function nodeKeyFrom(name: string, privateKey: KeyObject): NodeKey {
  const publicKey = rawPublicKey(privateKey);
  const keyHash = ed25519KeyHash(name, publicKey, nodeSha256);
  const verifierKeyText = formatVerifierKey(name, publicKey);
  return {
    name,
    privateKey,
    publicKey,
    signer: { name, keyHash, sign: (msg) => new Uint8Array(sign(null, msg, privateKey)) },
    verifierKey: parseVerifierKey(verifierKeyText),
    verifierKeyText,
  };
}

/** Generates a fresh Ed25519 key. */
export function generateNodeKey(name: string): NodeKey {
  return nodeKeyFrom(name, generateKeyPairSync('ed25519').privateKey);
}

/** Writes the key as PKCS#8 PEM with mode 0600 (refuses to overwrite), and the verifier key next to it. */
export function saveNodeKey(key: NodeKey, path: string): void {
  if (existsSync(path)) throw new AttestError('KEY_EXISTS', `key file ${path} already exists`);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const pem = key.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  writeFileSync(path, pem, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  writeFileSync(`${path}.pub`, key.verifierKeyText + '\n', { mode: 0o644 });
}

/** Loads a key file, unsealing a sealed one with `passphrase`; refuses a key readable by group or others. */
export function loadNodeKey(name: string, path: string, opts: { passphrase?: string } = {}): NodeKey {
  if (!existsSync(path)) throw new AttestError('KEY_MISSING', `key file ${path} does not exist`);
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new AttestError(
      'KEY_PERMISSIONS',
      `key file ${path} has mode ${mode.toString(8)}; it must not be readable by others (chmod 600)`,
    );
  }
  const text = readFileSync(path, 'utf8');
  if (isSealedKeyText(text)) {
    if (opts.passphrase === undefined)
      throw new AttestError(
        'KEY_PASSPHRASE',
        `key file ${path} is sealed; a passphrase is needed to open it`,
      );
    return nodeKeyFrom(name, unsealNodeKey(text, opts.passphrase, { source: `key file ${path}` }));
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(text);
  } catch {
    throw new AttestError('KEY_INVALID', `key file ${path} is not a PEM private key`);
  }
  if (key.asymmetricKeyType !== 'ed25519')
    throw new AttestError('KEY_INVALID', `key file ${path} is not an Ed25519 key`);
  return nodeKeyFrom(name, key);
}

/** Reads a verifier key file written by saveNodeKey. */
export function loadVerifierKey(path: string): { key: NoteVerifierKey; text: string } {
  if (!existsSync(path)) throw new AttestError('KEY_MISSING', `verifier key file ${path} does not exist`);
  const text = readFileSync(path, 'utf8').trim();
  try {
    return { key: parseVerifierKey(text), text };
  } catch (err) {
    throw new AttestError('KEY_INVALID', `verifier key file ${path}: ${(err as Error).message}`);
  }
}
