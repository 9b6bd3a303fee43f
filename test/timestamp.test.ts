// RFC 3161 client and verifier against a real TSA (`openssl ts -reply` behind node:http), cross-checked with
// `openssl ts -verify` and `openssl ts -query -text`; tokens openssl will not make are built with node:crypto.
import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AttestError,
  createTimestampRequest,
  parseTimestampResponse,
  requestTimestamp,
  verifyTimestampToken,
  type AttestErrorCode,
  type TsaClientOptions,
} from '@vaultmesh/attest';
import {
  TEST_TSA_POLICY,
  TSA_CERT_EXTENSIONS,
  createTestPki,
  issueTestCert,
  removeTestPkis,
  runOpenssl,
  startTestTsa,
  type TestTsa,
} from '@vaultmesh/attest/testing';
import { buildTestToken, type TestTokenOptions } from '@vaultmesh/attest/testing';

const data = new TextEncoder().encode('vaultmesh checkpoint\n42\nq1Jx2Oz5yIjKExampleRootHash=\n');
const sha256hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function codeOf(fn: () => unknown): AttestErrorCode | string {
  try {
    fn();
  } catch (err) {
    return err instanceof AttestError ? err.code : `not an AttestError: ${String(err)}`;
  }
  return 'no error';
}

async function rejectionOf(p: Promise<unknown>): Promise<AttestError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AttestError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

let work: string;
let tsa: TestTsa;
const client = (extra: Partial<TsaClientOptions> = {}): TsaClientOptions => ({
  name: 'test-tsa',
  url: tsa.url,
  trustAnchorsPem: [tsa.caPem],
  ...extra,
});

/** `openssl ts -verify` of a token over `data` with a CA file and untrusted certificates. */
function opensslVerify(token: Uint8Array, caPem: string, untrustedPem: string, payload: Uint8Array = data) {
  const dir = mkdtempSync(join(work, 'verify-'));
  writeFileSync(join(dir, 'token.der'), token);
  writeFileSync(join(dir, 'data.bin'), payload);
  writeFileSync(join(dir, 'ca.pem'), caPem);
  writeFileSync(join(dir, 'untrusted.pem'), untrustedPem);
  return runOpenssl(
    [
      'ts',
      '-verify',
      '-in',
      'token.der',
      '-token_in',
      '-data',
      'data.bin',
      '-CAfile',
      'ca.pem',
      '-untrusted',
      'untrusted.pem',
    ],
    dir,
  );
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'vm-ts-test-'));
  tsa = await startTestTsa({ otherPolicies: ['1.3.6.1.4.1.55555.3161.2'] });
});

afterAll(async () => {
  await tsa?.close();
  removeTestPkis();
  rmSync(work, { recursive: true, force: true });
});

describe('createTimestampRequest (RFC 3161 2.4.1)', () => {
  it('builds a TimeStampReq that `openssl ts -query -text` reads back field by field', () => {
    const req = createTimestampRequest(data, {
      policy: '1.3.6.1.4.1.55555.3161.7',
      nonce: 0x8000000000000001n,
    });
    writeFileSync(join(work, 'req.der'), req.der);
    const r = runOpenssl(['ts', '-query', '-in', 'req.der', '-text'], work);
    expect(r.code).toBe(0);
    expect(r.output).toContain('Version: 1');
    expect(r.output).toContain('Hash Algorithm: sha256');
    expect(r.output).toContain('Policy OID: 1.3.6.1.4.1.55555.3161.7');
    expect(r.output).toContain('Nonce: 0x8000000000000001');
    expect(r.output).toContain('Certificate required: yes');
    const dump = [...r.output.matchAll(/^\s+[0-9a-f]{4} - ((?:[0-9a-f]{2}[ -]){1,16})/gm)]
      .map((m) => m[1]!.replace(/[ -]/g, ''))
      .join('');
    expect(dump).toBe(sha256hex(data));
    expect(Buffer.from(req.messageImprint).toString('hex')).toBe(sha256hex(data));
  });

  it('encodes a nonce with its top bit set as a positive INTEGER (leading 0x00) and omits certReq when false', () => {
    const req = createTimestampRequest(data, { nonce: 0xff00000000000001n, certReq: false });
    const hex = Buffer.from(req.der).toString('hex');
    expect(hex.endsWith('020900ff00000000000001')).toBe(true); // nonce is last: no certReq BOOLEAN after it
    const withCert = Buffer.from(createTimestampRequest(data, { nonce: 5n }).der).toString('hex');
    expect(withCert.endsWith('0201050101ff')).toBe(true);
  });

  it('draws a fresh positive 64-bit nonce for each request', () => {
    const nonces = new Set(Array.from({ length: 50 }, () => createTimestampRequest(data).nonce));
    expect(nonces.size).toBe(50);
    for (const n of nonces) expect(n > 0n && n < 1n << 64n).toBe(true);
  });

  it('uses the requested hash for the imprint', () => {
    const req = createTimestampRequest(data, { hashAlgorithm: 'sha512' });
    expect(req.messageImprint.length).toBe(64);
    writeFileSync(join(work, 'req512.der'), req.der);
    expect(runOpenssl(['ts', '-query', '-in', 'req512.der', '-text'], work).output).toContain(
      'Hash Algorithm: sha512',
    );
  });

  it('rejects a malformed policy OID or a non-positive nonce with TSA_OPTIONS', () => {
    expect(codeOf(() => createTimestampRequest(data, { policy: '1.2.x' }))).toBe('TSA_OPTIONS');
    expect(codeOf(() => createTimestampRequest(data, { policy: '3.1' }))).toBe('TSA_OPTIONS');
    expect(codeOf(() => createTimestampRequest(data, { nonce: 0n }))).toBe('TSA_OPTIONS');
    expect(codeOf(() => createTimestampRequest(data, { nonce: -5n }))).toBe('TSA_OPTIONS');
  });
});

describe('requestTimestamp against a real openssl TSA', () => {
  it('returns a token that our verifier and `openssl ts -verify` both accept', async () => {
    const before = Date.now();
    const { token, info } = await requestTimestamp(client(), data);
    expect(info.policy).toBe(TEST_TSA_POLICY);
    expect(info.hashAlgorithm).toBe('sha256');
    expect(info.messageImprint).toBe(sha256hex(data));
    expect(info.nonce).toMatch(/^[0-9a-f]+$/);
    expect(info.serialNumber).toMatch(/^[0-9a-f]+$/);
    expect(info.tsaSubject).toContain('CN=VaultMesh Test TSA');
    expect(info.signerCertSha256).toBe(sha256hex(new Uint8Array(new X509Certificate(tsa.tsaCertPem).raw)));
    expect(info.accuracy).toEqual({ seconds: 1, millis: 500, micros: 100 });
    expect(info.ordering).toBe(true);
    // openssl's clock_precision_digits = 3: genTime carries milliseconds.
    expect(info.genTime.getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(info.genTime.getTime()).toBeLessThanOrEqual(Date.now() + 1000);

    expect(verifyTimestampToken(token, data, { trustAnchorsPem: [tsa.caPem] })).toEqual(info);
    const r = opensslVerify(token, tsa.caPem, tsa.tsaCertPem);
    expect(r.output).toContain('Verification: OK');
    expect(r.code).toBe(0);
  });

  it('asks for and checks a policy the TSA offers', async () => {
    const { info } = await requestTimestamp(client({ policy: '1.3.6.1.4.1.55555.3161.2' }), data);
    expect(info.policy).toBe('1.3.6.1.4.1.55555.3161.2');
  });

  it.each(['sha384', 'sha512'] as const)('timestamps a %s imprint', async (hashAlgorithm) => {
    const { token, info } = await requestTimestamp(client({ hashAlgorithm }), data);
    expect(info.hashAlgorithm).toBe(hashAlgorithm);
    expect(info.messageImprint).toBe(createHash(hashAlgorithm).update(data).digest('hex'));
    expect(opensslVerify(token, tsa.caPem, tsa.tsaCertPem).code).toBe(0);
  });

  it('verifies signingCertificateV2 tokens from an RSA TSA behind an intermediate CA, as openssl does', async () => {
    const rsaTsa = await startTestTsa({
      keyType: 'rsa',
      intermediate: true,
      essCertIdAlg: 'sha256',
      signerDigest: 'sha384',
    });
    try {
      const { token, info } = await requestTimestamp(
        { name: 'rsa', url: rsaTsa.url, trustAnchorsPem: [rsaTsa.caPem] },
        data,
      );
      expect(info.tsaSubject).toContain('VaultMesh Test TSA');
      const r = opensslVerify(token, rsaTsa.caPem, [rsaTsa.tsaCertPem, ...rsaTsa.intermediatesPem].join(''));
      expect(r.output).toContain('Verification: OK');
      // The intermediate comes from the token (openssl's `certs`); without it there is no path.
      expect(verifyTimestampToken(token, data, { trustAnchorsPem: [rsaTsa.caPem] }).serialNumber).toBe(
        info.serialNumber,
      );
      expect(codeOf(() => verifyTimestampToken(token, data, { trustAnchorsPem: [tsa.caPem] }))).toBe(
        'TSA_UNTRUSTED',
      );
      // Every bit flip, the intermediate certificate's bytes included, is rejected.
      for (let i = 0; i < token.length; i++) {
        const bad = new Uint8Array(token);
        bad[i]! ^= 0x01;
        const code = codeOf(() => verifyTimestampToken(bad, data, { trustAnchorsPem: [rsaTsa.caPem] }));
        if (!code.startsWith('TSA_')) throw new Error(`flip at byte ${i}: ${code}`);
      }
    } finally {
      await rsaTsa.close();
    }
  });

  it('accepts a token without certificates (certReq false) only when the TSA certificate is supplied', async () => {
    const req = createTimestampRequest(data, { certReq: false });
    const res = await fetch(tsa.url, {
      method: 'POST',
      headers: { 'content-type': 'application/timestamp-query' },
      body: Buffer.from(req.der),
    });
    const token = parseTimestampResponse(new Uint8Array(await res.arrayBuffer())).token!;
    expect(codeOf(() => verifyTimestampToken(token, data, { trustAnchorsPem: [tsa.caPem] }))).toBe(
      'TSA_SIGNER_CERT',
    );
    const info = verifyTimestampToken(token, data, {
      trustAnchorsPem: [tsa.caPem],
      intermediatesPem: [tsa.tsaCertPem],
      nonce: req.nonce,
    });
    expect(info.messageImprint).toBe(sha256hex(data));
    // The same request through the client, with the certificate configured.
    const ok = await requestTimestamp(client({ certReq: false, intermediatesPem: [tsa.tsaCertPem] }), data);
    expect(ok.info.policy).toBe(TEST_TSA_POLICY);
  });

  it('counts requests and sends application/timestamp-query with the configured headers', async () => {
    const seen: Headers[] = [];
    const before = tsa.requests;
    await requestTimestamp(
      client({
        headers: { authorization: 'Bearer t0ken' },
        fetch: (url, init) => {
          seen.push(new Headers(init?.headers));
          return fetch(url, init);
        },
      }),
      data,
    );
    expect(tsa.requests).toBe(before + 1);
    expect(seen[0]!.get('content-type')).toBe('application/timestamp-query');
    expect(seen[0]!.get('authorization')).toBe('Bearer t0ken');
  });
});

describe('rejections', () => {
  let token: Uint8Array;
  beforeAll(async () => {
    token = (await requestTimestamp(client(), data)).token;
  });

  it('rejects other data: TSA_IMPRINT_MISMATCH', () => {
    const other = new TextEncoder().encode('another checkpoint');
    expect(codeOf(() => verifyTimestampToken(token, other, { trustAnchorsPem: [tsa.caPem] }))).toBe(
      'TSA_IMPRINT_MISMATCH',
    );
    expect(opensslVerify(token, tsa.caPem, tsa.tsaCertPem, other).code).not.toBe(0);
  });

  it('rejects a nonce other than the one sent: TSA_NONCE_MISMATCH', () => {
    expect(codeOf(() => verifyTimestampToken(token, data, { trustAnchorsPem: [tsa.caPem], nonce: 1n }))).toBe(
      'TSA_NONCE_MISMATCH',
    );
  });

  it('rejects a policy other than the required one: TSA_POLICY_MISMATCH', () => {
    const opts = { trustAnchorsPem: [tsa.caPem], policy: '1.3.6.1.4.1.55555.3161.2' };
    expect(codeOf(() => verifyTimestampToken(token, data, opts))).toBe('TSA_POLICY_MISMATCH');
  });

  it('rejects a token whose signer does not chain to the trust anchors: TSA_UNTRUSTED', () => {
    const other = createTestPki({ rootName: 'Some Other Root CA' });
    expect(codeOf(() => verifyTimestampToken(token, data, { trustAnchorsPem: [other.caPem] }))).toBe(
      'TSA_UNTRUSTED',
    );
    expect(opensslVerify(token, other.caPem, tsa.tsaCertPem).code).not.toBe(0);
  });

  it('rejects bad trust anchor configuration: TSA_OPTIONS', () => {
    expect(codeOf(() => verifyTimestampToken(token, data, { trustAnchorsPem: [] }))).toBe('TSA_OPTIONS');
    expect(codeOf(() => verifyTimestampToken(token, data, { trustAnchorsPem: ['not a pem'] }))).toBe(
      'TSA_OPTIONS',
    );
  });

  it('rejects every single-bit and whole-byte flip anywhere in the token with an AttestError', () => {
    const codes = new Map<string, number>();
    for (let i = 0; i < token.length; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const bad = new Uint8Array(token);
        bad[i]! ^= mask;
        const code = codeOf(() => verifyTimestampToken(bad, data, { trustAnchorsPem: [tsa.caPem] }));
        if (!code.startsWith('TSA_')) throw new Error(`flip 0x${mask.toString(16)} at byte ${i}: ${code}`);
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
    }
    // The flips land in structure, signed content, certificate and signature alike.
    expect(codes.get('TSA_MALFORMED')).toBeGreaterThan(0);
    expect(codes.get('TSA_SIGNATURE_INVALID')).toBeGreaterThan(0);
    expect(codes.get('TSA_SIGNER_CERT')).toBeGreaterThan(0);
  });

  it('rejects every truncation and trailing garbage: TSA_MALFORMED', () => {
    for (let n = 0; n < token.length; n++)
      expect(
        codeOf(() => verifyTimestampToken(token.subarray(0, n), data, { trustAnchorsPem: [tsa.caPem] })),
      ).toBe('TSA_MALFORMED');
    const longer = new Uint8Array([...token, 0]);
    expect(codeOf(() => verifyTimestampToken(longer, data, { trustAnchorsPem: [tsa.caPem] }))).toBe(
      'TSA_MALFORMED',
    );
  });

  describe('bad TSA answers', () => {
    const cases: [Parameters<TestTsa['setFailMode']>[0], AttestErrorCode][] = [
      ['wrong-nonce', 'TSA_NONCE_MISMATCH'],
      ['drop-nonce', 'TSA_NONCE_MISMATCH'],
      ['wrong-imprint', 'TSA_IMPRINT_MISMATCH'],
      ['reject', 'TSA_REJECTED'],
      ['garbage', 'TSA_MALFORMED'],
      ['truncated', 'TSA_MALFORMED'],
      ['wrong-content-type', 'TSA_MALFORMED'],
      ['http-500', 'TSA_UNAVAILABLE'],
      ['down', 'TSA_UNAVAILABLE'],
    ];
    it.each(cases)('fail mode %s: %s', async (mode, code) => {
      tsa.setFailMode(mode);
      try {
        const err = await rejectionOf(requestTimestamp(client(), data));
        expect(err.code).toBe(code);
        expect(err.message).toContain('TSA "test-tsa"');
      } finally {
        tsa.setFailMode('none');
      }
    });

    it('reports the TSA status and failure info of a rejection', async () => {
      tsa.setFailMode('reject');
      try {
        const err = await rejectionOf(requestTimestamp(client(), data));
        expect(err.message).toMatch(
          /answered rejection: badAlg, "Message digest algorithm is not supported\."/,
        );
        expect(err.details).toMatchObject({ status: 2, statusName: 'rejection', failInfo: ['badAlg'] });
      } finally {
        tsa.setFailMode('none');
      }
    });

    it('turns openssl rejecting an unoffered policy into TSA_REJECTED (unacceptedPolicy)', async () => {
      const err = await rejectionOf(requestTimestamp(client({ policy: '1.3.6.1.4.1.55555.3161.99' }), data));
      expect(err.code).toBe('TSA_REJECTED');
      expect(err.message).toContain('unacceptedPolicy');
    });

    it('rejects a token under the TSA default policy when another was asked for: TSA_POLICY_MISMATCH', async () => {
      tsa.setFailMode('drop-policy');
      try {
        const err = await rejectionOf(requestTimestamp(client({ policy: '1.3.6.1.4.1.55555.3161.2' }), data));
        expect(err.code).toBe('TSA_POLICY_MISMATCH');
      } finally {
        tsa.setFailMode('none');
      }
    });

    it('gives up after timeoutMs on a TSA that never answers: TSA_UNAVAILABLE', async () => {
      tsa.setFailMode('hang');
      try {
        const err = await rejectionOf(requestTimestamp(client({ timeoutMs: 300 }), data));
        expect(err.code).toBe('TSA_UNAVAILABLE');
        expect(err.message).toContain('no answer within 300 ms');
      } finally {
        tsa.setFailMode('none');
      }
    });

    it('reports a TSA that is not listening: TSA_UNAVAILABLE', async () => {
      const down = await startTestTsa();
      const url = down.url;
      await down.close();
      const err = await rejectionOf(requestTimestamp(client({ url }), data));
      expect(err.code).toBe('TSA_UNAVAILABLE');
      expect(err.message).toMatch(/ECONNREFUSED/);
    });

    it('refuses an answer larger than maxResponseBytes: TSA_MALFORMED', async () => {
      const err = await rejectionOf(requestTimestamp(client({ maxResponseBytes: 100 }), data));
      expect(err.code).toBe('TSA_MALFORMED');
    });

    it('times out even when a custom fetch ignores the abort signal: TSA_UNAVAILABLE', async () => {
      const neverSettles: typeof fetch = () => new Promise<Response>(() => undefined);
      const err = await rejectionOf(requestTimestamp(client({ timeoutMs: 200, fetch: neverSettles }), data));
      expect(err.code).toBe('TSA_UNAVAILABLE');
      expect(err.message).toContain('no answer within 200 ms');
    });

    it('rejects bad trust anchors before sending anything: TSA_OPTIONS', async () => {
      const before = tsa.requests;
      const err = await rejectionOf(
        requestTimestamp(client({ trustAnchorsPem: ['-----BEGIN nothing'] }), data),
      );
      expect(err.code).toBe('TSA_OPTIONS');
      expect(tsa.requests).toBe(before);
    });

    it('rejects a URL that is not http(s): TSA_OPTIONS', async () => {
      expect((await rejectionOf(requestTimestamp(client({ url: 'file:///etc/passwd' }), data))).code).toBe(
        'TSA_OPTIONS',
      );
    });
  });
});

describe('certificate and signature checks (tokens built with node:crypto)', () => {
  const pki = () => createTestPki();
  const tsaKey = () => ({ certPem: pki().tsaCertPem, keyPem: pki().tsaKeyPem });
  const anchors = () => ({ trustAnchorsPem: [pki().caPem] });
  const build = (o: Partial<TestTokenOptions> = {}) => buildTestToken({ data, ...tsaKey(), ...o });

  it('accepts a token built here, and so does `openssl ts -verify` (the builder is faithful)', () => {
    const t = build({ nonce: 99n, ess: 'both' });
    expect(verifyTimestampToken(t, data, { ...anchors(), nonce: 99n }).nonce).toBe('63');
    const r = opensslVerify(t, pki().caPem, pki().tsaCertPem);
    expect(r.output).toContain('Verification: OK');
  });

  it.each([
    ['no extendedKeyUsage', ['keyUsage=critical,digitalSignature']],
    ['a non-critical timeStamping EKU', ['extendedKeyUsage=timeStamping']],
    ['timeStamping plus codeSigning', ['extendedKeyUsage=critical,timeStamping,codeSigning']],
  ])('rejects a signer certificate with %s: TSA_CERT_PURPOSE (openssl agrees)', (name, ext) => {
    const cert = issueTestCert(pki(), `TSA with ${name}`, ext);
    const t = build({ certPem: cert.certPem, keyPem: cert.keyPem });
    expect(codeOf(() => verifyTimestampToken(t, data, anchors()))).toBe('TSA_CERT_PURPOSE');
    expect(opensslVerify(t, pki().caPem, cert.certPem).code).not.toBe(0);
  });

  it('rejects a signer certificate whose keyUsage allows no signing: TSA_CERT_PURPOSE', () => {
    const cert = issueTestCert(pki(), 'TSA with keyEncipherment', [
      'keyUsage=critical,keyAgreement',
      'extendedKeyUsage=critical,timeStamping',
    ]);
    const t = build({ certPem: cert.certPem, keyPem: cert.keyPem });
    expect(codeOf(() => verifyTimestampToken(t, data, anchors()))).toBe('TSA_CERT_PURPOSE');
  });

  it.each([
    ['RSA PKCS#1 v1.5 with SHA-512', 'rsa', { signature: 'rsa-pkcs1', digest: 'sha512' }],
    ['RSA-PSS with SHA-256', 'rsa', { signature: 'rsa-pss' }],
    ['ECDSA P-256 with SHA-384', 'ec', { digest: 'sha384' }],
    ['Ed25519', 'ed25519', {}],
  ] as const)('verifies %s signatures', (_name, keyType, o) => {
    const cert = issueTestCert(pki(), `TSA ${keyType}`, TSA_CERT_EXTENSIONS, { keyType });
    const t = build({ certPem: cert.certPem, keyPem: cert.keyPem, ...o });
    expect(verifyTimestampToken(t, data, anchors()).tsaSubject).toContain(`TSA ${keyType}`);
  });

  it('finds the signer by subjectKeyIdentifier', () => {
    expect(verifyTimestampToken(build({ sid: 'ski', ess: 'v1' }), data, anchors()).policy).toBe(
      TEST_TSA_POLICY,
    );
  });

  it('accepts the TSA certificate itself as a pinned trust anchor', () => {
    expect(() => verifyTimestampToken(build(), data, { trustAnchorsPem: [pki().tsaCertPem] })).not.toThrow();
  });

  it('rejects a signature by another key: TSA_SIGNATURE_INVALID', () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    }) as string;
    expect(codeOf(() => verifyTimestampToken(build({ keyPem: other }), data, anchors()))).toBe(
      'TSA_SIGNATURE_INVALID',
    );
  });

  it('rejects an ESS attribute that pins another certificate, or none: TSA_SIGNER_CERT', () => {
    const wrong = build({ essCertPem: pki().caPem });
    expect(codeOf(() => verifyTimestampToken(wrong, data, anchors()))).toBe('TSA_SIGNER_CERT');
    expect(codeOf(() => verifyTimestampToken(build({ ess: 'none' }), data, anchors()))).toBe(
      'TSA_SIGNER_CERT',
    );
  });

  it('rejects a token without the messageDigest or contentType attribute: TSA_MALFORMED', () => {
    expect(codeOf(() => verifyTimestampToken(build({ omitAttrs: ['messageDigest'] }), data, anchors()))).toBe(
      'TSA_MALFORMED',
    );
    expect(codeOf(() => verifyTimestampToken(build({ omitAttrs: ['contentType'] }), data, anchors()))).toBe(
      'TSA_MALFORMED',
    );
  });

  it('rejects a genTime outside the signer certificate validity: TSA_UNTRUSTED', () => {
    const t = build({ genTime: new Date('2001-02-03T04:05:06.789Z') });
    const err = (() => {
      try {
        verifyTimestampToken(t, data, anchors());
      } catch (e) {
        return e as AttestError;
      }
      throw new Error('expected an error');
    })();
    expect(err.code).toBe('TSA_UNTRUSTED');
    expect(err.message).toContain('not valid at 2001-02-03T04:05:06.789Z');
  });

  it('rejects TSTInfo.tsa naming someone other than the signer: TSA_SIGNER_CERT', () => {
    const t = build({ tsaSubjectPem: pki().caPem });
    expect(codeOf(() => verifyTimestampToken(t, data, anchors()))).toBe('TSA_SIGNER_CERT');
  });

  it('rejects a token whose certificates do not include the one the signer names: TSA_SIGNER_CERT', () => {
    const cert = issueTestCert(pki(), 'Second TSA', TSA_CERT_EXTENSIONS);
    const t = build({ certPem: cert.certPem, keyPem: cert.keyPem, certsPem: [pki().tsaCertPem] });
    expect(codeOf(() => verifyTimestampToken(t, data, anchors()))).toBe('TSA_SIGNER_CERT');
  });
});
