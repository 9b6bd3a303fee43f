// C2SP tlog-cosignature v1 (Ed25519): key IDs, line layout, the signed message, and a cross-check with a second,
// independent implementation (Python `cryptography`) in both directions.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  addCosignatures,
  cosignatureKeyId,
  cosignerVerifierKey,
  parseCosignatureLine,
  parseCosignerKey,
  signCosignature,
  verifyCosignature,
  verifyCosignedNote,
} from '../src/index.ts';

const BODY = 'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n';

function keyPair() {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(12));
  return { privateKey, publicKey: raw, sign: (m: Uint8Array) => new Uint8Array(sign(null, m, privateKey)) };
}

describe('C2SP tlog-cosignature v1', () => {
  it('decodes the spec’s example cosignature line: key ID, timestamp, 64-byte signature', () => {
    // From c2sp.org/tlog-cosignature; the witness's public key is not published, so only the layout is checked.
    const line =
      '— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==';
    const c = parseCosignatureLine(line);
    expect(c.name).toBe('witness.example.com/w1');
    expect(Buffer.from(c.keyId).toString('hex')).toBe('8d66cf3f');
    expect(c.timestamp).toBe(1679315147);
    expect(c.signature).toHaveLength(64);
  });

  it('signs and verifies; every changed byte of body, timestamp, signature or key ID fails', () => {
    const k = keyPair();
    const line = signCosignature({
      noteBody: BODY,
      name: 'w.example/1',
      publicKey: k.publicKey,
      sign: k.sign,
      timestamp: 1700000000,
    });
    const key = { name: 'w.example/1', publicKey: k.publicKey };
    expect(verifyCosignature(BODY, line, key)).toEqual({ timestamp: 1700000000 });
    expect(() => verifyCosignature(BODY.replace('20852163', '20852164'), line, key)).toThrow(
      /does not verify/,
    );
    const raw = Buffer.from(line.split(' ')[2]!, 'base64');
    for (const at of [0, 5, 11, 12, 40, 75]) {
      const bad = Buffer.from(raw);
      bad[at]! ^= 1;
      expect(
        () => verifyCosignature(BODY, `— w.example/1 ${bad.toString('base64')}`, key),
        `byte ${at}`,
      ).toThrow();
    }
    expect(() => verifyCosignature(BODY, line, { name: 'other/1', publicKey: k.publicKey })).toThrow(
      /not other\/1/,
    );
    expect(() =>
      verifyCosignature(BODY, line, { name: 'w.example/1', publicKey: keyPair().publicKey }),
    ).toThrow(/key ID/);
  });

  it('refuses timestamps in the future and formats cosigner keys as type-0x04 vkeys', () => {
    const k = keyPair();
    const line = signCosignature({
      noteBody: BODY,
      name: 'w/2',
      publicKey: k.publicKey,
      sign: k.sign,
      timestamp: 4_000_000_000,
    });
    expect(() => verifyCosignature(BODY, line, { name: 'w/2', publicKey: k.publicKey })).toThrow(/future/);
    const vkey = cosignerVerifierKey('w/2', k.publicKey);
    expect(vkey).toMatch(/^w\/2\+[0-9a-f]{8}\+B[A-P]/); // base64 of 0x04: "B", then A..P
    expect(parseCosignerKey(vkey)).toEqual({ name: 'w/2', publicKey: k.publicKey });
    expect(Buffer.from(cosignatureKeyId('w/2', k.publicKey)).toString('hex')).toBe(vkey.split('+')[1]);
  });

  it('adds cosignature lines to a signed note and verifies the cosigned note', () => {
    const log = keyPair();
    const w1 = keyPair();
    const w2 = keyPair();
    const note = `${BODY}\n— example.com/behind-the-sofa AAAA\n`;
    const l1 = signCosignature({
      noteBody: BODY,
      name: 'w1',
      publicKey: w1.publicKey,
      sign: w1.sign,
      timestamp: 1,
    });
    const l2 = signCosignature({
      noteBody: BODY,
      name: 'w2',
      publicKey: w2.publicKey,
      sign: w2.sign,
      timestamp: 2,
    });
    const cosigned = addCosignatures(note, [l2, l1, l1]);
    expect(cosigned.split('\n').filter((l) => l.startsWith('— '))).toHaveLength(3);
    expect(addCosignatures(cosigned, [l1])).toBe(cosigned);
    const r = verifyCosignedNote(cosigned, [
      { name: 'w1', publicKey: w1.publicKey },
      { name: 'w2', publicKey: w2.publicKey },
      { name: 'w3', publicKey: log.publicKey },
    ]);
    expect(r.map((x) => x.ok)).toEqual([true, true, false]);
  });

  it('agrees with an independent implementation (Python cryptography) both ways', () => {
    const k = keyPair();
    const line = signCosignature({
      noteBody: BODY,
      name: 'w.py/1',
      publicKey: k.publicKey,
      sign: k.sign,
      timestamp: 1679315147,
    });
    const py = `
import base64, hashlib, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey, Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization
mode, name, body = sys.argv[1], sys.argv[2], sys.argv[3]
if mode == 'verify':
    pub = bytes.fromhex(sys.argv[4]); b64 = sys.argv[5].split(' ')[2]
    raw = base64.b64decode(b64)
    kid = hashlib.sha256(name.encode() + b"\\n" + bytes([4]) + pub).digest()[:4]
    assert raw[:4] == kid, 'key id'
    ts = int.from_bytes(raw[4:12], 'big')
    Ed25519PublicKey.from_public_bytes(pub).verify(raw[12:], b"cosignature/v1\\ntime %d\\n" % ts + body.encode())
    print('ok')
else:
    sk = Ed25519PrivateKey.generate()
    pub = sk.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    kid = hashlib.sha256(name.encode() + b"\\n" + bytes([4]) + pub).digest()[:4]
    ts = 1700000001
    sig = sk.sign(b"cosignature/v1\\ntime %d\\n" % ts + body.encode())
    print(pub.hex()); print('\\u2014 ' + name + ' ' + base64.b64encode(kid + ts.to_bytes(8, 'big') + sig).decode())
`;
    const ok = execFileSync(
      'python3',
      ['-c', py, 'verify', 'w.py/1', BODY, Buffer.from(k.publicKey).toString('hex'), line],
      {
        encoding: 'utf8',
      },
    );
    expect(ok.trim()).toBe('ok');
    const [pubHex, pyLine] = execFileSync('python3', ['-c', py, 'sign', 'w.py/2', BODY], { encoding: 'utf8' })
      .trim()
      .split('\n');
    expect(
      verifyCosignature(BODY, pyLine!, {
        name: 'w.py/2',
        publicKey: new Uint8Array(Buffer.from(pubHex!, 'hex')),
      }),
    ).toEqual({
      timestamp: 1700000001,
    });
  });
});
