import { ed25519 } from '@noble/curves/ed25519';
import { describe, expect, it } from 'vitest';
import {
  LedgerError,
  formatVerifierKey,
  keyRotationBody,
  keyRotationStatement,
  verifyKeyRotation,
  type KeyRotation,
} from '../src/index.ts';

const ORIGIN = 'rotation.test/log';
const keyPair = (seed: number) => {
  const secret = new Uint8Array(32).fill(seed);
  return { secret, text: formatVerifierKey(ORIGIN, ed25519.getPublicKey(secret)) };
};
const k0 = keyPair(1);
const k1 = keyPair(2);
const rotation: KeyRotation = {
  origin: ORIGIN,
  previousVerifierKey: k0.text,
  verifierKey: k1.text,
  treeSize: 7,
};
const signed = (r: KeyRotation, previous = k0.secret, next = k1.secret) => {
  const msg = keyRotationStatement(r);
  return keyRotationBody(r, { previous: ed25519.sign(msg, previous), next: ed25519.sign(msg, next) });
};
const reason = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(LedgerError);
    return `${(err as LedgerError).code}: ${(err as LedgerError).message}`;
  }
  return 'accepted';
};

describe('key rotation statements', () => {
  it('are the RFC 8785 bytes of {origin, previousVerifierKey, statement, treeSize, verifierKey}', () => {
    expect(new TextDecoder().decode(keyRotationStatement(rotation))).toBe(
      `{"origin":"${ORIGIN}","previousVerifierKey":"${k0.text}","statement":"vaultmesh/key-rotation/v1","treeSize":7,"verifierKey":"${k1.text}"}`,
    );
  });

  it('verify when both keys signed and the receipt sits at or after the signed tree size', () => {
    const body = signed(rotation);
    expect(body).toMatchObject({ operation: 'rotate', keyName: ORIGIN, treeSize: 7 });
    for (const index of [7, 9]) {
      const v = verifyKeyRotation(body, { origin: ORIGIN, index });
      expect([v.previousText, v.nextText]).toEqual([k0.text, k1.text]);
    }
  });

  it('are rejected when a signature is missing, forged, or made by the wrong key', () => {
    const body = signed(rotation);
    const onlyNew = { ...body, previousKeySignature: body.newKeySignature };
    expect(reason(() => verifyKeyRotation(onlyNew, { origin: ORIGIN, index: 7 }))).toBe(
      "SIGNATURE_INVALID: rotation: the previous key's signature does not verify",
    );
    const attacker = keyPair(3);
    expect(
      reason(() => verifyKeyRotation(signed(rotation, attacker.secret), { origin: ORIGIN, index: 7 })),
    ).toMatch(/^SIGNATURE_INVALID: rotation: the previous key's/);
    expect(
      reason(() =>
        verifyKeyRotation(signed(rotation, k0.secret, attacker.secret), { origin: ORIGIN, index: 7 }),
      ),
    ).toMatch(/^SIGNATURE_INVALID: rotation: the new key's/);
    const { newKeySignature: _, ...unsigned } = body;
    expect(reason(() => verifyKeyRotation(unsigned, { origin: ORIGIN, index: 7 }))).toBe(
      'RECEIPT_INVALID: rotation: newKeySignature is missing',
    );
  });

  it('are rejected when the signed statement differs from the receipt or its place in the log', () => {
    const body = signed(rotation);
    expect(reason(() => verifyKeyRotation({ ...body, treeSize: 6 }, { origin: ORIGIN, index: 7 }))).toMatch(
      /^SIGNATURE_INVALID/,
    );
    expect(reason(() => verifyKeyRotation(body, { origin: ORIGIN, index: 6 }))).toMatch(
      /^RECEIPT_INVALID: rotation: treeSize 7 must be an integer from 0 to the receipt's index 6/,
    );
    expect(reason(() => verifyKeyRotation(body, { origin: 'other.test/log', index: 7 }))).toMatch(
      /^RECEIPT_INVALID: rotation: keys must be named by the log origin/,
    );
    const same = signed({ ...rotation, verifierKey: k0.text }, k0.secret, k0.secret);
    expect(reason(() => verifyKeyRotation(same, { origin: ORIGIN, index: 7 }))).toBe(
      'RECEIPT_INVALID: rotation: the key does not change',
    );
  });
});
