// vm callback listen: a demo receiver on loopback that verifies RFC 9421-signed callbacks (as sent by `vm run`).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Command } from 'commander';
import {
  AttestError,
  createHttpSignatureKey,
  createFileReplayCache,
  hmacKeyId,
  loadHmacKeyFile,
  loadVerifierKey,
  publicKeyFromRaw,
  verifyHttpMessage,
  type HttpSignatureKey,
} from '@vaultmesh/attest';
import { dataPaths } from '@vaultmesh/node';
import { dataDir, parseIndex, withData } from '../context.ts';
import { CliError, EXIT } from '../exit.ts';
import { print } from '../output.ts';

/** Largest callback body accepted (bytes). */
const MAX_BODY_BYTES = 1024 * 1024;
/** Signatures older than this are refused (seconds); `vm run` signs with expires = created + 300. */
const MAX_AGE_SEC = 300;
const CLOCK_SKEW_SEC = 60;
const TITLES: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 413: 'Content Too Large' };

/** What the receiver trusts: one key under one keyid. */
interface TrustedKey {
  readonly keyid: string;
  readonly key: HttpSignatureKey;
}

function trustedKey(o: ListenOpts): TrustedKey {
  if (o.pubkey !== undefined && o.hmacKeyFile !== undefined)
    throw new CliError(EXIT.USAGE, 'give either --pubkey or --hmac-key-file, not both');
  if (o.hmacKeyFile !== undefined)
    return { keyid: hmacKeyId(o.hmacKeyFile), key: loadHmacKeyFile(o.hmacKeyFile) };
  // A C2SP verifier key (`name+hash+base64(0x01 ‖ pub)`, parsed by parseVerifierKey): keyid = the key's name.
  const { key } = loadVerifierKey(o.pubkey ?? dataPaths(dataDir(o)).pub);
  return { keyid: key.name, key: createHttpSignatureKey('ed25519', publicKeyFromRaw(key.publicKey)) };
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        resolve(undefined);
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** One line of the listener's log: a verdict per request. */
interface Verdict {
  time: string;
  status: number;
  method: string;
  path: string;
  keyid?: string;
  label?: string;
  code?: string;
  reason?: string;
  planId?: unknown;
  planStatus?: unknown;
  receipts?: number;
}

interface ListenOpts {
  data?: string;
  nonceFile?: string;
  port: string;
  host: string;
  authority?: string;
  pubkey?: string;
  hmacKeyFile?: string;
  once?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  const callback = program
    .command('callback')
    .description('receive RFC 9421-signed callbacks from `vm run` (a demo receiver)');
  withData(
    callback
      .command('listen')
      .description(
        'verify each incoming callback (401 with a reason on any failure, 204 on success), one line per request',
      )
      .option('-p, --port <port>', 'port to listen on (0 = any free port)', '0')
      .option('--host <host>', 'address to listen on', '127.0.0.1')
      .option('--authority <host:port>', 'the authority senders sign for (default: the listening address)')
      .option(
        '--pubkey <file>',
        'trusted Ed25519 verifier key file (C2SP vkey; default: <data>/keys/node.key.pub)',
      )
      .option('--hmac-key-file <file>', 'trust this shared secret instead (keyid hmac:<file name>)')
      .option('--once', 'exit 0 after the first valid callback')
      .option(
        '--nonce-file <file>',
        'where accepted nonces are kept until their signatures expire (default: <data>/callback-nonces.jsonl)',
      )
      .option('--json', 'one JSON object per line'),
  ).action(async (o: ListenOpts) => {
    const port = parseIndex(o.port, '--port');
    if (port > 65535) throw new CliError(EXIT.USAGE, '--port must be at most 65535');
    const trusted = trustedKey(o);
    // Nonces survive a restart of the listener (a replay after it restarted is refused while still valid).
    const replayCache = createFileReplayCache(o.nonceFile ?? join(dataDir(o), 'callback-nonces.jsonl'));
    const emit = (v: Verdict | Record<string, unknown>, line: string) =>
      o.json ? process.stdout.write(JSON.stringify(v) + '\n') : print(line);

    let authorities: Set<string> = new Set();
    let done: () => void = () => {};
    const finished = new Promise<void>((resolve) => (done = resolve));

    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      void handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500).end();
        process.stderr.write(`vm: callback listener: ${(err as Error).message}\n`);
      });
    });

    const answer = (res: ServerResponse, v: Verdict) => {
      if (v.status === 204) res.writeHead(204).end();
      else
        res.writeHead(v.status, { 'content-type': 'application/problem+json' }).end(
          JSON.stringify({
            type: 'about:blank',
            title: TITLES[v.status],
            status: v.status,
            detail: v.reason,
            code: v.code,
          }),
        );
      emit(
        v,
        v.status === 204
          ? `${v.status} ${v.method} ${v.path} keyid=${v.keyid} plan=${String(v.planId)} status=${String(v.planStatus)} receipts=${v.receipts ?? 0}`
          : `${v.status} ${v.method} ${v.path} ${v.code ?? ''}: ${v.reason}`,
      );
    };

    async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
      const base = { time: new Date().toISOString(), method: req.method ?? '', path: req.url ?? '' };
      const body = await readBody(req);
      if (body === undefined)
        return answer(res, {
          ...base,
          status: 413,
          code: 'TOO_LARGE',
          reason: `body over ${MAX_BODY_BYTES} bytes`,
        });
      const host = req.headers.host;
      if (!host || !req.url?.startsWith('/'))
        return answer(res, {
          ...base,
          status: 400,
          code: 'BAD_REQUEST',
          reason: 'need a Host field and an origin-form target',
        });
      // The signature covers @target-uri, rebuilt from what this receiver is: a callback signed for another
      // receiver (another authority) is refused even when it verifies.
      if (!authorities.has(host.toLowerCase()))
        return answer(res, {
          ...base,
          status: 401,
          code: 'WRONG_AUTHORITY',
          reason: `signed for ${host}, this receiver is ${[...authorities][0]}`,
        });
      try {
        const verified = verifyHttpMessage(
          { method: req.method, url: `http://${host}${req.url}`, headers: req.headersDistinct, body },
          {
            keys: (keyid) => (keyid === trusted.keyid ? trusted.key : undefined),
            requiredComponents: ['@method', '@target-uri', 'content-digest', 'content-type'],
            requiredParams: ['created', 'expires', 'nonce', 'keyid'],
            maxAgeSec: MAX_AGE_SEC,
            clockSkewSec: CLOCK_SKEW_SEC,
            replayCache,
          },
        );
        let payload: Record<string, unknown> = {};
        try {
          payload = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
        } catch {
          // A verified body that is not JSON is still accepted; only the summary is missing.
        }
        answer(res, {
          ...base,
          status: 204,
          keyid: verified.keyid,
          label: verified.label,
          planId: payload.planId,
          planStatus: payload.status,
          receipts: Array.isArray(payload.receipts) ? payload.receipts.length : 0,
        });
        if (o.once) res.on('finish', () => done());
      } catch (err) {
        if (!(err instanceof AttestError)) throw err;
        answer(res, { ...base, status: 401, code: err.code, reason: err.message });
      }
    }

    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, o.host, () => resolve());
    });
    const actual = (server.address() as AddressInfo).port;
    const self = `${o.host.includes(':') ? `[${o.host}]` : o.host}:${actual}`;
    authorities = new Set(
      o.authority !== undefined
        ? [o.authority.toLowerCase()]
        : [self, ...(o.host === '127.0.0.1' ? [`localhost:${actual}`] : [])],
    );
    emit(
      {
        listening: `http://${self}`,
        keyid: trusted.keyid,
        alg: trusted.key.alg,
        authority: [...authorities][0],
      },
      `listening on http://${self} (keyid ${trusted.keyid}, ${trusted.key.alg}); Ctrl-C to stop`,
    );
    const stop = () => done();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      await finished;
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
  });
}
