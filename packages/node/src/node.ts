// Opening a node's data directory: Ed25519 node key (0600), its storage (the SQLite ledger in the directory, or the
// PostgreSQL database it is bound to, storage.ts), log, tokens.
import { createHash, randomBytes } from 'node:crypto';
import { decodeReceipt, type NoteSigner } from '@vaultmesh/ledger';
import { verifyAnchors } from './anchoring.ts';
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  generateNodeKey,
  isSealedKeyFile,
  loadNodeKey,
  loadVerifierKey,
  nodeEd25519Verify,
  nodeHasher,
  saveNodeKey,
  type NodeKey,
} from '@vaultmesh/attest';
import {
  Log,
  LogError,
  keyHistory,
  readKeyChain,
  verifyLog,
  type LogOptions,
  type VerifyProblem,
  type VerifyReport,
} from '@vaultmesh/log';
import { verifyMirror, type FederationStore } from '@vaultmesh/federation';
import {
  hasSqliteDatabase,
  openNodeStorage,
  recordStorage,
  recordedStorage,
  resolveStorage,
  storageFromEnv,
  type NodeStorage,
  type StorageConfig,
} from './storage.ts';

/** verifyLog's report plus the anchors checked, and authorities whose tokens had no configured trust anchor. */
export interface NodeVerifyReport extends VerifyReport {
  anchorsChecked: number;
  anchorsUnpinned: string[];
}

/** Files of a data directory. */
export function dataPaths(dataDir: string) {
  return {
    dataDir,
    db: join(dataDir, 'ledger.db'),
    storage: join(dataDir, 'storage.json'),
    key: join(dataDir, 'keys', 'node.key'),
    pub: join(dataDir, 'keys', 'node.key.pub'),
  };
}

/** An opened node: storage, key and log. Close it to flush. */
export interface OpenedNode {
  readonly storage: NodeStorage;
  readonly key: NodeKey;
  readonly log: Log;
  readonly origin: string;
  readonly created: boolean;
  /** Whether the key file is sealed with a passphrase (key-seal.ts). */
  readonly keySealed: boolean;
  close(): Promise<void>;
}

/** True when the data directory already holds a log. */
export function isInitialized(dataDir: string): boolean {
  const p = dataPaths(dataDir);
  return existsSync(p.db) || existsSync(p.key);
}

/** What opening a node may be given: its storage (else VM_DATABASE_URL, else what the data directory recorded). */
export interface NodeStorageOptions {
  readonly storage?: StorageConfig;
}

/** The storage a data directory is opened with (see resolveStorage). */
function storageFor(dataDir: string, opts: NodeStorageOptions): StorageConfig {
  return resolveStorage(dataDir, opts.storage ?? storageFromEnv(process.env));
}

/**
 * Creates a new node: data directory, Ed25519 key (0600) and its storage (SQLite in the directory, or the PostgreSQL
 * database recorded in storage.json). Refuses to touch an existing log, in the directory or in the database.
 */
export async function initNode(
  dataDir: string,
  opts: { origin?: string } & NodeStorageOptions = {},
): Promise<{ origin: string; verifierKey: string }> {
  const p = dataPaths(dataDir);
  if (isInitialized(dataDir)) {
    throw new LogError(
      'ALREADY_INITIALIZED',
      `${dataDir} already holds a VaultMesh log; refusing to overwrite it`,
    );
  }
  const cfg = storageFor(dataDir, opts);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const storage = await openNodeStorage(dataDir, cfg);
  try {
    const existing = await storage.getMeta('origin');
    if (existing !== undefined)
      throw new LogError(
        'ALREADY_INITIALIZED',
        `${storage.where} already holds the log ${existing}; to run another node of it, copy that node's keys/node.key and storage.json into ${dataDir} instead of creating a new log`,
      );
    const origin = opts.origin ?? `vaultmesh.local/${randomBytes(4).toString('hex')}`;
    const key = generateNodeKey(origin);
    saveNodeKey(key, p.key);
    if (cfg.driver === 'sqlite') chmodSync(p.db, 0o600);
    else recordStorage(dataDir, cfg);
    await storage.setMeta('origin', origin);
    await storage.setMeta('verifier_key', key.verifierKeyText);
    await storage.setMeta('created_at', new Date().toISOString());
    return { origin, verifierKey: key.verifierKeyText };
  } finally {
    await storage.close();
  }
}

/**
 * Opens a node's data directory (creating it on first start when `create` is set). A sealed key file is
 * unsealed with `passphrase`; without one it fails with AttestError 'KEY_PASSPHRASE'. Several nodes may open the
 * same PostgreSQL log, each with a copy of its key.
 */
export async function openNode(
  dataDir: string,
  opts: {
    create?: boolean;
    origin?: string;
    passphrase?: string;
    log?: Partial<LogOptions>;
  } & NodeStorageOptions = {},
): Promise<OpenedNode> {
  let created = false;
  if (!isInitialized(dataDir)) {
    if (!opts.create)
      throw new LogError('NOT_INITIALIZED', `${dataDir} holds no VaultMesh log; run "vm init" first`);
    await initNode(dataDir, opts);
    created = true;
  }
  const p = dataPaths(dataDir);
  const cfg = storageFor(dataDir, opts);
  if (cfg.driver === 'postgres' && recordedStorage(dataDir) === undefined && hasSqliteDatabase(dataDir))
    throw new LogError(
      'CONFLICT',
      `${dataDir} holds a SQLite ledger; move it into PostgreSQL with "vm storage copy", or use another data directory`,
    );
  const storage = await openNodeStorage(dataDir, cfg, { writerThread: true });
  const fail = async (err: unknown): Promise<never> => {
    await storage.close();
    throw err;
  };
  const origin = await storage.getMeta('origin').catch(fail);
  if (!origin)
    return fail(
      new LogError(
        'STORAGE',
        `${storage.where} has no origin; the database is not a VaultMesh log or is damaged`,
      ),
    );
  let key: NodeKey;
  let keySealed: boolean;
  try {
    key = loadNodeKey(origin, p.key, { passphrase: opts.passphrase });
    keySealed = isSealedKeyFile(p.key);
  } catch (err) {
    return fail(err);
  }
  const recorded = await storage.getMeta('verifier_key').catch(fail);
  if (recorded !== key.verifierKeyText)
    return fail(
      new LogError(
        'STORAGE',
        `the node key in ${p.key} does not match the key recorded in the database (if "vm key rotate" was interrupted, run it again to finish)`,
      ),
    );
  if (cfg.driver === 'postgres' && recordedStorage(dataDir) === undefined) recordStorage(dataDir, cfg);
  const log = await Log.open({
    storage,
    origin,
    signer: guardedSigner(storage, key),
    hasher: nodeHasher,
    ...opts.log,
  });
  return {
    storage,
    key,
    log,
    origin,
    created,
    keySealed,
    async close() {
      await log.close();
      await storage.close();
    },
  };
}

/**
 * The node's signer. On SQLite it never signs with a key the data directory no longer records (e.g. "vm key rotate"
 * ran beside this process): such a checkpoint could never verify, so publishing fails until the node is restarted.
 * (Signing is synchronous; on PostgreSQL the key is checked when the node opens, and rotation needs every node
 * stopped.)
 */
function guardedSigner(storage: NodeStorage, key: NodeKey): NoteSigner {
  const db = storage.sqlite?.db;
  if (!db) return key.signer;
  const recordedKey = db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?');
  return {
    name: key.signer.name,
    keyHash: key.signer.keyHash,
    sign(msg) {
      if (recordedKey.get('verifier_key')?.value !== key.verifierKeyText)
        throw new LogError(
          'CONFLICT',
          'the node key was rotated on disk; restart the node to use the new key',
        );
      return key.signer.sign(msg);
    },
  };
}

/**
 * Verifies a node's stored ledger. The trust anchor is a public verifier key file (keys/node.key.pub, or
 * `trustedKeyFile` kept elsewhere), never anything in the database, so an auditor needs no private key. The
 * log's rotation receipts extend it to a chain of keys, each trusted for the checkpoint sizes it signs.
 */
/** Every peer mirror in the database, rehashed and rebuilt (see verifyMirror); nothing when none was mirrored. */
async function verifyMirrors(storage: NodeStorage): Promise<VerifyProblem[]> {
  const exists = storage.sqlite
    ? storage.sqlite.db
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'fed_mirror_state'")
        .get()
    : true;
  if (!exists) return [];
  const owned = storage.openFederationStore();
  const store = owned.store;
  const out: VerifyProblem[] = [];
  try {
    await collectMirrorProblems(store, out);
  } finally {
    owned.close();
  }
  return out;
}

async function collectMirrorProblems(store: FederationStore, out: VerifyProblem[]): Promise<void> {
  for (const peer of await store.listPeers()) {
    const check = await verifyMirror(store, peer, { hasher: nodeHasher, ed25519Verify: nodeEd25519Verify });
    for (const p of check.problems)
      out.push({
        where: 'mirror',
        ...(p.index !== undefined ? { index: p.index } : {}),
        field: `${p.peer}/${p.field}`,
        ...(p.expected !== undefined ? { expected: p.expected } : {}),
        ...(p.found !== undefined ? { found: p.found } : {}),
        message: `peer ${p.peer}: ${p.message}`,
      });
  }
}

/**
 * A database SQLite cannot read (a corrupt schema page, a file that is not a database): bad data is a report,
 * never a crash.
 */
function isUnreadableDatabase(err: unknown): boolean {
  const code = String((err as { code?: unknown })?.code ?? '');
  return (
    code.startsWith('SQLITE_CORRUPT') ||
    code.startsWith('SQLITE_NOTADB') ||
    /malformed|not a database|file is encrypted/i.test((err as Error)?.message ?? '')
  );
}

/** The report of a database that could not be read at all. */
function unreadableReport(full: boolean, err: unknown, started: number): NodeVerifyReport {
  const code = (err as { code?: unknown })?.code;
  return {
    ok: false,
    full,
    size: 0,
    root: '',
    entriesChecked: 0,
    nodesChecked: 0,
    tilesChecked: 0,
    checkpointsChecked: 0,
    problems: [
      {
        where: 'log',
        field: 'database',
        expected: 'a readable SQLite database',
        found: `${(err as Error)?.message ?? String(err)}${code ? ` (${String(code)})` : ''}`,
        message: 'SQLite cannot read the database: it is damaged (restore it from a backup or a peer mirror)',
      },
    ],
    problemCount: 1,
    durationMs: Date.now() - started,
    anchorsChecked: 0,
    anchorsUnpinned: [],
  };
}

/** What verifying a node's storage checks and reports. */
export interface VerifyNodeOptions {
  full?: boolean;
  schemas?: boolean;
  onProgress?: (done: number, total: number) => void;
  /** Trust anchors per TSA name (from the node's configuration) for checking stored RFC 3161 tokens. */
  tsaTrust?: Map<string, string[]>;
  /** A verifier key file to trust instead of keys/node.key.pub: any key of the node's rotation chain. */
  trustedKeyFile?: string;
}

async function verifyNodeData(
  dataDir: string,
  opts: VerifyNodeOptions & NodeStorageOptions = {},
): Promise<NodeVerifyReport> {
  const p = dataPaths(dataDir);
  const cfg = storageFor(dataDir, opts);
  if (cfg.driver === 'sqlite' && !existsSync(p.db))
    throw new LogError('NOT_INITIALIZED', `${dataDir} holds no VaultMesh log`);
  const storage = await openNodeStorage(dataDir, cfg, { readonly: true });
  try {
    return await verifyStorage(storage, opts.trustedKeyFile ?? p.pub, opts);
  } finally {
    await storage.close();
  }
}

/**
 * Verifies an opened storage against a trusted verifier key file (keys/node.key.pub of its data directory, or a
 * copy): the log, its key chain and history, anchors and, with `full`, peer mirrors. The caller closes it.
 */
export async function verifyStorage(
  storage: NodeStorage,
  trustedKeyFile: string,
  opts: VerifyNodeOptions = {},
): Promise<NodeVerifyReport> {
  const trusted = loadVerifierKey(trustedKeyFile);
  const sq = storage.sqlite;
  {
    const extra: VerifyProblem[] = [];
    const origin = await storage.getMeta('origin');
    if (origin !== trusted.key.name) {
      extra.push({
        where: 'log',
        field: 'origin',
        expected: trusted.key.name,
        found: String(origin),
        message: 'the database records a different origin than the key file names',
      });
    }
    // The trusted key, extended by the log's rotation receipts: the key of every checkpoint size.
    const chain = await readKeyChain({
      storage,
      origin: trusted.key.name,
      trusted: trusted.key,
      hasher: nodeHasher,
      ed25519Verify: nodeEd25519Verify,
    });
    extra.push(...chain.problems);
    const newest = chain.epochs[chain.epochs.length - 1]!;
    const recorded = await storage.getMeta('verifier_key');
    if (recorded !== newest.text) {
      extra.push({
        where: 'log',
        field: 'verifier_key',
        expected: newest.text,
        found: String(recorded),
        message: 'the database records a different node key than the newest trusted key',
      });
    }
    if (!opts.trustedKeyFile && chain.anchored && trusted.text !== newest.text) {
      extra.push({
        where: 'log',
        field: 'node.key.pub',
        expected: newest.text,
        found: trusted.text,
        message: 'the key file is not the newest key of the rotation chain (an interrupted "vm key rotate"?)',
      });
    }
    const history = await storage.getMeta('verifier_keys');
    const historyText = (h: readonly { verifierKey?: unknown; fromSize?: unknown }[]) =>
      h.map((k) => `${String(k.verifierKey)} from ${String(k.fromSize)}`).join(', ');
    const wantHistory = historyText(keyHistory(chain.epochs));
    let foundHistory: string | undefined;
    try {
      foundHistory = history === undefined ? undefined : historyText(JSON.parse(history) as []);
    } catch {
      foundHistory = String(history);
    }
    if ((foundHistory !== undefined || chain.epochs.length > 1) && foundHistory !== wantHistory) {
      extra.push({
        where: 'log',
        field: 'verifier_keys',
        expected: wantHistory,
        found: String(foundHistory),
        message: 'the key history recorded in the database differs from the chain of rotation receipts',
      });
    }
    // --full runs integrity_check, which (unlike quick_check) also checks every index against its table:
    // a damaged kind or tenant index would otherwise pass and silently change filtered listings. It runs
    // on a reader thread while the entries are verified here.
    // (PostgreSQL has no such check here: its own page checksums and amcheck are the operator's; every entry, tile
    // and checkpoint is still verified below.)
    const check = opts.full ? 'integrity_check' : 'quick_check';
    const structural =
      opts.full && sq ? sq.integrityCheck().catch((e: unknown) => (e as Error).message) : undefined;
    // A gap-free SQLite log (the normal case) is read ahead by reader threads; a gappy one takes the careful path.
    const size = await storage.size();
    const rows = sq ? (sq.db.prepare('SELECT count(*) AS n FROM entries').get() as { n: number }).n : -1;
    const report = await verifyLog({
      storage,
      origin: trusted.key.name,
      verifierKey: trusted.key,
      verifierKeys: chain.epochs,
      hasher: nodeHasher,
      ed25519Verify: nodeEd25519Verify,
      full: opts.full,
      schemas: opts.schemas,
      onProgress: opts.onProgress,
      scan:
        sq && rows === size
          ? (start, end, verify) => sq.scanEntries(start, end, { threads: 2, verify })
          : undefined,
    });
    const qc = !sq ? 'ok' : structural ? await structural : String(sq.db.pragma(check, { simple: true }));
    if (qc !== 'ok')
      extra.push({
        where: 'log',
        field: check,
        expected: 'ok',
        found: qc,
        message: 'SQLite reports structural damage',
      });
    // Anchors: each stored token verifies over its checkpoint and is named by an anchor receipt in the tree.
    const tokenHashes = new Map<string, string>();
    for (let after = -1; ;) {
      const page = await storage.listEntries({ kind: 'anchor', after, order: 'asc', limit: 1000 });
      for (const e of page) {
        try {
          const b = decodeReceipt(e.bytes).body as {
            treeSize?: unknown;
            authority?: unknown;
            tokenSha256?: unknown;
          };
          if (typeof b.tokenSha256 === 'string')
            tokenHashes.set(`${String(b.treeSize)}/${String(b.authority)}`, b.tokenSha256);
        } catch {
          // A damaged receipt is reported by the leaf checks above.
        }
      }
      if (page.length < 1000) break;
      after = page[page.length - 1]!.index;
    }
    const anchors = await verifyAnchors(storage, opts.tsaTrust ?? new Map(), tokenHashes, (b) =>
      createHash('sha256').update(b).digest('hex'),
    );
    for (const a of anchors.problems)
      extra.push({ where: 'anchor', index: a.size, field: a.authority, message: a.message });
    // --full: mirrored peer logs are verified as the own log is (every entry rehashed, the verified root rebuilt).
    if (opts.full) extra.push(...(await verifyMirrors(storage)));
    for (const problem of extra) {
      report.ok = false;
      report.problemCount++;
      report.problems.push(problem);
    }
    return { ...report, anchorsChecked: anchors.checked, anchorsUnpinned: anchors.unpinned };
  }
}

/**
 * Verifies a node's data directory (see verifyNodeData). Bad data always yields a report: a database SQLite cannot
 * read is a failed check with what SQLite said, not an internal error.
 */
export async function verifyNode(
  dataDir: string,
  opts: {
    full?: boolean;
    schemas?: boolean;
    onProgress?: (done: number, total: number) => void;
    /** Trust anchors per TSA name (from the node's configuration) for checking stored RFC 3161 tokens. */
    tsaTrust?: Map<string, string[]>;
    /** A verifier key file to trust instead of keys/node.key.pub: any key of the node's rotation chain. */
    trustedKeyFile?: string;
  } & NodeStorageOptions = {},
): Promise<NodeVerifyReport> {
  const started = Date.now();
  try {
    return await verifyNodeData(dataDir, opts);
  } catch (err) {
    if (isUnreadableDatabase(err)) return unreadableReport(opts.full === true, err, started);
    throw err;
  }
}
