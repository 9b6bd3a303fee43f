// Node key operations on a data directory: status, seal, unseal and rotation. Rotation is an offline
// operation: stop the node first (a node left running refuses to sign once the recorded key changed).
import { createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  AttestError,
  formatNodeKeyFile,
  generateNodeKey,
  isSealedKeyText,
  nodeEd25519Verify,
  nodeHasher,
  nodeKeyFrom,
  readSealedKeyInfo,
  sealNodeKey,
  unsealNodeKey,
  writeFileAtomic,
  type SealOptions,
  type SealedKeyInfo,
} from '@vaultmesh/attest';
import {
  LedgerError,
  decodeReceipt,
  keyRotationBody,
  keyRotationStatement,
  parseVerifierKey,
  toHex,
  verifyKeyRotation,
  type KeyRotation,
  type VerifiedKeyRotation,
} from '@vaultmesh/ledger';
import {
  KEY_RECEIPT_TENANT,
  LogError,
  keyHistory,
  readKeyChain,
  type KeyHistoryItem,
  type LogStorage,
} from '@vaultmesh/log';
import { openNodeStorage, resolveStorage, storageFromEnv } from './storage.ts';
import { dataPaths, openNode } from './node.ts';

/** Receipts about the node itself (key operations) belong to this tenant, like anchor receipts. */
const SYSTEM_TENANT = KEY_RECEIPT_TENANT;

/** What `vm key status` shows: nothing secret, and no passphrase needed. */
export interface NodeKeyStatus {
  readonly keyFile: string;
  readonly sealed: boolean;
  /** Permission bits of the key file, octal (e.g. "600"). */
  readonly mode: string;
  readonly origin: string;
  /** The node's current verifier key (from the sealed file's authenticated header, or the plain key). */
  readonly verifierKey: string;
  /** scrypt parameters of a sealed key. */
  readonly kdf: Omit<SealedKeyInfo['kdf'], 'salt'> | null;
  /** The node's keys in order, from meta `verifier_keys` (just the current key before any rotation). */
  readonly history: KeyHistoryItem[];
  /** Retired key files kept in the keys folder after rotations. */
  readonly retired: string[];
  /** A rotation that was interrupted and is finished by running `vm key rotate` again. */
  readonly rotationPending: boolean;
}

/** The outcome of a rotation. */
export interface KeyRotationResult {
  readonly origin: string;
  readonly previousVerifierKey: string;
  readonly verifierKey: string;
  /** Index of the `key` receipt: the new key signs every checkpoint larger than this. */
  readonly index: number;
  /** The log size both keys signed in the rotation statement. */
  readonly treeSize: number;
  /** The first checkpoint signed by the new key. */
  readonly checkpoint: { readonly size: number; readonly root: string };
  readonly retiredKeyFile: string;
  readonly sealed: boolean;
  /** True when this call finished a rotation that an earlier, interrupted call had recorded. */
  readonly resumed: boolean;
}

const nextKeyPath = (keyFile: string) => `${keyFile}.next`;
const retiredKeyPath = (keyFile: string, verifierKey: string) =>
  `${keyFile}.${toHex(parseVerifierKey(verifierKey).keyHash)}.retired`;

/** The verifier key a key file holds: from a sealed file's header (no passphrase needed), else the PEM key. */
function keyFileVerifierKey(text: string, origin: string): string | undefined {
  try {
    if (isSealedKeyText(text)) return readSealedKeyInfo(text).verifierKey;
    return nodeKeyFrom(origin, createPrivateKey(text)).verifierKeyText;
  } catch {
    return undefined;
  }
}

function readKeyText(path: string): string {
  if (!existsSync(path)) throw new AttestError('KEY_MISSING', `key file ${path} does not exist`);
  return readFileSync(path, 'utf8');
}

/** The data directory's storage (SQLite, or the PostgreSQL database it is bound to). */
const openStorage = (dataDir: string, o: { readonly?: boolean } = {}) =>
  openNodeStorage(dataDir, resolveStorage(dataDir, storageFromEnv(process.env)), o);

/** NOT_INITIALIZED unless the directory holds a log (its SQLite database, or a key bound to PostgreSQL). */
function assertNodeData(dataDir: string): void {
  const p = dataPaths(dataDir);
  if (!existsSync(p.db) && !(existsSync(p.storage) && existsSync(p.key)))
    throw new LogError('NOT_INITIALIZED', `${dataDir} holds no VaultMesh log`);
}

/** Reports the node key's state (sealed or not, history, retired files) without opening the key. */
export async function nodeKeyStatus(dataDir: string): Promise<NodeKeyStatus> {
  const p = dataPaths(dataDir);
  assertNodeData(dataDir);
  const storage = await openStorage(dataDir, { readonly: true });
  let origin: string | undefined;
  let recorded: string | undefined;
  let history: string | undefined;
  try {
    origin = await storage.getMeta('origin');
    recorded = await storage.getMeta('verifier_key');
    history = await storage.getMeta('verifier_keys');
  } finally {
    await storage.close();
  }
  if (!origin)
    throw new LogError('STORAGE', `the database of ${dataDir} has no origin; it is not a VaultMesh log`);
  const text = readKeyText(p.key);
  const sealed = isSealedKeyText(text);
  const info = sealed ? readSealedKeyInfo(text, `key file ${p.key}`) : undefined;
  const dir = dirname(p.key);
  let items: KeyHistoryItem[] = [];
  try {
    items = history ? (JSON.parse(history) as KeyHistoryItem[]) : [];
  } catch {
    // A damaged history is reported by `vm audit verify`.
  }
  return {
    keyFile: p.key,
    sealed,
    mode: (statSync(p.key).mode & 0o777).toString(8),
    origin,
    verifierKey: keyFileVerifierKey(text, origin) ?? String(recorded),
    kdf: info ? { name: info.kdf.name, N: info.kdf.N, r: info.kdf.r, p: info.kdf.p } : null,
    history: items.length > 0 ? items : [{ verifierKey: String(recorded), fromSize: 0 }],
    retired: readdirSync(dir)
      .filter((f) => /^node\.key\.[0-9a-f]{8}\.retired$/.test(f))
      .map((f) => join(dir, f)),
    rotationPending: existsSync(nextKeyPath(p.key)) || keyFileVerifierKey(text, origin) !== recorded,
  };
}

/**
 * Seals the plain node key file in place under `passphrase` (write temp 0600 + rename), after checking that
 * the sealed text unseals to the same key, and records a `key` receipt (operation `seal`).
 */
export async function sealNodeKeyFile(
  dataDir: string,
  passphrase: string,
  opts: { actor: string; scrypt?: SealOptions['scrypt'] },
): Promise<{ verifierKey: string; index: number }> {
  const p = dataPaths(dataDir);
  if (isSealedKeyText(readKeyText(p.key)))
    throw new LogError('CONFLICT', `key file ${p.key} is already sealed`);
  const node = await openNode(dataDir);
  try {
    const sealed = sealNodeKey(node.key, passphrase, { scrypt: opts.scrypt });
    // The key file is the only copy of the key: prove the sealed text opens before replacing it.
    unsealNodeKey(sealed, passphrase, { source: 'the newly sealed key' });
    writeFileAtomic(p.key, sealed);
    const r = await node.log.append({
      kind: 'key',
      actor: opts.actor,
      tenant: SYSTEM_TENANT,
      body: { operation: 'seal', keyName: node.origin, verifierKey: node.key.verifierKeyText },
    });
    return { verifierKey: node.key.verifierKeyText, index: r.index };
  } finally {
    await node.close();
  }
}

/** Replaces a sealed node key file by the plain PKCS#8 PEM key (0600, atomic) and records a `key` receipt. */
export async function unsealNodeKeyFile(
  dataDir: string,
  passphrase: string,
  opts: { actor: string },
): Promise<{ verifierKey: string; index: number }> {
  const p = dataPaths(dataDir);
  if (!isSealedKeyText(readKeyText(p.key))) throw new LogError('CONFLICT', `key file ${p.key} is not sealed`);
  const node = await openNode(dataDir, { passphrase });
  try {
    writeFileAtomic(p.key, formatNodeKeyFile(node.key));
    const r = await node.log.append({
      kind: 'key',
      actor: opts.actor,
      tenant: SYSTEM_TENANT,
      body: { operation: 'unseal', keyName: node.origin, verifierKey: node.key.verifierKeyText },
    });
    return { verifierKey: node.key.verifierKeyText, index: r.index };
  } finally {
    await node.close();
  }
}

/** The newest `key` receipt with operation `rotate`, decoded (undefined when there is none). */
async function lastRotation(
  storage: LogStorage,
): Promise<{ index: number; body: Record<string, unknown> } | undefined> {
  for (let before: number | undefined; ;) {
    const page = await storage.listEntries({ kind: 'key', before, order: 'desc', limit: 100 });
    for (const e of page) {
      try {
        const r = decodeReceipt(e.bytes);
        if (r.kind === 'key' && r.body.operation === 'rotate') return { index: e.index, body: r.body };
      } catch (err) {
        if (!(err instanceof LedgerError)) throw err;
      }
    }
    if (page.length < 100) return undefined;
    before = page[page.length - 1]!.index;
  }
}

/** The key history the ledger's rotation receipts give, checked to end at `newest`. */
async function historyEndingAt(
  storage: LogStorage,
  origin: string,
  anchor: string,
  newest: string,
): Promise<KeyHistoryItem[]> {
  const chain = await readKeyChain({
    storage,
    origin,
    trusted: parseVerifierKey(anchor),
    hasher: nodeHasher,
    ed25519Verify: nodeEd25519Verify,
  });
  if (!chain.anchored || chain.epochs[chain.epochs.length - 1]!.text !== newest)
    throw new LogError(
      'STORAGE',
      `the ledger's key rotations do not end at the new key: ${chain.problems.map((p) => p.message).join('; ') || 'run "vm audit verify"'}`,
    );
  return keyHistory(chain.epochs);
}

interface PendingRotation {
  readonly rotation: KeyRotation;
  readonly index: number;
  /** The new key's file text (from node.key.next, or node.key when it was already switched). */
  readonly nextText: string;
}

/** A valid rotation receipt whose switch (meta, key files, first new checkpoint) did not complete. */
async function pendingRotation(dataDir: string): Promise<PendingRotation | undefined> {
  const p = dataPaths(dataDir);
  const storage = await openStorage(dataDir, { readonly: true });
  try {
    const origin = (await storage.getMeta('origin')) ?? '';
    const recorded = await storage.getMeta('verifier_key');
    const last = await lastRotation(storage);
    if (!last) return undefined;
    let link: VerifiedKeyRotation;
    try {
      link = verifyKeyRotation(last.body, { origin, index: last.index, verify: nodeEd25519Verify });
    } catch (err) {
      if (err instanceof LedgerError) return undefined;
      throw err;
    }
    if (recorded !== link.previousText && recorded !== link.nextText) return undefined;
    const keyText = readKeyText(p.key);
    const pub = existsSync(p.pub) ? readFileSync(p.pub, 'utf8').trim() : undefined;
    const latest = await storage.getCheckpoint();
    const switched =
      recorded === link.nextText &&
      keyFileVerifierKey(keyText, origin) === link.nextText &&
      pub === link.nextText &&
      latest !== undefined &&
      latest.size > last.index;
    if (switched) return undefined;
    const next = nextKeyPath(p.key);
    const nextText =
      existsSync(next) && keyFileVerifierKey(readFileSync(next, 'utf8'), origin) === link.nextText
        ? readFileSync(next, 'utf8')
        : keyFileVerifierKey(keyText, origin) === link.nextText
          ? keyText
          : undefined;
    if (nextText === undefined)
      throw new LogError(
        'STORAGE',
        `the key rotation recorded at index ${last.index} did not finish, and the new key's file (${next}) is missing`,
      );
    const rotation: KeyRotation = {
      origin,
      previousVerifierKey: link.previousText,
      verifierKey: link.nextText,
      treeSize: last.body.treeSize as number,
    };
    return { rotation, index: last.index, nextText };
  } finally {
    await storage.close();
  }
}

/**
 * Rotates the node key: generates a new Ed25519 key for the same origin, publishes a last checkpoint with the
 * old key, records a `key` receipt that both keys sign (keyRotationStatement), switches meta `verifier_key`
 * and `verifier_keys`, retires the old key file (node.key.<keyhash>.retired, 0600), installs the new one
 * (sealed under the same passphrase when the old one was sealed) and publishes a checkpoint with the new key.
 * The new key is staged in node.key.next before anything is recorded, so running it again after a crash
 * finishes an interrupted rotation instead of starting another. Stop the node first.
 */
export async function rotateNodeKey(
  dataDir: string,
  opts: { actor: string; passphrase?: string; scrypt?: SealOptions['scrypt'] },
): Promise<KeyRotationResult> {
  const p = dataPaths(dataDir);
  assertNodeData(dataDir);
  const pending = await pendingRotation(dataDir);
  if (pending) return finishRotation(dataDir, pending, opts.passphrase, true);
  // A staged key without a rotation receipt: nothing was recorded, so it is dropped.
  rmSync(nextKeyPath(p.key), { force: true });
  const node = await openNode(dataDir, { passphrase: opts.passphrase });
  let staged: PendingRotation;
  try {
    const old = node.key;
    const next = generateNodeKey(node.origin);
    const nextText = formatNodeKeyFile(next, {
      passphrase: node.keySealed ? opts.passphrase : undefined,
      scrypt: opts.scrypt,
    });
    writeFileAtomic(nextKeyPath(p.key), nextText);
    // The old key seals everything before the rotation.
    const before = await node.log.checkpoint();
    const rotation: KeyRotation = {
      origin: node.origin,
      previousVerifierKey: old.verifierKeyText,
      verifierKey: next.verifierKeyText,
      treeSize: before.size,
    };
    const msg = keyRotationStatement(rotation);
    const body = keyRotationBody(rotation, { previous: old.signer.sign(msg), next: next.signer.sign(msg) });
    const r = await node.log.append({ kind: 'key', actor: opts.actor, tenant: SYSTEM_TENANT, body });
    staged = { rotation, index: r.index, nextText };
    // From here on, a process still holding the old key refuses to sign (see openNode).
    await switchMeta(node.storage, rotation);
  } finally {
    await node.close();
  }
  return finishRotation(dataDir, staged, opts.passphrase, false);
}

async function switchMeta(storage: LogStorage, rotation: KeyRotation): Promise<void> {
  const history = await historyEndingAt(
    storage,
    rotation.origin,
    rotation.previousVerifierKey,
    rotation.verifierKey,
  );
  await storage.setMeta('verifier_keys', JSON.stringify(history));
  await storage.setMeta('verifier_key', rotation.verifierKey);
}

// Idempotent: each step checks whether it was already done, so an interrupted rotation can be finished.
async function finishRotation(
  dataDir: string,
  pending: PendingRotation,
  passphrase: string | undefined,
  resumed: boolean,
): Promise<KeyRotationResult> {
  const p = dataPaths(dataDir);
  const { rotation } = pending;
  if (resumed) {
    const storage = await openStorage(dataDir);
    try {
      await switchMeta(storage, rotation);
    } finally {
      await storage.close();
    }
  }
  const retired = retiredKeyPath(p.key, rotation.previousVerifierKey);
  const current = readKeyText(p.key);
  if (keyFileVerifierKey(current, rotation.origin) !== rotation.verifierKey) {
    if (!existsSync(retired)) writeFileAtomic(retired, current);
    writeFileAtomic(p.key, pending.nextText);
  }
  rmSync(nextKeyPath(p.key), { force: true });
  writeFileAtomic(p.pub, rotation.verifierKey + '\n', 0o644);
  const node = await openNode(dataDir, { passphrase });
  try {
    const cp = await node.log.checkpoint();
    return {
      origin: rotation.origin,
      previousVerifierKey: rotation.previousVerifierKey,
      verifierKey: rotation.verifierKey,
      index: pending.index,
      treeSize: rotation.treeSize,
      checkpoint: { size: cp.size, root: toHex(cp.root) },
      retiredKeyFile: retired,
      sealed: node.keySealed,
      resumed,
    };
  } finally {
    await node.close();
  }
}
