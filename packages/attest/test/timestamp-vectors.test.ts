// Recorded TimeStampResps of public commercial TSAs (testdata/rfc3161, from github/ietf-cms), checked by our
// verifier and by `openssl ts -verify`: interoperability with tokens nobody on this team produced.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AttestError } from '../src/errors.ts';
import { parseTimestampResponse, requestTimestamp, verifyTimestampToken } from '../src/timestamp.ts';

interface Vectors {
  data: string;
  responses: Record<string, { timeStampResp: string; expectedFromSource?: Record<string, unknown> }>;
}
const vectors = JSON.parse(
  readFileSync(new URL('../../../testdata/rfc3161/ietf-cms-responses.json', import.meta.url), 'utf8'),
) as Vectors;
const data = new TextEncoder().encode(vectors.data);
const response = (name: string) =>
  new Uint8Array(Buffer.from(vectors.responses[name]!.timeStampResp, 'base64'));
const tokenOf = (name: string) => parseTimestampResponse(response(name)).token!;

const work = mkdtempSync(join(tmpdir(), 'vm-tsa-vectors-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function openssl(args: string[], input?: Uint8Array): { code: number; out: string } {
  const r = spawnSync('openssl', args, { cwd: work, input, encoding: 'utf8' });
  return { code: r.status ?? 1, out: `${r.stdout}${r.stderr}` };
}

/** The certificate with subject CN `cn` among those the token carries, extracted by openssl (not by us). */
function certFromToken(token: Uint8Array, cn: string): string {
  writeFileSync(join(work, 'token.der'), token);
  const { out } = openssl(['pkcs7', '-inform', 'DER', '-in', 'token.der', '-print_certs']);
  const pems = out.match(
    /subject=[^\n]*\n(?:issuer=[^\n]*\n)?\n?-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g,
  );
  const hit = pems?.find((p) => p.split('\n')[0]!.includes(`CN = ${cn}`));
  if (!hit) throw new Error(`no certificate ${cn} in the token`);
  return hit.slice(hit.indexOf('-----BEGIN'));
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
    return 'no error';
  } catch (err) {
    return err instanceof AttestError ? err.code : String(err);
  }
}

describe.each([
  ['symantecWithCerts', 'Symantec SHA256 TimeStamping CA', 'Symantec SHA256 TimeStamping Signer - G3'],
  ['digicert', 'DigiCert SHA2 Assured ID Timestamping CA', 'DigiCert SHA2 Timestamp Responder'],
])('the recorded %s token', (name, caCn, tsaCn) => {
  const token = tokenOf(name);
  const ca = certFromToken(token, caCn);

  it('verifies with our verifier, anchored at the issuing CA it carries', () => {
    const info = verifyTimestampToken(token, data, { trustAnchorsPem: [ca] });
    expect(info.tsaSubject).toContain(`CN=${tsaCn}`);
    expect(info.messageImprint).toBe('5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03');
  });

  it('verifies with `openssl ts -verify -partial_chain` against the same anchor', () => {
    writeFileSync(join(work, 'ca.pem'), ca);
    writeFileSync(join(work, 'data.bin'), data);
    writeFileSync(join(work, 'token.der'), token);
    const r = openssl([
      'ts',
      '-verify',
      '-in',
      'token.der',
      '-token_in',
      '-data',
      'data.bin',
      '-CAfile',
      'ca.pem',
      '-partial_chain',
    ]);
    expect(r.out).toContain('Verification: OK');
    expect(r.code).toBe(0);
  });

  it('rejects other data and other trust anchors', () => {
    expect(
      codeOf(() => verifyTimestampToken(token, new TextEncoder().encode('hello'), { trustAnchorsPem: [ca] })),
    ).toBe('TSA_IMPRINT_MISMATCH');
    const other = name === 'digicert' ? 'symantecWithCerts' : 'digicert';
    const otherCa = certFromToken(
      tokenOf(other),
      other === 'digicert' ? 'DigiCert SHA2 Assured ID Timestamping CA' : 'Symantec SHA256 TimeStamping CA',
    );
    expect(codeOf(() => verifyTimestampToken(token, data, { trustAnchorsPem: [otherCa] }))).toBe(
      'TSA_UNTRUSTED',
    );
  });
});

describe('the recorded vectors, field by field', () => {
  it('reads the TSTInfo values the source test asserts for the Symantec token', () => {
    const token = tokenOf('symantecWithCerts');
    const ca = certFromToken(token, 'Symantec SHA256 TimeStamping CA');
    const info = verifyTimestampToken(token, data, { trustAnchorsPem: [ca] });
    const e = vectors.responses.symantecWithCerts!.expectedFromSource!;
    expect(info.policy).toBe(e.policy);
    expect(info.hashAlgorithm).toBe(e.hashAlgorithm);
    expect(info.serialNumber).toBe(e.serialNumber);
    expect(info.genTime.toISOString()).toBe(e.genTime);
    expect(info.accuracy).toEqual({ seconds: e.accuracySeconds, millis: 0, micros: 0 });
    expect(info.ordering).toBe(e.ordering);
    expect(info.nonce).toBeUndefined();
  });

  it('refuses the GlobalSign token, whose SignerInfo digest is SHA-1: TSA_UNSUPPORTED', () => {
    expect(parseTimestampResponse(response('globalsign')).statusName).toBe('granted');
    expect(
      codeOf(() =>
        verifyTimestampToken(tokenOf('globalsign'), data, {
          trustAnchorsPem: [certFromToken(tokenOf('digicert'), 'DigiCert SHA2 Assured ID Timestamping CA')],
        }),
      ),
    ).toBe('TSA_UNSUPPORTED');
  });

  it('reads the error response: rejection, its status string and badDataFormat', () => {
    const r = parseTimestampResponse(response('errorResponse'));
    const e = vectors.responses.errorResponse!.expectedFromSource!;
    expect(r.status).toBe(e.status);
    expect(r.statusName).toBe('rejection');
    expect(r.statusText).toEqual(e.statusString);
    expect(r.failInfo).toEqual(['badDataFormat']); // bit 5
    expect(r.token).toBeUndefined();
  });

  it('turns the error response into TSA_REJECTED naming the status, failure and text', async () => {
    const body = response('errorResponse');
    const fakeFetch: typeof fetch = async () =>
      new Response(Buffer.from(body), { headers: { 'content-type': 'application/timestamp-reply' } });
    const err = await requestTimestamp(
      {
        name: 'recorded',
        url: 'http://tsa.invalid/',
        trustAnchorsPem: [certFromToken(tokenOf('digicert'), 'DigiCert SHA2 Assured ID Timestamping CA')],
        fetch: fakeFetch,
      },
      data,
    ).then(
      () => undefined,
      (e: unknown) => e as AttestError,
    );
    expect(err?.code).toBe('TSA_REJECTED');
    expect(err?.message).toContain('rejection: badDataFormat, "the data submitted has the wrong format"');
  });
});
