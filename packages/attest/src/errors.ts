// The one error class of @vaultmesh/attest and its closed set of codes (one line each, grouped by area).
import { VaultMeshError } from '@vaultmesh/types';

/** DSSE envelope failures (dsse.ts). */
export type DsseErrorCode =
  | 'DSSE_MALFORMED' // envelope JSON, base64 or field types invalid (attacker-controlled input)
  | 'DSSE_PAYLOAD_TYPE' // the payload type is not one the verifier accepts
  | 'DSSE_SIGNATURE_INVALID' // fewer than `threshold` distinct trusted keys signed validly (details: per signature)
  | 'DSSE_OPTIONS'; // invalid signing or verification options (threshold, keys, non-Ed25519 key)

/** Release evidence failures (release.ts). */
export type EvidenceErrorCode =
  | 'MANIFEST_MISSING' // the manifest file does not exist
  | 'MANIFEST_INVALID' // the manifest is not valid JSON or breaks a rule (unknown field, bad path, duplicate)
  | 'ARTIFACT_MISSING' // an artifact named by the manifest does not exist
  | 'ARTIFACT_INVALID' // an artifact is not a regular file, or resolves outside the manifest directory
  | 'CHECKSUMS_MALFORMED' // a checksums file is not in the GNU `sha256sum` format
  | 'STATEMENT_INVALID'; // a signed payload is not a VaultMesh release in-toto Statement v1

/** Evidence bundle failures (bundle.ts). */
export type BundleErrorCode = 'BUNDLE_MALFORMED'; // bundle JSON missing a field or with a wrong type (attacker-controlled input)

/** RFC 9421 HTTP message signature and RFC 9530 Content-Digest failures (http-signature.ts, content-digest.ts). */
export type HttpSignatureErrorCode =
  | 'SIGNATURE_MISSING' // no Signature-Input/Signature field, or the label asked for is absent
  | 'SIGNATURE_MALFORMED' // a field does not parse (RFC 8941), bad parameter types, unsupported or duplicate components
  | 'SIGNATURE_POLICY' // a required component or parameter is not covered, or the algorithm is not allowed
  | 'SIGNATURE_INVALID' // unknown key, algorithm mismatch, a covered component is absent, or the signature does not verify
  | 'SIGNATURE_EXPIRED' // past `expires`, older than the maximum age, or `created` in the future beyond the skew
  | 'SIGNATURE_REPLAY' // the (keyid, nonce) pair was already accepted within its validity window
  | 'DIGEST_MISMATCH'; // Content-Digest is absent, malformed, has no supported algorithm, or does not match the body

/** RFC 3161 timestamp failures (timestamp.ts, der.ts, x509.ts). */
export type TimestampErrorCode =
  | 'TSA_OPTIONS' // invalid client or verification options (URL, policy OID, nonce, trust anchor PEM)
  | 'TSA_UNAVAILABLE' // the TSA could not be reached, timed out or answered a non-2xx HTTP status (retryable)
  | 'TSA_REJECTED' // the TSA answered a PKIStatus other than granted/grantedWithMods (details: status, failInfo)
  | 'TSA_MALFORMED' // response or token breaks the DER structure of RFC 3161 / RFC 5652 (attacker-controlled input)
  | 'TSA_UNSUPPORTED' // a well-formed token uses an algorithm, version or critical extension not supported here
  | 'TSA_SIGNATURE_INVALID' // the CMS signature or the messageDigest attribute does not verify
  | 'TSA_SIGNER_CERT' // the signer certificate is missing, or not the one the SignerIdentifier and ESS attribute name
  | 'TSA_CERT_PURPOSE' // the signer certificate lacks a critical extendedKeyUsage of id-kp-timeStamping only
  | 'TSA_UNTRUSTED' // no certificate path to a trust anchor, or a certificate not valid at genTime
  | 'TSA_IMPRINT_MISMATCH' // the message imprint is not the hash of the data
  | 'TSA_NONCE_MISMATCH' // the token nonce is not the one sent
  | 'TSA_POLICY_MISMATCH'; // the token policy is not the required one

/** Closed set of attestation failures. */
export type AttestErrorCode =
  // keys, then DSSE and release evidence
  | 'KEY_EXISTS'
  | 'KEY_PERMISSIONS'
  | 'KEY_INVALID'
  | 'KEY_MISSING'
  | 'KEY_PASSPHRASE'
  | DsseErrorCode
  | EvidenceErrorCode
  | BundleErrorCode
  | HttpSignatureErrorCode
  | TimestampErrorCode;

/**
 * The one error class of @vaultmesh/attest. Messages name files and checks, never key material;
 * `details` carries the evidence of a security failure.
 */
export class AttestError extends VaultMeshError<AttestErrorCode, Record<string, unknown>> {
  readonly details: Record<string, unknown> | undefined;
  constructor(code: AttestErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details !== undefined ? { evidence: details } : {});
    this.name = 'AttestError';
    this.details = details;
  }
}
