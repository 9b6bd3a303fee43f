// Request shaping shared by the route modules: JSON-object bodies with a closed set of fields, and optional headers
// that must match a pattern. Every refusal is a 400 INVALID_REQUEST naming what is wrong.
import type { FastifyRequest } from 'fastify';
import { HttpError } from './errors.ts';

export type Body = Record<string, unknown>;

export const isObject = (v: unknown): v is Body => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The tenant a write that names none goes to: the token's own, or `default` for a token of every tenant. */
export const defaultTenant = (p: { readonly tenant: string }): string =>
  p.tenant === '*' ? 'default' : p.tenant;

/** The body as an object whose keys are all in `allowed`. */
export function fields(body: unknown, allowed: readonly string[]): Body {
  if (!isObject(body)) throw new HttpError(400, 'INVALID_REQUEST', 'request body must be a JSON object');
  for (const k of Object.keys(body))
    if (!allowed.includes(k)) throw new HttpError(400, 'INVALID_REQUEST', `unknown field "${k}"`);
  return body;
}

/** A header that is absent, or one string matching `re`. */
export function optionalHeader(req: FastifyRequest, name: string, re: RegExp): string | undefined {
  const v = req.headers[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !re.test(v))
    throw new HttpError(400, 'INVALID_REQUEST', `header ${name} is malformed`);
  return v;
}

export type Query = Record<string, string | undefined>;

export function intParam(
  q: Query,
  name: string,
  opts: { min?: number; max?: number; def?: number } = {},
): number | undefined {
  const raw = q[name];
  if (raw === undefined || raw === '') return opts.def;
  if (!/^-?[0-9]+$/.test(raw))
    throw new HttpError(400, 'INVALID_REQUEST', `query parameter ${name} must be an integer`);
  const n = Number(raw);
  if (
    !Number.isSafeInteger(n) ||
    (opts.min !== undefined && n < opts.min) ||
    (opts.max !== undefined && n > opts.max)
  ) {
    throw new HttpError(
      400,
      'INVALID_REQUEST',
      `query parameter ${name} must be between ${opts.min ?? '-∞'} and ${opts.max ?? '∞'}`,
    );
  }
  return n;
}

export function timeParam(q: Query, name: string): number | undefined {
  const raw = q[name];
  if (raw === undefined || raw === '') return undefined;
  const t = /^[0-9]+$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (!Number.isFinite(t))
    throw new HttpError(
      400,
      'INVALID_REQUEST',
      `query parameter ${name} must be an RFC 3339 time or Unix milliseconds`,
    );
  return t;
}
