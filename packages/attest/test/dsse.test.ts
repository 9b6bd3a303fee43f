// DSSE v1: PAE and envelopes against the spec's own vectors (testdata/dsse), round trips, tampering, strict parsing.
import { createPrivateKey, createPublicKey, generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseVerifierKey } from '@vaultmesh/ledger';
import { describe, expect, it } from 'vitest';
import {
  AttestError,
  DSSE_MAX_SIGNATURES,
  IN_TOTO_PAYLOAD_TYPE,
  decodeDsseBase64,
  dsseKeyId,
  dsseSignerFromNodeKey,
  dsseVerifierFromNoteKey,
  formatEnvelope,
  generateNodeKey,
  pae,
  parseEnvelope,
  signEnvelope,
  verifyEnvelope,
  type DsseEnvelope,
  type DsseVerifier,
} from '../src/index.ts';

const TESTDATA = fileURLToPath(new URL('../../../testdata/dsse/', import.meta.url));

interface Vector {
  id: string;
  envelope: DsseEnvelope;
  trustedKeys: string[];
  threshold: number;
  supportedPayloadTypes: string[];
  pae: string;
  expect: 'accept' | 'reject';
}
const VECTORS = JSON.parse(readFileSync(`${TESTDATA}vectors.json`, 'utf8')) as {
  keys: Record<string, { seed: string; public: string }>;
  vectors: Vector[];
};
const EXAMPLE = JSON.parse(readFileSync(`${TESTDATA}protocol-example.json`, 'utf8')) as {
  serializedBody: string;
  payloadType: string;
  pae: string;
  key: { x: string; y: string };
  envelope: DsseEnvelope;
};

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const privateFromSeed = (seedHex: string): KeyObject =>
  createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, Buffer.from(seedHex, 'hex')]),
    format: 'der',
    type: 'pkcs8',
  });
const VECTOR_KEYS = Object.fromEntries(
  Object.entries(VECTORS.keys).map(([name, k]) => [name, privateFromSeed(k.seed)]),
);
const vectorVerifier = (name: string): DsseVerifier => ({
  keyid: name,
  publicKey: createPublicKey(VECTOR_KEYS[name]!),
});

/** Runs fn and returns the AttestError it throws (failing the test if it throws anything else or nothing). */
function attestError(fn: () => unknown): AttestError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AttestError) return err;
    throw err;
  }
  throw new Error('expected an AttestError');
}

const b64 = (s: string | Uint8Array) => Buffer.from(s).toString('base64');
const STATEMENT = Buffer.from('{"_type":"https://in-toto.io/Statement/v1"}');

describe('PAE (protocol.md)', () => {
  it('encodes the spec example as "DSSEv1 29 http://example.com/HelloWorld 11 hello world"', () => {
    const bytes = pae(EXAMPLE.payloadType, Buffer.from(EXAMPLE.serializedBody));
    expect(Buffer.from(bytes).toString('latin1')).toBe(EXAMPLE.pae);
  });

  it("matches the spec's ECDSA P-256 example signature, which verifies over our PAE bytes", () => {
    const b64u = (dec: string) =>
      Buffer.from(BigInt(dec).toString(16).padStart(64, '0'), 'hex').toString('base64url');
    const pub = createPublicKey({
      key: { kty: 'EC', crv: 'P-256', x: b64u(EXAMPLE.key.x), y: b64u(EXAMPLE.key.y) },
      format: 'jwk',
    });
    const env = parseEnvelope(JSON.stringify(EXAMPLE.envelope));
    const message = pae(env.payloadType, decodeDsseBase64(env.payload, 'payload'));
    const sig = decodeDsseBase64(env.signatures[0]!.sig, 'sig');
    expect(verify('sha256', message, { key: pub, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
    expect(
      verify(
        'sha256',
        pae(env.payloadType, Buffer.from('hello worle')),
        { key: pub, dsaEncoding: 'ieee-p1363' },
        sig,
      ),
    ).toBe(false);
  });

  it('equals the pae field of every published vector whose envelope states what was signed', () => {
    for (const v of VECTORS.vectors) {
      const ours = Buffer.from(
        pae(v.envelope.payloadType, decodeDsseBase64(v.envelope.payload, 'payload')),
      ).toString('hex');
      // payload-type-swapped exists to show a signature over another type: its PAE must differ.
      if (v.id === 'payload-type-swapped') expect(ours).not.toBe(v.pae);
      else expect(ours, v.id).toBe(v.pae);
    }
  });

  it('counts bytes, not characters: a non-ASCII type of 28 characters has LEN 29', () => {
    expect(Buffer.from(pae('application/vnd.exämple+json', new Uint8Array())).toString('utf8')).toBe(
      'DSSEv1 29 application/vnd.exämple+json 0 ',
    );
  });
});

describe('the published vectors (testdata/dsse/vectors.json)', () => {
  it('were copied intact: the RFC 8032 seeds give the listed keys and every signature verifies over its pae', () => {
    for (const [name, k] of Object.entries(VECTORS.keys)) {
      const spki = createPublicKey(VECTOR_KEYS[name]!).export({ type: 'spki', format: 'der' });
      expect(spki.subarray(12).toString('hex')).toBe(k.public);
    }
    for (const v of VECTORS.vectors)
      for (const s of v.envelope.signatures) {
        const sig = decodeDsseBase64(s.sig, 'sig');
        const ok = Object.values(VECTOR_KEYS).some((key) =>
          verify(null, Buffer.from(v.pae, 'hex'), key, sig),
        );
        expect(ok, v.id).toBe(true);
      }
  });

  for (const v of VECTORS.vectors) {
    it(`${v.expect}s ${v.id}`, () => {
      const run = () =>
        verifyEnvelope(v.envelope, {
          trusted: v.trustedKeys.map(vectorVerifier),
          threshold: v.threshold,
          payloadTypes: v.supportedPayloadTypes,
        });
      if (v.expect === 'accept') {
        const r = run();
        expect(r.payloadType).toBe(v.envelope.payloadType);
        expect(r.keyids).toHaveLength(v.threshold);
      } else {
        const err = attestError(run);
        expect(err.code).toBe(v.id === 'empty-payload-type' ? 'DSSE_PAYLOAD_TYPE' : 'DSSE_SIGNATURE_INVALID');
      }
    });
  }

  it('reports the second signature by the same key as a duplicate, with the evidence in details', () => {
    const v = VECTORS.vectors.find((x) => x.id === 'threshold-two-one-key-twice')!;
    const err = attestError(() =>
      verifyEnvelope(v.envelope, {
        trusted: [vectorVerifier('A'), vectorVerifier('B')],
        threshold: 2,
        payloadTypes: [IN_TOTO_PAYLOAD_TYPE],
      }),
    );
    expect(err.message).toMatch(/2 distinct trusted key signature\(s\) required; 1 of them verified/);
    expect(err.details?.signatures).toEqual([
      { index: 0, keyid: 'A', status: 'verified', trustedKeyid: 'A' },
      { index: 1, keyid: 'A', status: 'duplicate', trustedKeyid: 'A' },
    ]);
  });
});

describe('signing and verifying with a node key', () => {
  const key = generateNodeKey('release.vaultmesh.example/log');
  const trusted = [dsseVerifierFromNoteKey(parseVerifierKey(key.verifierKeyText))];
  const opts = { trusted, payloadTypes: [IN_TOTO_PAYLOAD_TYPE] };

  it('uses "<name>+<key hash>" as keyid: the first two fields of the C2SP verifier key', () => {
    const keyid = dsseSignerFromNodeKey(key).keyid;
    expect(keyid).toMatch(/^release\.vaultmesh\.example\/log\+[0-9a-f]{8}$/);
    expect(key.verifierKeyText.startsWith(`${keyid}+`)).toBe(true);
    expect(trusted[0]!.keyid).toBe(keyid);
    expect(dsseKeyId(key.name, key.signer.keyHash)).toBe(keyid);
  });

  it('round-trips: sign, format, parse, verify returns the payload and the signing keyid', () => {
    const env = signEnvelope(IN_TOTO_PAYLOAD_TYPE, STATEMENT, key);
    const text = formatEnvelope(env);
    expect(Object.keys(JSON.parse(text))).toEqual(['payload', 'payloadType', 'signatures']);
    const r = verifyEnvelope(text, opts);
    expect(Buffer.from(r.payload).equals(STATEMENT)).toBe(true);
    expect(r.keyids).toEqual([dsseSignerFromNodeKey(key).keyid]);
    expect(verifyEnvelope(Buffer.from(text), opts).payloadType).toBe(IN_TOTO_PAYLOAD_TYPE);
  });

  it('rejects a changed payload, payload type or signature', () => {
    const env = signEnvelope(IN_TOTO_PAYLOAD_TYPE, STATEMENT, key);
    const payload = b64(Buffer.from(STATEMENT.toString().replace('v1', 'v2')));
    const sig = Buffer.from(env.signatures[0]!.sig, 'base64');
    sig[10] = sig[10]! ^ 1;
    const tampered: DsseEnvelope[] = [
      { ...env, payload },
      { ...env, payloadType: 'application/vnd.in-toto+jsonx' },
      { ...env, signatures: [{ ...env.signatures[0]!, sig: b64(sig) }] },
    ];
    for (const t of tampered)
      expect(
        attestError(() => verifyEnvelope(t, { ...opts, payloadTypes: [IN_TOTO_PAYLOAD_TYPE, t.payloadType] }))
          .code,
      ).toBe('DSSE_SIGNATURE_INVALID');
  });

  it('rejects a signature by a key that is not trusted, even when it claims a trusted keyid', () => {
    const other = generateNodeKey('release.vaultmesh.example/log');
    const env = signEnvelope(IN_TOTO_PAYLOAD_TYPE, STATEMENT, {
      keyid: trusted[0]!.keyid,
      privateKey: other.privateKey,
    });
    const err = attestError(() => verifyEnvelope(env, opts));
    expect(err.code).toBe('DSSE_SIGNATURE_INVALID');
    expect(err.details?.signatures).toEqual([{ index: 0, keyid: trusted[0]!.keyid, status: 'unverified' }]);
  });

  it('accepts a valid signature whose keyid hint is wrong or absent (the keyid never decides trust)', () => {
    for (const keyid of ['someone-else', '']) {
      const env = signEnvelope(IN_TOTO_PAYLOAD_TYPE, STATEMENT, { keyid, privateKey: key.privateKey });
      expect(verifyEnvelope(env, opts).keyids).toEqual([trusted[0]!.keyid]);
    }
  });

  it('does not count one key listed twice under two keyids as two signers', () => {
    const twice = [trusted[0]!, { keyid: 'alias', publicKey: trusted[0]!.publicKey }];
    const env = signEnvelope(IN_TOTO_PAYLOAD_TYPE, STATEMENT, [key, key]);
    const err = attestError(() => verifyEnvelope(env, { ...opts, trusted: twice, threshold: 2 }));
    expect(err.code).toBe('DSSE_OPTIONS');
    expect(err.message).toMatch(/exceeds the 1 distinct trusted key/);
  });

  it('meets a threshold of two with two distinct trusted signers', () => {
    const second = generateNodeKey('witness.example/w');
    const both = [...trusted, dsseVerifierFromNoteKey(parseVerifierKey(second.verifierKeyText))];
    const env = signEnvelope(IN_TOTO_PAYLOAD_TYPE, STATEMENT, [key, second]);
    expect(verifyEnvelope(env, { ...opts, trusted: both, threshold: 2 }).keyids).toHaveLength(2);
    const one = signEnvelope(IN_TOTO_PAYLOAD_TYPE, STATEMENT, key);
    expect(attestError(() => verifyEnvelope(one, { ...opts, trusted: both, threshold: 2 })).code).toBe(
      'DSSE_SIGNATURE_INVALID',
    );
  });

  it('rejects a payload type the caller does not support, after the signature verified', () => {
    const env = signEnvelope('application/vnd.other+json', STATEMENT, key);
    const err = attestError(() => verifyEnvelope(env, opts));
    expect(err.code).toBe('DSSE_PAYLOAD_TYPE');
    expect(err.message).toMatch(/"application\/vnd.other\+json" is not supported/);
  });

  it('refuses bad options: threshold below 1, non-Ed25519 keys, no signers', () => {
    const env = signEnvelope(IN_TOTO_PAYLOAD_TYPE, STATEMENT, key);
    expect(attestError(() => verifyEnvelope(env, { ...opts, threshold: 0 })).code).toBe('DSSE_OPTIONS');
    const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(
      attestError(() =>
        verifyEnvelope(env, { ...opts, trusted: [{ keyid: 'p', publicKey: p256.publicKey }] }),
      ).message,
    ).toMatch(/must be an Ed25519 key, got ec/);
    expect(
      attestError(() =>
        signEnvelope(IN_TOTO_PAYLOAD_TYPE, STATEMENT, { keyid: 'p', privateKey: p256.privateKey }),
      ).code,
    ).toBe('DSSE_OPTIONS');
    expect(attestError(() => signEnvelope(IN_TOTO_PAYLOAD_TYPE, STATEMENT, [])).code).toBe('DSSE_OPTIONS');
  });
});

describe('parseEnvelope (attacker-controlled JSON)', () => {
  const key = generateNodeKey('parse.example/log');
  const good = signEnvelope(IN_TOTO_PAYLOAD_TYPE, STATEMENT, key);
  const sig = good.signatures[0]!.sig;
  const malformed = (text: string | Uint8Array) => {
    const err = attestError(() => parseEnvelope(text));
    expect(err.code).toBe('DSSE_MALFORMED');
    return err.message;
  };

  it('accepts a well-formed envelope, and treats omitted empty fields as empty (envelope.md)', () => {
    expect(parseEnvelope(formatEnvelope(good))).toEqual(good);
    expect(parseEnvelope('{}')).toEqual({ payload: '', payloadType: '', signatures: [] });
    const err = attestError(() =>
      verifyEnvelope('{}', { trusted: [dsseVerifierFromNoteKey(key.verifierKey)], payloadTypes: [''] }),
    );
    expect(err.message).toMatch(/the envelope has no signatures/);
  });

  it('accepts URL-safe base64 with or without padding', () => {
    const urlSafe = Buffer.from(sig, 'base64').toString('base64url');
    expect(urlSafe.endsWith('=')).toBe(false);
    const env = { ...good, signatures: [{ sig: urlSafe }] };
    expect(
      verifyEnvelope(JSON.stringify(env), {
        trusted: [dsseVerifierFromNoteKey(key.verifierKey)],
        payloadTypes: [IN_TOTO_PAYLOAD_TYPE],
      }).keyids,
    ).toHaveLength(1);
  });

  it.each([
    ['not JSON', '{"payload":', /not valid JSON/],
    ['an array', '[]', /must be a JSON object, got an array/],
    ['an unknown top-level field', JSON.stringify({ ...good, extra: 1 }), /unknown field "extra"/],
    [
      'a signature extension',
      JSON.stringify({ ...good, signatures: [{ sig, extension: {} }] }),
      /unknown field "extension" \(DSSE signature extensions are not supported\)/,
    ],
    [
      'a duplicate key',
      `{"payload":"","payloadType":"a","payload\\u0054ype":"b"}`,
      /duplicate key "payloadType"/,
    ],
    [
      'a numeric payload',
      JSON.stringify({ ...good, payload: 5 }),
      /payload must be a base64 string, got number/,
    ],
    [
      'signatures not an array',
      JSON.stringify({ ...good, signatures: {} }),
      /signatures must be an array, got object/,
    ],
    [
      'a signature that is not an object',
      JSON.stringify({ ...good, signatures: ['x'] }),
      /signatures\[0\] must be an object/,
    ],
    [
      'an empty sig',
      JSON.stringify({ ...good, signatures: [{ sig: '' }] }),
      /signatures\[0\]\.sig must be a non-empty/,
    ],
    [
      'a numeric keyid',
      JSON.stringify({ ...good, signatures: [{ sig, keyid: 1 }] }),
      /keyid must be a string, got number/,
    ],
    ['base64 with whitespace', JSON.stringify({ ...good, payload: 'aGVs bG8=' }), /payload is not base64/],
    ['base64 mixing alphabets', JSON.stringify({ ...good, payload: 'a+b_' }), /payload is not base64/],
    [
      'base64 with non-zero trailing bits',
      JSON.stringify({ ...good, payload: 'QR==' }),
      /not canonical base64/,
    ],
    [
      'base64 with wrong padding',
      JSON.stringify({ ...good, payload: 'QQ=' }),
      /impossible base64 length or padding/,
    ],
    [
      'too many signatures',
      JSON.stringify({
        ...good,
        signatures: Array.from({ length: DSSE_MAX_SIGNATURES + 1 }, () => ({ sig })),
      }),
      /at most 64 are accepted/,
    ],
  ])('refuses %s', (_what, text, message) => {
    expect(malformed(text)).toMatch(message);
  });

  it('refuses bytes that are not UTF-8', () => {
    expect(malformed(new Uint8Array([0x7b, 0xff, 0x7d]))).toMatch(/not valid UTF-8/);
  });
});
