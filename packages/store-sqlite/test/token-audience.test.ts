// Token audiences in SQLite: stored and read back, and databases made before audiences existed gain the column on a
// writable open (their tokens stay valid everywhere), while a read-only open reads them as "every audience".
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { authenticate, createToken } from '@vaultmesh/auth';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteStorage } from '../src/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'vm-audience-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('token audiences in SQLite', () => {
  it('stores a token’s audiences and refuses it at an edge it was not issued for', async () => {
    const s = openSqliteStorage({ path: join(dir, 'a.db') });
    const { record, token } = await createToken(s, {
      name: 'bot',
      role: 'agent',
      tenant: 'acme',
      audience: ['mcp'],
    });
    expect(record.audience).toEqual(['mcp']);
    expect((await s.getToken(record.id))!.audience).toEqual(['mcp']);
    await expect(authenticate(s, token, Date.now(), 'mcp')).resolves.toMatchObject({ audience: ['mcp'] });
    await expect(authenticate(s, token, Date.now(), 'api')).rejects.toThrow(
      'token is not valid for this audience (api)',
    );
    const open = await createToken(s, { name: 'any', role: 'agent', tenant: 'acme' });
    expect((await s.getToken(open.record.id))!.audience).toBeNull();
    await expect(authenticate(s, open.token, Date.now(), 'a2a')).resolves.toBeTruthy();
    await expect(
      createToken(s, { name: 'x', role: 'agent', tenant: 'acme', audience: ['web'] }),
    ).rejects.toThrow(/audience must be a list of api, mcp, a2a/);
    await s.close();
  });

  it('migrates a database made before audiences: the column is added and old tokens stay valid everywhere', async () => {
    const path = join(dir, 'old.db');
    const s = openSqliteStorage({ path });
    const { record, token } = await createToken(s, { name: 'old', role: 'admin', tenant: '*' });
    await s.close();
    // Make it look like a 0.1.0 database from before audiences.
    const db = new Database(path);
    db.exec('ALTER TABLE tokens DROP COLUMN audience');
    db.close();
    const ro = openSqliteStorage({ path, readonly: true });
    expect((await ro.getToken(record.id))!.audience).toBeNull();
    await ro.close();
    const rw = openSqliteStorage({ path });
    await expect(authenticate(rw, token, Date.now(), 'api')).resolves.toMatchObject({ name: 'old' });
    const fresh = await createToken(rw, {
      name: 'new',
      role: 'agent',
      tenant: 'acme',
      audience: ['a2a', 'mcp'],
    });
    expect((await rw.getToken(fresh.record.id))!.audience).toEqual(['a2a', 'mcp']);
    await rw.close();
  });
});
