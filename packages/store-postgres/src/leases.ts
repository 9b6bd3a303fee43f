// PostgreSQL LeaseStore: one row per lease; acquiring is one statement that takes a lapsed (or own) lease and
// otherwise changes nothing, with expiry by the server's clock (`now()`), so nodes' clocks never decide who leads.
import type pg from 'pg';
import type { LeaseGrant, LeaseStore } from '@vaultmesh/types';
import { logError } from './log-storage.ts';

interface LeaseRow {
  name: string;
  holder: string;
  token: number;
  expires_ms: number;
}

const toGrant = (r: LeaseRow): LeaseGrant => ({
  name: r.name,
  holder: r.holder,
  token: r.token,
  expiresAt: r.expires_ms,
});

const RETURNING = `RETURNING name, holder, token, (extract(epoch FROM expires_at) * 1000)::bigint AS expires_ms`;

/** A LeaseStore over a pool whose search_path is the VaultMesh schema. */
export function createLeaseStore(pool: pg.Pool, url: string): LeaseStore {
  const q = async (what: string, sql: string, args: unknown[]) => {
    try {
      return (await pool.query<LeaseRow>(sql, args)).rows;
    } catch (err) {
      throw logError(err, url, what);
    }
  };
  return {
    async acquire(name, holder, ttlMs) {
      // A new holder (the lease lapsed) gets token + 1; the same holder renewing in time keeps its token.
      const rows = await q(
        'acquiring a lease',
        `INSERT INTO leases AS l (name, holder, token, expires_at)
         VALUES ($1, $2, 1, now() + $3 * interval '1 millisecond')
         ON CONFLICT (name) DO UPDATE SET
           holder = excluded.holder,
           token = CASE WHEN l.holder = excluded.holder AND l.expires_at > now() THEN l.token ELSE l.token + 1 END,
           expires_at = excluded.expires_at
         WHERE l.holder = excluded.holder OR l.expires_at <= now()
         ${RETURNING}`,
        [name, holder, ttlMs],
      );
      return rows[0] ? toGrant(rows[0]) : undefined;
    },
    async release(name, holder, token) {
      const rows = await q(
        'releasing a lease',
        `UPDATE leases SET expires_at = now() WHERE name = $1 AND holder = $2 AND token = $3 ${RETURNING}`,
        [name, holder, token],
      );
      return rows.length > 0;
    },
    async current(name) {
      const rows = await q(
        'reading a lease',
        `SELECT name, holder, token, (extract(epoch FROM expires_at) * 1000)::bigint AS expires_ms
         FROM leases WHERE name = $1 AND expires_at > now()`,
        [name],
      );
      return rows[0] ? toGrant(rows[0]) : undefined;
    },
  };
}
