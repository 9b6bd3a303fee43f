// RFC 3161 Time-Stamp Protocol: TimeStampReq building, TimeStampResp parsing, TimeStampToken verification
// (RFC 5652 SignedData, ESS signingCertificate RFC 2634/5035 and signingCertificateV2 RFC 5816) and an HTTP
// client for one TSA. Responses and tokens are attacker-controlled input: they are parsed by the strict DER
// reader in der.ts (token structure in timestamp-token.ts), and every failure is an AttestError with a TSA_* code.
import { BodyTooLargeError, readBounded } from '@vaultmesh/net';
import { randomBytes, constants, verify as verifySignatureBytes, type KeyObject } from 'node:crypto';
import {
  DerFields,
  TAG,
  bitsSet,
  contextTag,
  decodeDer,
  derBoolean,
  derChildren,
  derInteger,
  derNull,
  derOctetString,
  derOid,
  derSequence,
  isOid,
  readBitString,
  readOid,
  readSmallInt,
  readUtf8,
} from './der.ts';
import { AttestError } from './errors.ts';
import {
  HASH_OID,
  OID,
  digest,
  fail,
  hex,
  parseToken,
  readEssCertId,
  type EssCertId,
  type SignerInfo,
  type TsaHash,
} from './timestamp-token.ts';
import {
  buildPath,
  extendedKeyUsage,
  keyUsage,
  parseCertificatesPem,
  sameBytes,
  subjectKeyIdentifier,
  subjectText,
  type Certificate,
} from './x509.ts';

export { MAX_TIMESTAMP_TOKEN_BYTES, type TsaHash } from './timestamp-token.ts';

/** Default HTTP timeout of requestTimestamp. */
export const DEFAULT_TSA_TIMEOUT_MS = 10_000;
/** Default cap on the size of a TSA's HTTP answer. */
export const DEFAULT_TSA_MAX_RESPONSE_BYTES = 1 << 20;

/** A bigint as lowercase hex of even length ('-' prefix when negative). */
function intHex(n: bigint): string {
  const abs = (n < 0n ? -n : n).toString(16);
  return (n < 0n ? '-' : '') + (abs.length % 2 ? '0' : '') + abs;
}

/** Attacker-controlled text made safe for an error message (quoted, control characters escaped, bounded). */
function quote(s: string): string {
  return JSON.stringify(s.length > 200 ? `${s.slice(0, 200)}...` : s);
}

// ---------------------------------------------------------------------------------------------------------
// Request (RFC 3161 2.4.1)

/** Options of a TimeStampReq. */
export interface TimestampRequestOptions {
  /** Message imprint hash. Default sha256. */
  hashAlgorithm?: TsaHash;
  /** reqPolicy, dotted OID. Default: none (the TSA's default policy). */
  policy?: string;
  /** Nonce to send; default a fresh random positive 64-bit integer. */
  nonce?: bigint;
  /** Ask the TSA to include its signing certificate in the token. Default true. */
  certReq?: boolean;
}

function checkHash(alg: unknown, what: string): TsaHash {
  if (typeof alg !== 'string' || !(alg in HASH_OID))
    fail(
      'TSA_OPTIONS',
      `${what} must be one of ${Object.keys(HASH_OID).join(', ')}, got ${quote(String(alg))}`,
    );
  return alg as TsaHash;
}

function checkPolicy(policy: unknown, what: string): string | undefined {
  if (policy === undefined) return undefined;
  if (typeof policy !== 'string' || !isOid(policy))
    fail('TSA_OPTIONS', `${what} must be a dotted OBJECT IDENTIFIER, got ${quote(String(policy))}`);
  return policy;
}

function checkNonce(nonce: unknown, what: string): bigint | undefined {
  if (nonce === undefined) return undefined;
  if (typeof nonce !== 'bigint' || nonce <= 0n || nonce >= 1n << 256n)
    fail('TSA_OPTIONS', `${what} must be a positive bigint below 2^256`);
  return nonce;
}

/** A random positive 64-bit nonce (RFC 3161 2.4.1: large enough to be unique with high probability). */
function randomNonce(): bigint {
  for (;;) {
    const n = BigInt(`0x${randomBytes(8).toString('hex')}`);
    if (n !== 0n) return n;
  }
}

/** Builds a DER TimeStampReq over the hash of `data`; returns it with the nonce and imprint it carries. */
export function createTimestampRequest(
  data: Uint8Array,
  opts: TimestampRequestOptions = {},
): { der: Uint8Array; nonce: bigint; messageImprint: Uint8Array } {
  const alg = checkHash(opts.hashAlgorithm ?? 'sha256', 'hashAlgorithm');
  const policy = checkPolicy(opts.policy, 'policy');
  const nonce = checkNonce(opts.nonce, 'nonce') ?? randomNonce();
  const messageImprint = digest(alg, data);
  const der = derSequence(
    derInteger(1n),
    // Parameters NULL rather than absent: RFC 5754 allows both, and older TSAs only accept NULL (as openssl sends).
    derSequence(derSequence(derOid(HASH_OID[alg]), derNull()), derOctetString(messageImprint)),
    ...(policy === undefined ? [] : [derOid(policy)]),
    derInteger(nonce),
    // certReq is BOOLEAN DEFAULT FALSE: DER omits the default value.
    ...((opts.certReq ?? true) ? [derBoolean(true)] : []),
  );
  return { der, nonce, messageImprint };
}

// ---------------------------------------------------------------------------------------------------------
// Response (RFC 3161 2.4.2)

const STATUS_NAMES = [
  'granted',
  'grantedWithMods',
  'rejection',
  'waiting',
  'revocationWarning',
  'revocationNotification',
];
const FAIL_INFO_NAMES: Readonly<Record<number, string>> = {
  0: 'badAlg',
  2: 'badRequest',
  5: 'badDataFormat',
  14: 'timeNotAvailable',
  15: 'unacceptedPolicy',
  16: 'unacceptedExtension',
  17: 'addInfoNotAvailable',
  25: 'systemFailure',
};

/** A parsed TimeStampResp. The token, when present, is not yet verified. */
export interface TimestampResponse {
  /** PKIStatus: 0 granted, 1 grantedWithMods, 2 rejection, 3 waiting, 4/5 revocation warning/notification. */
  readonly status: number;
  readonly statusName: string;
  /** PKIFreeText lines (attacker-controlled text). */
  readonly statusText: readonly string[];
  /** Names of the PKIFailureInfo bits set (e.g. 'badAlg', 'unacceptedPolicy'). */
  readonly failInfo: readonly string[];
  /** The DER TimeStampToken (a ContentInfo), copied out of the response. */
  readonly token?: Uint8Array;
}

/** Parses a DER TimeStampResp (attacker-controlled); checks its structure only, not the token. */
export function parseTimestampResponse(der: Uint8Array): TimestampResponse {
  const resp = new DerFields(decodeDer(der, 'TimeStampResp'), 'TimeStampResp');
  const si = new DerFields(resp.next(TAG.SEQUENCE, 'status'), 'TimeStampResp.status');
  const status = readSmallInt(si.next(TAG.INTEGER, 'status'), 'PKIStatusInfo.status', 255);
  const statusText: string[] = [];
  const text = si.optional(TAG.SEQUENCE);
  if (text) for (const t of derChildren(text, 'PKIFreeText')) statusText.push(readUtf8(t, 'PKIFreeText'));
  const failEl = si.optional(TAG.BIT_STRING);
  const failInfo = failEl
    ? bitsSet(readBitString(failEl, 'PKIStatusInfo.failInfo')).map((b) => FAIL_INFO_NAMES[b] ?? `bit ${b}`)
    : [];
  si.end();
  const tokenEl = resp.optional(TAG.SEQUENCE);
  resp.end();
  return {
    status,
    statusName: STATUS_NAMES[status] ?? `status ${status}`,
    statusText,
    failInfo,
    ...(tokenEl ? { token: new Uint8Array(tokenEl.bytes) } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Token verification

/** What a verified token says. Hex strings are lowercase. */
export interface TimestampInfo {
  genTime: Date;
  /** TSTInfo.serialNumber, hex of even length. */
  serialNumber: string;
  /** TSTInfo.policy, dotted OID. */
  policy: string;
  hashAlgorithm: TsaHash;
  messageImprint: string;
  /** TSTInfo.nonce, hex of even length ('-' prefix if negative), when present. */
  nonce?: string;
  /** Subject of the signer certificate, one line ("CN=..., O=..."). */
  tsaSubject: string;
  /** SHA-256 of the signer certificate's DER. */
  signerCertSha256: string;
  /** TSTInfo.accuracy, when present (RFC 3161 2.4.2: genTime is within +/- this of UTC). */
  accuracy?: { seconds: number; millis: number; micros: number };
  /** TSTInfo.ordering. */
  ordering: boolean;
}

/** Trust configuration and expectations for verifyTimestampToken. */
export interface VerifyTimestampOptions {
  /** PEM certificates the signer must chain to (a pinned TSA certificate itself is accepted too). */
  trustAnchorsPem: readonly string[];
  /** Require this TSTInfo.policy (dotted OID). */
  policy?: string;
  /** Require this TSTInfo.nonce (the one the request sent). */
  nonce?: bigint;
  /** Extra untrusted certificates: the TSA certificate when the token has none, intermediates. */
  intermediatesPem?: readonly string[];
}

function loadPems(pems: readonly string[] | undefined, what: string): Certificate[] {
  if (pems === undefined) return [];
  if (!Array.isArray(pems)) fail('TSA_OPTIONS', `${what} must be an array of PEM strings`);
  return pems.flatMap((p, i) => {
    if (typeof p !== 'string') fail('TSA_OPTIONS', `${what}[${i}] must be a PEM string`);
    return parseCertificatesPem(p, `${what}[${i}]`);
  });
}

function sidMatches(sid: SignerInfo['sid'], c: Certificate): boolean {
  if ('ski' in sid) {
    const ski = subjectKeyIdentifier(c);
    return ski !== undefined && sameBytes(ski, sid.ski);
  }
  return sameBytes(sid.issuer, c.issuer) && sameBytes(sid.serial, c.serial);
}

function sidText(sid: SignerInfo['sid']): string {
  return 'ski' in sid
    ? `subjectKeyIdentifier ${hex(sid.ski)}`
    : `issuer and serial number ${hex(sid.serial)}`;
}

function essMatches(id: EssCertId, c: Certificate): boolean {
  if (!sameBytes(digest(id.hash, c.der), id.certHash)) return false;
  if (!id.issuerSerial) return true;
  // GeneralNames: the certificate's issuer must appear as a directoryName ([4] EXPLICIT Name).
  const dirNames = id.issuerSerial.names.filter((n) => n.tag === contextTag(4, true));
  return sameBytes(id.issuerSerial.serial, c.serial) && dirNames.some((n) => sameBytes(n.value, c.issuer));
}

// X509Certificate#publicKey builds a new KeyObject on every access; certificates are immutable and cached.
const publicKeys = new WeakMap<Certificate, KeyObject>();
function publicKeyOf(cert: Certificate): KeyObject {
  let key = publicKeys.get(cert);
  if (!key) publicKeys.set(cert, (key = cert.x509.publicKey));
  return key;
}

function verifySignature(signer: SignerInfo, cert: Certificate): boolean {
  // RFC 5652 5.4: the signature covers the DER of signedAttrs with its EXPLICIT SET OF tag, not the [0] tag.
  const signed = new Uint8Array(signer.signedAttrs.bytes);
  signed[0] = TAG.SET;
  const key = publicKeyOf(cert);
  const type = key.asymmetricKeyType;
  const alg = signer.signatureAlg;
  try {
    switch (alg.kind) {
      case 'rsa-pkcs1':
        if (type !== 'rsa') return false;
        return verifySignatureBytes(
          alg.hash,
          signed,
          { key, padding: constants.RSA_PKCS1_PADDING },
          signer.signature,
        );
      case 'rsa-pss':
        if (type !== 'rsa' && type !== 'rsa-pss') return false;
        return verifySignatureBytes(
          alg.hash,
          signed,
          { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: alg.saltLength },
          signer.signature,
        );
      case 'ecdsa':
        if (type !== 'ec') return false;
        return verifySignatureBytes(alg.hash, signed, { key, dsaEncoding: 'der' }, signer.signature);
      case 'ed25519':
        if (type !== 'ed25519') return false;
        return verifySignatureBytes(null, signed, key, signer.signature);
    }
  } catch {
    return false;
  }
}

/**
 * The time a token says it was made (TSTInfo.genTime), read without judging the token: what an anchor's stored
 * time and an evidence bundle's `anchoredAt` must equal. TSA_MALFORMED when the bytes are not a token.
 */
export function timestampTokenGenTime(token: Uint8Array): Date {
  return parseToken(token).tst.genTime;
}

/**
 * Verifies a TimeStampToken (DER ContentInfo, as `openssl ts -verify -token_in` reads it) over `data`; throws
 * AttestError on any failure. Checks: strict DER structure; one SignerInfo with contentType, messageDigest (hash of
 * the TSTInfo) and ESS signingCertificate(V2) pinning the signer certificate, which the SignerIdentifier also
 * names; the signature over the signed attributes; a signer certificate whose extended key usage is exactly
 * id-kp-timeStamping and critical (RFC 3161 2.3); a certificate path to a trust anchor with every certificate
 * valid at genTime; TSTInfo.tsa, when a directoryName, equal to the signer's subject; then the message imprint,
 * and the nonce and policy when the options give them. Revocation is not checked.
 */
export function verifyTimestampToken(
  token: Uint8Array,
  data: Uint8Array,
  opts: VerifyTimestampOptions,
): TimestampInfo {
  if (!opts || !Array.isArray(opts.trustAnchorsPem) || opts.trustAnchorsPem.length === 0)
    fail('TSA_OPTIONS', 'trustAnchorsPem must list at least one PEM certificate');
  const anchors = loadPems(opts.trustAnchorsPem, 'trustAnchorsPem');
  const extra = loadPems(opts.intermediatesPem, 'intermediatesPem');
  const policy = checkPolicy(opts.policy, 'policy');
  const nonce = checkNonce(opts.nonce, 'nonce');
  if (!(token instanceof Uint8Array) || !(data instanceof Uint8Array))
    fail('TSA_OPTIONS', 'token and data must be Uint8Arrays');

  const t = parseToken(token);
  const { signer, tst } = t;

  // Signed attributes: contentType and messageDigest (RFC 5652 5.3, 11.1, 11.2).
  const ct = signer.attrs.get(OID.contentType);
  if (!ct || ct.length !== 1)
    fail('TSA_MALFORMED', 'SignerInfo: the contentType attribute must have one value');
  const ctOid = readOid(ct[0]!, 'contentType attribute');
  if (ctOid !== OID.tstInfo)
    fail('TSA_SIGNATURE_INVALID', `SignerInfo: contentType attribute ${ctOid} is not id-ct-TSTInfo`);
  const md = signer.attrs.get(OID.messageDigest);
  if (!md || md.length !== 1)
    fail('TSA_MALFORMED', 'SignerInfo: the messageDigest attribute must have one value');
  const mdValue = md[0]!;
  if (mdValue.tag !== TAG.OCTET_STRING)
    fail('TSA_MALFORMED', 'SignerInfo: messageDigest is not an OCTET STRING');
  const eContentHash = digest(signer.digest, t.eContent);
  if (!sameBytes(mdValue.value, eContentHash))
    fail('TSA_SIGNATURE_INVALID', 'SignerInfo: messageDigest does not match the hash of the TSTInfo', {
      messageDigest: hex(mdValue.value),
      computed: hex(eContentHash),
    });

  // The signer certificate: named by the SignerIdentifier and pinned by ESS signingCertificate(V2).
  const candidates = [...t.certs, ...extra].filter((c) => sidMatches(signer.sid, c));
  if (candidates.length === 0)
    fail(
      'TSA_SIGNER_CERT',
      `no certificate in the token (${t.certs.length}) or intermediatesPem (${extra.length}) matches the signer's ${sidText(signer.sid)}` +
        (t.certs.length === 0 ? ' (was the request sent with certReq false?)' : ''),
    );
  const v1 = signer.attrs.get(OID.signingCertificate);
  const v2 = signer.attrs.get(OID.signingCertificateV2);
  if (!v1 && !v2)
    fail(
      'TSA_SIGNER_CERT',
      'SignerInfo carries neither ESS signingCertificate nor signingCertificateV2 (RFC 3161 2.4.2, RFC 5816)',
    );
  const essIds = [...(v1 ? [readEssCertId(v1, false)] : []), ...(v2 ? [readEssCertId(v2, true)] : [])];
  const cert = candidates.find((c) => essMatches(essIds[0]!, c));
  if (!cert)
    fail(
      'TSA_SIGNER_CERT',
      'the ESS signing certificate attribute does not match the certificate the signer names',
      {
        essCertHash: hex(essIds[0]!.certHash),
        essHashAlgorithm: essIds[0]!.hash,
        candidates: candidates.map((c) => subjectText(c)),
      },
    );
  for (const id of essIds.slice(1))
    if (!essMatches(id, cert))
      fail('TSA_SIGNER_CERT', 'signingCertificate and signingCertificateV2 name different certificates');

  if (!verifySignature(signer, cert))
    fail(
      'TSA_SIGNATURE_INVALID',
      `the ${signer.signatureAlg.kind} signature over the signed attributes is invalid`,
      {
        signer: subjectText(cert),
        algorithm: signer.signatureAlg,
      },
    );

  // RFC 3161 2.3: the TSA certificate MUST have exactly one critical extendedKeyUsage of id-kp-timeStamping.
  const eku = extendedKeyUsage(cert);
  if (!eku || !eku.critical || eku.oids.length !== 1 || eku.oids[0] !== OID.timeStamping)
    fail(
      'TSA_CERT_PURPOSE',
      `the signer certificate (${subjectText(cert)}) must have a critical extendedKeyUsage of id-kp-timeStamping only` +
        ` (has ${eku ? `${eku.critical ? 'critical' : 'non-critical'} ${eku.oids.join(', ') || 'nothing'}` : 'none'})`,
      { extendedKeyUsage: eku ?? null },
    );
  const ku = keyUsage(cert);
  if (ku && !ku.has(0) && !ku.has(1))
    fail(
      'TSA_CERT_PURPOSE',
      `the signer certificate's keyUsage allows neither digitalSignature nor nonRepudiation`,
    );

  // The certificate path, judged at genTime (the token is evidence of that moment; revocation is not checked).
  const built = buildPath(cert, [...t.certs, ...extra], anchors, tst.genTime);
  if ('problem' in built)
    fail('TSA_UNTRUSTED', built.problem, { signer: subjectText(cert), genTime: tst.genTime.toISOString() });

  // RFC 3161 2.4.2: tsa, if present, MUST be one of the subject names in the certificate.
  if (tst.tsa && tst.tsa.tag === contextTag(4, true) && !sameBytes(tst.tsa.value, cert.subject))
    fail('TSA_SIGNER_CERT', `TSTInfo.tsa names a different directoryName than the signer's subject`, {
      signer: subjectText(cert),
    });

  const expected = digest(tst.hashAlgorithm, data);
  if (!sameBytes(expected, tst.hashedMessage))
    fail(
      'TSA_IMPRINT_MISMATCH',
      `the token's ${tst.hashAlgorithm} message imprint is not the hash of the data`,
      {
        token: hex(tst.hashedMessage),
        data: hex(expected),
      },
    );
  if (nonce !== undefined && tst.nonce !== nonce)
    fail(
      'TSA_NONCE_MISMATCH',
      tst.nonce === undefined
        ? 'the token carries no nonce but one was sent'
        : 'the token nonce differs from the one sent',
      { expected: intHex(nonce), got: tst.nonce === undefined ? null : intHex(tst.nonce) },
    );
  if (policy !== undefined && tst.policy !== policy)
    fail('TSA_POLICY_MISMATCH', `the token policy ${tst.policy} is not the required ${policy}`, {
      expected: policy,
      got: tst.policy,
    });

  return {
    genTime: tst.genTime,
    serialNumber: intHex(tst.serialNumber),
    policy: tst.policy,
    hashAlgorithm: tst.hashAlgorithm,
    messageImprint: hex(tst.hashedMessage),
    ...(tst.nonce === undefined ? {} : { nonce: intHex(tst.nonce) }),
    tsaSubject: subjectText(cert),
    signerCertSha256: hex(digest('sha256', cert.der)),
    ...(tst.accuracy ? { accuracy: tst.accuracy } : {}),
    ordering: tst.ordering,
  };
}

// ---------------------------------------------------------------------------------------------------------
// HTTP client (RFC 3161 3.4)

/** One TSA and how to reach and trust it. */
export interface TsaClientOptions {
  /** Configured name, used in messages. */
  name: string;
  /** http(s) URL the TimeStampReq is POSTed to. */
  url: string;
  /** PEM certificates the TSA certificate must chain to. */
  trustAnchorsPem: readonly string[];
  /** reqPolicy to send and require in the token. */
  policy?: string;
  /** Message imprint hash. Default sha256. */
  hashAlgorithm?: TsaHash;
  /** Deadline for the whole exchange. Default DEFAULT_TSA_TIMEOUT_MS (10 s). */
  timeoutMs?: number;
  /** Extra request headers (e.g. authorization); never logged. */
  headers?: Record<string, string>;
  /** fetch implementation (tests, proxies). Default globalThis.fetch. */
  fetch?: typeof fetch;
  /** certReq of the request. Default true; with false, intermediatesPem must hold the TSA certificate. */
  certReq?: boolean;
  /** Extra untrusted certificates for verification (see VerifyTimestampOptions). */
  intermediatesPem?: readonly string[];
  /** Cap on the answer's size. Default DEFAULT_TSA_MAX_RESPONSE_BYTES (1 MiB). */
  maxResponseBytes?: number;
  /** Aborts the exchange (e.g. on shutdown). */
  signal?: AbortSignal;
}

const QUERY_TYPE = 'application/timestamp-query';
// RFC 3161 3.4 names application/timestamp-reply; some older servers answer with the draft's timestamp-response.
const REPLY_TYPES = ['application/timestamp-reply', 'application/timestamp-response'];

/** The URL without credentials, query or fragment, for messages. */
function safeUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

function describeFetchError(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  const cause = e.cause?.code ?? e.cause?.message;
  return `${e.message ?? String(err)}${cause ? ` (${cause})` : ''}`;
}

async function readLimited(res: Response, max: number, where: string): Promise<Uint8Array> {
  try {
    return (await readBounded(res, { limit: max, what: `${where}: the answer` })).bytes;
  } catch (err) {
    if (err instanceof BodyTooLargeError)
      fail(
        'TSA_MALFORMED',
        err.declared !== undefined
          ? `${where}: answer of ${err.declared} bytes exceeds the ${max}-byte limit`
          : `${where}: answer exceeds the ${max}-byte limit`,
      );
    throw err;
  }
}

/** Settles with `p`, or rejects when `signal` aborts first (a `fetch` option may ignore the signal). */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  p.catch(() => undefined); // a late rejection after the abort is expected, not unhandled
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** Sends a TimeStampReq to one TSA over HTTP (application/timestamp-query), validates the TimeStampResp fully, returns the token. */
export async function requestTimestamp(
  opts: TsaClientOptions,
  data: Uint8Array,
): Promise<{ token: Uint8Array; info: TimestampInfo }> {
  if (!opts || typeof opts.name !== 'string' || opts.name === '')
    fail('TSA_OPTIONS', 'TSA name must be non-empty');
  let url: URL;
  try {
    url = new URL(opts.url);
  } catch {
    return fail('TSA_OPTIONS', `TSA "${opts.name}": url is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    fail('TSA_OPTIONS', `TSA "${opts.name}": url must be http or https, got ${url.protocol}`);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TSA_TIMEOUT_MS;
  const maxBytes = opts.maxResponseBytes ?? DEFAULT_TSA_MAX_RESPONSE_BYTES;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
    fail('TSA_OPTIONS', `TSA "${opts.name}": timeoutMs must be > 0`);
  if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0)
    fail('TSA_OPTIONS', `TSA "${opts.name}": maxResponseBytes must be a positive integer`);
  const hashAlgorithm = checkHash(opts.hashAlgorithm ?? 'sha256', `TSA "${opts.name}": hashAlgorithm`);
  const where = `TSA "${opts.name}" (${safeUrl(url)})`;
  // Configuration errors surface before any network traffic.
  if (!Array.isArray(opts.trustAnchorsPem) || opts.trustAnchorsPem.length === 0)
    fail('TSA_OPTIONS', `${where}: trustAnchorsPem must list at least one PEM certificate`);
  loadPems(opts.trustAnchorsPem, `${where}: trustAnchorsPem`);
  loadPems(opts.intermediatesPem, `${where}: intermediatesPem`);
  const req = createTimestampRequest(data, {
    hashAlgorithm,
    ...(opts.policy === undefined ? {} : { policy: opts.policy }),
    certReq: opts.certReq ?? true,
  });

  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout;
  const unavailable = (err: unknown): never => {
    if (err instanceof AttestError) throw err;
    if (timeout.aborted)
      fail('TSA_UNAVAILABLE', `${where}: no answer within ${timeoutMs} ms`, { tsa: opts.name });
    if (opts.signal?.aborted) fail('TSA_UNAVAILABLE', `${where}: aborted`, { tsa: opts.name });
    return fail('TSA_UNAVAILABLE', `${where}: ${describeFetchError(err)}`, { tsa: opts.name });
  };
  const headers = new Headers(opts.headers);
  headers.set('content-type', QUERY_TYPE);
  if (!headers.has('accept')) headers.set('accept', REPLY_TYPES[0]!);
  const exchange = async (): Promise<Uint8Array> => {
    const res = await (opts.fetch ?? globalThis.fetch)(url, {
      method: 'POST',
      headers,
      body: Buffer.from(req.der),
      signal,
      // A redirect of a POST may turn into a GET; configure the final URL instead.
      redirect: 'error',
    });
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      fail('TSA_UNAVAILABLE', `${where}: HTTP ${res.status} ${res.statusText}`.trim(), {
        tsa: opts.name,
        httpStatus: res.status,
      });
    }
    const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (!REPLY_TYPES.includes(type)) {
      await res.body?.cancel().catch(() => undefined);
      fail('TSA_MALFORMED', `${where}: answered Content-Type ${quote(type)}, expected ${REPLY_TYPES[0]}`, {
        tsa: opts.name,
      });
    }
    return readLimited(res, maxBytes, where);
  };
  let body: Uint8Array;
  try {
    body = await untilAborted(exchange(), signal);
  } catch (err) {
    return unavailable(err);
  }

  try {
    const resp = parseTimestampResponse(body);
    // RFC 3161 2.4.2: only granted (0) and grantedWithMods (1) carry a token.
    if (resp.status !== 0 && resp.status !== 1) {
      const why = [...resp.failInfo, ...resp.statusText.map(quote)].join(', ');
      fail('TSA_REJECTED', `${where}: the TSA answered ${resp.statusName}${why ? `: ${why}` : ''}`, {
        tsa: opts.name,
        status: resp.status,
        statusName: resp.statusName,
        failInfo: resp.failInfo,
        statusText: resp.statusText,
      });
    }
    if (!resp.token) fail('TSA_MALFORMED', `${where}: status ${resp.statusName} without a timeStampToken`);
    const info = verifyTimestampToken(resp.token, data, {
      trustAnchorsPem: opts.trustAnchorsPem,
      nonce: req.nonce,
      ...(opts.policy === undefined ? {} : { policy: opts.policy }),
      ...(opts.intermediatesPem === undefined ? {} : { intermediatesPem: opts.intermediatesPem }),
    });
    // RFC 3161 2.4.2: the imprint MUST be the one in the request, hash algorithm included.
    if (info.hashAlgorithm !== hashAlgorithm)
      fail(
        'TSA_IMPRINT_MISMATCH',
        `${where}: the token imprint uses ${info.hashAlgorithm}, the request ${hashAlgorithm}`,
      );
    return { token: resp.token, info };
  } catch (err) {
    if (err instanceof AttestError && !err.message.startsWith(where))
      throw new AttestError(err.code, `${where}: ${err.message}`, { ...err.details, tsa: opts.name });
    throw err;
  }
}
