// Bad data always gets a report: a damaged schema page (SQLite cannot even prepare a statement) used to crash
// `vm audit verify --full` with an internal error and a stack trace.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { runVm } from './helpers/vm.ts';

const dir = mkdtempSync(join(tmpdir(), 'vm-audit-corrupt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('vm audit verify on a damaged database', () => {
  it('reports a corrupt schema page as a failed check (exit 1), not an internal error', async () => {
    const data = join(dir, 'data');
    expect((await runVm(['init', '-d', data])).code).toBe(0);
    for (const t of ['a', 'b']) expect((await runVm(['memory', 'record', t, '-d', data])).code).toBe(0);
    const db = join(data, 'ledger.db');
    const c = new Database(db);
    c.pragma('wal_checkpoint(TRUNCATE)');
    c.close();
    // Damage the end of page 1, where SQLite keeps the schema's cells.
    const bytes = readFileSync(db);
    const pageSize = bytes.readUInt16BE(16) === 1 ? 65536 : bytes.readUInt16BE(16);
    for (let i = pageSize - 400; i < pageSize - 300; i++) bytes[i]! ^= 0x5a;
    writeFileSync(db, bytes);
    const r = await runVm(['audit', 'verify', '--full', '-d', data]);
    expect(r.stderr).not.toMatch(/internal error|at .*\.ts:\d+/);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/SQLite cannot read the database/);
    expect(r.stdout).toMatch(/malformed|not a database/);
    const json = await runVm(['audit', 'verify', '--full', '-d', data, '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, problems: [{ field: 'database' }] });
  });
});
