// Evidence bundles: everything a third party needs to check one receipt offline, with no running node. The
// bundle is attacker-controlled input when verified: every field is checked, nothing in it is trusted unless
// the verifier pins the keys (otherwise the report says the keys came from the bundle itself).
import {
  bytesEqual,
  decodeReceipt,
  fromBase64,
  fromHex,
  openNote,
  parseCheckpoint,
  parseVerifierKey,
  toBase64,
  toHex,
  utf8,
  verifyInclusion,
  type MerkleHasher,
  type NoteVerifierKey,
  parseCosignatureLine,
  parseCosignerKey,
  verifyCosignature,
} from '@vaultmesh/ledger';
import { AttestError } from './errors.ts';
import { nodeEd25519Verify, nodeHasher } from './keys.ts';
import { verifyTimestampToken } from './timestamp.ts';

export const BUNDLE_FORMAT = 'https://vaultmesh.dev/evidence-bundle/v1';

/** One timestamp over the checkpoint's signed note bytes. */
export interface BundleTimestamp {
  readonly authority: string;
  readonly type: 'rfc3161';
  /** DER TimeStampToken, base64. */
  readonly token: string;
  readonly anchoredAt: string;
}

/** The bundle JSON (format BUNDLE_FORMAT). */
export interface EvidenceBundle {
  readonly format: typeof BUNDLE_FORMAT;
  readonly origin: string;
  readonly createdAt: string;
  readonly receipt: { readonly index: number; readonly leafHash: string; readonly canonical: string };
  readonly checkpoint: { readonly size: number; readonly root: string; readonly note: string };
  /** RFC 9162 inclusion proof of the receipt in the checkpoint's tree, hex. */
  readonly inclusionProof: readonly string[];
  readonly timestamps: readonly BundleTimestamp[];
  /** Witness cosignature lines (C2SP tlog-cosignature) collected for the checkpoint, when any. */
  readonly cosignatures: readonly string[];
  readonly keys: {
    /** C2SP verifier keys of the log (the key that signed the checkpoint, and earlier ones after rotations). */
    readonly log: readonly string[];
    /** PEM trust anchors of the timestamp authorities. */
    readonly tsaTrustAnchors: readonly string[];
    /** C2SP verifier keys of witnesses. */
    readonly witnesses: readonly string[];
  };
}

/** What buildEvidenceBundle needs (read from a node's storage by the caller). */
export interface BundleInput {
  readonly origin: string;
  readonly index: number;
  readonly leafHash: Uint8Array;
  readonly bytes: Uint8Array;
  readonly checkpoint: { readonly size: number; readonly root: Uint8Array; readonly note: string };
  readonly proof: readonly Uint8Array[];
  readonly timestamps: readonly { authority: string; proof: Uint8Array; anchoredAt: number }[];
  readonly logKeys: readonly string[];
  readonly tsaTrustAnchors?: readonly string[];
  readonly cosignatures?: readonly string[];
  readonly witnessKeys?: readonly string[];
  readonly now?: Date;
}

/** Assembles a bundle (no checks beyond shape: verify it with verifyEvidenceBundle). */
export function buildEvidenceBundle(input: BundleInput): EvidenceBundle {
  return {
    format: BUNDLE_FORMAT,
    origin: input.origin,
    createdAt: (input.now ?? new Date()).toISOString(),
    receipt: {
      index: input.index,
      leafHash: toHex(input.leafHash),
      canonical: new TextDecoder('utf-8', { fatal: true }).decode(input.bytes),
    },
    checkpoint: {
      size: input.checkpoint.size,
      root: toHex(input.checkpoint.root),
      note: input.checkpoint.note,
    },
    inclusionProof: input.proof.map(toHex),
    timestamps: input.timestamps.map((t) => ({
      authority: t.authority,
      type: 'rfc3161',
      token: toBase64(t.proof),
      anchoredAt: new Date(t.anchoredAt).toISOString(),
    })),
    cosignatures: [...(input.cosignatures ?? [])],
    keys: {
      log: [...input.logKeys],
      tsaTrustAnchors: [...(input.tsaTrustAnchors ?? [])],
      witnesses: [...(input.witnessKeys ?? [])],
    },
  };
}

/** One line of a verification report. */
export interface BundleCheck {
  readonly check: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface BundleReport {
  readonly ok: boolean;
  readonly index: number;
  readonly size: number;
  readonly checks: BundleCheck[];
  /** Non-fatal remarks: keys taken from the bundle, no timestamp, ... */
  readonly warnings: string[];
}

export interface VerifyBundleOptions {
  /** Pinned C2SP verifier keys of the log; default: those in the bundle (reported as a warning). */
  readonly logKeys?: readonly string[];
  /** Pinned TSA trust anchors (PEM); default: those in the bundle (reported as a warning). */
  readonly tsaTrustAnchors?: readonly string[];
  /** Fail when the bundle carries no timestamp that verifies. Default true. */
  readonly requireTimestamp?: boolean;
  readonly hasher?: MerkleHasher;
}

const MAX_PROOF = 64;
const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks the shape of untrusted bundle JSON; throws AttestError('BUNDLE_MALFORMED') naming the field. */
export function parseEvidenceBundle(value: unknown): EvidenceBundle {
  const bad = (field: string, why: string): never => {
    throw new AttestError('BUNDLE_MALFORMED', `evidence bundle: ${field} ${why}`);
  };
  if (!isObj(value)) bad('(root)', 'must be a JSON object');
  const v = value as Record<string, unknown>;
  if (v.format !== BUNDLE_FORMAT) bad('format', `must be "${BUNDLE_FORMAT}"`);
  const str = (o: Record<string, unknown>, k: string, path: string, max = 1_000_000) => {
    const x = o[k];
    if (typeof x !== 'string' || x.length === 0 || x.length > max) bad(path, 'must be a non-empty string');
    return x as string;
  };
  const int = (o: Record<string, unknown>, k: string, path: string) => {
    const x = o[k];
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0)
      bad(path, 'must be a non-negative integer');
    return x as number;
  };
  const strList = (x: unknown, path: string, max: number) => {
    if (!Array.isArray(x) || x.length > max) bad(path, `must be an array of at most ${max} strings`);
    (x as unknown[]).forEach((s, i) => {
      if (typeof s !== 'string') bad(`${path}[${i}]`, 'must be a string');
    });
    return x as string[];
  };
  str(v, 'origin', 'origin', 1000);
  str(v, 'createdAt', 'createdAt', 100);
  if (!isObj(v.receipt)) bad('receipt', 'must be an object');
  const r = v.receipt as Record<string, unknown>;
  int(r, 'index', 'receipt.index');
  if (!/^[0-9a-f]{64}$/.test(str(r, 'leafHash', 'receipt.leafHash')))
    bad('receipt.leafHash', 'must be 64 hex');
  str(r, 'canonical', 'receipt.canonical', 70_000);
  if (!isObj(v.checkpoint)) bad('checkpoint', 'must be an object');
  const c = v.checkpoint as Record<string, unknown>;
  const size = int(c, 'size', 'checkpoint.size');
  if (!/^[0-9a-f]{64}$/.test(str(c, 'root', 'checkpoint.root'))) bad('checkpoint.root', 'must be 64 hex');
  str(c, 'note', 'checkpoint.note', 100_000);
  if ((r.index as number) >= size) bad('receipt.index', `must be below checkpoint.size (${size})`);
  strList(v.inclusionProof, 'inclusionProof', MAX_PROOF).forEach((h, i) => {
    if (!/^[0-9a-f]{64}$/.test(h)) bad(`inclusionProof[${i}]`, 'must be 64 hex');
  });
  if (!Array.isArray(v.timestamps) || v.timestamps.length > 32) bad('timestamps', 'must be an array (≤ 32)');
  (v.timestamps as unknown[]).forEach((t, i) => {
    if (!isObj(t)) bad(`timestamps[${i}]`, 'must be an object');
    const o = t as Record<string, unknown>;
    str(o, 'authority', `timestamps[${i}].authority`, 200);
    if (o.type !== 'rfc3161') bad(`timestamps[${i}].type`, 'must be "rfc3161"');
    str(o, 'token', `timestamps[${i}].token`, 200_000);
    str(o, 'anchoredAt', `timestamps[${i}].anchoredAt`, 100);
  });
  strList(v.cosignatures, 'cosignatures', 100);
  if (!isObj(v.keys)) bad('keys', 'must be an object');
  const k = v.keys as Record<string, unknown>;
  strList(k.log, 'keys.log', 100);
  strList(k.tsaTrustAnchors, 'keys.tsaTrustAnchors', 32);
  strList(k.witnesses, 'keys.witnesses', 100);
  return value as unknown as EvidenceBundle;
}

/** Verifies a bundle fully offline; never throws for a failed check (see `ok` and `checks`). */
export function verifyEvidenceBundle(value: unknown, opts: VerifyBundleOptions = {}): BundleReport {
  const checks: BundleCheck[] = [];
  const warnings: string[] = [];
  const add = (check: string, ok: boolean, detail: string) => checks.push({ check, ok, detail });
  let b: EvidenceBundle;
  try {
    b = parseEvidenceBundle(value);
  } catch (err) {
    add('format', false, (err as Error).message);
    return { ok: false, index: -1, size: -1, checks, warnings };
  }
  const hasher = opts.hasher ?? nodeHasher;
  const index = b.receipt.index;
  const size = b.checkpoint.size;
  add('format', true, BUNDLE_FORMAT);

  // 1. The receipt: canonical RFC 8785 bytes of a schema-valid receipt, and its RFC 6962 leaf hash.
  const bytes = utf8(b.receipt.canonical);
  try {
    const receipt = decodeReceipt(bytes);
    add(
      'receipt',
      true,
      `${receipt.kind} receipt by ${receipt.actor} (tenant ${receipt.tenant}) at ${receipt.time}`,
    );
  } catch (err) {
    add('receipt', false, (err as Error).message);
  }
  const leafHash = hasher.hashLeaf(bytes);
  const claimed = fromHex(b.receipt.leafHash);
  add(
    'leaf hash',
    bytesEqual(leafHash, claimed),
    bytesEqual(leafHash, claimed)
      ? toHex(leafHash)
      : `expected ${b.receipt.leafHash}, found ${toHex(leafHash)} (SHA-256 of 0x00 || receipt bytes)`,
  );

  // 2. The checkpoint: signed by a log key, for this origin, size and root.
  let keys: NoteVerifierKey[] = [];
  const keyTexts = opts.logKeys ?? b.keys.log;
  if (!opts.logKeys)
    warnings.push('log key taken from the bundle itself; pin it with a trusted key to rely on it');
  try {
    keys = keyTexts.map((t) => parseVerifierKey(t));
    const opened = openNote(b.checkpoint.note, keys, nodeEd25519Verify);
    const cp = parseCheckpoint(opened.text);
    const problems: string[] = [];
    if (cp.origin !== b.origin) problems.push(`origin is "${cp.origin}", bundle says "${b.origin}"`);
    if (cp.size !== size) problems.push(`size is ${cp.size}, bundle says ${size}`);
    if (toHex(cp.root) !== b.checkpoint.root)
      problems.push(`root is ${toHex(cp.root)}, bundle says ${b.checkpoint.root}`);
    add(
      'checkpoint signature',
      problems.length === 0,
      problems.length === 0
        ? `signed by ${opened.verifiedBy.map((k) => `${k.name}+${toHex(k.keyHash)}`).join(', ')}`
        : problems.join('; '),
    );
    if (opened.unverified.length > 0)
      warnings.push(`${opened.unverified.length} checkpoint signature(s) from keys not given (not checked)`);
  } catch (err) {
    add('checkpoint signature', false, (err as Error).message);
  }

  // 3. Inclusion of the leaf in the checkpoint's tree (RFC 9162 2.1.3.2).
  const proof = b.inclusionProof.map(fromHex);
  const included = verifyInclusion(hasher, index, size, leafHash, proof, fromHex(b.checkpoint.root));
  add(
    'inclusion proof',
    included,
    included
      ? `entry ${index} is in the tree of size ${size} (${proof.length} hashes)`
      : `the proof does not lead from entry ${index} to root ${b.checkpoint.root}`,
  );

  // 4. Timestamps over the signed note bytes (RFC 3161).
  const anchors = opts.tsaTrustAnchors ?? b.keys.tsaTrustAnchors;
  if (!opts.tsaTrustAnchors && b.timestamps.length > 0)
    warnings.push('TSA trust anchors taken from the bundle itself; pin them to rely on the timestamps');
  const noteBytes = utf8(b.checkpoint.note);
  let goodTimestamps = 0;
  for (const t of b.timestamps) {
    try {
      const info = verifyTimestampToken(fromBase64(t.token), noteBytes, { trustAnchorsPem: anchors });
      // The bundle's anchoredAt is not evidence by itself: it must be the time the signed token states.
      if (Date.parse(t.anchoredAt) !== info.genTime.getTime())
        throw new Error(
          `anchoredAt ${t.anchoredAt} is not the token's genTime ${info.genTime.toISOString()}`,
        );
      goodTimestamps++;
      add(
        `timestamp ${t.authority}`,
        true,
        `RFC 3161 token by ${info.tsaSubject}, genTime ${info.genTime.toISOString()}, serial ${info.serialNumber}`,
      );
    } catch (err) {
      add(`timestamp ${t.authority}`, false, (err as Error).message);
    }
  }
  if (b.timestamps.length === 0) {
    if (opts.requireTimestamp ?? true) add('timestamp', false, 'the bundle carries no RFC 3161 timestamp');
    else warnings.push('the bundle carries no RFC 3161 timestamp');
  } else if (goodTimestamps === 0 && (opts.requireTimestamp ?? true)) {
    // Each failure is already listed above.
  }

  // 5. Witness cosignatures (C2SP tlog-cosignature v1) over the checkpoint body, with the witnesses' keys.
  if (b.cosignatures.length > 0 && b.keys.witnesses.length === 0)
    warnings.push(`${b.cosignatures.length} cosignature(s) present but no witness keys to check them`);
  const body = b.checkpoint.note.slice(0, b.checkpoint.note.indexOf('\n\n') + 1);
  for (const text of b.keys.witnesses) {
    let key: ReturnType<typeof parseCosignerKey>;
    try {
      key = parseCosignerKey(text);
    } catch (err) {
      add(`cosignature`, false, `witness key ${text.slice(0, 60)}: ${(err as Error).message}`);
      continue;
    }
    const mine = b.cosignatures.filter((l) => l.startsWith(`\u2014 ${key.name} `));
    const ok = mine.find((l) => {
      try {
        verifyCosignature(body, l, key, { ed25519Verify: nodeEd25519Verify });
        return true;
      } catch {
        return false;
      }
    });
    add(
      `cosignature ${key.name}`,
      ok !== undefined,
      ok
        ? `witnessed at ${new Date(parseCosignatureLine(ok).timestamp * 1000).toISOString()}`
        : mine.length
          ? 'the cosignature does not verify'
          : 'no cosignature by this witness',
    );
  }

  return { ok: checks.every((c) => c.ok), index, size, checks, warnings };
}
