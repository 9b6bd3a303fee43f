// Wiring of the sealer + anchor scheduler and of evidence bundles for one node (composition root: the only
// place that reads TSA trust-anchor files and knows both the log and the attest adapters).
import { existsSync, readFileSync } from 'node:fs';
import {
  buildEvidenceBundle,
  createTsaAnchor,
  timestampTokenGenTime,
  verifyTimestampToken,
  type EvidenceBundle,
} from '@vaultmesh/attest';
import { utf8 } from '@vaultmesh/ledger';
import {
  AnchorScheduler,
  LogError,
  type AnchorEvent,
  type Log,
  type LogStorage,
  type StoredAnchor,
  type StoredCheckpoint,
} from '@vaultmesh/log';
import { ConfigError, type AnchorConfig, type TsaConfig } from './config.ts';

/** Splits a PEM file into its certificates (a trust-anchor file may hold several). */
export function splitPem(text: string): string[] {
  return [...text.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)].map(
    (m) => m[0] + '\n',
  );
}

/** Reads each TSA's trust anchors; a missing or empty file is a configuration error. */
export function loadTsaTrust(tsas: readonly TsaConfig[]): Map<string, string[]> {
  const trust = new Map<string, string[]>();
  for (const t of tsas) {
    if (!existsSync(t.caFile))
      throw new ConfigError(`anchor.tsas[${t.name}].caFile ${t.caFile} does not exist`);
    const pems = splitPem(readFileSync(t.caFile, 'utf8'));
    if (pems.length === 0)
      throw new ConfigError(`anchor.tsas[${t.name}].caFile ${t.caFile} holds no PEM certificate`);
    trust.set(t.name, pems);
  }
  return trust;
}

/** Creates the scheduler for a log from configuration (no TSAs configured: it only seals). */
export function createAnchorScheduler(
  log: Log,
  storage: LogStorage,
  cfg: AnchorConfig,
  opts: { onEvent?: (e: AnchorEvent) => void; trust?: Map<string, string[]>; active?: () => boolean } = {},
): AnchorScheduler {
  const trust = opts.trust ?? loadTsaTrust(cfg.tsas);
  const anchors = cfg.tsas.map((t) =>
    createTsaAnchor({
      name: t.name,
      url: t.url,
      trustAnchorsPem: trust.get(t.name) ?? [],
      policy: t.policy,
      hashAlgorithm: t.hashAlgorithm,
      timeoutMs: t.timeoutMs,
    }),
  );
  return new AnchorScheduler({
    log,
    storage,
    anchors,
    sealIntervalMs: cfg.sealIntervalMs,
    sealMaxBatch: cfg.sealMaxBatch,
    tickMs: cfg.tickMs,
    backoff: cfg.backoff,
    backoffFor: Object.fromEntries(cfg.tsas.filter((t) => t.backoff).map((t) => [t.name, t.backoff!])),
    onEvent: opts.onEvent,
    ...(opts.active ? { active: opts.active } : {}),
  });
}

/** Log keys a verifier needs: every key recorded in the node's key history, else the current one. */
export async function logKeyTexts(storage: LogStorage, current: string): Promise<string[]> {
  const history = await storage.getMeta('verifier_keys');
  if (history) {
    try {
      const list = JSON.parse(history) as { verifierKey?: unknown }[];
      const keys = list.map((k) => k.verifierKey).filter((k): k is string => typeof k === 'string');
      if (keys.length > 0) return keys.includes(current) ? keys : [...keys, current];
    } catch {
      // A damaged history is reported by `vm audit verify`; the current key still signs new checkpoints.
    }
  }
  return [current];
}

/**
 * Builds the evidence bundle of one receipt: the smallest timestamped checkpoint covering it (else the latest
 * checkpoint covering it, without timestamps), its inclusion proof, tokens, and the keys needed to check them.
 */
export async function exportEvidence(
  log: Log,
  storage: LogStorage,
  index: number,
  opts: {
    logKeys: readonly string[];
    trust: Map<string, string[]>;
    /** Witness cosignatures of a checkpoint and the witnesses' keys (federation), attached to the bundle. */
    cosignatures?: (size: number) => Promise<{ lines: string[]; witnessKeys: string[] }>;
  },
): Promise<EvidenceBundle> {
  const entry = await log.getEntry(index);
  const anchors = (await storage.listAnchors()).filter((a) => a.size > index);
  let cp: StoredCheckpoint | undefined;
  let tokens: StoredAnchor[] = [];
  if (anchors.length > 0) {
    const size = anchors.reduce((m, a) => (a.size < m ? a.size : m), Infinity);
    cp = await storage.getCheckpoint(size);
    tokens = anchors.filter((a) => a.size === size);
  }
  if (!cp) {
    const latest = await storage.getCheckpoint();
    if (!latest || latest.size <= index)
      throw new LogError(
        'NOT_FOUND',
        `receipt ${index} is not covered by a checkpoint yet; run "vm checkpoint" or wait for the next seal`,
      );
    cp = latest;
    tokens = [];
  }
  const proof = await log.inclusionProof(index, cp.size);
  const used = new Set(tokens.map((t) => t.authority));
  const tsaTrust = [...new Set([...opts.trust].filter(([n]) => used.has(n)).flatMap(([, p]) => p))];
  const cosigned = await opts.cosignatures?.(cp.size);
  return buildEvidenceBundle({
    origin: log.origin,
    index,
    leafHash: entry.leafHash,
    bytes: entry.bytes,
    checkpoint: cp,
    proof: proof.proof,
    // The time each token itself states (genTime), not the stored column, which nothing signs.
    timestamps: tokens.map((t) => ({
      authority: t.authority,
      proof: t.proof,
      anchoredAt: tokenTime(t.proof) ?? t.anchoredAt,
    })),
    logKeys: opts.logKeys,
    tsaTrustAnchors: tsaTrust,
    ...(cosigned ? { cosignatures: cosigned.lines, witnessKeys: cosigned.witnessKeys } : {}),
  });
}

/** One problem found with a stored anchor. */
export interface AnchorProblem {
  readonly size: number;
  readonly authority: string;
  readonly message: string;
}

/**
 * Checks every stored anchor: its checkpoint exists, its token verifies over that checkpoint's note bytes
 * against the configured trust anchors (authorities not configured here are listed as unpinned), and the ledger
 * holds an `anchor` receipt naming the token's SHA-256, which binds every byte of it to the Merkle tree.
 */
export async function verifyAnchors(
  storage: LogStorage,
  trust: Map<string, string[]>,
  receiptTokenHashes: Map<string, string>,
  sha256Hex: (b: Uint8Array) => string,
): Promise<{ checked: number; problems: AnchorProblem[]; unpinned: string[] }> {
  const problems: AnchorProblem[] = [];
  const unpinned = new Set<string>();
  const anchors = await storage.listAnchors();
  for (const a of anchors) {
    const p = (message: string) => problems.push({ size: a.size, authority: a.authority, message });
    const cp = await storage.getCheckpoint(a.size);
    if (!cp) {
      p(`no checkpoint of size ${a.size} is stored for this anchor`);
      continue;
    }
    const expected = receiptTokenHashes.get(`${a.size}/${a.authority}`);
    const found = sha256Hex(a.proof);
    if (expected === undefined) p(`no anchor receipt in the ledger names this token (sha256 ${found})`);
    else if (expected !== found)
      p(`token hash: expected ${expected} (from the anchor receipt), found ${found}`);
    if (a.type !== 'rfc3161') continue;
    // The stored time must be the token's own genTime, to the millisecond, whether or not its TSA is pinned here.
    const genTime = tokenTime(a.proof);
    if (genTime === undefined) p('the stored RFC 3161 token cannot be parsed');
    else if (genTime !== a.anchoredAt)
      p(
        `anchoredAt: expected ${new Date(genTime).toISOString()} (the token's genTime), found ${new Date(a.anchoredAt).toISOString()}`,
      );
    const anchorsPem = trust.get(a.authority);
    if (!anchorsPem) {
      // Not configured here: the token's bytes are still bound by the anchor receipt's hash above.
      unpinned.add(a.authority);
      continue;
    }
    try {
      verifyTimestampToken(a.proof, utf8(cp.note), { trustAnchorsPem: anchorsPem });
    } catch (err) {
      p(`RFC 3161 token: ${(err as Error).message}`);
    }
  }
  const stored = new Set(anchors.map((a) => `${a.size}/${a.authority}`));
  for (const [key, hash] of receiptTokenHashes) {
    if (stored.has(key)) continue;
    const [size, ...rest] = key.split('/');
    problems.push({
      size: Number(size),
      authority: rest.join('/'),
      message: `an anchor receipt names token sha256 ${hash}, but no such anchor is stored`,
    });
  }
  return { checked: anchors.length, problems, unpinned: [...unpinned] };
}

/** The genTime (ms) a stored RFC 3161 token states, or undefined when its bytes are not a token. */
function tokenTime(token: Uint8Array): number | undefined {
  try {
    return timestampTokenGenTime(token).getTime();
  } catch {
    return undefined;
  }
}
