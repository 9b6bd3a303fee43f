// .vaultmesh/spawn.json: what a generated tree was generated from (template, version, parameters), its digest, and
// the spawn receipt that recorded it. Read strictly: `verify` and `update` trust nothing else about the tree.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SpawnError } from './errors.ts';
import type { Params, Rendered } from './generate.ts';
import { MANIFEST_FILE, SUMS_FILE, sumsText, type Tree } from './tree.ts';

/** The spawn receipt that recorded a tree (where the node put it). */
export interface ReceiptRef {
  readonly index: number;
  readonly leafHash: string;
  /** The node's log origin (its checkpoint's first line). */
  readonly origin?: string;
}

export interface SpawnManifest {
  readonly v: 1;
  readonly service: string;
  readonly template: string;
  readonly version: string;
  readonly params: Params;
  readonly tenant: string;
  readonly treeSha256: string;
  readonly receipt?: ReceiptRef;
}

const HEX64 = /^[0-9a-f]{64}$/;

function bad(dir: string, message: string): SpawnError {
  return new SpawnError('MANIFEST_INVALID', `${join(dir, MANIFEST_FILE)}: ${message}`, {
    file: join(dir, MANIFEST_FILE),
  });
}

/** The manifest's text (stable key order, two-space JSON, trailing newline). */
export function manifestText(m: SpawnManifest): string {
  const ordered = {
    v: m.v,
    service: m.service,
    template: m.template,
    version: m.version,
    tenant: m.tenant,
    params: m.params,
    treeSha256: m.treeSha256,
    ...(m.receipt ? { receipt: m.receipt } : {}),
  };
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

/** Reads and checks a directory's manifest. */
export function readManifest(dir: string): SpawnManifest {
  const file = join(dir, MANIFEST_FILE);
  if (!existsSync(file))
    throw new SpawnError('NOT_SPAWNED', `${dir} was not made by vm spawn (no ${MANIFEST_FILE})`, { file });
  let m: unknown;
  try {
    m = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw bad(dir, `not JSON (${(err as Error).message})`);
  }
  if (typeof m !== 'object' || m === null || Array.isArray(m)) throw bad(dir, 'not a JSON object');
  const o = m as Record<string, unknown>;
  if (o['v'] !== 1) throw bad(dir, 'v must be 1');
  for (const k of ['service', 'template', 'version', 'tenant'])
    if (typeof o[k] !== 'string' || (o[k] as string).length === 0) throw bad(dir, `${k} must be a string`);
  if (typeof o['treeSha256'] !== 'string' || !HEX64.test(o['treeSha256']))
    throw bad(dir, 'treeSha256 must be 64 lower-case hex digits');
  const params = o['params'];
  if (typeof params !== 'object' || params === null || Array.isArray(params))
    throw bad(dir, 'params must be an object');
  for (const [k, v] of Object.entries(params))
    if (!['string', 'number', 'boolean'].includes(typeof v)) throw bad(dir, `params.${k} must be a scalar`);
  const r = o['receipt'];
  if (r !== undefined) {
    const ref = r as Record<string, unknown>;
    if (
      typeof r !== 'object' ||
      r === null ||
      !Number.isSafeInteger(ref['index']) ||
      (ref['index'] as number) < 0 ||
      typeof ref['leafHash'] !== 'string' ||
      !HEX64.test(ref['leafHash'])
    )
      throw bad(dir, 'receipt must be { index, leafHash }');
  }
  return m as SpawnManifest;
}

/** The manifest of a render spawned in `tenant`, and the receipt that recorded it when there is one. */
export function manifestOf(r: Rendered, tenant: string, receipt?: ReceiptRef): SpawnManifest {
  return {
    v: 1,
    service: r.service,
    template: r.template,
    version: r.version,
    tenant,
    params: r.params,
    treeSha256: r.treeSha256,
    ...(receipt ? { receipt } : {}),
  };
}

/** A render's files with the two .vaultmesh files of `manifest`: the whole tree a spawn writes. */
export function spawnedTree(r: Rendered, manifest: SpawnManifest): Map<string, string> {
  return new Map([...r.files, ...metadataFiles(manifest, r.files)]);
}

/** The two .vaultmesh files a generated tree carries: the manifest and the sums of the generated files. */
export function metadataFiles(m: SpawnManifest, generated: Tree): Map<string, string> {
  return new Map([
    [MANIFEST_FILE, manifestText(m)],
    [SUMS_FILE, sumsText(generated)],
  ]);
}
