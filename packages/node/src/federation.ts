// Composition of federation for one node: the SQLite FederationStore, this node as a cosigner (its own key and
// origin), HTTP peer clients (tokens from the environment), the anti-entropy loop (witness + mirror of every trusted
// peer on a cadence, exponential backoff with jitter for unreachable ones), incoming cosignatures and merges.
import { nodeEd25519Verify, nodeHasher } from '@vaultmesh/attest';
import {
  FederationError,
  computeMerge,
  mergeStatement,
  signMergeStatement,
  verifyMergeSignatures,
  createHttpPeerClient,
  type MergeInput,
  type MergeLeaf,
  type MergeSignature,
  mirrorPeer,
  witnessPeer,
  verifyMirror,
  type Cosigner,
  type FederationStore,
  type MirrorOutcome,
  type PeerClient,
  type PeerRecord,
  type WitnessOutcome,
} from '@vaultmesh/federation';
import { parseVerifierKey, toHex } from '@vaultmesh/ledger';
import type { OpenedNode } from './node.ts';

export interface FederationOptions {
  /** Anti-entropy cadence; 0 disables the loop (syncs then only run on demand). Default 30 s. */
  readonly intervalMs?: number;
  readonly backoff?: { readonly baseMs: number; readonly maxMs: number };
  /** Time limit of one request to a peer. Default 15 s. */
  readonly timeoutMs?: number;
  /** Entries per verified mirror chunk. Default 8192. */
  readonly chunkEntries?: number;
  /** Where peer tokens are read from (a peer's tokenEnv names the variable). */
  readonly env?: NodeJS.ProcessEnv;
  readonly onEvent?: (e: { type: 'synced' | 'failed'; peer: string; detail: string }) => void;
  /** Whether this node runs the anti-entropy loop now (default always): of several nodes of one log, the leader. */
  readonly active?: () => boolean;
}

/** A merge receipt as a file: the statement, every participant's signature, and their verifier keys. */
export interface MergeReceiptFile {
  readonly format: 'https://vaultmesh.dev/merge-receipt/v1';
  readonly statement: { mergedRoot: string; mergedSize: number; [k: string]: unknown };
  readonly signatures: readonly MergeSignature[];
  readonly verifierKeys: readonly string[];
  readonly receipt: { origin: string; index: number; leafHash: string };
}

/** A receipt's time (Unix ms) from its canonical bytes. */
function receiptTime(bytes: Uint8Array): number {
  const t = (JSON.parse(Buffer.from(bytes).toString('utf8')) as { time?: unknown }).time;
  const ms = typeof t === 'string' ? Date.parse(t) : NaN;
  if (!Number.isFinite(ms)) throw new FederationError('INCONSISTENT', 'a mirrored receipt has no valid time');
  return ms;
}

/** Where one peer stands, as /api/federation/status and the metrics report it. */
export interface PeerSyncStatus {
  readonly peer: string;
  readonly url: string;
  readonly origin: string;
  readonly trusted: boolean;
  readonly untrustedReason?: string;
  readonly witnessedSize?: number;
  readonly mirroredSize: number;
  readonly peerSize?: number;
  readonly lagEntries: number;
  readonly lastSyncAt?: number;
  readonly lastError?: string;
  readonly failuresTotal: number;
  readonly consecutiveFailures: number;
  readonly nextAttemptAt?: number;
}

export interface Federation {
  readonly store: FederationStore;
  readonly cosigner: Cosigner;
  clientFor(peer: PeerRecord): PeerClient;
  /** Witnesses and mirrors one peer now. */
  syncPeer(
    name: string,
    opts?: { onProgress?: (done: number, total: number) => void },
  ): Promise<{ witness: WitnessOutcome; mirror: MirrorOutcome }>;
  /**
   * Merges this node's log with the named peers' mirrored logs: computes the merged root, signs the statement, has
   * every peer check it against its own data and countersign, and records the federation receipt here (each peer
   * records it too). Resolves with the receipt file `vm federate verify-merge` checks.
   */
  merge(peers: readonly string[]): Promise<MergeReceiptFile>;
  /** The peer side of merge: checks a statement against this node's data, countersigns and records it. */
  handleMerge(
    body: unknown,
  ): Promise<{ signature: MergeSignature; receipt: { index: number; leafHash: string } }>;
  /** Verifies a peer's cosignature of one of this node's checkpoints and stores it. */
  acceptCosignature(note: string, line: string): Promise<{ size: number; witness: string }>;
  status(): Promise<PeerSyncStatus[]>;
  /** Synchronous snapshot for metrics. */
  metricsStatus(): {
    peer: string;
    trusted: boolean;
    lagEntries: number;
    lastSyncAt?: number;
    failuresTotal: number;
    cosignatureDeliveryFailuresTotal: number;
    consecutiveFailures: number;
  }[];
  start(): void;
  stop(): Promise<void>;
}

interface Runtime {
  lastSyncAt?: number;
  lastError?: string;
  failuresTotal: number;
  /** Cosignatures the peer did not accept when sent (each is sent again until it does). */
  deliveryFailuresTotal: number;
  consecutiveFailures: number;
  nextAttemptAt: number;
  peerSize?: number;
  mirroredSize: number;
  trusted: boolean;
}

/** Builds federation over an opened node (its own database connection for federation tables). */
export function createFederation(node: OpenedNode, opts: FederationOptions = {}): Federation {
  const owned = node.storage.openFederationStore();
  const store = owned.store;
  const env = opts.env ?? {};
  const cosigner: Cosigner = {
    name: node.origin,
    publicKey: node.key.publicKey,
    sign: (m) => node.key.signer.sign(m),
  };
  const runtime = new Map<string, Runtime>();
  const rt = (name: string) => {
    let r = runtime.get(name);
    if (!r)
      runtime.set(
        name,
        (r = {
          failuresTotal: 0,
          deliveryFailuresTotal: 0,
          consecutiveFailures: 0,
          nextAttemptAt: 0,
          mirroredSize: 0,
          trusted: true,
        }),
      );
    return r;
  };
  const clientFor = (peer: PeerRecord) =>
    createHttpPeerClient({
      url: peer.url,
      token: peer.tokenEnv ? env[peer.tokenEnv] : undefined,
      timeoutMs: opts.timeoutMs,
    });
  const deps = {
    store,
    hasher: nodeHasher,
    ed25519Verify: nodeEd25519Verify,
    cosigner,
    receipts: node.log,
  };

  async function syncPeer(name: string, o: { onProgress?: (done: number, total: number) => void } = {}) {
    const peer = await store.getPeer(name);
    if (!peer) throw new FederationError('NOT_FOUND', `no peer named ${name}`);
    const r = rt(name);
    try {
      const client = clientFor(peer);
      const witness = await witnessPeer(peer, client, deps);
      r.peerSize = witness.size;
      if (witness.delivered === false) {
        r.deliveryFailuresTotal++;
        opts.onEvent?.({
          type: 'failed',
          peer: name,
          detail: `the peer did not take our cosignature of size ${witness.size} (${witness.deliveryFailures ?? 1} failed deliveries); it is sent again next round`,
        });
      }
      const mirror = await mirrorPeer(peer, client, {
        ...deps,
        chunkEntries: opts.chunkEntries,
        onProgress: o.onProgress,
      });
      r.mirroredSize = mirror.size;
      r.peerSize = Math.max(mirror.checkpointSize, r.peerSize);
      r.lastSyncAt = Date.now();
      r.consecutiveFailures = 0;
      r.lastError = undefined;
      opts.onEvent?.({
        type: 'synced',
        peer: name,
        detail: `mirrored ${mirror.size}/${mirror.checkpointSize}`,
      });
      return { witness, mirror };
    } catch (err) {
      r.failuresTotal++;
      r.consecutiveFailures++;
      r.lastError = (err as Error).message;
      const base = opts.backoff?.baseMs ?? 1_000;
      const max = opts.backoff?.maxMs ?? 300_000;
      const delay = Math.min(max, base * 2 ** Math.min(20, r.consecutiveFailures - 1));
      r.nextAttemptAt = Date.now() + delay / 2 + Math.random() * (delay / 2);
      if (err instanceof FederationError && (err.code === 'EQUIVOCATION' || err.code === 'INCONSISTENT'))
        r.trusted = false;
      opts.onEvent?.({ type: 'failed', peer: name, detail: r.lastError });
      throw err;
    }
  }

  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  const tick = async () => {
    if (opts.active && !opts.active()) return;
    for (const peer of await store.listPeers()) {
      if (stopped) return;
      const r = rt(peer.name);
      r.trusted = peer.trusted;
      if (!peer.trusted || Date.now() < r.nextAttemptAt) continue;
      await syncPeer(peer.name).catch(() => undefined);
    }
  };

  /** The leaves of a log for merging: this node's own [0, size), or a peer's mirror [0, size). */
  async function ownLeaves(size: number): Promise<MergeLeaf[]> {
    const out: MergeLeaf[] = [];
    for (let start = 0; start < size; start += 4096) {
      for (const e of await node.storage.getEntries(start, Math.min(size, start + 4096)))
        out.push({ leafHash: e.leafHash, time: e.time });
    }
    return out;
  }
  /** A peer's mirrored leaves [0, size), each entry's bytes hashed again (a stored leaf hash is not trusted). */
  async function mirrorLeaves(
    peer: string,
    size: number,
  ): Promise<{ leaves: MergeLeaf[]; rootHash: string }> {
    const record = await store.getPeer(peer);
    if (!record) throw new FederationError('NOT_FOUND', `no peer named ${peer}`);
    const out: MergeLeaf[] = [];
    const check = await verifyMirror(store, record, {
      hasher: nodeHasher,
      ed25519Verify: nodeEd25519Verify,
      size,
      onEntry: (e, leafHash) => out.push({ leafHash, time: receiptTime(e.bytes) }),
    });
    if (check.problems.length)
      throw new FederationError(
        'MERGE_MISMATCH',
        `the mirror of ${peer} does not verify: ${check.problems
          .slice(0, 3)
          .map((p) => p.message)
          .join('; ')}`,
      );
    return { leaves: out, rootHash: check.rootHash };
  }
  const signStatement = (statement: string) =>
    signMergeStatement(statement, {
      name: node.origin,
      publicKey: node.key.publicKey,
      sign: (m: Uint8Array) => node.key.signer.sign(m),
    });

  async function merge(names: readonly string[]): Promise<MergeReceiptFile> {
    const peers: PeerRecord[] = [];
    for (const n of names) {
      const p = await store.getPeer(n);
      if (!p) throw new FederationError('NOT_FOUND', `no peer named ${n}`);
      if (!p.trusted) throw new FederationError('PEER_UNTRUSTED', `peer ${n} is untrusted`);
      peers.push(p);
    }
    await node.log.idle();
    const own = await node.log.checkpoint();
    const inputs: MergeInput[] = [
      { origin: node.origin, size: own.size, rootHash: toHex(own.root), leaves: await ownLeaves(own.size) },
    ];
    for (const p of peers) {
      const m = await store.getMirrorState(p.name);
      if (!m || m.size === 0)
        throw new FederationError('NOT_FOUND', `nothing of ${p.name} is mirrored yet; sync first`);
      const { leaves } = await mirrorLeaves(p.name, m.size);
      inputs.push({ origin: p.origin, size: m.size, rootHash: m.rootHash, leaves });
    }
    const result = computeMerge(inputs, nodeHasher);
    const statement = mergeStatement(result);
    const signatures: MergeSignature[] = [signStatement(statement)];
    for (const p of peers) {
      const answer = (await clientFor(p).requestMerge({ statement, signatures: [signatures[0]] })) as {
        signature?: MergeSignature;
      };
      if (!answer?.signature)
        throw new FederationError('SIGNATURE_INVALID', `peer ${p.name} did not countersign`);
      const check = verifyMergeSignatures(statement, [answer.signature], [p.verifierKey]);
      if (!check.every((c) => c.ok))
        throw new FederationError('SIGNATURE_INVALID', `peer ${p.name}'s countersignature does not verify`);
      signatures.push(answer.signature);
    }
    const receipt = await node.log.append({
      kind: 'federation',
      actor: `federation:${node.origin}`,
      tenant: 'federation',
      body: {
        peer: peers.map((p) => p.name).join(','),
        operation: 'merge',
        mergedRoot: result.mergedRoot,
        mergedSize: result.mergedSize,
        statement: JSON.parse(statement) as unknown,
        signatures,
      },
    });
    return {
      format: 'https://vaultmesh.dev/merge-receipt/v1',
      statement: JSON.parse(statement) as MergeReceiptFile['statement'],
      signatures,
      verifierKeys: [node.key.verifierKeyText, ...peers.map((p) => p.verifierKey)],
      receipt: { origin: node.origin, index: receipt.index, leafHash: receipt.leafHash },
    };
  }

  async function handleMerge(body: unknown) {
    if (typeof body !== 'object' || body === null)
      throw new FederationError('INVALID_ARGUMENT', 'body must be {"statement": …, "signatures": […]}');
    const b = body as { statement?: unknown; signatures?: unknown };
    if (typeof b.statement !== 'string' || b.statement.length > 1_000_000 || !Array.isArray(b.signatures))
      throw new FederationError(
        'INVALID_ARGUMENT',
        'body must be {"statement": <canonical JSON>, "signatures": […]}',
      );
    let parsed: { logs?: { origin: string; size: number; rootHash: string }[] };
    try {
      parsed = JSON.parse(b.statement) as typeof parsed;
    } catch {
      throw new FederationError('INVALID_ARGUMENT', 'statement is not JSON');
    }
    const logs = Array.isArray(parsed.logs) ? parsed.logs : [];
    const mine = logs.find((l) => l.origin === node.origin);
    if (!mine)
      throw new FederationError(
        'INVALID_ARGUMENT',
        `the statement does not include this node's log (${node.origin})`,
      );
    const peers = await store.listPeers();
    const others: { log: (typeof logs)[number]; peer: PeerRecord }[] = [];
    for (const l of logs) {
      if (l.origin === node.origin) continue;
      const peer = peers.find((p) => p.origin === l.origin);
      if (!peer) throw new FederationError('PEER_UNTRUSTED', `${l.origin} is not a peer of this node`);
      if (!peer.trusted) throw new FederationError('PEER_UNTRUSTED', `peer ${peer.name} is untrusted`);
      others.push({ log: l, peer });
    }
    // The requester must have signed: a signature by a participant's configured key.
    const sigChecks = verifyMergeSignatures(
      b.statement,
      b.signatures as MergeSignature[],
      others.map((o) => o.peer.verifierKey),
    );
    if (!sigChecks.some((c) => c.ok))
      throw new FederationError(
        'SIGNATURE_INVALID',
        'the statement carries no valid signature of a participating peer',
      );
    if (!Number.isSafeInteger(mine.size) || mine.size < 1 || mine.size > node.log.stats().size)
      throw new FederationError('MERGE_MISMATCH', `this log has no tree of size ${mine.size}`);
    const ownRoot = toHex(await node.log.rootAt(mine.size));
    if (ownRoot !== mine.rootHash)
      throw new FederationError(
        'MERGE_MISMATCH',
        `this log's root at size ${mine.size} is ${ownRoot}, not ${mine.rootHash}`,
      );
    const inputs: MergeInput[] = [
      { origin: node.origin, size: mine.size, rootHash: ownRoot, leaves: await ownLeaves(mine.size) },
    ];
    for (const { log, peer } of others) {
      let m = await store.getMirrorState(peer.name);
      if (!m || m.size < log.size) {
        await syncPeer(peer.name).catch(() => undefined);
        m = await store.getMirrorState(peer.name);
      }
      if (!m || m.size < log.size)
        throw new FederationError(
          'MERGE_MISMATCH',
          `this node has mirrored ${m?.size ?? 0} entries of ${peer.name}, not ${log.size}`,
        );
      const { leaves, rootHash } = await mirrorLeaves(peer.name, log.size);
      if (rootHash !== log.rootHash)
        throw new FederationError(
          'MERGE_MISMATCH',
          `${peer.name}'s verified entries at size ${log.size} have root ${rootHash}, not ${log.rootHash}`,
        );
      inputs.push({ origin: peer.origin, size: log.size, rootHash, leaves });
    }
    const statement = mergeStatement(computeMerge(inputs, nodeHasher));
    if (statement !== b.statement)
      throw new FederationError('MERGE_MISMATCH', 'this node computes a different merge from the same logs', {
        expected: JSON.parse(statement) as unknown,
      });
    const signature = signStatement(statement);
    const requester = others.find((o) => sigChecks.some((c) => c.ok && c.signer === o.peer.origin));
    const receipt = await node.log.append({
      kind: 'federation',
      actor: `federation:${node.origin}`,
      tenant: 'federation',
      body: {
        peer: requester?.peer.name ?? others.map((o) => o.peer.name).join(','),
        operation: 'merge',
        mergedRoot: (JSON.parse(statement) as { mergedRoot: string }).mergedRoot,
        statement: JSON.parse(statement) as unknown,
        signatures: [...(b.signatures as MergeSignature[]), signature],
      },
    });
    return { signature, receipt: { index: receipt.index, leafHash: receipt.leafHash } };
  }

  return {
    store,
    cosigner,
    clientFor,
    syncPeer,
    merge,
    handleMerge,
    async acceptCosignature(note, line) {
      return acceptCosignature(node, store, note, line);
    },
    async status() {
      const out: PeerSyncStatus[] = [];
      for (const p of await store.listPeers()) {
        const r = rt(p.name);
        const w = await store.getWitnessState(p.name);
        const m = await store.getMirrorState(p.name);
        const mirrored = m?.size ?? 0;
        const peerSize = Math.max(r.peerSize ?? 0, w?.size ?? 0, m?.checkpointSize ?? 0);
        out.push({
          peer: p.name,
          url: p.url,
          origin: p.origin,
          trusted: p.trusted,
          ...(p.untrustedReason ? { untrustedReason: p.untrustedReason } : {}),
          ...(w ? { witnessedSize: w.size } : {}),
          mirroredSize: mirrored,
          peerSize,
          lagEntries: Math.max(0, peerSize - mirrored),
          ...(r.lastSyncAt ? { lastSyncAt: r.lastSyncAt } : {}),
          ...(r.lastError ? { lastError: r.lastError } : {}),
          failuresTotal: r.failuresTotal,
          consecutiveFailures: r.consecutiveFailures,
          ...(r.nextAttemptAt ? { nextAttemptAt: r.nextAttemptAt } : {}),
        });
      }
      return out;
    },
    metricsStatus: () =>
      [...runtime].map(([peer, r]) => ({
        peer,
        trusted: r.trusted,
        lagEntries: Math.max(0, (r.peerSize ?? 0) - r.mirroredSize),
        ...(r.lastSyncAt ? { lastSyncAt: r.lastSyncAt } : {}),
        failuresTotal: r.failuresTotal,
        cosignatureDeliveryFailuresTotal: r.deliveryFailuresTotal,
        consecutiveFailures: r.consecutiveFailures,
      })),
    start() {
      const interval = opts.intervalMs ?? 30_000;
      if (interval <= 0 || timer) return;
      const loop = () => {
        // A round that fails as a whole (the database unreachable) is reported and tried again next round.
        running = tick()
          .catch((err: unknown) =>
            opts.onEvent?.({ type: 'failed', peer: '*', detail: (err as Error).message ?? String(err) }),
          )
          .finally(() => {
            running = undefined;
            if (!stopped) timer = setTimeout(loop, interval);
          });
      };
      timer = setTimeout(loop, Math.min(interval, 1_000));
      timer.unref?.();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running?.catch(() => undefined);
      owned.close();
    },
  };
}

/** Verifies a cosignature line of one of this node's checkpoints by a configured, trusted peer, and stores it. */
async function acceptCosignature(
  node: OpenedNode,
  store: FederationStore,
  note: string,
  line: string,
): Promise<{ size: number; witness: string }> {
  const { parseCheckpoint, openNote, parseCosignatureLine, verifyCosignature } =
    await import('@vaultmesh/ledger');
  let body: string;
  try {
    body = openNote(note, [node.key.verifierKey], nodeEd25519Verify).text;
  } catch {
    throw new FederationError('CHECKPOINT_INVALID', 'the note is not a checkpoint signed by this node');
  }
  const cp = parseCheckpoint(body);
  const stored = await node.storage.getCheckpoint(cp.size);
  if (!stored || !stored.note.startsWith(body))
    throw new FederationError(
      'NOT_FOUND',
      `this node published no checkpoint of size ${cp.size} with that root`,
    );
  const witnessName = asFederationError(() => parseCosignatureLine(line)).name;
  const peer = (await store.listPeers()).find((p) => p.origin === witnessName);
  if (!peer) throw new FederationError('PEER_UNTRUSTED', `${witnessName} is not a configured peer`);
  if (!peer.trusted) throw new FederationError('PEER_UNTRUSTED', `peer ${peer.name} is untrusted`);
  const { timestamp } = asFederationError(() =>
    verifyCosignature(body, line, cosignerKeyOf(peer), { ed25519Verify: nodeEd25519Verify }),
  );
  await store.putCosignature({ size: cp.size, witness: witnessName, line, timestamp });
  return { size: cp.size, witness: witnessName };
}

/** A cosignature the core refused (LedgerError COSIGNATURE_INVALID) as this edge's FederationError, with its cause. */
function asFederationError<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    throw new FederationError('COSIGNATURE_INVALID', (err as Error).message, undefined, { cause: err });
  }
}

/** A peer's cosigner key: the same Ed25519 key as its note key, as C2SP cosignature (type 0x04) key. */
function cosignerKeyOf(peer: PeerRecord): { name: string; publicKey: Uint8Array } {
  const k = parseVerifierKey(peer.verifierKey);
  return { name: k.name, publicKey: k.publicKey };
}
