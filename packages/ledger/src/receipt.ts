// Receipts: versioned, schema-validated JSON whose RFC 8785 bytes are the Merkle leaf.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { fromUtf8 } from './bytes.ts';
import { LedgerError } from './errors.ts';
import { canonicalize, quote } from './jcs.ts';
import { receiptBytesWithPrefix } from './jcs-bytes.ts';
import { utf8, utf8WithPrefix } from './bytes.ts';

export const RECEIPT_VERSION = 1;
/** Entry bundles in C2SP tlog-tiles carry uint16 lengths, so a leaf is at most 65535 bytes. */
export const MAX_RECEIPT_BYTES = 65_535;

export const RECEIPT_KINDS = [
  'decision',
  'deploy',
  'plan',
  'step',
  'audit',
  'route',
  'policy',
  'anchor',
  'federation',
  'evidence',
  'spawn',
  'key',
  'tool',
  'analysis',
  'psi',
] as const;
export type ReceiptKind = (typeof RECEIPT_KINDS)[number];

/**
 * The kinds a caller may write through a public path (REST, a plan's ledger.record step): records of its own
 * decisions, deploys and evidence. Every other kind (plan, step, analysis, audit, route, policy, anchor, federation,
 * key, tool, psi, spawn) is the node's own record of what it governed and is written only by the node (a `spawn`
 * receipt only after the tenant's policy allowed the spawn and the node rendered the tree itself).
 */
export const PUBLIC_RECEIPT_KINDS = [
  'decision',
  'deploy',
  'evidence',
] as const satisfies readonly ReceiptKind[];

/** Whether a caller may write receipts of `kind` (see PUBLIC_RECEIPT_KINDS). */
export function isPublicReceiptKind(kind: string): boolean {
  return (PUBLIC_RECEIPT_KINDS as readonly string[]).includes(kind);
}

/** A reference to an earlier receipt, bound to its content by leaf hash. */
export interface ParentRef {
  index: number;
  leafHash: string;
}

/** Version 1 of the receipt envelope. */
export interface Receipt {
  v: 1;
  kind: ReceiptKind;
  actor: string;
  tenant: string;
  /** RFC 3339 UTC instant, millisecond precision, set by the node that sequenced it. */
  time: string;
  body: Record<string, unknown>;
  parents?: ParentRef[];
}

const str = (max = 500) => ({ type: 'string', minLength: 1, maxLength: max });
const hex64 = { type: 'string', pattern: '^[0-9a-f]{64}$' };
const strList = { type: 'array', maxItems: 100, items: str(200) };

/** Required body fields per kind (extra fields are allowed and hashed like the rest). */
export const BODY_SCHEMAS: Record<ReceiptKind, object> = {
  decision: {
    type: 'object',
    required: ['title'],
    properties: {
      title: str(500),
      rationale: { type: 'string', maxLength: 10_000 },
      status: { enum: ['proposed', 'accepted', 'superseded', 'rejected'] },
      tags: strList,
    },
  },
  deploy: {
    type: 'object',
    required: ['service', 'version', 'environment'],
    properties: { service: str(), version: str(200), environment: str(200), status: str(100) },
  },
  plan: {
    type: 'object',
    required: ['planId', 'planHash', 'goal'],
    properties: { planId: str(200), planHash: hex64, goal: str(2000) },
  },
  step: {
    type: 'object',
    required: ['planId', 'stepId', 'action', 'status'],
    properties: { planId: str(200), stepId: str(200), action: str(200), status: str(100) },
  },
  audit: {
    type: 'object',
    required: ['subject', 'result', 'checks'],
    properties: {
      subject: str(),
      result: { enum: ['pass', 'fail'] },
      checks: { type: 'array', maxItems: 1000 },
    },
  },
  route: {
    type: 'object',
    required: ['jobId', 'provider', 'reason'],
    properties: {
      jobId: str(200),
      provider: str(200),
      reason: str(2000),
      candidates: { type: 'array', maxItems: 1000 },
    },
  },
  policy: {
    type: 'object',
    required: ['action', 'principal', 'resource', 'decision'],
    properties: {
      action: str(200),
      principal: str(),
      resource: str(),
      decision: { enum: ['allow', 'deny'] },
      reasons: strList,
    },
  },
  anchor: {
    type: 'object',
    required: ['treeSize', 'rootHash', 'authority'],
    properties: {
      treeSize: { type: 'integer', minimum: 0 },
      rootHash: hex64,
      authority: str(),
      tokenSha256: hex64,
    },
  },
  federation: {
    type: 'object',
    required: ['peer', 'operation'],
    properties: { peer: str(), operation: str(100) },
  },
  evidence: {
    type: 'object',
    required: ['subject', 'digests'],
    properties: {
      subject: str(),
      digests: { type: 'object', additionalProperties: hex64, maxProperties: 10_000 },
    },
  },
  // A service generated (or updated) from a Spawn template. The node writes version, operation, params and
  // treeSha256 (the digest of the tree it rendered itself); only service and template are required, as in the
  // first version of this kind.
  spawn: {
    type: 'object',
    required: ['service', 'template'],
    properties: {
      service: str(200),
      template: str(200),
      version: str(50),
      from: str(50),
      operation: { enum: ['create', 'update'] },
      params: { type: 'object' },
      treeSha256: hex64,
      files: { type: 'integer', minimum: 0 },
    },
  },
  // One governed agent tool call (MCP, A2A, REST or CLI): arguments and result by digest only, never by value.
  tool: {
    type: 'object',
    required: ['tool', 'via', 'outcome', 'argsSha256'],
    properties: {
      tool: str(200),
      via: { enum: ['mcp', 'a2a', 'rest', 'cli'] },
      outcome: { enum: ['ok', 'failed', 'timeout'] },
      argsSha256: hex64,
      resultSha256: hex64,
      error: { type: 'string', maxLength: 1000 },
      durationMs: { type: 'integer', minimum: 0 },
    },
  },
  // Continuous analysis of a live run (control/analysis.ts): a measurement that counted against it, or the summary.
  analysis: {
    type: 'object',
    required: ['record', 'runId', 'planId', 'planHash', 'result'],
    properties: {
      record: { enum: ['measurement', 'summary'] },
      runId: str(200),
      planId: str(200),
      planHash: hex64,
      result: { enum: ['pass', 'fail', 'inconclusive'] },
      rules: { type: 'array', maxItems: 1000 },
    },
  },
  // Ψ-Field (@vaultmesh/psi): an anomaly episode of a watched series as it opened (the point and its scores), or a
  // batch of forecasts committed before their outcomes (each point's value and its forecast `horizon` points ahead).
  psi: {
    type: 'object',
    required: ['record', 'series'],
    allOf: [
      {
        if: { properties: { record: { const: 'anomaly' } } },
        then: {
          required: ['at', 'likelihood'],
          properties: { at: str(40), likelihood: { type: 'number', minimum: 0, maximum: 1 } },
        },
      },
      {
        if: { properties: { record: { const: 'forecasts' } } },
        then: {
          required: ['epoch', 'horizon', 'points'],
          properties: {
            epoch: str(40),
            horizon: { type: 'integer', minimum: 1, maximum: 10_000 },
            points: { type: 'array' },
          },
        },
      },
    ],
    properties: {
      record: { enum: ['anomaly', 'forecasts'] },
      epoch: str(40),
      horizon: { type: 'integer', minimum: 1, maximum: 10_000 },
      points: {
        type: 'array',
        maxItems: 200,
        items: {
          type: 'object',
          required: ['i', 'at', 'value', 'mean', 'std'],
          properties: {
            i: { type: 'integer', minimum: 0 },
            at: str(40),
            value: { type: 'number' },
            mean: { type: 'number' },
            std: { type: 'number', minimum: 0 },
          },
        },
      },
      series: str(128),
      at: str(40),
      value: { type: 'number' },
      forecast: { type: 'number' },
      residual: { type: 'number' },
      likelihood: { type: 'number', minimum: 0, maximum: 1 },
      threshold: { type: 'number', minimum: 0, maximum: 1 },
    },
  },
  key: {
    type: 'object',
    required: ['operation', 'keyName', 'verifierKey'],
    properties: {
      operation: { enum: ['rotate', 'seal', 'unseal'] },
      keyName: str(200),
      verifierKey: str(500),
      previousVerifierKey: str(500),
      // A rotation also carries its statement's tree size and both keys' signatures (key-rotation.ts).
      treeSize: { type: 'integer', minimum: 0 },
      previousKeySignature: str(200),
      newKeySignature: str(200),
    },
  },
};

/** The envelope schema (the body is checked per kind). */
export const ENVELOPE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['v', 'kind', 'actor', 'tenant', 'time', 'body'],
  properties: {
    v: { const: RECEIPT_VERSION },
    kind: { enum: [...RECEIPT_KINDS] },
    actor: str(200),
    tenant: { type: 'string', pattern: '^[a-z0-9][a-z0-9_.-]{0,62}$' },
    time: { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$' },
    body: { type: 'object' },
    parents: {
      type: 'array',
      maxItems: 64,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['index', 'leafHash'],
        properties: { index: { type: 'integer', minimum: 0 }, leafHash: hex64 },
      },
    },
  },
} as const;

const ajv = new Ajv({ allErrors: false, strict: true, allowUnionTypes: true });
const validateEnvelope = ajv.compile(ENVELOPE_SCHEMA);
const validateBody = Object.fromEntries(
  RECEIPT_KINDS.map((k) => [k, ajv.compile(BODY_SCHEMAS[k])]),
) as Record<ReceiptKind, ValidateFunction>;

function describe(errors: ErrorObject[] | null | undefined, prefix: string): string {
  const e = errors?.[0];
  if (!e) return `${prefix || 'receipt'} is invalid`;
  const where = `${prefix}${e.instancePath}` || '(root)';
  if (e.keyword === 'additionalProperties') {
    return `${where || '(root)'}: unknown field "${String((e.params as { additionalProperty?: string }).additionalProperty)}"`;
  }
  if (e.keyword === 'enum') {
    return `${where}: must be one of ${((e.params as { allowedValues?: unknown[] }).allowedValues ?? []).join(', ')}`;
  }
  return `${where}: ${e.message ?? 'is invalid'}`;
}

/** Checks a value is a valid v1 receipt; returns it typed or throws RECEIPT_INVALID with a precise message. */
export function validateReceipt(value: unknown): Receipt {
  if (!validateEnvelope(value))
    throw new LedgerError('RECEIPT_INVALID', describe(validateEnvelope.errors, ''));
  const r = value as unknown as Receipt;
  const vb = validateBody[r.kind];
  if (!vb(r.body)) throw new LedgerError('RECEIPT_INVALID', describe(vb.errors, '/body'));
  if (Number.isNaN(Date.parse(r.time))) throw new LedgerError('RECEIPT_INVALID', '/time: not a real instant');
  return r;
}

/** Validates a receipt and returns its leaf bytes (RFC 8785), enforcing the size limit. */
export function encodeReceipt(value: unknown): Uint8Array {
  const r = validateReceipt(value);
  const bytes = utf8(canonicalReceipt(r));
  if (bytes.length > MAX_RECEIPT_BYTES) {
    throw new LedgerError(
      'RECEIPT_INVALID',
      `receipt is ${bytes.length} bytes; the limit is ${MAX_RECEIPT_BYTES}`,
    );
  }
  return bytes;
}

/**
 * RFC 8785 form of a validated receipt. The envelope's members are written in their sorted order
 * (actor, body, kind, parents, tenant, time, v) so only the body needs generic canonicalization;
 * tests check it equals canonicalize(receipt).
 */
export function canonicalReceipt(r: Receipt): string {
  let out = '{"actor":' + quote(r.actor) + ',"body":' + canonicalize(r.body) + ',"kind":' + quote(r.kind);
  if (r.parents !== undefined) out += ',"parents":' + canonicalize(r.parents);
  return out + ',"tenant":' + quote(r.tenant) + ',"time":' + quote(r.time) + ',"v":' + r.v + '}';
}

/** Parses stored leaf bytes back into a receipt, requiring them to be valid and exactly canonical. */
export function decodeReceipt(bytes: Uint8Array): Receipt {
  let parsed: unknown;
  const text = fromUtf8(bytes);
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new LedgerError('RECEIPT_INVALID', 'leaf bytes are not JSON');
  }
  const r = validateReceipt(parsed);
  if (canonicalize(r) !== text)
    throw new LedgerError('RECEIPT_INVALID', 'leaf bytes are not in RFC 8785 canonical form');
  return r;
}

/** Formats a Date as the receipt time format. */
export function receiptTime(d: Date): string {
  return d.toISOString();
}

export { envelopeMismatch } from './envelope.js';

/** A new receipt ready to sequence: `leafInput` is 0x00 || bytes (SHA-256 it for the RFC 6962 leaf hash). */
export interface ReceiptLeaf {
  readonly receipt: Receipt;
  readonly leafInput: Uint8Array;
  /** The RFC 8785 bytes (a view into leafInput). */
  readonly bytes: Uint8Array;
}

class Leaf implements ReceiptLeaf {
  readonly receipt: Receipt;
  readonly leafInput: Uint8Array;
  constructor(receipt: Receipt, leafInput: Uint8Array) {
    this.receipt = receipt;
    this.leafInput = leafInput;
  }
  get bytes(): Uint8Array {
    return this.leafInput.subarray(1);
  }
}

const KIND_SET: ReadonlySet<string> = new Set(RECEIPT_KINDS);
// Ajv's validators destructure an optional context argument, allocating an empty object per call without
// one; an empty shared one means the same (every field takes its default).
const NO_CONTEXT = Object.freeze({}) as Parameters<ValidateFunction>[1];
const TENANT_RE = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
const validateParents = ajv.compile(ENVELOPE_SCHEMA.properties.parents);
let isoMs = NaN;
let isoText = '';

function fail(msg: string): never {
  throw new LedgerError('RECEIPT_INVALID', msg);
}

/**
 * Builds, validates and encodes a new receipt stamped with `timeMs` (the append hot path: the envelope is
 * checked directly, the body by its kind's schema). Same rules and messages as validateReceipt.
 */
export function createReceiptLeaf(
  fields: { kind: string; actor: string; tenant: string; body: unknown; parents?: ParentRef[] },
  timeMs: number,
): ReceiptLeaf {
  if (!KIND_SET.has(fields.kind)) fail(`/kind: must be one of ${RECEIPT_KINDS.join(', ')}`);
  if (typeof fields.actor !== 'string' || fields.actor.length < 1 || fields.actor.length > 200) {
    fail('/actor: must be a string of 1 to 200 characters');
  }
  if (typeof fields.tenant !== 'string' || !TENANT_RE.test(fields.tenant)) {
    fail(`/tenant: must match pattern "${TENANT_RE.source}"`);
  }
  const body = fields.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) fail('/body: must be object');
  const vb = validateBody[fields.kind as ReceiptKind];
  if (!vb(body, NO_CONTEXT)) fail(describe(vb.errors, '/body'));
  if (fields.parents !== undefined && !validateParents(fields.parents))
    fail(describe(validateParents.errors, '/parents'));
  if (timeMs !== isoMs) {
    isoMs = timeMs;
    isoText = new Date(timeMs).toISOString();
  }
  const receipt = {
    v: 1,
    kind: fields.kind,
    actor: fields.actor,
    tenant: fields.tenant,
    time: isoText,
    body: body as Record<string, unknown>,
  } as Receipt;
  if (fields.parents !== undefined) receipt.parents = fields.parents;
  // Written straight into bytes; the string path covers browsers and receipts near or over the limit.
  const leafInput =
    receiptBytesWithPrefix(0, receipt, MAX_RECEIPT_BYTES) ?? utf8WithPrefix(0, canonicalReceipt(receipt));
  if (leafInput.length - 1 > MAX_RECEIPT_BYTES) {
    fail(`receipt is ${leafInput.length - 1} bytes; the limit is ${MAX_RECEIPT_BYTES}`);
  }
  return new Leaf(receipt, leafInput);
}
