// Minimal X.509 (RFC 5280) field access and certificate path building for the RFC 3161 verifier. node:crypto's
// X509Certificate parses and checks signatures; the raw fields it does not expose (issuer/subject DER, extension
// criticality, key usage bits, basic constraints) are read here from the certificate's DER (attacker-controlled
// when the certificate comes from a token).
import { X509Certificate } from 'node:crypto';
import {
  DerFields,
  TAG,
  bitsSet,
  contextTag,
  decodeDer,
  readBitString,
  readBoolean,
  readCertTime,
  readInteger,
  readOid,
  expectTag,
} from './der.ts';
import { AttestError } from './errors.ts';

/** Extension OIDs read here (RFC 5280 4.2.1). */
export const EXT = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  basicConstraints: '2.5.29.19',
  extKeyUsage: '2.5.29.37',
} as const;

/** A certificate with the raw fields the verifier compares byte for byte. */
export interface Certificate {
  readonly x509: X509Certificate;
  readonly der: Uint8Array;
  /** Contents octets of the serialNumber INTEGER. */
  readonly serial: Uint8Array;
  /** DER of the issuer and subject Names. */
  readonly issuer: Uint8Array;
  readonly subject: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly extensions: ReadonlyMap<string, { readonly critical: boolean; readonly value: Uint8Array }>;
}

// Certificates parsed from tokens, keyed by their exact DER bytes: many tokens of one TSA carry the same
// certificate, and X509Certificate parsing costs more than the token's signature check. The same bytes always
// parse the same way, so a hit is as strict as a fresh parse. Bounded; entries are immutable.
const derCache = new Map<string, Certificate>();
const DER_CACHE_MAX = 256;
const derKey = (der: Uint8Array) =>
  Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('latin1');

/** Parses a DER certificate (attacker-controlled when it comes from a token); throws TSA_MALFORMED. */
export function parseCertificate(der: Uint8Array, what: string, parsed?: X509Certificate): Certificate {
  const key = derKey(der);
  const hit = derCache.get(key);
  if (hit) return hit;
  const cert = parseCertificateUncached(der, what, parsed);
  if (derCache.size >= DER_CACHE_MAX) derCache.delete(derCache.keys().next().value as string);
  derCache.set(key, cert);
  return cert;
}

function parseCertificateUncached(der: Uint8Array, what: string, parsed?: X509Certificate): Certificate {
  let x509: X509Certificate;
  try {
    x509 = parsed ?? new X509Certificate(der);
  } catch (err) {
    throw new AttestError(
      'TSA_MALFORMED',
      `${what}: not a parsable X.509 certificate (${(err as Error).message})`,
    );
  }
  const cert = new DerFields(decodeDer(der, what), what);
  const tbs = new DerFields(cert.next(TAG.SEQUENCE, 'tbsCertificate'), `${what}.tbsCertificate`);
  tbs.optional(contextTag(0, true)); // version
  const serial = tbs.next(TAG.INTEGER, 'serialNumber').value;
  tbs.next(TAG.SEQUENCE, 'signature');
  const issuer = tbs.next(TAG.SEQUENCE, 'issuer').bytes;
  const validity = new DerFields(tbs.next(TAG.SEQUENCE, 'validity'), `${what}.validity`);
  const notBefore = readCertTime(validity.nextAny('notBefore'), `${what}.validity.notBefore`);
  const notAfter = readCertTime(validity.nextAny('notAfter'), `${what}.validity.notAfter`);
  validity.end();
  const subject = tbs.next(TAG.SEQUENCE, 'subject').bytes;
  tbs.next(TAG.SEQUENCE, 'subjectPublicKeyInfo');
  tbs.optional(contextTag(1, false)); // issuerUniqueID
  tbs.optional(contextTag(2, false)); // subjectUniqueID
  const extensions = new Map<string, { critical: boolean; value: Uint8Array }>();
  const extsTagged = tbs.optional(contextTag(3, true));
  if (extsTagged) {
    const wrapper = new DerFields(extsTagged, `${what}.extensions`, contextTag(3, true));
    const exts = new DerFields(wrapper.next(TAG.SEQUENCE, 'Extensions'), `${what}.extensions`);
    wrapper.end();
    for (let e = exts.any(); e !== undefined; e = exts.any()) {
      const ext = new DerFields(e, `${what}.extension`);
      const id = readOid(ext.next(TAG.OID, 'extnID'), `${what}.extension.extnID`);
      const critEl = ext.optional(TAG.BOOLEAN);
      const critical = critEl ? readBoolean(critEl, `${what}.extension ${id} critical`) : false;
      const value = ext.next(TAG.OCTET_STRING, 'extnValue').value;
      ext.end();
      // RFC 5280 4.2: "A certificate MUST NOT include more than one instance of a particular extension."
      if (extensions.has(id))
        throw new AttestError('TSA_MALFORMED', `${what}: extension ${id} appears twice`);
      extensions.set(id, { critical, value });
    }
  }
  tbs.end();
  return { x509, der, serial, issuer, subject, notBefore, notAfter, extensions };
}

// Parsed PEM configuration (trust anchors, intermediates), reused across verifications: X509Certificate parsing
// dominates the cost of verifying a token. Bounded; entries are immutable.
const pemCache = new Map<string, readonly Certificate[]>();
const PEM_CACHE_MAX = 64;

/** Parses every certificate in a PEM text (configuration, not token input); throws TSA_OPTIONS. */
export function parseCertificatesPem(pem: string, what: string): readonly Certificate[] {
  const cached = pemCache.get(pem);
  if (cached) return cached;
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new AttestError('TSA_OPTIONS', `${what} holds no PEM certificate`);
  const certs = blocks.map((b, i) => {
    try {
      const x509 = new X509Certificate(b);
      return parseCertificate(new Uint8Array(x509.raw), `${what} certificate ${i + 1}`, x509);
    } catch (err) {
      throw new AttestError(
        'TSA_OPTIONS',
        `${what} certificate ${i + 1} is invalid: ${(err as Error).message}`,
      );
    }
  });
  if (pemCache.size >= PEM_CACHE_MAX) pemCache.delete(pemCache.keys().next().value as string);
  pemCache.set(pem, certs);
  return certs;
}

/** The extended key usage OIDs and whether the extension is critical, or undefined when absent. */
export function extendedKeyUsage(c: Certificate): { critical: boolean; oids: string[] } | undefined {
  const ext = c.extensions.get(EXT.extKeyUsage);
  if (!ext) return undefined;
  const seq = new DerFields(decodeDer(ext.value, 'extKeyUsage'), 'extKeyUsage');
  const oids: string[] = [];
  for (let e = seq.any(); e !== undefined; e = seq.any()) oids.push(readOid(e, 'extKeyUsage.KeyPurposeId'));
  return { critical: ext.critical, oids };
}

/** The key usage bit numbers set (0 digitalSignature, 1 nonRepudiation, 5 keyCertSign, ...), or undefined. */
export function keyUsage(c: Certificate): Set<number> | undefined {
  const ext = c.extensions.get(EXT.keyUsage);
  if (!ext) return undefined;
  return new Set(bitsSet(readBitString(decodeDer(ext.value, 'keyUsage'), 'keyUsage')));
}

/** Basic constraints (absent means not a CA). */
export function basicConstraints(c: Certificate): { ca: boolean; pathLen?: number } {
  const ext = c.extensions.get(EXT.basicConstraints);
  if (!ext) return { ca: false };
  const seq = new DerFields(decodeDer(ext.value, 'basicConstraints'), 'basicConstraints');
  const caEl = seq.optional(TAG.BOOLEAN);
  const ca = caEl ? readBoolean(caEl, 'basicConstraints.cA') : false;
  const lenEl = seq.optional(TAG.INTEGER);
  seq.end();
  if (!lenEl) return { ca };
  const n = readInteger(lenEl, 'basicConstraints.pathLenConstraint');
  return { ca, pathLen: n < 0n ? 0 : n > 1000n ? 1000 : Number(n) };
}

/** The subjectKeyIdentifier bytes, or undefined. */
export function subjectKeyIdentifier(c: Certificate): Uint8Array | undefined {
  const ext = c.extensions.get(EXT.subjectKeyIdentifier);
  if (!ext) return undefined;
  return expectTag(decodeDer(ext.value, 'subjectKeyIdentifier'), TAG.OCTET_STRING, 'subjectKeyIdentifier')
    .value;
}

/** Byte equality. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}

/** True when `c` is within its validity period at `t` (inclusive, RFC 5280 4.1.2.5). */
export function validAt(c: Certificate, t: Date): boolean {
  return c.notBefore.getTime() <= t.getTime() && t.getTime() <= c.notAfter.getTime();
}

/** One-line subject for messages ("CN=..., O=..."). */
export function subjectText(c: Certificate): string {
  return c.x509.subject.split('\n').join(', ');
}

// Results of issuedBy per (certificate, issuer) pair of exact DER bytes: a pure function of those bytes, so
// memoizing it changes no outcome. Time validity is checked on every call, outside this cache.
const issuedCache = new WeakMap<Certificate, Map<Certificate, boolean>>();

/** Whether `issuer` signed `cert`: names/key identifiers match (node's checkIssued) and the signature verifies. */
function issuedBy(cert: Certificate, issuer: Certificate): boolean {
  let byIssuer = issuedCache.get(cert);
  const known = byIssuer?.get(issuer);
  if (known !== undefined) return known;
  let ok: boolean;
  try {
    ok = cert.x509.checkIssued(issuer.x509) && cert.x509.verify(issuer.x509.publicKey);
  } catch {
    ok = false;
  }
  if (!byIssuer) issuedCache.set(cert, (byIssuer = new Map()));
  byIssuer.set(issuer, ok);
  return ok;
}

/** Whether `c` may issue certificates: a CA by basic constraints, with keyCertSign if key usage is present. */
function canIssue(c: Certificate): boolean {
  const ku = keyUsage(c);
  return basicConstraints(c).ca && (ku === undefined || ku.has(5));
}

/**
 * The same for a configured trust anchor, except that one without basicConstraints (an X.509 v1 root) is
 * accepted: RFC 5280 6.1.1 (d) makes trust anchor information an input, not a certificate to check.
 */
function anchorCanIssue(c: Certificate): boolean {
  if (c.extensions.has(EXT.basicConstraints)) return canIssue(c);
  const ku = keyUsage(c);
  return ku === undefined || ku.has(5);
}

const MAX_PATH = 8;

/**
 * Builds a path from `leaf` through `intermediates` to one of `anchors`, every certificate valid at `at`, issuers
 * being CAs that respect pathLenConstraint. A leaf that is itself a trust anchor (pinned) is accepted alone.
 * Returns the path (leaf first, anchor last) or a reason. Each intermediate is tried at most once.
 */
export function buildPath(
  leaf: Certificate,
  intermediates: readonly Certificate[],
  anchors: readonly Certificate[],
  at: Date,
): { path: Certificate[] } | { problem: string } {
  if (!validAt(leaf, at))
    return {
      problem: `the signer certificate (${subjectText(leaf)}) is not valid at ${at.toISOString()} (valid ${leaf.notBefore.toISOString()} to ${leaf.notAfter.toISOString()})`,
    };
  if (anchors.some((a) => sameBytes(a.der, leaf.der))) return { path: [leaf] };
  const tried = new Set<Certificate>();
  const problems: string[] = [];
  const walk = (cert: Certificate, depth: number): Certificate[] | undefined => {
    for (const a of anchors) {
      if (!issuedBy(cert, a)) continue;
      if (!anchorCanIssue(a)) problems.push(`trust anchor ${subjectText(a)} is not a CA with keyCertSign`);
      else if (!validAt(a, at))
        problems.push(`trust anchor ${subjectText(a)} is not valid at ${at.toISOString()}`);
      else return [cert, a];
    }
    if (depth >= MAX_PATH) return undefined;
    for (const i of intermediates) {
      if (tried.has(i) || sameBytes(i.der, cert.der) || !issuedBy(cert, i)) continue;
      tried.add(i);
      if (!canIssue(i)) problems.push(`intermediate ${subjectText(i)} is not a CA with keyCertSign`);
      else if (!validAt(i, at))
        problems.push(`intermediate ${subjectText(i)} is not valid at ${at.toISOString()}`);
      else {
        const rest = walk(i, depth + 1);
        if (rest) return [cert, ...rest];
      }
    }
    return undefined;
  };
  const path = walk(leaf, 0);
  if (!path) {
    const why = problems.length > 0 ? `: ${problems.join('; ')}` : '';
    return {
      problem: `the signer certificate (${subjectText(leaf)}, issuer ${leaf.x509.issuer.split('\n').join(', ')}) does not chain to any of the ${anchors.length} trust anchor(s)${why}`,
    };
  }
  // RFC 5280 4.2.1.9: pathLenConstraint limits the non-self-issued intermediates below a CA.
  for (let j = 2; j < path.length; j++) {
    const { pathLen } = basicConstraints(path[j]!);
    if (pathLen !== undefined && pathLen < j - 1)
      return {
        problem: `${subjectText(path[j]!)} allows ${pathLen} intermediate(s) below it, the path has ${j - 1}`,
      };
  }
  return { path };
}
