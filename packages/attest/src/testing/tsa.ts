// A real RFC 3161 TSA for tests: test CA material made with the openssl CLI, and a node:http server on 127.0.0.1
// that pipes each TimeStampReq through `openssl ts -reply`. Fail modes simulate outages and bad answers.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TAG, decodeDer, derChildren, derInteger, derSequence, readInteger } from '../der.ts';

/** Key type of generated certificates. */
export type TestKeyType = 'ec' | 'rsa' | 'ed25519';

/** A test CA with an (optional) intermediate and a TSA certificate with critical EKU timeStamping. */
export interface TestPki {
  readonly dir: string;
  readonly caPem: string;
  readonly caKeyPath: string;
  /** The CA that issues leaves: the intermediate when there is one, else the root. */
  readonly issuerCertPath: string;
  readonly issuerKeyPath: string;
  /** Intermediate CA certificates (PEM), empty without an intermediate. */
  readonly intermediatesPem: readonly string[];
  readonly tsaCertPem: string;
  readonly tsaCertPath: string;
  readonly tsaKeyPath: string;
  readonly tsaKeyPem: string;
}

/** Options of createTestPki. */
export interface TestPkiOptions {
  /** Key type of the TSA certificate. Default 'ec' (P-256). CAs are always P-256. */
  keyType?: TestKeyType;
  /** Put an intermediate CA between the root and the TSA. Default false. */
  intermediate?: boolean;
  /** Root subject CN (distinct CAs for "untrusted" tests). */
  rootName?: string;
}

function openssl(args: string[], cwd: string): string {
  return execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
}

function newKeyArgs(type: TestKeyType): string[] {
  if (type === 'rsa') return ['-newkey', 'rsa:2048'];
  if (type === 'ed25519') return ['-newkey', 'ed25519'];
  return ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
}

let serialCounter = 0x1000;

/**
 * Issues a certificate signed by `pki`'s issuing CA with the given openssl extension lines (e.g.
 * `extendedKeyUsage=critical,timeStamping`). Returns PEM certificate, key and paths.
 */
export function issueTestCert(
  pki: Pick<TestPki, 'dir' | 'issuerCertPath' | 'issuerKeyPath'>,
  name: string,
  extensions: readonly string[],
  opts: { keyType?: TestKeyType; days?: number } = {},
): { certPem: string; keyPem: string; certPath: string; keyPath: string } {
  const dir = pki.dir;
  const base = name.replace(/[^a-z0-9-]/gi, '_');
  writeFileSync(join(dir, `${base}.ext`), `[ext]\n${extensions.join('\n')}\n`);
  openssl(
    [
      'req',
      '-new',
      ...newKeyArgs(opts.keyType ?? 'ec'),
      '-nodes',
      '-keyout',
      `${base}.key`,
      '-out',
      `${base}.csr`,
      '-subj',
      `/O=VaultMesh Tests/CN=${name}`,
    ],
    dir,
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${base}.csr`,
      '-CA',
      pki.issuerCertPath,
      '-CAkey',
      pki.issuerKeyPath,
      '-set_serial',
      String(serialCounter++),
      '-days',
      String(opts.days ?? 365),
      '-out',
      `${base}.pem`,
      '-extfile',
      `${base}.ext`,
      '-extensions',
      'ext',
    ],
    dir,
  );
  return {
    certPem: readFileSync(join(dir, `${base}.pem`), 'utf8'),
    keyPem: readFileSync(join(dir, `${base}.key`), 'utf8'),
    certPath: join(dir, `${base}.pem`),
    keyPath: join(dir, `${base}.key`),
  };
}

/** Extension lines of a TSA certificate as RFC 3161 2.3 requires. */
export const TSA_CERT_EXTENSIONS = [
  'basicConstraints=critical,CA:FALSE',
  'keyUsage=critical,digitalSignature,nonRepudiation',
  'extendedKeyUsage=critical,timeStamping',
  'subjectKeyIdentifier=hash',
  'authorityKeyIdentifier=keyid',
];

const pkiCache = new Map<string, TestPki>();
const pkiDirs: string[] = [];
// Temporary directories of TSAs not yet closed; removed with the PKIs when the test process exits.
const tsaDirs = new Set<string>();
process.once('exit', () => {
  for (const d of [...pkiDirs, ...tsaDirs]) rmSync(d, { recursive: true, force: true });
});

/** Creates (once per options and process; cached) a root CA, optional intermediate and TSA certificate. */
export function createTestPki(opts: TestPkiOptions = {}): TestPki {
  const key = JSON.stringify([opts.keyType ?? 'ec', !!opts.intermediate, opts.rootName ?? '']);
  const cached = pkiCache.get(key);
  if (cached) return cached;
  const dir = mkdtempSync(join(tmpdir(), 'vm-tsa-pki-'));
  pkiDirs.push(dir);
  openssl(
    [
      'req',
      '-x509',
      '-new',
      ...newKeyArgs('ec'),
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-subj',
      `/O=VaultMesh Tests/CN=${opts.rootName ?? 'VaultMesh Test Root CA'}`,
      '-days',
      '3650',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  let issuer = { issuerCertPath: join(dir, 'ca.pem'), issuerKeyPath: join(dir, 'ca.key') };
  const intermediatesPem: string[] = [];
  if (opts.intermediate) {
    const inter = issueTestCert({ dir, ...issuer }, 'VaultMesh Test Intermediate CA', [
      'basicConstraints=critical,CA:TRUE,pathlen:0',
      'keyUsage=critical,keyCertSign,cRLSign',
      'subjectKeyIdentifier=hash',
      'authorityKeyIdentifier=keyid',
    ]);
    intermediatesPem.push(inter.certPem);
    issuer = { issuerCertPath: inter.certPath, issuerKeyPath: inter.keyPath };
  }
  const tsa = issueTestCert({ dir, ...issuer }, 'VaultMesh Test TSA', TSA_CERT_EXTENSIONS, {
    keyType: opts.keyType ?? 'ec',
  });
  const pki: TestPki = {
    dir,
    caPem: readFileSync(join(dir, 'ca.pem'), 'utf8'),
    caKeyPath: join(dir, 'ca.key'),
    ...issuer,
    intermediatesPem,
    tsaCertPem: tsa.certPem,
    tsaCertPath: tsa.certPath,
    tsaKeyPath: tsa.keyPath,
    tsaKeyPem: tsa.keyPem,
  };
  pkiCache.set(key, pki);
  return pki;
}

/** Removes every PKI directory createTestPki made (call in afterAll). */
export function removeTestPkis(): void {
  for (const d of pkiDirs.splice(0)) rmSync(d, { recursive: true, force: true });
  pkiCache.clear();
}

/**
 * How the test TSA misbehaves. 'none': a correct answer. 'down': the connection is reset. 'hang': no answer.
 * 'reject': openssl answers status rejection (its config accepts no SHA-2 imprint). 'garbage': random bytes.
 * 'truncated': half of openssl's answer. 'http-500', 'wrong-content-type': HTTP-level faults. 'wrong-nonce',
 * 'drop-nonce', 'wrong-imprint', 'drop-policy': the query is altered before openssl signs, so the token is validly
 * signed but answers a different question.
 */
export type TsaFailMode =
  | 'none'
  | 'down'
  | 'hang'
  | 'reject'
  | 'garbage'
  | 'truncated'
  | 'http-500'
  | 'wrong-content-type'
  | 'wrong-nonce'
  | 'drop-nonce'
  | 'wrong-imprint'
  | 'drop-policy';

/** Options of startTestTsa. */
export interface TestTsaOptions extends TestPkiOptions {
  /** The TSA's default policy. Default 1.3.6.1.4.1.55555.3161.1 (a test arc). */
  policy?: string;
  /** Further policies a request may ask for. */
  otherPolicies?: readonly string[];
  failMode?: TsaFailMode;
  /** ESS certificate identifier: 'sha1' gives signingCertificate (v1), others signingCertificateV2. Default sha1. */
  essCertIdAlg?: 'sha1' | 'sha256' | 'sha384' | 'sha512';
  /** Digest the TSA signs with. Default sha256. */
  signerDigest?: 'sha256' | 'sha384' | 'sha512';
  /** Put the TSA name in TSTInfo.tsa. Default true. */
  tsaName?: boolean;
}

/** A running test TSA. */
export interface TestTsa {
  readonly url: string;
  readonly caPem: string;
  readonly tsaCertPem: string;
  readonly intermediatesPem: readonly string[];
  readonly policy: string;
  readonly pki: TestPki;
  /** Requests received so far (all fail modes included). */
  readonly requests: number;
  setFailMode(mode: TsaFailMode): void;
  /** Runs one DER TimeStampReq through openssl directly and returns the DER TimeStampResp. */
  reply(query: Uint8Array): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** The default policy of startTestTsa. */
export const TEST_TSA_POLICY = '1.3.6.1.4.1.55555.3161.1';

/** Applies a query-altering fail mode to a TimeStampReq (version, messageImprint, reqPolicy?, nonce?, certReq?). */
function alterQuery(query: Uint8Array, mode: TsaFailMode): Uint8Array {
  const fields = derChildren(decodeDer(query, 'TimeStampReq'), 'TimeStampReq');
  const items = fields.map((c) => c.bytes);
  const nonceAt = fields.findIndex((f, i) => i > 0 && f.tag === TAG.INTEGER);
  const policyAt = fields.findIndex((f) => f.tag === TAG.OID);
  if (mode === 'wrong-nonce' && nonceAt > 0)
    items[nonceAt] = derInteger(readInteger(fields[nonceAt]!, 'nonce') + 1n);
  if (mode === 'drop-nonce' && nonceAt > 0) items.splice(nonceAt, 1);
  if (mode === 'drop-policy' && policyAt > 0) items.splice(policyAt, 1);
  if (mode === 'wrong-imprint') {
    const mi = new Uint8Array(items[1]!);
    mi[mi.length - 1]! ^= 0x01;
    items[1] = mi;
  }
  return derSequence(...items);
}

function tsaConfig(dir: string, pki: TestPki, o: TestTsaOptions, policy: string): string {
  const common = (digests: string) =>
    [
      `serial = ${join(dir, 'serial')}`,
      'crypto_device = builtin',
      `signer_cert = ${pki.tsaCertPath}`,
      ...(pki.intermediatesPem.length > 0 ? [`certs = ${join(dir, 'chain.pem')}`] : []),
      `signer_key = ${pki.tsaKeyPath}`,
      `signer_digest = ${o.signerDigest ?? 'sha256'}`,
      `default_policy = ${policy}`,
      ...(o.otherPolicies?.length ? [`other_policies = ${o.otherPolicies.join(', ')}`] : []),
      `digests = ${digests}`,
      'accuracy = secs:1, millisecs:500, microsecs:100',
      'clock_precision_digits = 3',
      'ordering = yes',
      `tsa_name = ${o.tsaName === false ? 'no' : 'yes'}`,
      'ess_cert_id_chain = no',
      `ess_cert_id_alg = ${o.essCertIdAlg ?? 'sha1'}`,
    ].join('\n');
  return [
    '[ tsa ]',
    'default_tsa = tsa_ok',
    '[ tsa_ok ]',
    common('sha256, sha384, sha512'),
    '[ tsa_reject ]',
    common('sha1'),
    '',
  ].join('\n');
}

/** Starts a TSA on 127.0.0.1 (ephemeral port) backed by `openssl ts -reply`. */
export async function startTestTsa(opts: TestTsaOptions = {}): Promise<TestTsa> {
  const pki = createTestPki(opts);
  const policy = opts.policy ?? TEST_TSA_POLICY;
  const dir = mkdtempSync(join(tmpdir(), 'vm-tsa-'));
  tsaDirs.add(dir);
  if (pki.intermediatesPem.length > 0) writeFileSync(join(dir, 'chain.pem'), pki.intermediatesPem.join(''));
  const configPath = join(dir, 'tsa.cnf');
  writeFileSync(configPath, tsaConfig(dir, pki, opts, policy));
  let failMode: TsaFailMode = opts.failMode ?? 'none';
  let requests = 0;
  let seq = 0;
  // openssl increments the serial file; one reply at a time keeps it consistent.
  let queue: Promise<unknown> = Promise.resolve();

  const replyWithOpenssl = (query: Uint8Array, section: string): Promise<Uint8Array> => {
    const run = queue.then(
      () =>
        new Promise<Uint8Array>((resolve, reject) => {
          const n = ++seq;
          const q = join(dir, `q${n}.tsq`);
          const r = join(dir, `r${n}.tsr`);
          writeFileSync(q, query);
          execFile(
            'openssl',
            ['ts', '-reply', '-queryfile', q, '-config', configPath, '-section', section, '-out', r],
            (err, _stdout, stderr) => {
              if (err) reject(new Error(`openssl ts -reply failed: ${stderr}`));
              else resolve(new Uint8Array(readFileSync(r)));
              rmSync(q, { force: true });
              rmSync(r, { force: true });
            },
          );
        }),
    );
    queue = run.catch(() => undefined);
    return run;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const query = new Uint8Array(Buffer.concat(chunks));
    const mode = failMode;
    if (mode === 'down') {
      req.socket.destroy();
      return;
    }
    if (mode === 'hang') return;
    if (mode === 'http-500') {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error');
      return;
    }
    if (mode === 'wrong-content-type') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html>maintenance</html>');
      return;
    }
    if (mode === 'garbage') {
      res.writeHead(200, { 'content-type': 'application/timestamp-reply' }).end(randomBytes(300));
      return;
    }
    if (req.method !== 'POST' || req.headers['content-type'] !== 'application/timestamp-query') {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('expected POST application/timestamp-query');
      return;
    }
    let altered: Uint8Array = query;
    try {
      if (mode.startsWith('wrong-') || mode.startsWith('drop-')) altered = alterQuery(query, mode);
    } catch {
      altered = query; // not a parsable query: let openssl answer it
    }
    const out = await replyWithOpenssl(altered, mode === 'reject' ? 'tsa_reject' : 'tsa_ok');
    const body: Uint8Array = mode === 'truncated' ? out.subarray(0, Math.floor(out.length / 2)) : out;
    res.writeHead(200, { 'content-type': 'application/timestamp-reply' }).end(Buffer.from(body));
  };

  const server = createServer((req, res) => {
    requests++;
    // One connection per request: a kept-alive socket that the server times out while a test keeps the event loop
    // busy would otherwise be reused by the next fetch and reset (ECONNRESET), on a loaded machine.
    res.setHeader('connection', 'close');
    handle(req, res).catch((err: Error) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end(err.message);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;

  return {
    url: `http://127.0.0.1:${port}/tsa`,
    caPem: pki.caPem,
    tsaCertPem: pki.tsaCertPem,
    intermediatesPem: pki.intermediatesPem,
    policy,
    pki,
    get requests() {
      return requests;
    },
    setFailMode(mode) {
      failMode = mode;
    },
    reply: (query) => replyWithOpenssl(query, 'tsa_ok'),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await queue;
      rmSync(dir, { recursive: true, force: true });
      tsaDirs.delete(dir);
    },
  };
}

/** Runs the openssl CLI with `args` in `cwd`; returns exit code and stdout + stderr (never throws). */
export function runOpenssl(args: readonly string[], cwd: string): { code: number; output: string } {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  return { code: r.status ?? 1, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}
