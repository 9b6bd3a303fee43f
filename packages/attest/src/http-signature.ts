// RFC 9421 HTTP message signatures: component values (§2), signature base (§2.5), signing (§3.1) and verification
// (§3.2) with ed25519, hmac-sha256, rsa-pss-sha512 and ecdsa-p256-sha256 over node:crypto.
import {
  constants,
  createHmac,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  randomBytes,
  sign as cryptoSign,
  timingSafeEqual,
  verify as cryptoVerify,
  type KeyObject,
} from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import {
  createContentDigest,
  verifyContentDigest,
  type ContentDigestAlgorithm,
  type MessageBody,
} from './content-digest.ts';
import { AttestError } from './errors.ts';
import type { ReplayCache } from './replay-cache.ts';
import {
  parseSfDictionary,
  parseSfItem,
  serializeSfMember,
  serializeSfParams,
  serializeSfString,
  type SfDictionary,
  type SfInnerList,
  type SfItem,
  type SfParams,
} from './structured-fields.ts';

/** The algorithms of the RFC 9421 registry (§6.2.2) this package signs and verifies with. */
export type HttpSignatureAlgorithm = 'ed25519' | 'hmac-sha256' | 'rsa-pss-sha512' | 'ecdsa-p256-sha256';

/** Every supported algorithm. */
export const HTTP_SIGNATURE_ALGORITHMS: readonly HttpSignatureAlgorithm[] = [
  'ed25519',
  'hmac-sha256',
  'rsa-pss-sha512',
  'ecdsa-p256-sha256',
];

/** Key material bound to one algorithm: private or secret to sign, public or secret to verify. */
export interface HttpSignatureKey {
  readonly alg: HttpSignatureAlgorithm;
  readonly key: KeyObject;
}

/** Shortest HMAC secret accepted (bytes): the output size of SHA-256. */
export const MIN_HMAC_KEY_BYTES = 32;

/**
 * Binds key material to an algorithm after checking that they fit (Ed25519 key, RSA ≥ 2048 bits, P-256 curve,
 * secret of at least 32 bytes). PEM text is read as a private key first, then as a public key.
 */
export function createHttpSignatureKey(
  alg: HttpSignatureAlgorithm,
  material: KeyObject | string | Uint8Array,
): HttpSignatureKey {
  let key: KeyObject;
  if (typeof material === 'string') {
    try {
      key = createPrivateKey(material);
    } catch {
      try {
        key = createPublicKey(material);
      } catch {
        throw new AttestError('KEY_INVALID', `${alg}: the key is not a PEM private or public key`);
      }
    }
  } else if (material instanceof Uint8Array) {
    if (alg !== 'hmac-sha256')
      throw new AttestError('KEY_INVALID', `${alg}: raw bytes are only a key for hmac-sha256`);
    key = createSecretKey(material);
  } else key = material;
  const bad = (why: string): never => {
    throw new AttestError('KEY_INVALID', `${alg}: ${why}`);
  };
  switch (alg) {
    case 'ed25519':
      if (key.asymmetricKeyType !== 'ed25519') bad('not an Ed25519 key');
      break;
    case 'rsa-pss-sha512':
      if (key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'rsa-pss') bad('not an RSA key');
      if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) bad('RSA keys must have at least 2048 bits');
      break;
    case 'ecdsa-p256-sha256':
      if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
        bad('not a P-256 key');
      break;
    case 'hmac-sha256':
      if (key.type !== 'secret') bad('not a secret key');
      if ((key.symmetricKeySize ?? 0) < MIN_HMAC_KEY_BYTES)
        bad(`the secret must have at least ${MIN_HMAC_KEY_BYTES} bytes`);
      break;
  }
  return { alg, key };
}

/**
 * Reads an HMAC secret file (its bytes, less one trailing newline); refuses a file readable by group or others,
 * like node keys. The conventional keyid for it is `hmac:<file name>` (hmacKeyId).
 */
export function loadHmacKeyFile(path: string): HttpSignatureKey {
  if (!existsSync(path)) throw new AttestError('KEY_MISSING', `HMAC key file ${path} does not exist`);
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new AttestError(
      'KEY_PERMISSIONS',
      `HMAC key file ${path} has mode ${mode.toString(8)}; it must not be readable by others (chmod 600)`,
    );
  }
  let bytes = readFileSync(path);
  if (bytes.at(-1) === 0x0a) bytes = bytes.subarray(0, bytes.length - (bytes.at(-2) === 0x0d ? 2 : 1));
  if (bytes.length < MIN_HMAC_KEY_BYTES)
    throw new AttestError(
      'KEY_INVALID',
      `HMAC key file ${path} holds fewer than ${MIN_HMAC_KEY_BYTES} bytes`,
    );
  return createHttpSignatureKey('hmac-sha256', bytes);
}

/** Writes a fresh random HMAC secret (32 bytes as 64 hex characters) with mode 0600, refusing to overwrite. */
export function saveNewHmacKeyFile(path: string): void {
  if (existsSync(path)) throw new AttestError('KEY_EXISTS', `HMAC key file ${path} already exists`);
  writeFileSync(path, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
}

/** The keyid convention for an HMAC key file: `hmac:<file name>`. */
export function hmacKeyId(path: string): string {
  return `hmac:${basename(path)}`;
}

/** Field values of a message: names match case-insensitively; repeated lines may be given as an array. */
export type HttpFields = Readonly<Record<string, string | number | readonly string[] | undefined>>;

/** An HTTP request (method and absolute url) or response (status), as RFC 9421 sees it. */
export interface HttpMessage {
  readonly method?: string;
  /** The absolute target URI of a request (the verifier rebuilds it from scheme, Host and request-target). */
  readonly url?: string | URL;
  /** Set for a response. */
  readonly status?: number;
  readonly headers: HttpFields;
  readonly body?: MessageBody;
}

/** A component identifier as a caller writes it: `'@method'`, `'content-type'`, or a name with parameters. */
export type ComponentInput =
  string | { readonly name: string; readonly params?: Readonly<Record<string, string | boolean>> };

/** A parsed component identifier: a lowercase name and its parameters (RFC 9421 §2). */
export interface ComponentIdentifier {
  readonly name: string;
  readonly params: SfParams;
  /** Its serialization, e.g. `"@query-param";name="Pet"`. */
  readonly id: string;
}

/** The signature parameters of RFC 9421 §2.3 (times in seconds since the Unix epoch). */
export interface SignatureParams {
  readonly created?: number;
  readonly expires?: number;
  readonly keyid?: string;
  readonly nonce?: string;
  readonly alg?: string;
  readonly tag?: string;
}

const DERIVED = new Set([
  '@method',
  '@target-uri',
  '@authority',
  '@scheme',
  '@request-target',
  '@path',
  '@query',
  '@query-param',
  '@status',
]);
const COMPONENT_NAME_RE = /^(@[a-z-]+|[!#$%&'*+.^_`|~0-9a-z-]+)$/;
const NO_PARAMS: SfParams = new Map();
/** Most components a received signature may cover (bounds the work an attacker can ask for). */
const MAX_COMPONENTS = 64;
const PLAIN_IDS = new Map<string, ComponentIdentifier>();

const malformed = (message: string, details?: Record<string, unknown>): never => {
  throw new AttestError('SIGNATURE_MALFORMED', message, details);
};

/** Checks one component identifier (name and parameters) and returns it with its serialization. */
function identifier(name: string, params: SfParams): ComponentIdentifier {
  if (params.size === 0) {
    const cached = PLAIN_IDS.get(name);
    if (cached) return cached;
  }
  if (!COMPONENT_NAME_RE.test(name))
    malformed(`component name "${name}" is not a lowercase field name or derived component`, {
      component: name,
    });
  if (name.startsWith('@')) {
    if (!DERIVED.has(name)) malformed(`unsupported derived component "${name}"`, { component: name });
    if (name === '@query-param') {
      if (params.size !== 1 || typeof params.get('name') !== 'string')
        malformed('"@query-param" needs exactly one parameter, a string "name"', { component: name });
    } else if (params.size > 0) malformed(`"${name}" takes no parameters`, { component: name });
  } else if (params.size > 0) {
    // sf, key, bs, req and tr (§2.1.1–2.1.5) are not implemented; refusing them is safer than ignoring them.
    malformed(`field component parameters (${[...params.keys()].join(', ')}) are not supported`, {
      component: name,
    });
  }
  const id: ComponentIdentifier = { name, params, id: serializeSfString(name) + serializeSfParams(params) };
  if (params.size === 0 && PLAIN_IDS.size < 256) PLAIN_IDS.set(name, id);
  return id;
}

/** Parses a caller's component identifier (`'@method'`, `'Content-Type'` is lowercased, or `{name, params}`). */
export function componentIdentifier(input: ComponentInput): ComponentIdentifier {
  if (typeof input === 'string') {
    if (input.startsWith('"')) {
      const item = parseSfItem(input);
      if (typeof item.value !== 'string') malformed(`component identifier ${input} is not a string`);
      return identifier(item.value as string, item.params);
    }
    return identifier(input.toLowerCase(), NO_PARAMS);
  }
  const params: SfParams = new Map(Object.entries(input.params ?? {}));
  return identifier(input.name.toLowerCase(), params);
}

/** All values of a field, matched case-insensitively (RFC 9110 §5.1), or undefined when absent. */
function fieldLines(headers: HttpFields, name: string): string[] | undefined {
  let out: string[] | undefined;
  for (const k in headers) {
    if (k.length !== name.length || (k !== name && k.toLowerCase() !== name)) continue;
    const v = headers[k];
    if (v === undefined) continue;
    out ??= [];
    if (typeof v === 'string') out.push(v);
    else if (typeof v === 'number') out.push(String(v));
    else out.push(...v);
  }
  return out;
}

/** A field's component value (§2.1): each line trimmed of SP/HTAB, obs-fold replaced, joined by ", ". */
function fieldValue(headers: HttpFields, name: string): string | undefined {
  const lines = fieldLines(headers, name);
  if (lines === undefined) return undefined;
  if (lines.length === 1) return trimField(lines[0]!);
  return lines.map(trimField).join(', ');
}

function trimField(v: string): string {
  if (v.indexOf('\n') >= 0) v = v.replace(/\r?\n[ \t]+/g, ' '); // obs-fold (RFC 9112 §5.2)
  let a = 0;
  let b = v.length;
  while (a < b && (v.charCodeAt(a) === 0x20 || v.charCodeAt(a) === 0x09)) a++;
  while (b > a && (v.charCodeAt(b - 1) === 0x20 || v.charCodeAt(b - 1) === 0x09)) b--;
  return a === 0 && b === v.length ? v : v.slice(a, b);
}

// application/x-www-form-urlencoded percent-encode set (WHATWG URL §1.3): everything but ALPHA, DIGIT and *-._ .
const encodeQueryPart = (s: string) =>
  encodeURIComponent(s).replace(/[!'()~]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());

interface RequestTarget {
  readonly url: URL;
}

function targetOf(msg: HttpMessage, cache: { t?: RequestTarget }): RequestTarget {
  if (cache.t) return cache.t;
  if (msg.url === undefined) malformed('the message has no target URI (url) for a request-derived component');
  let url: URL;
  try {
    url = msg.url instanceof URL ? msg.url : new URL(msg.url as string);
  } catch {
    return malformed(`"${String(msg.url)}" is not an absolute URL`);
  }
  cache.t = { url };
  return cache.t;
}

/** The value of one covered component of a message (§2.1, §2.2); undefined when the message lacks it. */
function componentValue(
  msg: HttpMessage,
  c: ComponentIdentifier,
  cache: { t?: RequestTarget },
): string | undefined {
  if (!c.name.startsWith('@')) return fieldValue(msg.headers, c.name);
  if (c.name === '@status') {
    if (msg.status === undefined) return undefined;
    if (!Number.isInteger(msg.status) || msg.status < 100 || msg.status > 999)
      malformed(`bad status ${msg.status}`);
    return String(msg.status);
  }
  if (msg.status !== undefined) malformed(`"${c.name}" is a request component; the message is a response`);
  if (c.name === '@method') return msg.method;
  const { url } = targetOf(msg, cache);
  switch (c.name) {
    case '@target-uri':
      // The target URI (RFC 9110 §7.1): no userinfo, no fragment.
      return `${url.protocol}//${url.host}${url.pathname}${url.search}`;
    case '@authority':
      return url.host;
    case '@scheme':
      return url.protocol.slice(0, -1);
    case '@request-target':
      return url.pathname + url.search;
    case '@path':
      return url.pathname || '/';
    case '@query':
      return url.search || '?';
    case '@query-param': {
      // §2.2.8: parse per WHATWG application/x-www-form-urlencoded, compare and emit re-encoded names and values;
      // a name that occurs more than once must not be signed.
      const wanted = c.params.get('name') as string;
      let found: string | undefined;
      let count = 0;
      for (const [k, v] of new URLSearchParams(url.search)) {
        if (encodeQueryPart(k) !== wanted) continue;
        count++;
        found = encodeQueryPart(v);
      }
      if (count > 1)
        malformed(`query parameter "${wanted}" occurs ${count} times; it cannot be signed alone (§2.2.8)`);
      return found;
    }
  }
  return undefined;
}

// A component value must stay on one line of the base and be ASCII; anything else is refused, not escaped.
const UNSAFE_VALUE_RE = /[^\t\x20-\x7e]/;

/** The `@signature-params` value: the inner list of component identifiers and the signature parameters (§2.3). */
export function serializeSignatureParams(
  components: readonly ComponentIdentifier[],
  params: SignatureParams,
): string {
  let out = '(';
  for (let i = 0; i < components.length; i++) out += (i > 0 ? ' ' : '') + components[i]!.id;
  out += ')';
  const p: SfParams = new Map();
  // Fixed order: created, expires, keyid, nonce, alg, tag (the order of RFC 9421 Appendix B's examples).
  if (params.created !== undefined) p.set('created', params.created);
  if (params.expires !== undefined) p.set('expires', params.expires);
  if (params.keyid !== undefined) p.set('keyid', params.keyid);
  if (params.nonce !== undefined) p.set('nonce', params.nonce);
  if (params.alg !== undefined) p.set('alg', params.alg);
  if (params.tag !== undefined) p.set('tag', params.tag);
  return out + serializeSfParams(p);
}

/**
 * The signature base (§2.5): one `"<identifier>": <value>` line per covered component, then the
 * `"@signature-params"` line without a trailing newline. Fails on a duplicate identifier, a component the message
 * lacks (SIGNATURE_INVALID) or a value that is not single-line ASCII.
 */
export function createSignatureBase(
  msg: HttpMessage,
  components: readonly ComponentIdentifier[],
  signatureParams: string,
): string {
  const cache: { t?: RequestTarget } = {};
  let base = '';
  for (let i = 0; i < components.length; i++) {
    const c = components[i]!;
    for (let j = 0; j < i; j++)
      if (components[j]!.id === c.id) malformed(`component ${c.id} is covered twice`, { component: c.id });
    const value = componentValue(msg, c, cache);
    if (value === undefined)
      throw new AttestError('SIGNATURE_INVALID', `covered component ${c.id} is absent from the message`, {
        component: c.id,
      });
    if (UNSAFE_VALUE_RE.test(value))
      malformed(`component ${c.id} has a value with a control or non-ASCII character`, { component: c.id });
    base += `${c.id}: ${value}\n`;
  }
  return `${base}"@signature-params": ${signatureParams}`;
}

/** Signs a signature base with the key's algorithm (§3.3). */
export function signSignatureBase(key: HttpSignatureKey, base: string): Uint8Array {
  const data = Buffer.from(base, 'latin1');
  switch (key.alg) {
    case 'ed25519':
      return cryptoSign(null, data, key.key);
    case 'hmac-sha256':
      return createHmac('sha256', key.key).update(data).digest();
    case 'rsa-pss-sha512':
      return cryptoSign('sha512', data, {
        key: key.key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: 64,
      });
    case 'ecdsa-p256-sha256':
      return cryptoSign('sha256', data, { key: key.key, dsaEncoding: 'ieee-p1363' });
  }
}

/** Checks a signature over a signature base with the key's algorithm (§3.3); false on any mismatch. */
export function verifySignatureBase(key: HttpSignatureKey, base: string, signature: Uint8Array): boolean {
  const data = Buffer.from(base, 'latin1');
  try {
    switch (key.alg) {
      case 'ed25519':
        return signature.length === 64 && cryptoVerify(null, data, key.key, signature);
      case 'hmac-sha256': {
        const mac = createHmac('sha256', key.key).update(data).digest();
        return signature.length === mac.length && timingSafeEqual(mac, signature);
      }
      case 'rsa-pss-sha512':
        return cryptoVerify(
          'sha512',
          data,
          { key: key.key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 },
          signature,
        );
      case 'ecdsa-p256-sha256':
        return (
          signature.length === 64 &&
          cryptoVerify('sha256', data, { key: key.key, dsaEncoding: 'ieee-p1363' }, signature)
        );
    }
  } catch {
    return false;
  }
}

/** Options of signHttpMessage. */
export interface SignHttpMessageOptions {
  readonly key: HttpSignatureKey;
  readonly keyid?: string;
  /** Dictionary label of the signature (default `sig1`). */
  readonly label?: string;
  /**
   * Covered components, in order. Default: `@method`, `@target-uri` (a response: `@status`), then
   * `content-digest` when there is a body and `content-type` when the message has one.
   */
  readonly components?: readonly ComponentInput[];
  /** Creation time in seconds (default: now); null leaves `created` out. */
  readonly created?: number | null;
  /** Expiry in seconds since the epoch. */
  readonly expires?: number;
  /** Expiry relative to `created`, in seconds (ignored when `expires` is given). */
  readonly expiresIn?: number;
  /** A nonce; `true` draws 128 random bits (base64url). */
  readonly nonce?: string | true;
  readonly tag?: string;
  /** Also state the algorithm in an `alg` parameter (default false: the verifier derives it from the key). */
  readonly includeAlg?: boolean;
  /** Content-Digest algorithm for a body (default sha-256); false adds none. An existing field is checked, not replaced. */
  readonly contentDigest?: ContentDigestAlgorithm | false;
  /** Clock in milliseconds (default Date.now). */
  readonly now?: () => number;
}

/** The fields a signer adds to a message, and what was signed. */
export interface SignedHttpMessage {
  /** Fields to add: `signature-input`, `signature`, and `content-digest` when it was computed here. */
  readonly headers: Readonly<Record<string, string>>;
  readonly label: string;
  readonly signatureBase: string;
  readonly signature: Uint8Array;
  readonly params: SignatureParams;
  readonly components: readonly string[];
}

const LABEL_RE = /^[a-z*][a-z0-9_.*-]*$/;

/**
 * Signs a request or response (RFC 9421 §3.1) and returns the Signature-Input and Signature members for `label`,
 * adding an RFC 9530 Content-Digest when there is a body (an existing Content-Digest must match the body).
 */
export function signHttpMessage(msg: HttpMessage, opts: SignHttpMessageOptions): SignedHttpMessage {
  const label = opts.label ?? 'sig1';
  if (!LABEL_RE.test(label)) malformed(`signature label "${label}" is not a structured-field key`);
  const added: Record<string, string> = {};
  let message = msg;
  const digestAlg = opts.contentDigest ?? 'sha-256';
  const hasBody = msg.body !== undefined;
  if (hasBody && digestAlg !== false) {
    const existing = fieldValue(msg.headers, 'content-digest');
    if (existing !== undefined) verifyContentDigest(existing, msg.body!);
    else {
      added['content-digest'] = createContentDigest(msg.body!, digestAlg);
      message = { ...msg, headers: { ...msg.headers, 'content-digest': added['content-digest'] } };
    }
  }
  const inputs: readonly ComponentInput[] = opts.components ?? [
    ...(msg.status !== undefined ? ['@status'] : ['@method', '@target-uri']),
    ...(hasBody && digestAlg !== false ? ['content-digest'] : []),
    ...(fieldLines(msg.headers, 'content-type') !== undefined ? ['content-type'] : []),
  ];
  const components = inputs.map(componentIdentifier);
  const nowSec = Math.floor((opts.now ?? Date.now)() / 1000);
  const created = opts.created === null ? undefined : (opts.created ?? nowSec);
  const expires =
    opts.expires ?? (opts.expiresIn !== undefined ? (created ?? nowSec) + opts.expiresIn : undefined);
  const params: SignatureParams = {
    created,
    expires,
    keyid: opts.keyid,
    nonce: opts.nonce === true ? randomBytes(16).toString('base64url') : opts.nonce,
    alg: opts.includeAlg ? opts.key.alg : undefined,
    tag: opts.tag,
  };
  const sigParams = serializeSignatureParams(components, params);
  const signatureBase = createSignatureBase(message, components, sigParams);
  const signature = signSignatureBase(opts.key, signatureBase);
  return {
    headers: {
      ...added,
      'signature-input': `${label}=${sigParams}`,
      signature: `${label}=:${Buffer.from(signature).toString('base64')}:`,
    },
    label,
    signatureBase,
    signature,
    params,
    components: components.map((c) => c.id),
  };
}

/** Finds the verification key for a signature: by keyid, with the other parameters for context; undefined if unknown. */
export type HttpSignatureKeyResolver = (
  keyid: string | undefined,
  params: SignatureParams,
) => HttpSignatureKey | undefined;

/** The signature parameters a verifier can insist on. */
export type SignatureParamName = 'created' | 'expires' | 'keyid' | 'nonce' | 'alg' | 'tag';

/** Verification policy of verifyHttpMessage (§3.2.1: the application says what it requires). */
export interface VerifyHttpMessageOptions {
  readonly keys: HttpSignatureKeyResolver;
  /** Which signature to check (default: the first label of Signature-Input). */
  readonly label?: string;
  /**
   * Components that must be covered. Default: `@method` and `@target-uri` (a response: `@status`), plus
   * `content-digest` when the message has a non-empty body.
   */
  readonly requiredComponents?: readonly ComponentInput[];
  /** Parameters that must be present (default: `created`). */
  readonly requiredParams?: readonly SignatureParamName[];
  /** Algorithms accepted (default: all supported). */
  readonly algorithms?: readonly HttpSignatureAlgorithm[];
  /** A `tag` the signature must carry (an application profile, §2.3). */
  readonly tag?: string;
  /** Tolerated clock difference in seconds (default 60). */
  readonly clockSkewSec?: number;
  /** Oldest acceptable `created`, in seconds before now (default 300; Infinity to disable). */
  readonly maxAgeSec?: number;
  /** With a cache, a nonce is required and each (keyid, nonce) is accepted once within its validity window. */
  readonly replayCache?: ReplayCache;
  /** Clock in milliseconds (default Date.now). */
  readonly now?: () => number;
}

/** A signature that verified, and what it covers. */
export interface VerifiedHttpSignature {
  readonly label: string;
  readonly alg: HttpSignatureAlgorithm;
  readonly keyid: string | undefined;
  readonly params: SignatureParams;
  /** Serialized identifiers of the covered components, in order. */
  readonly components: readonly string[];
  /** Content-Digest algorithms checked against the body (empty when content-digest is not covered). */
  readonly digests: readonly ContentDigestAlgorithm[];
}

/** Default tolerated clock difference (seconds). */
export const DEFAULT_CLOCK_SKEW_SEC = 60;
/** Default maximum signature age (seconds). */
export const DEFAULT_MAX_AGE_SEC = 300;

const PARAM_TYPES: Record<SignatureParamName, 'integer' | 'string'> = {
  created: 'integer',
  expires: 'integer',
  keyid: 'string',
  nonce: 'string',
  alg: 'string',
  tag: 'string',
};

function readParams(list: SfInnerList, label: string): SignatureParams {
  const out: Record<string, number | string> = {};
  for (const [k, v] of list.params) {
    const type = PARAM_TYPES[k as SignatureParamName] as 'integer' | 'string' | undefined;
    if (type === undefined) continue; // unknown parameters stay covered by the signature through @signature-params
    const ok =
      type === 'integer' ? typeof v === 'number' && Number.isInteger(v) && v >= 0 : typeof v === 'string';
    if (!ok)
      malformed(
        `signature ${label}: parameter "${k}" must be ${type === 'integer' ? 'a non-negative integer' : 'a string'}`,
        { label, param: k },
      );
    out[k] = v as number | string;
  }
  return out as SignatureParams;
}

function combined(headers: HttpFields, name: string): string | undefined {
  const lines = fieldLines(headers, name);
  return lines === undefined ? undefined : lines.length === 1 ? lines[0] : lines.join(', ');
}

function parseField(headers: HttpFields, name: string): SfDictionary {
  const text = combined(headers, name);
  if (text === undefined) throw new AttestError('SIGNATURE_MISSING', `the message has no ${name} field`);
  try {
    return parseSfDictionary(text);
  } catch (err) {
    if (err instanceof AttestError)
      throw new AttestError('SIGNATURE_MALFORMED', `${name}: ${err.message}`, err.details);
    throw err;
  }
}

const bodyLength = (b: MessageBody | undefined) =>
  b === undefined ? 0 : typeof b === 'string' ? b.length : b.byteLength;

/**
 * Verifies one signature of a message (RFC 9421 §3.2) under an application policy: required components and
 * parameters, allowed algorithms, created/expires with clock skew and maximum age, the key found by keyid, the
 * covered Content-Digest recomputed over the body (RFC 9530), and single use of each nonce through a replay cache.
 * Every failure throws an AttestError whose `details` name the label, keyid and the check that failed.
 */
export function verifyHttpMessage(msg: HttpMessage, opts: VerifyHttpMessageOptions): VerifiedHttpSignature {
  // 1. The two fields and the label (attacker-controlled: parsed strictly, §3.2 steps 1–3).
  const inputs = parseField(msg.headers, 'signature-input');
  const signatures = parseField(msg.headers, 'signature');
  const label = opts.label ?? inputs.keys().next().value;
  if (label === undefined) throw new AttestError('SIGNATURE_MISSING', 'Signature-Input holds no signature');
  const input = inputs.get(label);
  const sigMember = signatures.get(label);
  if (input === undefined || sigMember === undefined)
    throw new AttestError(
      'SIGNATURE_MISSING',
      `no signature labelled "${label}" in both Signature-Input and Signature`,
      { label },
    );
  if (input.kind !== 'list') malformed(`Signature-Input ${label} is not an inner list`, { label });
  const signature =
    sigMember.kind === 'item' && sigMember.value instanceof Uint8Array
      ? sigMember.value
      : malformed(`Signature ${label} is not a byte sequence`, { label });
  const list = input as SfInnerList;
  if (list.items.length > MAX_COMPONENTS)
    malformed(`Signature-Input ${label} covers more than ${MAX_COMPONENTS} components`, { label });
  const components = list.items.map((item: SfItem) => {
    if (typeof item.value !== 'string')
      malformed(`Signature-Input ${label}: a component identifier is not a string`, { label });
    return identifier(item.value as string, item.params);
  });
  for (let i = 1; i < components.length; i++)
    for (let j = 0; j < i; j++)
      if (components[j]!.id === components[i]!.id)
        malformed(`Signature-Input ${label}: component ${components[i]!.id} is covered twice`, { label });
  const params = readParams(list, label);
  const keyid = params.keyid;
  const ev = { label, keyid };

  // 2. Policy: coverage and required parameters.
  const hasBody = bodyLength(msg.body) > 0;
  const required = opts.requiredComponents ?? [
    ...(msg.status !== undefined ? ['@status'] : ['@method', '@target-uri']),
    ...(hasBody ? ['content-digest'] : []),
  ];
  for (const r of required) {
    const id = componentIdentifier(r).id;
    if (!components.some((c) => c.id === id))
      throw new AttestError(
        'SIGNATURE_POLICY',
        `signature ${label} does not cover the required component ${id}`,
        { ...ev, component: id },
      );
  }
  const requiredParams: readonly SignatureParamName[] = [
    ...(opts.requiredParams ?? ['created']),
    ...(opts.replayCache ? (['nonce'] as const) : []),
  ];
  for (const p of requiredParams)
    if (params[p] === undefined)
      throw new AttestError('SIGNATURE_POLICY', `signature ${label} lacks the required parameter "${p}"`, {
        ...ev,
        param: p,
      });
  if (opts.tag !== undefined && params.tag !== opts.tag)
    throw new AttestError('SIGNATURE_POLICY', `signature ${label} does not carry tag "${opts.tag}"`, {
      ...ev,
      tag: params.tag,
    });

  // 3. Time window (§3.2.1 step 7), with tolerance for clock skew.
  const nowMs = (opts.now ?? Date.now)();
  const now = nowMs / 1000;
  const skew = opts.clockSkewSec ?? DEFAULT_CLOCK_SKEW_SEC;
  const maxAge = opts.maxAgeSec ?? DEFAULT_MAX_AGE_SEC;
  const { created, expires } = params;
  if (created !== undefined && created > now + skew)
    throw new AttestError(
      'SIGNATURE_EXPIRED',
      `signature ${label} was created in the future (created ${created}, now ${Math.floor(now)})`,
      { ...ev, created, now: Math.floor(now) },
    );
  if (expires !== undefined && now > expires + skew)
    throw new AttestError(
      'SIGNATURE_EXPIRED',
      `signature ${label} expired at ${expires} (now ${Math.floor(now)})`,
      { ...ev, expires, now: Math.floor(now) },
    );
  if (created !== undefined && now - created > maxAge + skew)
    throw new AttestError(
      'SIGNATURE_EXPIRED',
      `signature ${label} is older than ${maxAge} s (created ${created}, now ${Math.floor(now)})`,
      { ...ev, created, now: Math.floor(now) },
    );

  // 4. Key and algorithm (§3.2 steps 5–6): the key fixes the algorithm; an `alg` parameter must agree with it.
  const key = opts.keys(keyid, params);
  if (key === undefined)
    throw new AttestError(
      'SIGNATURE_INVALID',
      `no key is known for keyid ${JSON.stringify(keyid ?? null)}`,
      ev,
    );
  if (params.alg !== undefined && params.alg !== key.alg)
    throw new AttestError(
      'SIGNATURE_INVALID',
      `signature ${label} names alg "${params.alg}" but key ${keyid} is ${key.alg}`,
      { ...ev, alg: params.alg },
    );
  if (opts.algorithms && !opts.algorithms.includes(key.alg))
    throw new AttestError('SIGNATURE_POLICY', `algorithm ${key.alg} is not accepted`, {
      ...ev,
      alg: key.alg,
    });

  // 5. The signature base from the received message, and the signature (§3.2 steps 7–9).
  const base = createSignatureBase(msg, components, serializeSfMember(list));
  if (!verifySignatureBase(key, base, signature))
    throw new AttestError(
      'SIGNATURE_INVALID',
      `signature ${label} does not verify under key ${keyid ?? '(none)'}`,
      { ...ev, alg: key.alg },
    );

  // 6. The covered Content-Digest against the body (RFC 9530); the signature only vouches for the digest.
  let digests: ContentDigestAlgorithm[] = [];
  if (components.some((c) => c.name === 'content-digest')) {
    digests = verifyContentDigest(fieldValue(msg.headers, 'content-digest')!, msg.body ?? '');
  }

  // 7. Replay: only after the signature verified, so unauthenticated requests cannot fill the cache.
  if (opts.replayCache) {
    const windows = [
      expires,
      created !== undefined && Number.isFinite(maxAge) ? created + maxAge : undefined,
    ].filter((x): x is number => x !== undefined);
    if (windows.length === 0)
      throw new AttestError(
        'SIGNATURE_POLICY',
        `signature ${label}: replay protection needs "expires" or "created" with a maximum age`,
        ev,
      );
    const until = (Math.min(...windows) + skew) * 1000;
    const issued = (created ?? Math.min(...windows)) * 1000;
    const k = `${(keyid ?? '').length}:${keyid ?? ''}:${params.nonce}`;
    const verdict = opts.replayCache.remember(k, until, issued);
    if (verdict !== 'fresh')
      throw new AttestError(
        'SIGNATURE_REPLAY',
        verdict === 'seen'
          ? `signature ${label}: nonce ${JSON.stringify(params.nonce)} of key ${keyid} was already used`
          : `signature ${label}: too old to check for replay (the replay cache is saturated)`,
        { ...ev, nonce: params.nonce },
      );
  }
  return { label, alg: key.alg, keyid, params, components: components.map((c) => c.id), digests };
}
