// Opening a node's data directory: SQLite ledger (WAL), Ed25519 node key (0600), log, tokens.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  generateNodeKey,
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
  verifyLog,
  type LogOptions,
  type VerifyProblem,
  type VerifyReport,
} from '@vaultmesh/log';
import { openSqliteStorage, type SqliteStorage } from '@vaultmesh/store-sqlite';

/** Files of a data directory. */
export function dataPaths(dataDir: string) {
  return {
    dataDir,
    db: join(dataDir, 'ledger.db'),
    key: join(dataDir, 'keys', 'node.key'),
    pub: join(dataDir, 'keys', 'node.key.pub'),
  };
}

/** An opened node: storage, key and log. Close it to flush. */
export interface OpenedNode {
  readonly storage: SqliteStorage;
  readonly key: NodeKey;
  readonly log: Log;
  readonly origin: string;
  readonly created: boolean;
  close(): Promise<void>;
}

/** True when the data directory already holds a log. */
export function isInitialized(dataDir: string): boolean {
  const p = dataPaths(dataDir);
  return existsSync(p.db) || existsSync(p.key);
}

/**
 * Creates a new node: data directory, database, Ed25519 key (0600). Refuses to touch an existing log.
 */
export async function initNode(
  dataDir: string,
  opts: { origin?: string } = {},
): Promise<{ origin: string; verifierKey: string }> {
  const p = dataPaths(dataDir);
  if (isInitialized(dataDir)) {
    throw new LogError(
      'ALREADY_INITIALIZED',
      `${dataDir} already holds a VaultMesh log; refusing to overwrite it`,
    );
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const origin = opts.origin ?? `vaultmesh.local/${randomBytes(4).toString('hex')}`;
  const key = generateNodeKey(origin);
  saveNodeKey(key, p.key);
  const storage = openSqliteStorage({ path: p.db });
  chmodSync(p.db, 0o600);
  try {
    await storage.setMeta('origin', origin);
    await storage.setMeta('verifier_key', key.verifierKeyText);
    await storage.setMeta('created_at', new Date().toISOString());
  } finally {
    await storage.close();
  }
  return { origin, verifierKey: key.verifierKeyText };
}

/** Opens a node's data directory (creating it on first start when `create` is set). */
export async function openNode(
  dataDir: string,
  opts: { create?: boolean; origin?: string; log?: Partial<LogOptions> } = {},
): Promise<OpenedNode> {
  let created = false;
  if (!isInitialized(dataDir)) {
    if (!opts.create)
      throw new LogError('NOT_INITIALIZED', `${dataDir} holds no VaultMesh log; run "vm init" first`);
    await initNode(dataDir, { origin: opts.origin });
    created = true;
  }
  const p = dataPaths(dataDir);
  const storage = openSqliteStorage({ path: p.db, writerThread: true });
  const origin = await storage.getMeta('origin');
  if (!origin) {
    await storage.close();
    throw new LogError('STORAGE', `${p.db} has no origin; the database is not a VaultMesh log or is damaged`);
  }
  const key = loadNodeKey(origin, p.key);
  const recorded = await storage.getMeta('verifier_key');
  if (recorded !== key.verifierKeyText) {
    await storage.close();
    throw new LogError('STORAGE', `the node key in ${p.key} does not match the key recorded in the database`);
  }
  const log = await Log.open({ storage, origin, signer: key.signer, hasher: nodeHasher, ...opts.log });
  return {
    storage,
    key,
    log,
    origin,
    created,
    async close() {
      await log.close();
      await storage.close();
    },
  };
}

/**
 * Verifies a node's stored ledger. The trust anchor is the node's public verifier key file
 * (keys/node.key.pub), never anything in the database, so an auditor needs no private key.
 */
export async function verifyNode(
  dataDir: string,
  opts: { full?: boolean; schemas?: boolean; onProgress?: (done: number, total: number) => void } = {},
): Promise<VerifyReport> {
  const p = dataPaths(dataDir);
  if (!existsSync(p.db)) throw new LogError('NOT_INITIALIZED', `${dataDir} holds no VaultMesh log`);
  const trusted = loadVerifierKey(p.pub);
  const storage = openSqliteStorage({ path: p.db, readonly: true });
  try {
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
    const recorded = await storage.getMeta('verifier_key');
    if (recorded !== trusted.text) {
      extra.push({
        where: 'log',
        field: 'verifier_key',
        expected: trusted.text,
        found: String(recorded),
        message: 'the database records a different node key than the key file',
      });
    }
    // --full runs integrity_check, which (unlike quick_check) also checks every index against its table:
    // a damaged kind or tenant index would otherwise pass and silently change filtered listings. It runs
    // on a reader thread while the entries are verified here.
    const check = opts.full ? 'integrity_check' : 'quick_check';
    const structural = opts.full
      ? storage.integrityCheck().catch((e: unknown) => (e as Error).message)
      : undefined;
    // A gap-free log (the normal case) is read ahead by a reader thread; a gappy one takes the careful path.
    const size = await storage.size();
    const rows = (storage.db.prepare('SELECT count(*) AS n FROM entries').get() as { n: number }).n;
    const report = await verifyLog({
      storage,
      origin: trusted.key.name,
      verifierKey: trusted.key,
      hasher: nodeHasher,
      ed25519Verify: nodeEd25519Verify,
      full: opts.full,
      schemas: opts.schemas,
      onProgress: opts.onProgress,
      scan: rows === size ? (start, end) => storage.scanEntries(start, end, { threads: 2 }) : undefined,
    });
    const qc = structural ? await structural : String(storage.db.pragma(check, { simple: true }));
    if (qc !== 'ok')
      extra.push({
        where: 'log',
        field: check,
        expected: 'ok',
        found: qc,
        message: 'SQLite reports structural damage',
      });
    for (const problem of extra) {
      report.ok = false;
      report.problemCount++;
      report.problems.push(problem);
    }
    return report;
  } finally {
    await storage.close();
  }
}
