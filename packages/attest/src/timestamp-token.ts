// RFC 3161 TimeStampToken structure: the CMS SignedData (RFC 5652 5) around a TSTInfo (RFC 3161 2.4.2), its one
// SignerInfo and ESS signing-certificate attributes (RFC 2634 5.4, RFC 5035, RFC 5816). Parsing only, of
// attacker-controlled input with the strict DER reader; trust decisions are in timestamp.ts.
import { createHash } from 'node:crypto';
import {
  DerFields,
  TAG,
  contextTag,
  decodeDer,
  derChildren,
  readBoolean,
  readGeneralizedTime,
  readInteger,
  readNull,
  readOid,
  readSmallInt,
  type DerElement,
} from './der.ts';
import { AttestError, type AttestErrorCode } from './errors.ts';
import { parseCertificate, type Certificate } from './x509.ts';

/** Hash algorithms accepted for message imprints and CMS digests. */
export type TsaHash = 'sha256' | 'sha384' | 'sha512';

/** OIDs of the hash algorithms (NIST, RFC 5754). */
export const HASH_OID: Record<TsaHash, string> = {
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
};
const HASH_BY_OID = new Map<string, TsaHash>(Object.entries(HASH_OID).map(([k, v]) => [v, k as TsaHash]));
const HASH_LENGTH: Record<TsaHash, number> = { sha256: 32, sha384: 48, sha512: 64 };

/** Object identifiers of the CMS and RFC 3161 structures read here. */
export const OID = {
  signedData: '1.2.840.113549.1.7.2',
  tstInfo: '1.2.840.113549.1.9.16.1.4',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingCertificate: '1.2.840.113549.1.9.16.2.12',
  signingCertificateV2: '1.2.840.113549.1.9.16.2.47',
  rsaEncryption: '1.2.840.113549.1.1.1',
  rsassaPss: '1.2.840.113549.1.1.10',
  mgf1: '1.2.840.113549.1.1.8',
  ecPublicKey: '1.2.840.10045.2.1',
  ed25519: '1.3.101.112',
  timeStamping: '1.3.6.1.5.5.7.3.8',
} as const;
const RSA_PKCS1_WITH: ReadonlyMap<string, TsaHash> = new Map([
  ['1.2.840.113549.1.1.11', 'sha256'],
  ['1.2.840.113549.1.1.12', 'sha384'],
  ['1.2.840.113549.1.1.13', 'sha512'],
]);
const ECDSA_WITH: ReadonlyMap<string, TsaHash> = new Map([
  ['1.2.840.10045.4.3.2', 'sha256'],
  ['1.2.840.10045.4.3.3', 'sha384'],
  ['1.2.840.10045.4.3.4', 'sha512'],
]);

/** Largest token verifyTimestampToken accepts (real tokens are a few KiB). */
export const MAX_TIMESTAMP_TOKEN_BYTES = 1 << 20;
/** Most certificates a token may carry. */
const MAX_TOKEN_CERTS = 32;

/** Throws an AttestError. */
export function fail(code: AttestErrorCode, message: string, details?: Record<string, unknown>): never {
  throw new AttestError(code, message, details);
}

/** Lowercase hex. */
export const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
/** One-shot hash. */
export const digest = (alg: TsaHash | 'sha1', data: Uint8Array): Uint8Array =>
  new Uint8Array(createHash(alg).update(data).digest());

// ---------------------------------------------------------------------------------------------------------
// Token parsing (RFC 5652 5, RFC 3161 2.4.2)

/** The token's one SignerInfo (RFC 5652 5.3). */
export interface SignerInfo {
  readonly version: number;
  readonly sid: { issuer: Uint8Array; serial: Uint8Array } | { ski: Uint8Array };
  readonly digestOid: string;
  readonly digest: TsaHash;
  /** The [0] IMPLICIT signedAttrs element as received. */
  readonly signedAttrs: DerElement;
  readonly attrs: ReadonlyMap<string, DerElement[]>;
  readonly signatureAlg: SignatureAlgorithm;
  readonly signature: Uint8Array;
}

/** A signature algorithm node:crypto verifies. */
export type SignatureAlgorithm =
  | { kind: 'rsa-pkcs1'; hash: TsaHash }
  | { kind: 'rsa-pss'; hash: TsaHash; saltLength: number }
  | { kind: 'ecdsa'; hash: TsaHash }
  | { kind: 'ed25519' };

/** The TSTInfo fields (RFC 3161 2.4.2). */
export interface TstInfo {
  readonly policy: string;
  readonly hashAlgorithm: TsaHash;
  readonly hashedMessage: Uint8Array;
  readonly serialNumber: bigint;
  readonly genTime: Date;
  readonly accuracy?: { seconds: number; millis: number; micros: number };
  readonly ordering: boolean;
  readonly nonce?: bigint;
  /** The GeneralName inside tsa [0], when present. */
  readonly tsa?: DerElement;
}

/** A structurally valid, not yet verified, TimeStampToken. */
export interface ParsedToken {
  readonly eContent: Uint8Array;
  readonly tst: TstInfo;
  readonly digestOids: readonly string[];
  readonly certs: readonly Certificate[];
  readonly signer: SignerInfo;
}

/** An AlgorithmIdentifier's OID and parameters. */
function readAlgorithm(el: DerElement, what: string): { oid: string; params?: DerElement } {
  const f = new DerFields(el, what);
  const oid = readOid(f.next(TAG.OID, 'algorithm'), `${what}.algorithm`);
  const params = f.any();
  f.end();
  return params ? { oid, params } : { oid };
}

/** Parameters must be absent or NULL (RFC 5754 3 for SHA-2, RFC 4055 for PKCS #1 v1.5). */
function absentOrNull(a: { params?: DerElement }, what: string): void {
  if (a.params) readNull(a.params, `${what}.parameters`);
}

function readHashAlgorithm(el: DerElement, what: string): { oid: string; hash: TsaHash } {
  const a = readAlgorithm(el, what);
  const hash = HASH_BY_OID.get(a.oid);
  if (!hash)
    fail('TSA_UNSUPPORTED', `${what}: hash algorithm ${a.oid} is not supported (sha256, sha384, sha512)`);
  absentOrNull(a, what);
  return { oid: a.oid, hash };
}

function readSignatureAlgorithm(el: DerElement, digestHash: TsaHash, what: string): SignatureAlgorithm {
  const a = readAlgorithm(el, what);
  const sameHash = (h: TsaHash): TsaHash => {
    if (h !== digestHash)
      fail(
        'TSA_UNSUPPORTED',
        `${what}: signature hash ${h} differs from the signer's digest algorithm ${digestHash}`,
      );
    return h;
  };
  if (a.oid === OID.rsaEncryption) {
    absentOrNull(a, what);
    return { kind: 'rsa-pkcs1', hash: digestHash };
  }
  const rsaHash = RSA_PKCS1_WITH.get(a.oid);
  if (rsaHash) {
    absentOrNull(a, what);
    return { kind: 'rsa-pkcs1', hash: sameHash(rsaHash) };
  }
  const ecHash = ECDSA_WITH.get(a.oid);
  if (ecHash) {
    // RFC 5758 3.2: the parameters MUST be absent.
    if (a.params) fail('TSA_MALFORMED', `${what}: ECDSA signature algorithm with parameters`);
    return { kind: 'ecdsa', hash: sameHash(ecHash) };
  }
  if (a.oid === OID.ecPublicKey) {
    // Some CMS signers name the key type instead of ecdsa-with-SHA*; the hash is then the digest algorithm's.
    if (a.params) readOid(a.params, `${what}.parameters`);
    return { kind: 'ecdsa', hash: digestHash };
  }
  if (a.oid === OID.ed25519) {
    if (a.params) fail('TSA_MALFORMED', `${what}: Ed25519 signature algorithm with parameters (RFC 8410 3)`);
    return { kind: 'ed25519' };
  }
  if (a.oid === OID.rsassaPss) {
    if (!a.params) fail('TSA_MALFORMED', `${what}: RSASSA-PSS without parameters`);
    return readPssParams(a.params, digestHash, `${what}.parameters`);
  }
  return fail('TSA_UNSUPPORTED', `${what}: signature algorithm ${a.oid} is not supported`);
}

/** RSASSA-PSS-params (RFC 4055 3.1); only MGF1 with the same hash and trailer field 1, as node:crypto verifies. */
function readPssParams(el: DerElement, digestHash: TsaHash, what: string): SignatureAlgorithm {
  const f = new DerFields(el, what);
  const hashEl = f.optional(contextTag(0, true));
  if (!hashEl) fail('TSA_UNSUPPORTED', `${what}: RSASSA-PSS with the default hash SHA-1 is not supported`);
  const hw = new DerFields(hashEl, `${what}.hashAlgorithm`, contextTag(0, true));
  const { hash } = readHashAlgorithm(hw.next(TAG.SEQUENCE, 'AlgorithmIdentifier'), `${what}.hashAlgorithm`);
  hw.end();
  const mgfEl = f.optional(contextTag(1, true));
  if (!mgfEl) fail('TSA_UNSUPPORTED', `${what}: RSASSA-PSS with the default MGF1-SHA-1 is not supported`);
  const mw = new DerFields(mgfEl, `${what}.maskGenAlgorithm`, contextTag(1, true));
  const mgf = readAlgorithm(mw.next(TAG.SEQUENCE, 'AlgorithmIdentifier'), `${what}.maskGenAlgorithm`);
  mw.end();
  if (mgf.oid !== OID.mgf1 || !mgf.params)
    fail('TSA_UNSUPPORTED', `${what}: mask generation ${mgf.oid} is not MGF1 with a hash`);
  const mgfHash = readHashAlgorithm(mgf.params, `${what}.maskGenAlgorithm.parameters`).hash;
  if (mgfHash !== hash)
    fail('TSA_UNSUPPORTED', `${what}: MGF1 hash ${mgfHash} differs from the PSS hash ${hash}`);
  let saltLength = 20;
  const saltEl = f.optional(contextTag(2, true));
  if (saltEl) {
    const sw = new DerFields(saltEl, `${what}.saltLength`, contextTag(2, true));
    saltLength = readSmallInt(sw.next(TAG.INTEGER, 'INTEGER'), `${what}.saltLength`, 1024);
    sw.end();
  }
  const trailerEl = f.optional(contextTag(3, true));
  if (trailerEl) {
    const tw = new DerFields(trailerEl, `${what}.trailerField`, contextTag(3, true));
    if (readSmallInt(tw.next(TAG.INTEGER, 'INTEGER'), `${what}.trailerField`, 255) !== 1)
      fail('TSA_UNSUPPORTED', `${what}: trailer field other than 1`);
    tw.end();
  }
  f.end();
  if (hash !== digestHash)
    fail(
      'TSA_UNSUPPORTED',
      `${what}: PSS hash ${hash} differs from the signer's digest algorithm ${digestHash}`,
    );
  return { kind: 'rsa-pss', hash, saltLength };
}

function parseSignerInfo(el: DerElement): SignerInfo {
  const what = 'SignerInfo';
  const f = new DerFields(el, what);
  const version = readSmallInt(f.next(TAG.INTEGER, 'version'), `${what}.version`, 5);
  const sidEl = f.nextAny('sid');
  let sid: SignerInfo['sid'];
  if (sidEl.tag === TAG.SEQUENCE) {
    const s = new DerFields(sidEl, `${what}.sid.issuerAndSerialNumber`);
    sid = { issuer: s.next(TAG.SEQUENCE, 'issuer').bytes, serial: s.next(TAG.INTEGER, 'serialNumber').value };
    s.end();
    // RFC 5652 5.3: version 1 with issuerAndSerialNumber, 3 with subjectKeyIdentifier.
    if (version !== 1)
      fail('TSA_MALFORMED', `${what}: version ${version} with issuerAndSerialNumber (must be 1)`);
  } else if (sidEl.tag === contextTag(0, false)) {
    sid = { ski: sidEl.value };
    if (version !== 3)
      fail('TSA_MALFORMED', `${what}: version ${version} with subjectKeyIdentifier (must be 3)`);
  } else {
    return fail('TSA_MALFORMED', `${what}.sid: unexpected tag 0x${sidEl.tag.toString(16)}`);
  }
  const { oid: digestOid, hash: digestHash } = readHashAlgorithm(
    f.next(TAG.SEQUENCE, 'digestAlgorithm'),
    `${what}.digestAlgorithm`,
  );
  const signedAttrs = f.optional(contextTag(0, true));
  if (!signedAttrs)
    fail('TSA_MALFORMED', `${what}: no signedAttrs (RFC 3161 requires the ESS signingCertificate attribute)`);
  const attrs = new Map<string, DerElement[]>();
  for (const a of derChildren(signedAttrs, `${what}.signedAttrs`)) {
    const af = new DerFields(a, `${what}.signedAttrs.Attribute`);
    const type = readOid(af.next(TAG.OID, 'attrType'), `${what}.signedAttrs.attrType`);
    const values = derChildren(af.next(TAG.SET, 'attrValues'), `${what}.signedAttrs ${type}`);
    af.end();
    if (values.length === 0) fail('TSA_MALFORMED', `${what}: signed attribute ${type} has no value`);
    if (attrs.has(type)) fail('TSA_MALFORMED', `${what}: signed attribute ${type} appears twice`);
    attrs.set(type, values);
  }
  const signatureAlg = readSignatureAlgorithm(
    f.next(TAG.SEQUENCE, 'signatureAlgorithm'),
    digestHash,
    `${what}.signatureAlgorithm`,
  );
  const signature = f.next(TAG.OCTET_STRING, 'signature').value;
  f.optional(contextTag(1, true)); // unsignedAttrs: not covered by the signature, not used
  f.end();
  return { version, sid, digestOid, digest: digestHash, signedAttrs, attrs, signatureAlg, signature };
}

function parseTstInfo(der: Uint8Array): TstInfo {
  const what = 'TSTInfo';
  const f = new DerFields(decodeDer(der, what), what);
  const version = readSmallInt(f.next(TAG.INTEGER, 'version'), `${what}.version`, 255);
  if (version !== 1) fail('TSA_UNSUPPORTED', `${what}: version ${version} is not 1`);
  const policy = readOid(f.next(TAG.OID, 'policy'), `${what}.policy`);
  const mi = new DerFields(f.next(TAG.SEQUENCE, 'messageImprint'), `${what}.messageImprint`);
  const { hash } = readHashAlgorithm(
    mi.next(TAG.SEQUENCE, 'hashAlgorithm'),
    `${what}.messageImprint.hashAlgorithm`,
  );
  const hashedMessage = mi.next(TAG.OCTET_STRING, 'hashedMessage').value;
  mi.end();
  if (hashedMessage.length !== HASH_LENGTH[hash])
    fail('TSA_MALFORMED', `${what}.messageImprint: ${hashedMessage.length}-byte ${hash} hash`);
  const serialNumber = readInteger(f.next(TAG.INTEGER, 'serialNumber'), `${what}.serialNumber`);
  if (serialNumber < 0n) fail('TSA_MALFORMED', `${what}.serialNumber is negative`);
  const genTime = readGeneralizedTime(f.next(TAG.GENERALIZED_TIME, 'genTime'), `${what}.genTime`).date;
  let accuracy: TstInfo['accuracy'];
  const accEl = f.optional(TAG.SEQUENCE);
  if (accEl) {
    const af = new DerFields(accEl, `${what}.accuracy`);
    const sec = af.optional(TAG.INTEGER);
    const ms = af.optional(contextTag(0, false));
    const us = af.optional(contextTag(1, false));
    af.end();
    const asInt = (e: DerElement, w: string, min: number, max: number): number => {
      const n = readSmallInt({ ...e, tag: TAG.INTEGER }, w, max);
      if (n < min) fail('TSA_MALFORMED', `${w}: ${n} is below ${min}`);
      return n;
    };
    accuracy = {
      seconds: sec ? asInt(sec, `${what}.accuracy.seconds`, 0, 2 ** 31) : 0,
      // RFC 3161 2.4.2: millis and micros are INTEGER (1..999).
      millis: ms ? asInt(ms, `${what}.accuracy.millis`, 1, 999) : 0,
      micros: us ? asInt(us, `${what}.accuracy.micros`, 1, 999) : 0,
    };
  }
  const orderingEl = f.optional(TAG.BOOLEAN);
  const ordering = orderingEl ? readBoolean(orderingEl, `${what}.ordering`) : false;
  const nonceEl = f.optional(TAG.INTEGER);
  const nonce = nonceEl ? readInteger(nonceEl, `${what}.nonce`) : undefined;
  let tsa: DerElement | undefined;
  const tsaEl = f.optional(contextTag(0, true));
  if (tsaEl) {
    const tf = new DerFields(tsaEl, `${what}.tsa`, contextTag(0, true));
    tsa = tf.nextAny('GeneralName');
    tf.end();
  }
  const extEl = f.optional(contextTag(1, true));
  if (extEl) {
    for (const e of derChildren(extEl, `${what}.extensions`)) {
      const ef = new DerFields(e, `${what}.extension`);
      const id = readOid(ef.next(TAG.OID, 'extnID'), `${what}.extension.extnID`);
      const critEl = ef.optional(TAG.BOOLEAN);
      ef.next(TAG.OCTET_STRING, 'extnValue');
      ef.end();
      if (critEl && readBoolean(critEl, `${what}.extension.critical`))
        fail('TSA_UNSUPPORTED', `${what}: unknown critical extension ${id}`);
    }
  }
  f.end();
  return {
    policy,
    hashAlgorithm: hash,
    hashedMessage,
    serialNumber,
    genTime,
    ordering,
    ...(accuracy ? { accuracy } : {}),
    ...(nonce === undefined ? {} : { nonce }),
    ...(tsa ? { tsa } : {}),
  };
}

/** Parses a DER TimeStampToken (attacker-controlled); checks structure only, throws TSA_MALFORMED / TSA_UNSUPPORTED. */
export function parseToken(token: Uint8Array): ParsedToken {
  if (token.length > MAX_TIMESTAMP_TOKEN_BYTES)
    fail(
      'TSA_MALFORMED',
      `TimeStampToken of ${token.length} bytes is larger than ${MAX_TIMESTAMP_TOKEN_BYTES}`,
    );
  const ci = new DerFields(decodeDer(token, 'TimeStampToken'), 'TimeStampToken');
  const contentType = readOid(ci.next(TAG.OID, 'contentType'), 'TimeStampToken.contentType');
  if (contentType !== OID.signedData)
    fail('TSA_MALFORMED', `TimeStampToken: contentType ${contentType} is not id-signedData`);
  const wrap = new DerFields(
    ci.next(contextTag(0, true), 'content'),
    'TimeStampToken.content',
    contextTag(0, true),
  );
  ci.end();
  const sd = new DerFields(wrap.next(TAG.SEQUENCE, 'SignedData'), 'SignedData');
  wrap.end();
  const version = readSmallInt(sd.next(TAG.INTEGER, 'version'), 'SignedData.version', 5);
  const digestOids = derChildren(sd.next(TAG.SET, 'digestAlgorithms'), 'SignedData.digestAlgorithms').map(
    (a) => {
      const alg = readAlgorithm(a, 'SignedData.digestAlgorithms');
      // Other digests may be listed; the ones we know must still have well-formed parameters.
      if (HASH_BY_OID.has(alg.oid)) absentOrNull(alg, 'SignedData.digestAlgorithms');
      return alg.oid;
    },
  );
  const eci = new DerFields(sd.next(TAG.SEQUENCE, 'encapContentInfo'), 'SignedData.encapContentInfo');
  const eContentType = readOid(eci.next(TAG.OID, 'eContentType'), 'SignedData.encapContentInfo.eContentType');
  if (eContentType !== OID.tstInfo)
    fail('TSA_MALFORMED', `SignedData: eContentType ${eContentType} is not id-ct-TSTInfo (RFC 3161 2.4.2)`);
  const ew = new DerFields(
    eci.next(contextTag(0, true), 'eContent'),
    'SignedData.encapContentInfo.eContent',
    contextTag(0, true),
  );
  const eContent = ew.next(TAG.OCTET_STRING, 'OCTET STRING').value;
  ew.end();
  eci.end();
  const certs: Certificate[] = [];
  let otherFormats = false;
  const certsEl = sd.optional(contextTag(0, true));
  if (certsEl) {
    const items = derChildren(certsEl, 'SignedData.certificates');
    if (items.length > MAX_TOKEN_CERTS)
      fail('TSA_MALFORMED', `SignedData carries ${items.length} certificates (at most ${MAX_TOKEN_CERTS})`);
    items.forEach((c, i) => {
      // Attribute certificates and other formats ([0]..[3]) play no part in TSA verification.
      if (c.tag !== TAG.SEQUENCE) otherFormats = true;
      else certs.push(parseCertificate(c.bytes, `SignedData.certificates[${i}]`));
    });
  }
  const crlsEl = sd.optional(contextTag(1, true));
  if (crlsEl) otherFormats ||= derChildren(crlsEl, 'SignedData.crls').some((c) => c.tag !== TAG.SEQUENCE);
  const signerInfos = derChildren(sd.next(TAG.SET, 'signerInfos'), 'SignedData.signerInfos');
  sd.end();
  // RFC 5652 5.1: version 3 when eContentType is not id-data, unless other certificate/CRL formats force 4 or 5.
  if (otherFormats ? version < 3 : version !== 3)
    fail('TSA_MALFORMED', `SignedData: version ${version} (must be 3)`);
  // RFC 3161 2.4.2: the token MUST NOT include any signature other than the TSA's.
  if (signerInfos.length !== 1)
    fail('TSA_MALFORMED', `SignedData: ${signerInfos.length} signerInfos (a TimeStampToken has exactly one)`);
  const signer = parseSignerInfo(signerInfos[0]!);
  if (!digestOids.includes(signer.digestOid))
    fail(
      'TSA_MALFORMED',
      `SignedData.digestAlgorithms does not list the signer's digest algorithm ${signer.digest}`,
    );
  return { eContent, tst: parseTstInfo(eContent), digestOids, certs, signer };
}

/** One ESSCertID / ESSCertIDv2 (RFC 2634 5.4.1, RFC 5035 4): the hash of a certificate and its issuer/serial. */
export interface EssCertId {
  readonly hash: TsaHash | 'sha1';
  readonly certHash: Uint8Array;
  readonly issuerSerial?: { names: DerElement[]; serial: Uint8Array };
}

/** The first ESSCertID(v2) of a SigningCertificate(V2) attribute: RFC 2634 5.4 says it names the signer. */
export function readEssCertId(values: DerElement[], v2: boolean): EssCertId {
  const what = v2 ? 'signingCertificateV2' : 'signingCertificate';
  if (values.length !== 1) fail('TSA_MALFORMED', `${what}: ${values.length} attribute values (must be 1)`);
  const sc = new DerFields(values[0]!, what);
  const ids = derChildren(sc.next(TAG.SEQUENCE, 'certs'), `${what}.certs`);
  sc.optional(TAG.SEQUENCE); // policies
  sc.end();
  if (ids.length === 0) fail('TSA_MALFORMED', `${what}: empty certs`);
  const id = new DerFields(ids[0]!, `${what}.certs[0]`);
  let hash: TsaHash | 'sha1' = 'sha1';
  if (v2) {
    // ESSCertIDv2.hashAlgorithm DEFAULT id-sha256 (RFC 5035 4).
    const algEl = id.optional(TAG.SEQUENCE);
    hash = algEl ? readHashAlgorithm(algEl, `${what}.certs[0].hashAlgorithm`).hash : 'sha256';
  }
  const certHash = id.next(TAG.OCTET_STRING, 'certHash').value;
  const isEl = id.optional(TAG.SEQUENCE);
  id.end();
  let issuerSerial: EssCertId['issuerSerial'];
  if (isEl) {
    const f = new DerFields(isEl, `${what}.certs[0].issuerSerial`);
    const names = derChildren(f.next(TAG.SEQUENCE, 'issuer'), `${what}.certs[0].issuerSerial.issuer`);
    const serial = f.next(TAG.INTEGER, 'serialNumber').value;
    f.end();
    issuerSerial = { names, serial };
  }
  return { hash, certHash, ...(issuerSerial ? { issuerSerial } : {}) };
}
