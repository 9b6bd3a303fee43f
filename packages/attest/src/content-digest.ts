// RFC 9530 Content-Digest: a Dictionary of hashing algorithm → Byte Sequence digest of the message content.
import { hash as oneShotHash, createHash, timingSafeEqual } from 'node:crypto';
import { AttestError } from './errors.ts';
import { parseSfDictionary } from './structured-fields.ts';

/** The hashing algorithms of the RFC 9530 registry that are not deprecated (§5, §7.2). */
export type ContentDigestAlgorithm = 'sha-256' | 'sha-512';

const NODE_HASH: Record<ContentDigestAlgorithm, string> = { 'sha-256': 'sha256', 'sha-512': 'sha512' };
const DIGEST_LENGTH: Record<ContentDigestAlgorithm, number> = { 'sha-256': 32, 'sha-512': 64 };

/** Message content as bytes (a string is UTF-8). */
export type MessageBody = string | Uint8Array;

function digest(alg: ContentDigestAlgorithm, body: MessageBody): Buffer {
  const name = NODE_HASH[alg];
  return typeof oneShotHash === 'function'
    ? (oneShotHash(name, body, 'buffer') as unknown as Buffer)
    : createHash(name).update(body).digest();
}

/** The Content-Digest field value for the content, e.g. `sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:`. */
export function createContentDigest(body: MessageBody, alg: ContentDigestAlgorithm = 'sha-256'): string {
  return `${alg}=:${digest(alg, body).toString('base64')}:`;
}

/**
 * Parses a Content-Digest field value (attacker-controlled) into algorithm → digest bytes. Members that are
 * not byte sequences fail; unknown and deprecated algorithms are kept so the caller can ignore them (§2).
 */
export function parseContentDigest(field: string): Map<string, Uint8Array> {
  let dict;
  try {
    dict = parseSfDictionary(field);
  } catch (err) {
    throw new AttestError('DIGEST_MISMATCH', `Content-Digest is malformed: ${(err as Error).message}`);
  }
  const out = new Map<string, Uint8Array>();
  for (const [alg, member] of dict) {
    if (member.kind !== 'item' || !(member.value instanceof Uint8Array))
      throw new AttestError('DIGEST_MISMATCH', `Content-Digest member "${alg}" is not a byte sequence`);
    out.set(alg, member.value);
  }
  return out;
}

/**
 * Checks a Content-Digest field against the content: at least one supported algorithm must be present, and
 * every supported one must match (RFC 9530 §6.7: a verifier that checks several must not accept a mismatch).
 * Returns the algorithms checked; throws DIGEST_MISMATCH with the algorithm as evidence.
 */
export function verifyContentDigest(
  field: string,
  body: MessageBody,
  accept: readonly ContentDigestAlgorithm[] = ['sha-256', 'sha-512'],
): ContentDigestAlgorithm[] {
  const digests = parseContentDigest(field);
  const checked: ContentDigestAlgorithm[] = [];
  for (const alg of accept) {
    const claimed = digests.get(alg);
    if (claimed === undefined) continue;
    const actual = digest(alg, body);
    if (claimed.length !== DIGEST_LENGTH[alg] || !timingSafeEqual(claimed, actual)) {
      throw new AttestError('DIGEST_MISMATCH', `Content-Digest ${alg} does not match the message content`, {
        algorithm: alg,
        claimed: Buffer.from(claimed).toString('base64'),
        actual: actual.toString('base64'),
      });
    }
    checked.push(alg);
  }
  if (checked.length === 0) {
    throw new AttestError(
      'DIGEST_MISMATCH',
      `Content-Digest carries none of the accepted algorithms (${accept.join(', ')})`,
      { algorithms: [...digests.keys()] },
    );
  }
  return checked;
}
