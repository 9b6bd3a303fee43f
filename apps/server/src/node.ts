// Opening a node's data directory: SQLite ledger (WAL), Ed25519 node key (0600), log, tokens.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  generateNodeKey,
  loadNodeKey,
  nodeEd25519Verify,
  nodeHasher,
  saveNodeKey,
  type NodeKey,
} from '@vaultmesh/attest';
import { Log, LogError, verifyLog, type LogOptions, type VerifyReport } from '@vaultmesh/log';
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
  const storage = openSqliteStorage({ path: p.db });
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

/** Verifies a node's stored ledger against its key file (not against anything in the database). */
export async function verifyNode(
  dataDir: string,
  opts: { full?: boolean; onProgress?: (done: number, total: number) => void } = {},
): Promise<VerifyReport> {
  const p = dataPaths(dataDir);
  if (!existsSync(p.db)) throw new LogError('NOT_INITIALIZED', `${dataDir} holds no VaultMesh log`);
  const storage = openSqliteStorage({ path: p.db, readonly: true });
  try {
    const origin = (await storage.getMeta('origin')) ?? '';
    const key = loadNodeKey(origin || 'unknown', p.key);
    const report = await verifyLog({
      storage,
      origin,
      verifierKey: key.verifierKey,
      hasher: nodeHasher,
      ed25519Verify: nodeEd25519Verify,
      full: opts.full,
      onProgress: opts.onProgress,
    });
    const recorded = await storage.getMeta('verifier_key');
    if (recorded !== key.verifierKeyText) {
      report.ok = false;
      report.problemCount++;
      report.problems.push({
        where: 'log',
        field: 'verifier_key',
        expected: key.verifierKeyText,
        found: String(recorded),
        message: 'the database records a different node key than the key file',
      });
    }
    const qc = storage.quickCheck();
    if (qc !== 'ok') {
      report.ok = false;
      report.problemCount++;
      report.problems.push({
        where: 'log',
        field: 'quick_check',
        expected: 'ok',
        found: qc,
        message: 'SQLite reports structural damage',
      });
    }
    return report;
  } finally {
    await storage.close();
  }
}
