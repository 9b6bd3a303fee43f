// PostgreSQL through a connection pool (node-postgres): the readiness ping and the example items table.
import pg from 'pg';

export interface Item {
  readonly id: number;
  readonly name: string;
  readonly createdAt: string;
}

export interface Database {
  ping(): Promise<void>;
  listItems(limit?: number): Promise<Item[]>;
  addItem(name: string): Promise<Item>;
  close(): Promise<void>;
}

export function createDatabase(url: string): Database {
  const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 5_000 });
  // An idle client that loses its connection must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  const toItem = (r: { id: number; name: string; created_at: Date }): Item => ({
    id: r.id,
    name: r.name,
    createdAt: r.created_at.toISOString(),
  });
  return {
    async ping() {
      await pool.query('SELECT 1');
    },
    async listItems(limit = 100) {
      const r = await pool.query('SELECT id, name, created_at FROM items ORDER BY id LIMIT $1', [
        limit,
      ]);
      return r.rows.map(toItem);
    },
    async addItem(name) {
      const r = await pool.query(
        'INSERT INTO items (name) VALUES ($1) RETURNING id, name, created_at',
        [name],
      );
      return toItem(r.rows[0]);
    },
    close: () => pool.end(),
  };
}
