// Connections: a pg Pool bound to one schema (search_path), BIGINT read as numbers (indexes and times stay far below
// 2^53), and every failure turned into a clear error that names the server but never its password.
import pg from 'pg';

/** How to reach the database. */
export interface PostgresOptions {
  /** postgres://user[:password]@host[:port]/database (libpq URL; `?sslmode=` etc. as pg understands them). */
  readonly url: string;
  /** The schema (namespace) holding VaultMesh's tables; created when missing. Default "vaultmesh". */
  readonly schema?: string;
  /** Most connections of this process (default 10). */
  readonly poolSize?: number;
  /** How long to wait for a connection (default 10 s). */
  readonly connectTimeoutMs?: number;
  /** Run pending schema migrations when opening (default true); false refuses an out-of-date schema instead. */
  readonly migrate?: boolean;
}

const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,62}$/;

/** The schema name, checked (it is interpolated into SQL as an identifier). */
export function schemaName(o: PostgresOptions): string {
  const s = o.schema ?? 'vaultmesh';
  if (!SCHEMA_RE.test(s)) throw new TypeError(`schema "${s}" must match ${SCHEMA_RE.source}`);
  return s;
}

/** The URL without its password (for messages and logs). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.href;
  } catch {
    return '(an invalid PostgreSQL URL)';
  }
}

/** user@host:port/database of a URL, for short messages. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.username ? `${decodeURIComponent(u.username)}@` : ''}${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return '(an invalid PostgreSQL URL)';
  }
}

const INT8 = 20;
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8 && format !== 'binary') return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  },
} as unknown as pg.CustomTypesConfig;

/** A pool whose connections use `schema` first. Connects lazily: errors surface on the first query. */
export function createPool(o: PostgresOptions): pg.Pool {
  const schema = schemaName(o);
  const pool = new pg.Pool({
    connectionString: o.url,
    max: o.poolSize ?? 10,
    connectionTimeoutMillis: o.connectTimeoutMs ?? 10_000,
    idleTimeoutMillis: 30_000,
    options: `-c search_path=${schema}`,
    application_name: 'vaultmesh',
    types,
  });
  // A connection the server drops (a restart, an admin's terminate) must not crash the process: an idle one is
  // reported on the pool, a checked-out one on the client; the query in progress, if any, still rejects with it,
  // and the next query connects again.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/** SQLSTATE classes and socket errors that mean "the database cannot be reached now" (retry later). */
export function isUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  if (/^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|EPIPE|EAI_AGAIN)$/.test(code)) return true;
  // 08: connection exception; 57P01..57P03: admin shutdown, crash shutdown, cannot connect now; 53300: too many
  // connections.
  if (/^(08...|57P0[1-3]|53300)$/.test(code)) return true;
  const msg = typeof e?.message === 'string' ? e.message : '';
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
    msg,
  );
}

/** One line about a pg failure, with any password of `url` removed. */
export function pgMessage(err: unknown, url: string): string {
  const e = err as { code?: unknown; message?: unknown };
  let msg = typeof e?.message === 'string' && e.message ? e.message : String(err);
  try {
    const pw = decodeURIComponent(new URL(url).password);
    if (pw) msg = msg.split(pw).join('***');
  } catch {
    // not a URL: nothing to scrub from it
  }
  const code = typeof e?.code === 'string' ? ` (${e.code})` : '';
  return `${msg.replace(/\s+/g, ' ').trim()}${code}`;
}
