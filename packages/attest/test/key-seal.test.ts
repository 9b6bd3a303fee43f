// Sealed node keys: scrypt + AES-256-GCM over the PKCS#8 key, parameters authenticated, secrets never echoed.
import { sign } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AttestError,
  SEAL_DEFAULTS,
  generateNodeKey,
  isSealedKeyText,
  loadNodeKey,
  readSealedKeyInfo,
  saveNodeKey,
  sealNodeKey,
  unsealNodeKey,
  writeFileAtomic,
} from '../src/index.ts';

const ORIGIN = 'seal.test/log';
const PASSPHRASE = 'correct horse battery staple';
const FAST = { scrypt: { N: 2 ** 10 } };
const dir = mkdtempSync(join(tmpdir(), 'vm-seal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The armored body as JSON, and back. */
const decode = (text: string) =>
  JSON.parse(
    Buffer.from(
      text
        .split('\n')
        .filter((l) => l && !l.startsWith('-----'))
        .join(''),
      'base64',
    ).toString('utf8'),
  ) as Record<string, Record<string, unknown> | unknown>;
const encode = (obj: unknown) =>
  `-----BEGIN VAULTMESH SEALED NODE KEY-----\n${Buffer.from(JSON.stringify(obj)).toString('base64')}\n-----END VAULTMESH SEALED NODE KEY-----\n`;

/** Flips one bit of a base64 field, keeping it canonical base64 of the same length. */
const flipB64 = (b64: string) => {
  const buf = Buffer.from(b64, 'base64');
  buf[0]! ^= 1;
  return buf.toString('base64');
};

function thrown(fn: () => unknown): AttestError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AttestError);
    return err as AttestError;
  }
  throw new Error('expected an AttestError');
}

describe('sealed node keys', () => {
  const key = generateNodeKey(ORIGIN);
  const sealed = sealNodeKey(key, PASSPHRASE, FAST);

  it('round-trips: the unsealed key signs exactly like the original', () => {
    const back = unsealNodeKey(sealed, PASSPHRASE);
    const msg = new TextEncoder().encode('checkpoint');
    expect(back.asymmetricKeyType).toBe('ed25519');
    expect(back.export({ type: 'pkcs8', format: 'der' })).toEqual(
      key.privateKey.export({ type: 'pkcs8', format: 'der' }),
    );
    expect(new Uint8Array(sign(null, msg, back))).toEqual(key.signer.sign(msg));
  });

  it('is a PEM-like armor around versioned JSON: scrypt and aes-256-gcm parameters, no plaintext key', () => {
    expect(sealed).toMatch(
      /^-----BEGIN VAULTMESH SEALED NODE KEY-----\n(?:[A-Za-z0-9+/=]{1,64}\n)+-----END VAULTMESH SEALED NODE KEY-----\n$/,
    );
    expect(isSealedKeyText(sealed)).toBe(true);
    expect(isSealedKeyText(key.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string)).toBe(false);
    const obj = decode(sealed);
    expect(Object.keys(obj).sort()).toEqual(['cipher', 'ciphertext', 'kdf', 'v', 'verifierKey']);
    expect(obj.kdf).toMatchObject({ name: 'scrypt', N: 1024, r: 8, p: 1 });
    expect(obj.cipher).toMatchObject({ name: 'aes-256-gcm' });
    expect(Buffer.from((obj.cipher as { iv: string }).iv, 'base64')).toHaveLength(12);
    expect(Buffer.from((obj.cipher as { tag: string }).tag, 'base64')).toHaveLength(16);
    const der = key.privateKey.export({ type: 'pkcs8', format: 'der' });
    expect(Buffer.from(obj.ciphertext as string, 'base64').includes(der.subarray(16))).toBe(false);
    expect(readSealedKeyInfo(sealed).verifierKey).toBe(key.verifierKeyText);
  });

  it('uses fresh salt and IV for every seal, and OWASP scrypt cost by default', () => {
    const again = decode(sealNodeKey(key, PASSPHRASE, FAST));
    const first = decode(sealed);
    expect((again.kdf as { salt: string }).salt).not.toBe((first.kdf as { salt: string }).salt);
    expect((again.cipher as { iv: string }).iv).not.toBe((first.cipher as { iv: string }).iv);
    expect(SEAL_DEFAULTS).toEqual({ N: 2 ** 17, r: 8, p: 1 });
    const slow = sealNodeKey(key, PASSPHRASE);
    expect(readSealedKeyInfo(slow).kdf).toMatchObject({ N: 2 ** 17, r: 8, p: 1 });
    expect(unsealNodeKey(slow, PASSPHRASE).asymmetricKeyType).toBe('ed25519');
  });

  it('refuses a wrong passphrase with KEY_PASSPHRASE, and the message names no secret', () => {
    const err = thrown(() => unsealNodeKey(sealed, 'wrong horse battery staple', { source: 'key file k' }));
    expect(err.code).toBe('KEY_PASSPHRASE');
    expect(err.message).toMatch(/^key file k: wrong passphrase/);
    for (const secret of ['wrong horse', PASSPHRASE, decode(sealed).ciphertext as string])
      expect(err.message + String(err.stack)).not.toContain(secret);
    expect(thrown(() => unsealNodeKey(sealed, '')).code).toBe('KEY_PASSPHRASE');
  });

  it('refuses to seal under a passphrase shorter than 8 characters, without echoing it', () => {
    const err = thrown(() => sealNodeKey(key, 'hunter2', FAST));
    expect(err.code).toBe('KEY_PASSPHRASE');
    expect(err.message).not.toContain('hunter2');
  });

  it('detects any change to the ciphertext, tag, IV, salt, scrypt cost or named key (all authenticated)', () => {
    const obj = decode(sealed) as {
      kdf: Record<string, unknown>;
      cipher: Record<string, unknown>;
      ciphertext: string;
      verifierKey: string;
    };
    const other = generateNodeKey(ORIGIN);
    const variants: Record<string, unknown> = {
      ciphertext: { ...obj, ciphertext: flipB64(obj.ciphertext) },
      tag: { ...obj, cipher: { ...obj.cipher, tag: flipB64(obj.cipher.tag as string) } },
      iv: { ...obj, cipher: { ...obj.cipher, iv: flipB64(obj.cipher.iv as string) } },
      salt: { ...obj, kdf: { ...obj.kdf, salt: flipB64(obj.kdf.salt as string) } },
      N: { ...obj, kdf: { ...obj.kdf, N: 2048 } },
      r: { ...obj, kdf: { ...obj.kdf, r: 4 } },
      verifierKey: { ...obj, verifierKey: other.verifierKeyText },
    };
    for (const [field, variant] of Object.entries(variants)) {
      const err = thrown(() => unsealNodeKey(encode(variant), PASSPHRASE));
      expect([field, err.code]).toEqual([field, 'KEY_PASSPHRASE']);
      expect(err.message).not.toContain(PASSPHRASE);
    }
  });

  it('rejects malformed files and absurd scrypt costs as KEY_INVALID before deriving anything', () => {
    const obj = decode(sealed) as { kdf: Record<string, unknown> };
    const cases: [string, string][] = [
      ['unknown field', encode({ ...obj, note: 'x' })],
      ['other kdf', encode({ ...obj, kdf: { ...obj.kdf, name: 'pbkdf2' } })],
      ['N = 2^30', encode({ ...obj, kdf: { ...obj.kdf, N: 2 ** 30 } })],
      ['N not a power of 2', encode({ ...obj, kdf: { ...obj.kdf, N: 1000 } })],
      ['version 2', encode({ ...obj, v: 2 })],
      [
        'not base64',
        '-----BEGIN VAULTMESH SEALED NODE KEY-----\n!!!\n-----END VAULTMESH SEALED NODE KEY-----\n',
      ],
      ['no end line', sealed.replace('-----END VAULTMESH SEALED NODE KEY-----', '')],
    ];
    for (const [name, text] of cases)
      expect([name, thrown(() => unsealNodeKey(text, PASSPHRASE)).code]).toEqual([name, 'KEY_INVALID']);
  });

  it('loadNodeKey opens a sealed key file only with its passphrase', () => {
    const path = join(dir, 'node.key');
    saveNodeKey(key, path);
    writeFileAtomic(path, sealed);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const missing = thrown(() => loadNodeKey(ORIGIN, path));
    expect(missing.code).toBe('KEY_PASSPHRASE');
    expect(missing.message).toBe(`key file ${path} is sealed; a passphrase is needed to open it`);
    expect(thrown(() => loadNodeKey(ORIGIN, path, { passphrase: 'not the passphrase' })).code).toBe(
      'KEY_PASSPHRASE',
    );
    expect(loadNodeKey(ORIGIN, path, { passphrase: PASSPHRASE }).verifierKeyText).toBe(key.verifierKeyText);
  });

  it('writeFileAtomic replaces a file with mode 0600 and leaves no temporary file behind', () => {
    const path = join(dir, 'atomic.key');
    writeFileSync(path, 'old', { mode: 0o644 });
    writeFileAtomic(path, 'new');
    expect(readFileSync(path, 'utf8')).toBe('new');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    writeFileAtomic(join(dir, 'atomic.pub'), 'pub', 0o644);
    expect(statSync(join(dir, 'atomic.pub')).mode & 0o777).toBe(0o644);
    expect(readFileSync(path, 'utf8')).toBe('new');
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
