// Against a real PostgreSQL: set DATABASE_URL (CI starts one). Without it these tests are skipped, loudly.
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { createDatabase } from '../src/db.js';
import { createMetrics } from '../src/metrics.js';
import { migrate } from '../src/migrate.js';

const url = process.env['DATABASE_URL'];
if (!url)
  console.warn('SKIPPED: db.test.ts needs DATABASE_URL (a PostgreSQL to migrate and query)');

describe.skipIf(!url)('PostgreSQL', () => {
  const db = createDatabase(url ?? '');
  afterAll(() => db.close());

  it('migrates once, and again is a no-op', async () => {
    const first = await migrate(url!);
    const again = await migrate(url!);
    expect(first.length === 0 || first.includes('001_items.sql')).toBe(true);
    expect(again).toEqual([]);
  });

  it('stores and lists items through the API', async () => {
    await migrate(url!);
    const { app, readiness } = buildApp({ metrics: createMetrics(), db });
    readiness.ready = true;
    expect((await app.inject('/readyz')).statusCode).toBe(200);
    const created = await app.inject({
      method: 'POST',
      url: '/api/v1/items',
      payload: { name: 'a' },
    });
    expect(created.statusCode).toBe(201);
    const id = (created.json() as { id: number }).id;
    const list = (await app.inject('/api/v1/items')).json() as { items: { id: number }[] };
    expect(list.items.map((i) => i.id)).toContain(id);
    expect(
      (await app.inject({ method: 'POST', url: '/api/v1/items', payload: { name: '' } }))
        .statusCode,
    ).toBe(400);
    await app.close();
  });
});
