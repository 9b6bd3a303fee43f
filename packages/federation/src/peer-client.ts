// PeerClient over HTTP (fetch): a peer node's public checkpoint and proofs, its entry bundles (with the token the
// peer issued us), and the federation endpoints. Every request has a time limit; no token ever appears in an error.
// Attacker-controlled input: everything a peer answers; sizes are bounded and shapes checked here.
import { TILE_WIDTH, formatTilePath } from '@vaultmesh/ledger';
import { BodyTooLargeError, readBounded, readBoundedJson, readBoundedText, scrubText } from '@vaultmesh/net';
import { FederationError } from './errors.ts';
import type { PeerClient } from './ports.ts';

export interface HttpPeerClientOptions {
  readonly url: string;
  /** Bearer token for the peer's entry bundles (an API token scoped to every tenant). */
  readonly token?: string;
  /** Time limit of one request. Default 15 s. */
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
}

/** Limits of what a peer may send, per answer (read streamed; reading stops at the limit). */
export const PEER_LIMITS = {
  checkpoint: 64 * 1024,
  proof: 64 * 1024,
  /** A full bundle: 256 entries of at most 64 KiB each, with their length prefixes. */
  entryBundle: TILE_WIDTH * (65_535 + 2),
  merge: 1024 * 1024,
  error: 4 * 1024,
} as const;

/** Parses a C2SP tlog-tiles entry bundle: a sequence of big-endian uint16 lengths, each followed by an entry. */
export function parseEntryBundle(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let off = 0;
  while (off < bytes.length) {
    if (off + 2 > bytes.length) throw new FederationError('CHECKPOINT_INVALID', 'entry bundle is truncated');
    const len = (bytes[off]! << 8) | bytes[off + 1]!;
    off += 2;
    if (off + len > bytes.length)
      throw new FederationError('CHECKPOINT_INVALID', 'entry bundle is truncated');
    out.push(bytes.subarray(off, off + len));
    off += len;
  }
  return out;
}

/** The C2SP tlog-tiles path of entry bundle n in a tree of treeSize entries (partial bundles get .p/<width>). */
export function entryBundlePath(n: number, treeSize: number): string {
  return (
    '/' + formatTilePath({ level: -1, index: n, width: Math.min(TILE_WIDTH, treeSize - n * TILE_WIDTH) })
  );
}

/** A PeerClient for one peer URL. */
export function createHttpPeerClient(opts: HttpPeerClientOptions): PeerClient {
  const base = opts.url.replace(/\/+$/, '');
  const doFetch = opts.fetch ?? fetch;
  const timeout = opts.timeoutMs ?? 15_000;

  async function request(path: string, init: RequestInit = {}, auth = false): Promise<Response> {
    let res: Response;
    try {
      res = await doFetch(base + path, {
        ...init,
        redirect: 'error',
        signal: AbortSignal.timeout(timeout),
        headers: {
          ...(init.headers as Record<string, string> | undefined),
          ...(auth && opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
        },
      });
    } catch (err) {
      const name = (err as Error)?.name;
      throw new FederationError(
        'PEER_UNREACHABLE',
        `peer ${base}: ${path.split('?')[0]} ${name === 'TimeoutError' ? `timed out after ${timeout} ms` : 'is unreachable'}`,
      );
    }
    if (!res.ok) {
      const text = (
        await readBoundedText(res, { limit: PEER_LIMITS.error, onLimit: 'truncate' }).catch(() => '')
      ).slice(0, 300);
      let detail = text;
      try {
        detail = (JSON.parse(text) as { detail?: string }).detail ?? text;
      } catch {
        /* not JSON */
      }
      // A peer that echoes the token we sent does not get it into our errors, logs or receipts.
      detail = scrubText(detail, [opts.token]);
      throw new FederationError(
        'PEER_UNREACHABLE',
        `peer ${base}: ${path.split('?')[0]} answered ${res.status}${detail ? `: ${detail}` : ''}`,
      );
    }
    return res;
  }
  /** A bounded read of an answer: too large, cut short or timed out is a failure of this peer (never evidence). */
  async function body<T>(path: string, read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (err) {
      if (err instanceof FederationError) throw err;
      const why =
        err instanceof BodyTooLargeError
          ? err.message
          : (err as Error)?.name === 'TimeoutError'
            ? `timed out after ${timeout} ms`
            : `could not be read: ${(err as Error)?.message ?? String(err)}`;
      throw new FederationError('PEER_UNREACHABLE', `peer ${base}: ${path.split('?')[0]}: ${why}`);
    }
  }
  const json = async (path: string, limit: number, init?: RequestInit) => {
    const res = await request(path, init);
    return body(path, () => readBoundedJson(res, { limit, what: 'the answer' }));
  };

  return {
    async checkpoint() {
      const res = await request('/checkpoint');
      return body('/checkpoint', () =>
        readBoundedText(res, { limit: PEER_LIMITS.checkpoint, what: 'the checkpoint' }),
      );
    },
    async consistencyProof(from, to) {
      const r = (await json(`/api/ledger/proof/consistency?from=${from}&to=${to}`, PEER_LIMITS.proof)) as {
        proof?: unknown;
      };
      if (
        !Array.isArray(r.proof) ||
        r.proof.length > 128 ||
        r.proof.some((h) => typeof h !== 'string' || !/^[0-9a-f]{64}$/.test(h))
      )
        throw new FederationError('CHECKPOINT_INVALID', `peer ${base}: malformed consistency proof`);
      return r.proof as string[];
    },
    async entryBundle(n, treeSize) {
      const path = entryBundlePath(n, treeSize);
      const res = await request(path, {}, true);
      const got = await body(path, () =>
        readBounded(res, { limit: PEER_LIMITS.entryBundle, what: `entry bundle ${n}` }),
      );
      return parseEntryBundle(got.bytes);
    },
    async postCosignature(note, line) {
      const res = await request('/federation/cosignatures', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ note, line }),
      });
      await res.body?.cancel().catch(() => undefined); // the answer's body is not needed
    },
    async requestMerge(req) {
      return json('/federation/merge', PEER_LIMITS.merge, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(req),
      });
    },
  };
}
