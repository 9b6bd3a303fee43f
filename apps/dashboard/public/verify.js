// In-browser verification of ledger proofs: RFC 8785 canonical JSON, RFC 9162 Merkle inclusion proofs
// (SHA-256 with 0x00 leaf and 0x01 node prefixes) and C2SP signed-note checkpoints (Ed25519).
// Pure functions only: no DOM, no network. app.js drives them; the browser test calls them directly.

const enc = new TextEncoder();

// --- bytes ----------------------------------------------------------------------------------------------

/** Lower-case hex of bytes. */
export function toHex(bytes) {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/** Bytes of a hex string (throws on malformed input). */
export function fromHex(hex) {
  if (typeof hex !== 'string' || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new Error('not a hex string');
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Bytes of standard base64 (throws on malformed input). */
export function fromBase64(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function bytesEqual(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

// --- SHA-256 --------------------------------------------------------------------------------------------

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);

/**
 * Plain-JS SHA-256 (FIPS 180-4). Used only where WebCrypto is missing: browsers expose crypto.subtle in
 * secure contexts only (https, localhost), and a node is often reached over plain http on a LAN address.
 */
export function sha256Fallback(data) {
  const bitLen = data.length * 8;
  const padded = new Uint8Array(Math.ceil((data.length + 9) / 64) * 64);
  padded.set(data);
  padded[data.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(bitLen / 0x100000000));
  view.setUint32(padded.length - 4, bitLen >>> 0);
  const h = new Uint32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ]);
  const w = new Uint32Array(64);
  const rotr = (x, n) => (x >>> n) | (x << (32 - n));
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(off + i * 4);
    for (let i = 16; i < 64; i++) {
      const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
      const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) >>> 0;
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let i = 0; i < 64; i++) {
      const S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
      const ch = (e & f) ^ (~e & g);
      const t1 = (hh + S1 + ch + K[i] + w[i]) >>> 0;
      const S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) >>> 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) >>> 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) >>> 0;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
  }
  const out = new Uint8Array(32);
  const ov = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) ov.setUint32(i * 4, h[i]);
  return out;
}

/** True when WebCrypto's SubtleCrypto is available (secure contexts only). */
export const hasSubtle = () => typeof crypto !== 'undefined' && crypto.subtle !== undefined;

/** SHA-256 via crypto.subtle.digest, falling back to plain JS outside secure contexts. */
export async function sha256(data) {
  if (hasSubtle()) return new Uint8Array(await crypto.subtle.digest('SHA-256', data));
  return sha256Fallback(data);
}

// --- RFC 8785 -------------------------------------------------------------------------------------------

function hasLoneSurrogate(s) {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return true;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return true;
    }
  }
  return false;
}

/** RFC 8785 (JCS) canonical JSON text: sorted keys (UTF-16 order), ECMAScript number and string forms. */
export function canonicalize(value) {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new Error('NaN and Infinity are not JSON');
      return JSON.stringify(value);
    case 'string':
      if (hasLoneSurrogate(value)) throw new Error('string contains a lone surrogate');
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return '[' + value.map((v) => canonicalize(v)).join(',') + ']';
      const parts = [];
      for (const k of Object.keys(value).sort()) {
        if (value[k] === undefined) continue;
        if (hasLoneSurrogate(k)) throw new Error('key contains a lone surrogate');
        parts.push(JSON.stringify(k) + ':' + canonicalize(value[k]));
      }
      return '{' + parts.join(',') + '}';
    }
    default:
      throw new Error(`cannot canonicalize a ${typeof value}`);
  }
}

// --- RFC 9162 -------------------------------------------------------------------------------------------

/** Leaf hash: SHA-256(0x00 || data). */
export async function hashLeaf(data) {
  return sha256(concat(new Uint8Array([0x00]), data));
}

/** Interior node hash: SHA-256(0x01 || left || right). */
export async function hashChildren(left, right) {
  return sha256(concat(new Uint8Array([0x01]), left, right));
}

/** Leaf hash of a receipt: SHA-256(0x00 || UTF-8(RFC 8785 canonical JSON)). */
export async function receiptLeafHash(receipt) {
  return hashLeaf(enc.encode(canonicalize(receipt)));
}

/**
 * RFC 9162 section 2.1.3.2: the root hash an inclusion proof implies for leaf `index` in a tree of `size`
 * leaves. Throws on a malformed proof (wrong length, bad element sizes).
 */
export async function rootFromInclusionProof(index, size, leafHash, proof) {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) {
    throw new Error(`leaf index ${index} is not below tree size ${size}`);
  }
  if (leafHash.length !== 32) throw new Error('leaf hash is not 32 bytes');
  // Plain arithmetic, not bitwise operators: tree sizes may exceed 2^31.
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of proof) {
    if (p.length !== 32) throw new Error('proof element is not 32 bytes');
    if (sn === 0) throw new Error('inclusion proof is too long');
    if (fn % 2 === 1 || fn === sn) {
      r = await hashChildren(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = await hashChildren(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new Error('inclusion proof is too short');
  return r;
}

// --- C2SP signed notes ----------------------------------------------------------------------------------

/** Parses `<name>+<hex keyhash>+<base64(0x01 || pubkey)>`. */
export function parseVerifierKey(text) {
  const p1 = text.indexOf('+');
  const p2 = p1 < 0 ? -1 : text.indexOf('+', p1 + 1);
  if (p1 <= 0 || p2 < 0) throw new Error('verifier key must be name+hash+key');
  const raw = fromBase64(text.slice(p2 + 1));
  if (raw.length !== 33 || raw[0] !== 0x01) throw new Error('not an Ed25519 verifier key');
  return { name: text.slice(0, p1), keyHashHex: text.slice(p1 + 1, p2), publicKey: raw.slice(1) };
}

/** Splits a signed note into its signed text and signature lines. */
export function parseNote(note) {
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw new Error('note has no signature block');
  const text = note.slice(0, split + 1);
  const sigs = [];
  for (const line of note.slice(split + 2).split('\n')) {
    if (line === '') continue;
    if (!line.startsWith('\u2014 ')) throw new Error('malformed signature line');
    const rest = line.slice(2);
    const sp = rest.lastIndexOf(' ');
    if (sp <= 0) throw new Error('malformed signature line');
    const raw = fromBase64(rest.slice(sp + 1));
    if (raw.length < 5) throw new Error('malformed signature line');
    sigs.push({ name: rest.slice(0, sp), keyHashHex: toHex(raw.slice(0, 4)), signature: raw.slice(4) });
  }
  return { text, sigs };
}

/**
 * Checks a checkpoint's signed note: its body names origin, size and root, and (where the browser offers
 * Ed25519 in WebCrypto) the signature by the verifier key is valid. `signature` is 'valid', 'invalid',
 * 'missing' or 'unsupported'.
 */
export async function checkCheckpointNote(cp, verifierKeyText) {
  const { text, sigs } = parseNote(cp.note);
  const lines = text.split('\n');
  const rootB64 = btoa(String.fromCharCode(...fromHex(cp.root)));
  const bodyMatches = lines[0] === cp.origin && lines[1] === String(cp.size) && lines[2] === rootB64;
  const key = parseVerifierKey(verifierKeyText);
  const keyHash = toHex(
    (await sha256(concat(enc.encode(key.name), new Uint8Array([0x0a, 0x01]), key.publicKey))).slice(0, 4),
  );
  if (keyHash !== key.keyHashHex) return { bodyMatches, signature: 'invalid', detail: 'key hash mismatch' };
  const sig = sigs.find((s) => s.name === key.name && s.keyHashHex === keyHash);
  if (!sig) return { bodyMatches, signature: 'missing', detail: `no signature by ${key.name}` };
  if (!hasSubtle()) return { bodyMatches, signature: 'unsupported', detail: 'WebCrypto needs https' };
  let pub;
  try {
    pub = await crypto.subtle.importKey('raw', key.publicKey, { name: 'Ed25519' }, false, ['verify']);
  } catch {
    return { bodyMatches, signature: 'unsupported', detail: 'this browser lacks Ed25519 in WebCrypto' };
  }
  const ok =
    sig.signature.length === 64 &&
    (await crypto.subtle.verify({ name: 'Ed25519' }, pub, sig.signature, enc.encode(text)));
  return { bodyMatches, signature: ok ? 'valid' : 'invalid', detail: key.name };
}

// --- the whole check ------------------------------------------------------------------------------------

/**
 * Verifies that an API item ({index, leafHash, receipt}) is included in a checkpoint, given the API's
 * inclusion proof ({leafHash, proof:[hex]}). Returns {ok, steps:[{label, ok, detail}]}; `ok` is null on a
 * step that could not be checked (it does not fail the result).
 */
export async function verifyReceiptInclusion(item, checkpoint, proofResponse, verifierKeyText) {
  const steps = [];
  const step = (label, ok, detail = '') => steps.push({ label, ok, detail });

  const recomputed = toHex(await receiptLeafHash(item.receipt));
  step(
    'Leaf hash recomputed from the receipt (RFC 8785 canonical JSON) matches',
    recomputed === item.leafHash && recomputed === proofResponse.leafHash,
    recomputed.slice(0, 16) + '…',
  );

  let root = null;
  try {
    root = toHex(
      await rootFromInclusionProof(
        item.index,
        checkpoint.size,
        fromHex(recomputed),
        proofResponse.proof.map(fromHex),
      ),
    );
    step(
      `Root from ${proofResponse.proof.length}-hash proof equals checkpoint root (size ${checkpoint.size})`,
      root === checkpoint.root,
      root.slice(0, 16) + '…',
    );
  } catch (e) {
    step('Inclusion proof is well-formed', false, e instanceof Error ? e.message : String(e));
  }

  if (verifierKeyText && checkpoint.note) {
    try {
      const n = await checkCheckpointNote(checkpoint, verifierKeyText);
      step('Signed checkpoint note states this origin, size and root', n.bodyMatches);
      step(
        'Checkpoint signature (Ed25519)',
        n.signature === 'valid' ? true : n.signature === 'unsupported' ? null : false,
        n.signature === 'valid' ? `signed by ${n.detail}` : n.detail,
      );
    } catch (e) {
      step('Signed checkpoint note is well-formed', false, e instanceof Error ? e.message : String(e));
    }
  }
  return { ok: steps.every((s) => s.ok !== false), root, steps };
}
