// RFC 9421 HTTP message signatures and RFC 9530 Content-Digest: the RFCs' own vectors (testdata/rfc9421), then the
// verifier's policy (tampering, expiry, replay, coverage, malformed fields) and the bounded replay cache.
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  AttestError,
  componentIdentifier,
  createContentDigest,
  createHttpSignatureKey,
  createReplayCache,
  createSignatureBase,
  generateNodeKey,
  hmacKeyId,
  loadHmacKeyFile,
  parseContentDigest,
  parseSfDictionary,
  publicKeyFromRaw,
  serializeSfDictionary,
  serializeSignatureParams,
  signHttpMessage,
  verifyContentDigest,
  verifyHttpMessage,
  type HttpMessage,
  type HttpSignatureKey,
  type VerifyHttpMessageOptions,
} from '../src/index.ts';

const TESTDATA = fileURLToPath(new URL('../../../testdata/rfc9421/', import.meta.url));
const read = <T>(name: string): T => JSON.parse(readFileSync(join(TESTDATA, name), 'utf8')) as T;

interface Vectors {
  keys: Record<
    string,
    { alg: HttpSignatureKey['alg']; publicKeyPem?: string; privateKeyPem?: string; secretBase64?: string }
  >;
  messages: Record<
    string,
    { method?: string; url?: string; status?: number; headers: [string, string][]; body: string }
  >;
  cases: {
    section: string;
    label: string;
    message: string;
    key: string;
    deterministic: boolean;
    components: string[];
    params: { created: number; keyid: string; nonce?: string; tag?: string };
    signatureBase: string;
    signatureInput: string;
    signature: string;
  }[];
}

const V = read<Vectors>('vectors.json');
const RFC_CREATED_MS = 1618884473 * 1000;

/** The verification key of a B.1 test key (public half, or the shared secret). */
function verifyKey(id: string): HttpSignatureKey {
  const k = V.keys[id]!;
  return createHttpSignatureKey(
    k.alg,
    k.secretBase64 ? Buffer.from(k.secretBase64, 'base64') : (k.publicKeyPem as string),
  );
}

/** The signing key of a B.1 test key (private half, or the shared secret). */
function signKey(id: string): HttpSignatureKey {
  const k = V.keys[id]!;
  return createHttpSignatureKey(
    k.alg,
    k.secretBase64 ? Buffer.from(k.secretBase64, 'base64') : (k.privateKeyPem as string),
  );
}

/** A B.2 message with its header lines grouped by name (names keep the RFC's capitalization). */
function rfcMessage(name: string, extra: Record<string, string> = {}): HttpMessage {
  const m = V.messages[name]!;
  const headers: Record<string, string[]> = {};
  for (const [n, v] of m.headers) (headers[n] ??= []).push(v);
  for (const [n, v] of Object.entries(extra)) headers[n] = [v];
  return { method: m.method, url: m.url, status: m.status, headers, body: m.body };
}

const expectCode = (fn: () => unknown, code: string) => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AttestError);
    expect((err as AttestError).code, (err as Error).message).toBe(code);
    return err as AttestError;
  }
  throw new Error(`expected AttestError ${code}, nothing was thrown`);
};

describe('RFC 9421 Appendix B test vectors', () => {
  for (const c of V.cases) {
    const msg = () => rfcMessage(c.message);

    it(`${c.section} (${c.label}): rebuilds the signature base byte for byte`, () => {
      const components = c.components.map(componentIdentifier);
      const base = createSignatureBase(msg(), components, serializeSignatureParams(components, c.params));
      expect(base).toBe(c.signatureBase);
    });

    it(`${c.section} (${c.label}): verifies the published signature with ${V.keys[c.key]!.alg}`, () => {
      const signed = rfcMessage(c.message, { 'Signature-Input': c.signatureInput, Signature: c.signature });
      const result = verifyHttpMessage(signed, {
        keys: (keyid) => (keyid === c.key ? verifyKey(c.key) : undefined),
        requiredComponents: c.components,
        now: () => RFC_CREATED_MS,
      });
      expect(result.label).toBe(c.label);
      expect(result.alg).toBe(V.keys[c.key]!.alg);
      expect(result.params).toMatchObject(c.params);
      // Where content-digest is covered, RFC 9530 rechecks it against the body (sha-512 in these messages).
      expect(result.digests).toEqual(c.components.includes('content-digest') ? ['sha-512'] : []);
    });

    if (c.deterministic) {
      it(`${c.section} (${c.label}): reproduces the deterministic signature exactly`, () => {
        const signed = signHttpMessage(msg(), {
          key: signKey(c.key),
          keyid: c.params.keyid,
          label: c.label,
          components: c.components,
          created: c.params.created,
        });
        expect(signed.signatureBase).toBe(c.signatureBase);
        expect(signed.headers['signature-input']).toBe(c.signatureInput);
        expect(signed.headers.signature).toBe(c.signature);
        // The message already carries a matching Content-Digest, so the signer adds none.
        expect(signed.headers['content-digest']).toBeUndefined();
      });
    }
  }

  it('B.1.4: the Ed25519 private key yields the published public key', () => {
    const priv = signKey('test-key-ed25519').key;
    const pub = verifyKey('test-key-ed25519').key;
    const raw = (k: typeof pub) => k.export({ format: 'jwk' }).x;
    expect(raw(priv)).toBe(raw(pub));
    expect(raw(pub)).toBe('JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs');
  });
});

describe('RFC 9530 Content-Digest', () => {
  const D = read<{
    cases: { section: string; body: string; contentDigest: string }[];
    dictionaryExamples: { section: string; field: string; algorithms: string[]; lengths: number[] }[];
  }>('rfc9530-content-digest.json');

  for (const c of D.cases) {
    it(`${c.section}: computes and checks the published digest`, () => {
      const alg = c.contentDigest.startsWith('sha-512') ? 'sha-512' : 'sha-256';
      expect(createContentDigest(c.body, alg)).toBe(c.contentDigest);
      expect(verifyContentDigest(c.contentDigest, Buffer.from(c.body))).toEqual([alg]);
    });
  }

  it('RFC 9530 §2: parses a dictionary with several digests', () => {
    for (const d of D.dictionaryExamples) {
      const parsed = parseContentDigest(d.field);
      expect([...parsed.keys()]).toEqual(d.algorithms);
      expect([...parsed.values()].map((b) => b.length)).toEqual(d.lengths);
    }
  });

  it('fails when the body differs, naming the algorithm', () => {
    const err = expectCode(
      () => verifyContentDigest(createContentDigest('{"a":1}'), '{"a":2}'),
      'DIGEST_MISMATCH',
    );
    expect(err.details).toMatchObject({ algorithm: 'sha-256' });
  });

  it('fails when any accepted digest differs, even if another matches', () => {
    const field = `${createContentDigest('x')}, ${createContentDigest('y', 'sha-512')}`;
    expectCode(() => verifyContentDigest(field, 'x'), 'DIGEST_MISMATCH');
  });

  it('fails without a supported algorithm, and on a malformed field', () => {
    expectCode(() => verifyContentDigest('md5=:AAAAAAAAAAAAAAAAAAAAAA==:', 'x'), 'DIGEST_MISMATCH');
    expectCode(() => verifyContentDigest('sha-256=abc', 'x'), 'DIGEST_MISMATCH');
    expectCode(() => verifyContentDigest('sha-256=:not base64!:', 'x'), 'DIGEST_MISMATCH');
  });
});

describe('RFC 8941 structured fields (the subset the signatures use)', () => {
  it('round-trips inner lists with parameters, byte sequences, tokens, booleans and decimals', () => {
    const text =
      'sig1=("@method" "@query-param";name="Pet");created=1;keyid="k\\"1";x, b=:AQID:, t=tok/en:x, f=?0, d=-1.5;q';
    expect(serializeSfDictionary(parseSfDictionary(text))).toBe(text);
  });

  it('normalizes optional whitespace and keeps the last of duplicate keys in place', () => {
    const dict = parseSfDictionary('a=1 ,\tb=2,a=3  ');
    expect(serializeSfDictionary(dict)).toBe('a=3, b=2');
  });

  it.each([
    ['a=(1 2', 'inner list is not closed'],
    ['a="unterminated', 'string is not closed'],
    ['a="bad \\x escape"', 'may be escaped'],
    ['A=1', 'expected a key'],
    ['a=1,', 'trailing ","'],
    ['a=1;', 'expected a key'],
    ['a=:YWJj', 'byte sequence is not closed'],
    ['a=:a$b=:', 'not base64'],
    ['a=?2', 'a boolean is ?0 or ?1'],
    ['a=1234567890123456', 'at most 15 digits'],
    ['a=1.2345', '1 to 3 fractional digits'],
    ['a=(1)(2)', 'separated by ","'],
    ['a=(1,2)', 'separated by a space'],
    ['a="\u00e9"', 'printable ASCII'],
    ['a=@', 'unexpected character'],
  ])('rejects %j with a clear error (%s)', (input, why) => {
    const err = expectCode(() => parseSfDictionary(input), 'SIGNATURE_MALFORMED');
    expect(err.message).toContain(why);
    expect(err.message).toMatch(/at offset \d+ \(RFC 8941\)/);
  });
});

describe('signing and verifying a callback request', () => {
  const node = generateNodeKey('test.vaultmesh/log');
  const key = createHttpSignatureKey('ed25519', node.privateKey);
  // The receiver knows only the raw public key of the C2SP verifier key.
  const publicKey = createHttpSignatureKey('ed25519', publicKeyFromRaw(node.verifierKey.publicKey));
  const NOW = 1_760_000_000_000;
  const body = JSON.stringify({ planId: 'deploy-1', status: 'succeeded' });
  const request = (): HttpMessage => ({
    method: 'POST',
    url: 'http://127.0.0.1:8080/callbacks/vaultmesh?x=1',
    headers: { 'content-type': 'application/json' },
    body,
  });

  /** Signs the request and returns the message as the receiver sees it. */
  function signed(opts: Partial<Parameters<typeof signHttpMessage>[1]> = {}, msg = request()): HttpMessage {
    const s = signHttpMessage(msg, {
      key,
      keyid: node.name,
      nonce: true,
      expiresIn: 300,
      now: () => NOW,
      ...opts,
    });
    return { ...msg, headers: { ...msg.headers, ...s.headers } };
  }

  const policy = (extra: Partial<VerifyHttpMessageOptions> = {}): VerifyHttpMessageOptions => ({
    keys: (keyid) => (keyid === node.name ? publicKey : undefined),
    requiredComponents: ['@method', '@target-uri', 'content-digest', 'content-type'],
    requiredParams: ['created', 'expires', 'nonce', 'keyid'],
    now: () => NOW,
    ...extra,
  });

  it('adds Content-Digest and covers @method, @target-uri, content-digest and content-type by default', () => {
    const s = signHttpMessage(request(), {
      key,
      keyid: node.name,
      now: () => NOW,
      nonce: 'n1',
      expiresIn: 300,
    });
    expect(s.headers['content-digest']).toBe(createContentDigest(body));
    expect(s.headers['signature-input']).toBe(
      `sig1=("@method" "@target-uri" "content-digest" "content-type");created=1760000000;expires=1760000300;keyid="test.vaultmesh/log";nonce="n1"`,
    );
    expect(s.signatureBase.split('\n')).toEqual([
      '"@method": POST',
      '"@target-uri": http://127.0.0.1:8080/callbacks/vaultmesh?x=1',
      `"content-digest": ${createContentDigest(body)}`,
      '"content-type": application/json',
      `"@signature-params": ${s.headers['signature-input']!.slice('sig1='.length)}`,
    ]);
  });

  it('accepts an untouched request and reports what it covered', () => {
    const r = verifyHttpMessage(signed(), policy());
    expect(r).toMatchObject({ label: 'sig1', alg: 'ed25519', keyid: node.name, digests: ['sha-256'] });
    expect(r.components).toEqual(['"@method"', '"@target-uri"', '"content-digest"', '"content-type"']);
  });

  it('accepts header names in any case and values with surrounding whitespace', () => {
    const m = signed();
    const h = Object.fromEntries(Object.entries(m.headers).map(([k, v]) => [k.toUpperCase(), v]));
    h['CONTENT-TYPE'] = '  application/json\t';
    expect(verifyHttpMessage({ ...m, headers: h }, policy()).label).toBe('sig1');
  });

  it('rejects a tampered method, url, header or body', () => {
    const m = signed();
    expectCode(() => verifyHttpMessage({ ...m, method: 'PUT' }, policy()), 'SIGNATURE_INVALID');
    expectCode(
      () => verifyHttpMessage({ ...m, url: 'http://127.0.0.1:8080/callbacks/other?x=1' }, policy()),
      'SIGNATURE_INVALID',
    );
    expectCode(
      () => verifyHttpMessage({ ...m, url: 'http://127.0.0.1:8081/callbacks/vaultmesh?x=1' }, policy()),
      'SIGNATURE_INVALID',
    );
    expectCode(
      () => verifyHttpMessage({ ...m, headers: { ...m.headers, 'content-type': 'text/plain' } }, policy()),
      'SIGNATURE_INVALID',
    );
    // A new body with its old (signed) digest: the digest no longer matches the content.
    const err = expectCode(
      () => verifyHttpMessage({ ...m, body: body.replace('succeeded', 'failed') }, policy()),
      'DIGEST_MISMATCH',
    );
    expect(err.details).toMatchObject({ algorithm: 'sha-256' });
    // A new body with a recomputed digest: the signature no longer matches the digest.
    const tampered = body.replace('succeeded', 'failed');
    expectCode(
      () =>
        verifyHttpMessage(
          {
            ...m,
            body: tampered,
            headers: { ...m.headers, 'content-digest': createContentDigest(tampered) },
          },
          policy(),
        ),
      'SIGNATURE_INVALID',
    );
  });

  it('rejects a flipped signature byte and a signature by another key', () => {
    const m = signed();
    const sig = String(m.headers.signature);
    const flipped = sig.slice(0, 10) + (sig[10] === 'A' ? 'B' : 'A') + sig.slice(11);
    expectCode(
      () => verifyHttpMessage({ ...m, headers: { ...m.headers, signature: flipped } }, policy()),
      'SIGNATURE_INVALID',
    );
    const other = createHttpSignatureKey('ed25519', generateKeyPairSync('ed25519').privateKey);
    expectCode(() => verifyHttpMessage(signed({ key: other }), policy()), 'SIGNATURE_INVALID');
  });

  it('rejects an unknown keyid and an alg parameter that contradicts the key', () => {
    expectCode(() => verifyHttpMessage(signed({ keyid: 'someone-else' }), policy()), 'SIGNATURE_INVALID');
    const m = signed({ includeAlg: true });
    expect(String(m.headers['signature-input'])).toContain(';alg="ed25519"');
    const hmac = createHttpSignatureKey('hmac-sha256', Buffer.alloc(32, 7));
    const err = expectCode(() => verifyHttpMessage(m, policy({ keys: () => hmac })), 'SIGNATURE_INVALID');
    expect(err.message).toContain('names alg "ed25519"');
  });

  it('rejects an algorithm the policy does not allow', () => {
    expectCode(
      () => verifyHttpMessage(signed(), policy({ algorithms: ['hmac-sha256'] })),
      'SIGNATURE_POLICY',
    );
  });

  it('rejects an expired signature, one older than the maximum age, and one from the future', () => {
    const m = signed();
    const at = (ms: number) => policy({ now: () => ms, clockSkewSec: 30 });
    expect(verifyHttpMessage(m, at(NOW + 329_000)).label).toBe('sig1'); // within expires + skew
    const err = expectCode(() => verifyHttpMessage(m, at(NOW + 331_000)), 'SIGNATURE_EXPIRED');
    expect(err.details).toMatchObject({ expires: NOW / 1000 + 300 });
    const noExpiry = signed({ expiresIn: undefined });
    expectCode(
      () =>
        verifyHttpMessage(
          noExpiry,
          policy({ requiredParams: ['created'], maxAgeSec: 60, now: () => NOW + 200_000 }),
        ),
      'SIGNATURE_EXPIRED',
    );
    expectCode(() => verifyHttpMessage(m, at(NOW - 31_000)), 'SIGNATURE_EXPIRED');
  });

  it('rejects a replayed nonce, and accepts a fresh signature of the same request', () => {
    const replayCache = createReplayCache({ now: () => NOW });
    const m = signed();
    verifyHttpMessage(m, policy({ replayCache }));
    const err = expectCode(() => verifyHttpMessage(m, policy({ replayCache })), 'SIGNATURE_REPLAY');
    expect(err.details).toMatchObject({ keyid: node.name });
    expect(verifyHttpMessage(signed(), policy({ replayCache })).label).toBe('sig1');
  });

  it('requires a nonce when a replay cache is used', () => {
    const replayCache = createReplayCache({ now: () => NOW });
    const err = expectCode(
      () =>
        verifyHttpMessage(signed({ nonce: undefined }), policy({ requiredParams: ['created'], replayCache })),
      'SIGNATURE_POLICY',
    );
    expect(err.message).toContain('"nonce"');
  });

  it('does not remember nonces of signatures that fail to verify', () => {
    const replayCache = createReplayCache({ now: () => NOW });
    const m = signed();
    expectCode(
      () => verifyHttpMessage({ ...m, method: 'PUT' }, policy({ replayCache })),
      'SIGNATURE_INVALID',
    );
    expect(replayCache.size).toBe(0);
    expect(verifyHttpMessage(m, policy({ replayCache })).label).toBe('sig1');
  });

  it('rejects a signature that does not cover a required component or parameter', () => {
    const m = signed({ components: ['@method', '@target-uri', 'content-type'] });
    const err = expectCode(() => verifyHttpMessage(m, policy()), 'SIGNATURE_POLICY');
    expect(err.details).toMatchObject({ component: '"content-digest"' });
    // The default policy alone already demands content-digest for a request with a body.
    expectCode(() => verifyHttpMessage(m, { keys: () => publicKey, now: () => NOW }), 'SIGNATURE_POLICY');
    const noKeyid = signed({ keyid: undefined });
    expectCode(() => verifyHttpMessage(noKeyid, policy({ keys: () => publicKey })), 'SIGNATURE_POLICY');
  });

  it('rejects a missing signature, a missing label, and a covered component absent from the message', () => {
    const m = signed();
    const { signature: _s, ...noSig } = m.headers;
    expectCode(() => verifyHttpMessage({ ...m, headers: noSig }, policy()), 'SIGNATURE_MISSING');
    expectCode(() => verifyHttpMessage(m, policy({ label: 'sig2' })), 'SIGNATURE_MISSING');
    const { 'content-type': _c, ...noType } = m.headers;
    const err = expectCode(() => verifyHttpMessage({ ...m, headers: noType }, policy()), 'SIGNATURE_INVALID');
    expect(err.message).toContain('"content-type" is absent');
  });

  it.each([
    ['signature-input', 'sig1=("@method" "@target-uri"', 'inner list is not closed'],
    ['signature-input', 'sig1="@method"', 'is not an inner list'],
    ['signature-input', 'sig1=(@method);created=1', 'unexpected character at offset 6'],
    ['signature-input', 'sig1=(method);created=1', 'a component identifier is not a string'],
    ['signature-input', 'sig1=("@method" "@method");created=1', 'covered twice'],
    ['signature-input', 'sig1=("@signature-params");created=1', 'unsupported derived component'],
    ['signature-input', 'sig1=("content-type";sf);created=1', 'not supported'],
    ['signature-input', 'sig1=("Content-Type");created=1', 'not a lowercase field name'],
    ['signature-input', 'sig1=("@method");created="yesterday"', 'must be a non-negative integer'],
    ['signature-input', 'sig1=("@method");keyid=1', 'must be a string'],
    ['signature', 'sig1="AAAA"', 'is not a byte sequence'],
    ['signature', 'sig1=:AAAA', 'byte sequence is not closed'],
  ])('rejects a malformed %s field %j with a clear error', (field, value, why) => {
    const m = signed();
    const err = expectCode(
      () =>
        verifyHttpMessage(
          { ...m, headers: { ...m.headers, [field]: value } },
          policy({ requiredComponents: [] }),
        ),
      'SIGNATURE_MALFORMED',
    );
    expect(err.message).toContain(why);
  });

  it('bounds the work a received signature can ask for, and enforces a required tag', () => {
    const m = signed();
    const many = `sig1=(${Array.from({ length: 65 }, (_, i) => `"x-${i}"`).join(' ')});created=1`;
    const err = expectCode(
      () => verifyHttpMessage({ ...m, headers: { ...m.headers, 'signature-input': many } }, policy()),
      'SIGNATURE_MALFORMED',
    );
    expect(err.message).toContain('more than 64 components');
    expectCode(() => verifyHttpMessage(m, policy({ tag: 'vaultmesh-callback' })), 'SIGNATURE_POLICY');
    const tagged = signed({ tag: 'vaultmesh-callback' });
    expect(verifyHttpMessage(tagged, policy({ tag: 'vaultmesh-callback' })).params.tag).toBe(
      'vaultmesh-callback',
    );
  });

  it('refuses to sign a value that would break the signature base', () => {
    expectCode(
      () => signHttpMessage({ ...request(), headers: { 'content-type': 'a\r\nx-injected: 1' } }, { key }),
      'SIGNATURE_MALFORMED',
    );
  });

  it('refuses to sign a body whose existing Content-Digest does not match it', () => {
    const msg = {
      ...request(),
      headers: { ...request().headers, 'content-digest': createContentDigest('other') },
    };
    expectCode(() => signHttpMessage(msg, { key }), 'DIGEST_MISMATCH');
  });

  it('signs and verifies with hmac-sha256 under the hmac:<file> keyid convention', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vm-hmac-'));
    try {
      const file = join(dir, 'callback.key');
      writeFileSync(file, 'x'.repeat(40) + '\n', { mode: 0o600 });
      const hk = loadHmacKeyFile(file);
      expect(hmacKeyId(file)).toBe('hmac:callback.key');
      const m = signed({ key: hk, keyid: hmacKeyId(file) });
      const r = verifyHttpMessage(m, policy({ keys: (id) => (id === 'hmac:callback.key' ? hk : undefined) }));
      expect(r.alg).toBe('hmac-sha256');
      chmodSync(file, 0o644);
      expectCode(() => loadHmacKeyFile(file), 'KEY_PERMISSIONS');
      writeFileSync(join(dir, 'short.key'), 'short', { mode: 0o600 });
      expectCode(() => loadHmacKeyFile(join(dir, 'short.key')), 'KEY_INVALID');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('signs responses over @status', () => {
    const res: HttpMessage = { status: 202, headers: { 'content-type': 'application/json' }, body: '{}' };
    const s = signHttpMessage(res, { key, keyid: node.name, now: () => NOW });
    expect(s.components).toEqual(['"@status"', '"content-digest"', '"content-type"']);
    const m = { ...res, headers: { ...res.headers, ...s.headers } };
    expect(verifyHttpMessage(m, { keys: () => publicKey, now: () => NOW }).label).toBe('sig1');
    expectCode(
      () => verifyHttpMessage({ ...m, status: 200 }, { keys: () => publicKey, now: () => NOW }),
      'SIGNATURE_INVALID',
    );
  });

  it('derives @authority, @scheme, @request-target, @path, @query and @query-param from the URL', () => {
    const msg: HttpMessage = {
      method: 'GET',
      url: 'https://User@Example.COM:443/a%20b/c?var=this%20is%20a%20big%0Avalue&bar=with+plus+whitespace&fa%C3%A7ade%22%3A%20=something&dup=1&dup=2#frag',
      headers: {},
    };
    const ids = [
      '@target-uri',
      '@authority',
      '@scheme',
      '@request-target',
      '@path',
      '@query',
      '"@query-param";name="var"',
      '"@query-param";name="bar"',
      '"@query-param";name="fa%C3%A7ade%22%3A%20"',
    ].map(componentIdentifier);
    const base = createSignatureBase(msg, ids, '()');
    expect(base.split('\n')).toEqual([
      '"@target-uri": https://example.com/a%20b/c?var=this%20is%20a%20big%0Avalue&bar=with+plus+whitespace&fa%C3%A7ade%22%3A%20=something&dup=1&dup=2',
      '"@authority": example.com',
      '"@scheme": https',
      '"@request-target": /a%20b/c?var=this%20is%20a%20big%0Avalue&bar=with+plus+whitespace&fa%C3%A7ade%22%3A%20=something&dup=1&dup=2',
      '"@path": /a%20b/c',
      '"@query": ?var=this%20is%20a%20big%0Avalue&bar=with+plus+whitespace&fa%C3%A7ade%22%3A%20=something&dup=1&dup=2',
      // §2.2.8: decoded, then re-encoded with the form-urlencoded set (space as %20).
      '"@query-param";name="var": this%20is%20a%20big%0Avalue',
      '"@query-param";name="bar": with%20plus%20whitespace',
      '"@query-param";name="fa%C3%A7ade%22%3A%20": something',
      '"@signature-params": ()',
    ]);
    // A repeated name must not be signed alone; an empty query is "?".
    expectCode(
      () => createSignatureBase(msg, [componentIdentifier('"@query-param";name="dup"')], '()'),
      'SIGNATURE_MALFORMED',
    );
    expect(createSignatureBase({ ...msg, url: 'http://h/' }, [componentIdentifier('@query')], '()')).toBe(
      '"@query": ?\n"@signature-params": ()',
    );
  });

  it('combines repeated field lines with ", " after trimming each', () => {
    const base = createSignatureBase(
      { method: 'GET', url: 'http://h/', headers: { 'X-Multi': [' a ', 'b\t'], 'x-multi': 'c' } },
      [componentIdentifier('x-multi')],
      '()',
    );
    expect(base).toBe('"x-multi": a, b, c\n"@signature-params": ()');
  });

  it('checks key material against the algorithm', () => {
    expectCode(() => createHttpSignatureKey('ed25519', Buffer.alloc(32)), 'KEY_INVALID');
    expectCode(() => createHttpSignatureKey('hmac-sha256', Buffer.alloc(16)), 'KEY_INVALID');
    expectCode(() => createHttpSignatureKey('rsa-pss-sha512', node.privateKey), 'KEY_INVALID');
    expectCode(() => createHttpSignatureKey('ecdsa-p256-sha256', 'not a pem'), 'KEY_INVALID');
    const ec = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    expectCode(() => createHttpSignatureKey('ecdsa-p256-sha256', ec.privateKey), 'KEY_INVALID');
  });

  it('round-trips every algorithm through sign and verify', () => {
    const pairs: [HttpSignatureKey['alg'], { privateKey: unknown; publicKey: unknown } | Buffer][] = [
      ['ed25519', generateKeyPairSync('ed25519')],
      ['rsa-pss-sha512', generateKeyPairSync('rsa', { modulusLength: 2048 })],
      ['ecdsa-p256-sha256', generateKeyPairSync('ec', { namedCurve: 'prime256v1' })],
      ['hmac-sha256', Buffer.alloc(32, 9)],
    ];
    for (const [alg, material] of pairs) {
      const [priv, pub] = Buffer.isBuffer(material)
        ? [material, material]
        : [material.privateKey, material.publicKey];
      const sk = createHttpSignatureKey(alg, priv as Buffer);
      const vk = createHttpSignatureKey(alg, pub as Buffer);
      expect(verifyHttpMessage(signed({ key: sk }), policy({ keys: () => vk })).alg).toBe(alg);
    }
  });
});

describe('bounded replay cache', () => {
  it('stays within maxEntries under a flood of distinct nonces', () => {
    let t = 0;
    const cache = createReplayCache({ maxEntries: 1000, now: () => t });
    for (let i = 0; i < 50_000; i++) {
      t = i;
      expect(cache.remember(`k:${i}`, t + 1_000_000, t)).toBe('fresh');
      expect(cache.size).toBeLessThanOrEqual(1000);
    }
  });

  it('forgets entries after their window and then accepts the key again', () => {
    let t = 0;
    const cache = createReplayCache({ maxEntries: 10, now: () => t });
    expect(cache.remember('a', 100, 0)).toBe('fresh');
    expect(cache.remember('a', 100, 0)).toBe('seen');
    t = 101;
    expect(cache.remember('b', 300, 101)).toBe('fresh');
    expect(cache.size).toBe(1); // 'a' was swept
    expect(cache.remember('a', 300, 101)).toBe('fresh');
  });

  it('after evicting a live entry, refuses anything issued at or before it instead of forgetting a nonce', () => {
    let t = 0;
    const cache = createReplayCache({ maxEntries: 2, now: () => t });
    cache.remember('n1', 10_000, 1);
    cache.remember('n2', 10_000, 2);
    t = 3;
    cache.remember('n3', 10_000, 3); // evicts n1 while it is still valid
    expect(cache.size).toBe(2);
    expect(cache.remember('n1', 10_000, 1)).toBe('too-old'); // the replay of n1 is still refused
    expect(cache.remember('n4', 10_000, 4)).toBe('fresh');
  });
});
