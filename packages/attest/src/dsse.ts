// DSSE v1 (secure-systems-lab/dsse protocol.md and envelope.md): PAE, the JSON envelope, Ed25519 signing and
// (t, n) threshold verification against trusted keys. Envelopes are attacker-controlled input.
import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { toHex, type NoteVerifierKey } from '@vaultmesh/ledger';
import { AttestError } from './errors.ts';
import { publicKeyFromRaw, type NodeKey } from './keys.ts';
import { parseStrictJson } from '@vaultmesh/ledger';

/** The in-toto payload type (in-toto attestation framework, envelope layer). */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

/** The most signatures an envelope may carry; each costs up to one verification per trusted key. */
export const DSSE_MAX_SIGNATURES = 64;

/** The most bytes of envelope JSON that parseEnvelope reads (32 MiB). */
export const DSSE_MAX_ENVELOPE_BYTES = 32 * 1024 * 1024;

/** One signature of a DSSE JSON envelope: `sig` is base64, `keyid` an unauthenticated hint. */
export interface DsseSignature {
  keyid?: string;
  sig: string;
}

/** A DSSE JSON envelope (envelope.md): base64 payload, its type, and one or more signatures. */
export interface DsseEnvelope {
  payload: string;
  payloadType: string;
  signatures: DsseSignature[];
}

/** An Ed25519 private key and the keyid written beside its signatures. */
export interface DsseSigner {
  readonly keyid: string;
  readonly privateKey: KeyObject;
}

/** A trusted Ed25519 public key and its keyid (the keyid only orders the keys tried, never decides trust). */
export interface DsseVerifier {
  readonly keyid: string;
  readonly publicKey: KeyObject;
}

/** What happened to one signature of an envelope during verification. */
export interface DsseSignatureCheck {
  readonly index: number;
  readonly keyid: string | undefined;
  /** verified: by a trusted key not counted before; duplicate: by an already counted key; unverified: by none. */
  readonly status: 'verified' | 'duplicate' | 'unverified';
  /** The keyid of the trusted key that verified it. */
  readonly trustedKeyid?: string;
}

/** A verified envelope: the authenticated payload and type, and which trusted keys signed it. */
export interface DsseVerified {
  readonly payloadType: string;
  readonly payload: Uint8Array;
  /** Keyids of the distinct trusted keys whose signatures verified. */
  readonly keyids: string[];
  readonly signatures: DsseSignatureCheck[];
}

/** Options of verifyEnvelope. */
export interface VerifyEnvelopeOptions {
  /** The trusted keys (n). */
  readonly trusted: readonly DsseVerifier[];
  /** How many distinct trusted keys must have signed (t); default 1. */
  readonly threshold?: number;
  /** The payload types the caller can interpret; any other is rejected (protocol.md "supported type"). */
  readonly payloadTypes: readonly string[];
}

const DSSE_V1 = 'DSSEv1';

/** PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, with LEN in bytes (protocol.md). */
export function pae(payloadType: string, body: Uint8Array): Uint8Array {
  const type = Buffer.from(payloadType, 'utf8');
  const head = Buffer.from(`${DSSE_V1} ${type.length} `, 'ascii');
  const mid = Buffer.from(` ${body.length} `, 'ascii');
  return new Uint8Array(Buffer.concat([head, type, mid, body]));
}

/**
 * The keyid VaultMesh writes for a node key: `<name>+<key hash hex>`, the first two fields of its C2SP
 * verifier key text. The key hash alone is 4 opaque bytes and the name alone survives a key rotation;
 * together they are how signed notes already identify a key.
 */
export function dsseKeyId(name: string, keyHash: Uint8Array): string {
  return `${name}+${toHex(keyHash)}`;
}

/** A DSSE signer for a node key (keyid from dsseKeyId). */
export function dsseSignerFromNodeKey(key: NodeKey): DsseSigner {
  return { keyid: dsseKeyId(key.name, key.signer.keyHash), privateKey: key.privateKey };
}

/** A trusted DSSE key from a parsed C2SP verifier key (for example loadVerifierKey(...).key). */
export function dsseVerifierFromNoteKey(key: NoteVerifierKey): DsseVerifier {
  return { keyid: dsseKeyId(key.name, key.keyHash), publicKey: publicKeyFromRaw(key.publicKey) };
}

function isNodeKey(s: DsseSigner | NodeKey): s is NodeKey {
  return 'signer' in s && 'verifierKeyText' in s;
}

function requireEd25519(key: KeyObject, what: string): void {
  if (key.asymmetricKeyType !== 'ed25519')
    throw new AttestError('DSSE_OPTIONS', `${what} must be an Ed25519 key, got ${key.asymmetricKeyType}`);
}

/** Signs a payload: one signature per signer over PAE(payloadType, payload), standard base64. */
export function signEnvelope(
  payloadType: string,
  payload: Uint8Array,
  signers: DsseSigner | NodeKey | readonly (DsseSigner | NodeKey)[],
): DsseEnvelope {
  const list = (Array.isArray(signers) ? signers : [signers]) as readonly (DsseSigner | NodeKey)[];
  if (list.length === 0) throw new AttestError('DSSE_OPTIONS', 'signEnvelope needs at least one signer');
  const message = pae(payloadType, payload);
  return {
    payload: Buffer.from(payload).toString('base64'),
    payloadType,
    signatures: list.map((s) => {
      const signer = isNodeKey(s) ? dsseSignerFromNodeKey(s) : s;
      if (signer.privateKey.type !== 'private')
        throw new AttestError('DSSE_OPTIONS', `signer ${signer.keyid} needs a private key`);
      requireEd25519(signer.privateKey, `signer ${signer.keyid}`);
      const sig = Buffer.from(sign(null, message, signer.privateKey)).toString('base64');
      return signer.keyid ? { keyid: signer.keyid, sig } : { sig };
    }),
  };
}

const malformed = (message: string) => new AttestError('DSSE_MALFORMED', `DSSE envelope: ${message}`);

const STANDARD_B64 = /^[A-Za-z0-9+/]*={0,2}$/;
const URL_SAFE_B64 = /^[A-Za-z0-9_-]*={0,2}$/;

/**
 * Decodes standard or URL-safe base64 (protocol.md: verifiers MUST accept either), padding optional.
 * Refuses whitespace, mixed alphabets, wrong padding and non-zero trailing bits. Attacker-controlled input.
 */
export function decodeDsseBase64(text: string, field: string): Uint8Array {
  if (!STANDARD_B64.test(text) && !URL_SAFE_B64.test(text))
    throw malformed(`${field} is not base64 (standard or URL-safe alphabet, no whitespace)`);
  const body = text.replace(/=+$/, '');
  const padded = text.length !== body.length;
  if (body.length % 4 === 1 || (padded && text.length % 4 !== 0))
    throw malformed(`${field} has an impossible base64 length or padding`);
  const standard = body.replace(/-/g, '+').replace(/_/g, '/');
  const bytes = Buffer.from(standard, 'base64');
  if (bytes.toString('base64').replace(/=+$/, '') !== standard)
    throw malformed(`${field} is not canonical base64 (non-zero trailing bits)`);
  return new Uint8Array(bytes);
}

function describe(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}

function checkFields(obj: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) {
      const hint = k === 'extension' ? ' (DSSE signature extensions are not supported)' : '';
      throw malformed(`${where} has unknown field ${JSON.stringify(k)}${hint}`);
    }
  }
}

/** Checks a parsed value against the envelope shape; omitted empty fields (envelope.md) become empty. */
function checkEnvelope(value: unknown): DsseEnvelope {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw malformed(`must be a JSON object, got ${describe(value)}`);
  const obj = value as Record<string, unknown>;
  checkFields(obj, ['payload', 'payloadType', 'signatures'], 'the envelope');
  const { payload = '', payloadType = '', signatures = [] } = obj;
  if (typeof payload !== 'string')
    throw malformed(`payload must be a base64 string, got ${describe(payload)}`);
  if (typeof payloadType !== 'string')
    throw malformed(`payloadType must be a string, got ${describe(payloadType)}`);
  if (!Array.isArray(signatures)) throw malformed(`signatures must be an array, got ${describe(signatures)}`);
  if (signatures.length > DSSE_MAX_SIGNATURES)
    throw malformed(`has ${signatures.length} signatures; at most ${DSSE_MAX_SIGNATURES} are accepted`);
  decodeDsseBase64(payload, 'payload');
  const sigs = signatures.map((s: unknown, i): DsseSignature => {
    const where = `signatures[${i}]`;
    if (typeof s !== 'object' || s === null || Array.isArray(s))
      throw malformed(`${where} must be an object, got ${describe(s)}`);
    const so = s as Record<string, unknown>;
    checkFields(so, ['keyid', 'sig'], where);
    const { keyid = '', sig } = so;
    if (typeof sig !== 'string' || sig.length === 0)
      throw malformed(`${where}.sig must be a non-empty base64 string`);
    if (sig.length > 1024) throw malformed(`${where}.sig is too long (${sig.length} characters)`);
    decodeDsseBase64(sig, `${where}.sig`);
    if (typeof keyid !== 'string') throw malformed(`${where}.keyid must be a string, got ${describe(keyid)}`);
    if (keyid.length > 1024) throw malformed(`${where}.keyid is too long (${keyid.length} characters)`);
    return keyid ? { keyid, sig } : { sig };
  });
  return { payload, payloadType, signatures: sigs };
}

/** Parses envelope JSON strictly: shape, unknown fields, duplicate keys, base64, size. Attacker-controlled input. */
export function parseEnvelope(text: string | Uint8Array): DsseEnvelope {
  let json: string;
  if (typeof text === 'string') json = text;
  else {
    if (text.length > DSSE_MAX_ENVELOPE_BYTES)
      throw malformed(`is ${text.length} bytes; at most ${DSSE_MAX_ENVELOPE_BYTES} are accepted`);
    try {
      json = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(text);
    } catch {
      throw malformed('is not valid UTF-8');
    }
  }
  if (json.length > DSSE_MAX_ENVELOPE_BYTES)
    throw malformed(`is ${json.length} characters; at most ${DSSE_MAX_ENVELOPE_BYTES} are accepted`);
  return checkEnvelope(parseStrictJson(json, (m) => malformed(m)));
}

/** Serializes an envelope as the JSON text written to files (two-space indented, final newline). */
export function formatEnvelope(envelope: DsseEnvelope): string {
  return JSON.stringify(checkEnvelope(envelope), null, 2) + '\n';
}

function spkiHex(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'der' }).toString('hex');
}

/**
 * Verifies an envelope (protocol.md, multi-signature verification): at least `threshold` distinct trusted
 * keys must have produced a valid signature over PAE(payloadType, payload), and the payload type must be
 * one the caller supports. A keyid only decides which trusted key is tried first. Throws DSSE_MALFORMED,
 * DSSE_SIGNATURE_INVALID (details: every signature's outcome) or DSSE_PAYLOAD_TYPE.
 */
export function verifyEnvelope(
  envelope: DsseEnvelope | string | Uint8Array,
  opts: VerifyEnvelopeOptions,
): DsseVerified {
  const threshold = opts.threshold ?? 1;
  if (!Number.isSafeInteger(threshold) || threshold < 1)
    throw new AttestError('DSSE_OPTIONS', `threshold must be a positive integer, got ${threshold}`);
  // Distinct keys: the same public key listed twice (under two keyids) must not count twice.
  const trusted: { keyid: string; publicKey: KeyObject; id: string }[] = [];
  for (const t of opts.trusted) {
    if (t.publicKey.type !== 'public' && t.publicKey.type !== 'private')
      throw new AttestError('DSSE_OPTIONS', `trusted key ${t.keyid} is not an asymmetric key`);
    requireEd25519(t.publicKey, `trusted key ${t.keyid}`);
    const id = spkiHex(t.publicKey);
    if (!trusted.some((k) => k.id === id)) trusted.push({ keyid: t.keyid, publicKey: t.publicKey, id });
  }
  if (trusted.length < threshold)
    throw new AttestError(
      'DSSE_OPTIONS',
      `threshold ${threshold} exceeds the ${trusted.length} distinct trusted key(s) given`,
    );

  const env =
    typeof envelope === 'string' || envelope instanceof Uint8Array
      ? parseEnvelope(envelope)
      : checkEnvelope(envelope);
  const payload = decodeDsseBase64(env.payload, 'payload');
  const message = pae(env.payloadType, payload);

  const accepted = new Set<string>();
  const keyids: string[] = [];
  const checks: DsseSignatureCheck[] = env.signatures.map((s, index) => {
    const sig = decodeDsseBase64(s.sig, `signatures[${index}].sig`);
    // The keyid is an unauthenticated hint (protocol.md): try matching keys first, then every other one.
    const order = [
      ...trusted.filter((k) => k.keyid === s.keyid),
      ...trusted.filter((k) => k.keyid !== s.keyid),
    ];
    const by = sig.length === 64 ? order.find((k) => verify(null, message, k.publicKey, sig)) : undefined;
    if (!by) return { index, keyid: s.keyid, status: 'unverified' };
    if (accepted.has(by.id)) return { index, keyid: s.keyid, status: 'duplicate', trustedKeyid: by.keyid };
    accepted.add(by.id);
    keyids.push(by.keyid);
    return { index, keyid: s.keyid, status: 'verified', trustedKeyid: by.keyid };
  });
  if (accepted.size < threshold) {
    const what =
      env.signatures.length === 0 ? 'the envelope has no signatures' : `${accepted.size} of them verified`;
    throw new AttestError(
      'DSSE_SIGNATURE_INVALID',
      `DSSE envelope: ${threshold} distinct trusted key signature(s) required; ${what}`,
      { threshold, payloadType: env.payloadType, signatures: checks, trusted: trusted.map((k) => k.keyid) },
    );
  }
  if (!opts.payloadTypes.includes(env.payloadType))
    throw new AttestError(
      'DSSE_PAYLOAD_TYPE',
      `DSSE envelope: payload type ${JSON.stringify(env.payloadType)} is not supported (expected ${opts.payloadTypes
        .map((t) => JSON.stringify(t))
        .join(' or ')})`,
      { payloadType: env.payloadType },
    );
  return { payloadType: env.payloadType, payload, keyids, signatures: checks };
}
