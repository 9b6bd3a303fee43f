// Builds RFC 3161 TimeStampTokens in tests with node:crypto, for the cases openssl's TSA refuses to produce:
// signers without the timeStamping EKU, RSA-PSS and Ed25519 signatures, a subjectKeyIdentifier signer, a wrong
// ESS pin, a genTime outside the certificate's validity. The layout follows RFC 3161 2.4.2 and RFC 5652 5.
import { constants, createHash, createPrivateKey, sign, X509Certificate } from 'node:crypto';
import {
  TAG,
  contextTag,
  derEncode,
  derInteger,
  derNull,
  derOctetString,
  derOid,
  derSequence,
} from '../der.ts';
import { parseCertificate, subjectKeyIdentifier } from '../x509.ts';

type Hash = 'sha256' | 'sha384' | 'sha512';

const HASH_OID: Record<Hash, string> = {
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
};
const RSA_WITH: Record<Hash, string> = {
  sha256: '1.2.840.113549.1.1.11',
  sha384: '1.2.840.113549.1.1.12',
  sha512: '1.2.840.113549.1.1.13',
};
const ECDSA_WITH: Record<Hash, string> = {
  sha256: '1.2.840.10045.4.3.2',
  sha384: '1.2.840.10045.4.3.3',
  sha512: '1.2.840.10045.4.3.4',
};

/** What to put in a test token. */
export interface TestTokenOptions {
  data: Uint8Array;
  certPem: string;
  keyPem: string;
  imprintHash?: Hash;
  policy?: string;
  serial?: bigint;
  genTime?: Date;
  nonce?: bigint;
  /** SignerInfo digest algorithm. Default sha256 (sha512 for Ed25519, RFC 8419). */
  digest?: Hash;
  /** Default by key type: rsa-pkcs1, ecdsa or ed25519. */
  signature?: 'rsa-pkcs1' | 'rsa-pss' | 'ecdsa' | 'ed25519';
  /** ESS signing certificate attribute(s). Default v2. */
  ess?: 'v1' | 'v2' | 'both' | 'none';
  /** The certificate the ESS attribute pins. Default the signer's. */
  essCertPem?: string;
  sid?: 'issuerSerial' | 'ski';
  /** Certificates in SignedData.certificates. Default [certPem]. */
  certsPem?: readonly string[];
  /** Put the signer's subject in TSTInfo.tsa. Default true. */
  tsaName?: boolean;
  /** Name this certificate's subject in TSTInfo.tsa instead of the signer's. */
  tsaSubjectPem?: string;
  /** Leave out these signed attributes. */
  omitAttrs?: readonly ('contentType' | 'messageDigest')[];
}

const der = (pem: string): Uint8Array => new Uint8Array(new X509Certificate(pem).raw);
const hash = (alg: string, data: Uint8Array): Uint8Array =>
  new Uint8Array(createHash(alg).update(data).digest());
const algId = (oid: string, params?: Uint8Array): Uint8Array =>
  params ? derSequence(derOid(oid), params) : derSequence(derOid(oid));

function generalizedTime(d: Date): Uint8Array {
  const iso = d.toISOString();
  const ms = iso.slice(20, 23).replace(/0+$/, '');
  const text = iso.slice(0, 19).replace(/[-:T]/g, '') + (ms ? `.${ms}` : '') + 'Z';
  return derEncode(TAG.GENERALIZED_TIME, new TextEncoder().encode(text));
}

const attribute = (oid: string, value: Uint8Array): Uint8Array =>
  derSequence(derOid(oid), derEncode(TAG.SET, value));

/** Builds a DER TimeStampToken (ContentInfo) signed by `keyPem` as `certPem`. */
export function buildTestToken(o: TestTokenOptions): Uint8Array {
  const cert = parseCertificate(der(o.certPem), 'test signer');
  const key = createPrivateKey(o.keyPem);
  const sigKind =
    o.signature ??
    (key.asymmetricKeyType === 'ed25519'
      ? 'ed25519'
      : key.asymmetricKeyType === 'ec'
        ? 'ecdsa'
        : 'rsa-pkcs1');
  const digestAlg: Hash = o.digest ?? (sigKind === 'ed25519' ? 'sha512' : 'sha256');
  const imprintAlg = o.imprintHash ?? 'sha256';
  const tsaSubject = o.tsaSubjectPem
    ? parseCertificate(der(o.tsaSubjectPem), 'tsa name').subject
    : cert.subject;

  const tstInfo = derSequence(
    derInteger(1n),
    derOid(o.policy ?? '1.3.6.1.4.1.55555.3161.1'),
    derSequence(algId(HASH_OID[imprintAlg], derNull()), derOctetString(hash(imprintAlg, o.data))),
    derInteger(o.serial ?? 7n),
    generalizedTime(o.genTime ?? new Date()),
    ...(o.nonce === undefined ? [] : [derInteger(o.nonce)]),
    ...(o.tsaName === false
      ? []
      : [derEncode(contextTag(0, true), derEncode(contextTag(4, true), tsaSubject))]),
  );

  const essCert = der(o.essCertPem ?? o.certPem);
  const attrs: Uint8Array[] = [];
  if (!o.omitAttrs?.includes('contentType'))
    attrs.push(attribute('1.2.840.113549.1.9.3', derOid('1.2.840.113549.1.9.16.1.4')));
  if (!o.omitAttrs?.includes('messageDigest'))
    attrs.push(attribute('1.2.840.113549.1.9.4', derOctetString(hash(digestAlg, tstInfo))));
  const ess = o.ess ?? 'v2';
  if (ess === 'v1' || ess === 'both')
    attrs.push(
      attribute(
        '1.2.840.113549.1.9.16.2.12',
        derSequence(derSequence(derSequence(derOctetString(hash('sha1', essCert))))),
      ),
    );
  if (ess === 'v2' || ess === 'both')
    attrs.push(
      attribute(
        '1.2.840.113549.1.9.16.2.47',
        // ESSCertIDv2.hashAlgorithm DEFAULT sha256 is omitted, as DER requires.
        derSequence(derSequence(derSequence(derOctetString(hash('sha256', essCert))))),
      ),
    );
  // DER SET OF: elements sorted by their encodings.
  attrs.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const signedAttrs = derEncode(TAG.SET, ...attrs);

  let signature: Uint8Array;
  let sigAlg: Uint8Array;
  if (sigKind === 'rsa-pkcs1') {
    signature = sign(digestAlg, signedAttrs, { key, padding: constants.RSA_PKCS1_PADDING });
    sigAlg = algId(RSA_WITH[digestAlg], derNull());
  } else if (sigKind === 'rsa-pss') {
    const saltLength = hash(digestAlg, new Uint8Array()).length;
    signature = sign(digestAlg, signedAttrs, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength });
    const h = algId(HASH_OID[digestAlg]);
    sigAlg = algId(
      '1.2.840.113549.1.1.10',
      derSequence(
        derEncode(contextTag(0, true), h),
        derEncode(contextTag(1, true), algId('1.2.840.113549.1.1.8', h)),
        derEncode(contextTag(2, true), derInteger(BigInt(saltLength))),
      ),
    );
  } else if (sigKind === 'ecdsa') {
    signature = sign(digestAlg, signedAttrs, { key, dsaEncoding: 'der' });
    sigAlg = algId(ECDSA_WITH[digestAlg]);
  } else {
    signature = sign(null, signedAttrs, key);
    sigAlg = algId('1.3.101.112');
  }

  const useSki = o.sid === 'ski';
  const ski = subjectKeyIdentifier(cert);
  if (useSki && !ski) throw new Error('buildTestToken: the certificate has no subjectKeyIdentifier');
  const sid = useSki
    ? derEncode(contextTag(0, false), ski!)
    : derSequence(cert.issuer, derEncode(TAG.INTEGER, cert.serial));
  const signerInfo = derSequence(
    derInteger(useSki ? 3n : 1n),
    sid,
    algId(HASH_OID[digestAlg], derNull()),
    derEncode(contextTag(0, true), ...attrs),
    sigAlg,
    derOctetString(new Uint8Array(signature)),
  );
  const certs = (o.certsPem ?? [o.certPem]).map(der);
  const signedData = derSequence(
    derInteger(3n),
    derEncode(TAG.SET, algId(HASH_OID[digestAlg], derNull())),
    derSequence(derOid('1.2.840.113549.1.9.16.1.4'), derEncode(contextTag(0, true), derOctetString(tstInfo))),
    ...(certs.length > 0 ? [derEncode(contextTag(0, true), ...certs)] : []),
    derEncode(TAG.SET, signerInfo),
  );
  return derSequence(derOid('1.2.840.113549.1.7.2'), derEncode(contextTag(0, true), signedData));
}
