import { ed25519 } from '@noble/curves/ed25519';
import { describe, expect, it } from 'vitest';
import {
  ed25519KeyHash,
  formatCheckpoint,
  formatVerifierKey,
  fromBase64,
  openNote,
  parseCheckpoint,
  parseVerifierKey,
  signNote,
  toBase64,
  utf8,
  type NoteSigner,
} from '../src/index.ts';
import { readTestdata } from './helpers.ts';

interface NoteVectors {
  keyPairs: { name: string; verifierKey: string; signerKey: string | null }[];
  badVerifierKeys: { key: string; why: string }[];
  notes: {
    name: string;
    text: string;
    verifierKey: string | null;
    verifierKeys?: string[];
    signedMessage?: string;
    valid: boolean | null;
  }[];
  checkpoints: {
    text: string;
    origin: string;
    size: number;
    rootBase64: string;
    signed?: boolean;
    verifierKey?: string | null;
  }[];
  invalidCheckpointBodies: { desc: string; text: string }[];
}
const v = readTestdata<NoteVectors>('note/c2sp-signed-note.json');

function signerFromGoKey(skey: string): NoteSigner {
  // PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>
  const parts = skey.split('+');
  const [name, hash] = [parts[2]!, parts[3]!];
  const b64 = parts.slice(4).join('+');
  const seed = fromBase64(b64).slice(1);
  const pub = ed25519.getPublicKey(seed);
  expect(Buffer.from(ed25519KeyHash(name, pub)).toString('hex')).toBe(hash);
  return { name, keyHash: ed25519KeyHash(name, pub), sign: (m) => ed25519.sign(m, seed) };
}

describe('C2SP signed-note vectors (golang.org/x/mod sumdb/note, transparency-dev/formats)', () => {
  it('parses every published verifier key and re-formats it identically', () => {
    for (const kp of v.keyPairs) {
      const k = parseVerifierKey(kp.verifierKey);
      expect(formatVerifierKey(k.name, k.publicKey)).toBe(kp.verifierKey);
    }
  });

  it('rejects malformed verifier keys', () => {
    for (const bad of v.badVerifierKeys) expect(() => parseVerifierKey(bad.key), bad.why).toThrow();
  });

  it('signs exactly as the published PeterNeumann example (Ed25519 is deterministic)', () => {
    const kp = v.keyPairs.find((k) => k.name === 'PeterNeumann')!;
    const signer = signerFromGoKey(kp.signerKey!);
    const example = v.notes.find(
      (n) => n.valid === true && n.verifierKey === kp.verifierKey && !n.verifierKeys,
    )!;
    expect(signNote(example.signedMessage!, [signer])).toBe(example.text);
  });

  it('opens every valid published note and rejects every invalid one', () => {
    let checked = 0;
    for (const n of v.notes) {
      if (n.valid === null) continue;
      const keys = (n.verifierKeys ?? [n.verifierKey!]).map(parseVerifierKey);
      if (n.valid) {
        const opened = openNote(n.text, keys);
        expect(opened.verifiedBy.length, n.name).toBe(keys.length);
        if (n.signedMessage) expect(opened.text).toBe(n.signedMessage);
      } else {
        expect(() => openNote(n.text, keys), n.name).toThrow();
      }
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(8);
  });

  it('ignores signatures from unknown keys but requires one known signature', () => {
    const both = v.notes.find((n) => n.verifierKeys?.length === 2)!;
    const peter = parseVerifierKey(both.verifierKeys![0]!);
    const opened = openNote(both.text, [peter]);
    expect(opened.verifiedBy).toEqual([peter]);
    expect(opened.unverified.length).toBe(1);
    const enoch = parseVerifierKey(both.verifierKeys![1]!);
    const single = v.notes.find(
      (n) => n.valid === true && !n.verifierKeys && n.verifierKey === both.verifierKey,
    )!;
    expect(() => openNote(single.text, [enoch])).toThrow(/no signature from a known key/);
  });
});

describe('C2SP tlog-checkpoint', () => {
  it('parses the published checkpoints and formats them back byte for byte', () => {
    for (const c of v.checkpoints) {
      const body = c.signed ? c.text.slice(0, c.text.lastIndexOf('\n\n') + 1) : c.text;
      if (fromBase64(c.rootBase64).length !== 32) {
        expect(() => parseCheckpoint(body)).toThrow(/32 bytes/);
        continue;
      }
      const cp = parseCheckpoint(body);
      expect(cp.origin).toBe(c.origin);
      expect(cp.size).toBe(c.size);
      expect(toBase64(cp.root)).toBe(c.rootBase64);
      expect(formatCheckpoint(cp)).toBe(body);
    }
  });

  it('verifies the signed sum.golang.org checkpoint', () => {
    const c = v.checkpoints.find((x) => x.verifierKey)!;
    const opened = openNote(c.text, [parseVerifierKey(c.verifierKey!)]);
    expect(parseCheckpoint(opened.text).size).toBe(c.size);
  });

  it('rejects every published invalid checkpoint body', () => {
    for (const bad of v.invalidCheckpointBodies) expect(() => parseCheckpoint(bad.text), bad.desc).toThrow();
  });

  it('round-trips a checkpoint with extension lines', () => {
    const cp = {
      origin: 'vaultmesh.local/log',
      size: 42,
      root: new Uint8Array(32).fill(7),
      extensions: ['ext one'],
    };
    const text = formatCheckpoint(cp);
    expect(parseCheckpoint(text)).toEqual(cp);
    expect(() => parseCheckpoint(text.replace('42', '042'))).toThrow(/decimal/);
  });

  it('detects any single flipped character of a signed note', () => {
    const seed = new Uint8Array(32).fill(9);
    const pub = ed25519.getPublicKey(seed);
    const signer: NoteSigner = {
      name: 'test.log',
      keyHash: ed25519KeyHash('test.log', pub),
      sign: (m) => ed25519.sign(m, seed),
    };
    const key = parseVerifierKey(formatVerifierKey('test.log', pub));
    const note = signNote(
      formatCheckpoint({ origin: 'test.log', size: 5, root: new Uint8Array(32), extensions: [] }),
      [signer],
    );
    expect(openNote(note, [key]).text).toContain('test.log');
    for (let i = 0; i < note.length; i++) {
      const ch = note[i] === 'A' ? 'B' : 'A';
      const bad = note.slice(0, i) + ch + note.slice(i + 1);
      if (bad === note) continue;
      expect(() => openNote(bad, [key])).toThrow();
    }
    expect(utf8(note).length).toBeGreaterThan(0);
  });
});
