// The storage contract: every LogStorage driver must pass this suite unchanged.
import { describe, expect, it } from 'vitest';
import { LogError, TILE_BYTES, type LogStorage, type StoredEntry, type StoredTile } from '../index.ts';

export interface DriverFactory {
  /** A fresh, empty storage. */
  create(): Promise<LogStorage>;
  /** Reopens the same underlying data (drivers that persist), or undefined. */
  reopen?: (s: LogStorage) => Promise<LogStorage>;
}

const enc = new TextEncoder();
function entry(index: number, kind = 'decision', tenant = 'default', time = 1_000 + index): StoredEntry {
  const bytes = enc.encode(`{"n":${index},"kind":"${kind}","tenant":"${tenant}"}`);
  return { index, leafHash: new Uint8Array(32).fill(index % 256), bytes, kind, tenant, time };
}
function tile(level: number, index: number, width: number, fill = width): StoredTile {
  return { level, index, width, data: new Uint8Array(TILE_BYTES).fill(fill % 256) };
}
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => entry(a + i));

export function storageContract(name: string, factory: DriverFactory): void {
  describe(`LogStorage contract: ${name}`, () => {
    it('starts empty', async () => {
      const s = await factory.create();
      expect(await s.size()).toBe(0);
      expect(await s.getEntry(0)).toBeUndefined();
      expect(await s.getCheckpoint()).toBeUndefined();
      expect(await s.listCheckpoints()).toEqual([]);
      await s.close();
    });

    it('commits entries and tiles atomically and returns identical bytes', async () => {
      const s = await factory.create();
      await s.commit({ expectedSize: 0, entries: range(0, 10), tiles: [tile(0, 0, 10)] });
      expect(await s.size()).toBe(10);
      const e = await s.getEntry(3);
      expect(e).toEqual(entry(3));
      expect((await s.getEntries(2, 5)).map((x) => x.index)).toEqual([2, 3, 4]);
      expect((await s.getEntries(8, 20)).map((x) => x.index)).toEqual([8, 9]);
      expect(await s.getTile(0, 0)).toEqual(tile(0, 0, 10));
      expect(await s.getTile(1, 0)).toBeUndefined();
      await s.close();
    });

    it('rejects a commit whose expected size is stale with CONFLICT and writes nothing', async () => {
      const s = await factory.create();
      await s.commit({ expectedSize: 0, entries: range(0, 3), tiles: [tile(0, 0, 3)] });
      const err = await s
        .commit({ expectedSize: 0, entries: range(0, 2), tiles: [tile(0, 0, 2)] })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LogError);
      expect((err as LogError).code).toBe('CONFLICT');
      expect(await s.size()).toBe(3);
      expect((await s.getTile(0, 0))!.width).toBe(3);
      await s.close();
    });

    it('rejects a commit whose expected tail leaf differs with CONFLICT (another writer landed first)', async () => {
      const s = await factory.create();
      await s.commit({ expectedSize: 0, entries: range(0, 3), tiles: [] });
      const wrongTail = new Uint8Array(32).fill(99);
      await expect(
        s.commit({ expectedSize: 3, expectedTail: wrongTail, entries: range(3, 4), tiles: [] }),
      ).rejects.toMatchObject({ code: 'CONFLICT' });
      await s.commit({ expectedSize: 3, expectedTail: entry(2).leafHash, entries: range(3, 4), tiles: [] });
      expect(await s.size()).toBe(4);
      await s.close();
    });

    it('rejects out-of-sequence entries and shrinking tiles, leaving no partial batch', async () => {
      const s = await factory.create();
      await s.commit({ expectedSize: 0, entries: range(0, 5), tiles: [tile(0, 0, 5)] });
      await expect(s.commit({ expectedSize: 5, entries: [entry(7)], tiles: [] })).rejects.toThrow(/sequence/);
      await expect(
        s.commit({ expectedSize: 5, entries: range(5, 7), tiles: [tile(0, 0, 4)] }),
      ).rejects.toThrow(/shrink/);
      expect(await s.size()).toBe(5);
      expect(await s.getEntry(5)).toBeUndefined();
      expect((await s.getTile(0, 0))!.width).toBe(5);
      await s.close();
    });

    it('lists entries with kind, tenant, time, cursor, order, text and limit filters', async () => {
      const s = await factory.create();
      const es = [
        entry(0, 'decision', 'a'),
        entry(1, 'deploy', 'b'),
        entry(2, 'decision', 'b'),
        entry(3, 'plan', 'a'),
        entry(4, 'decision', 'c'),
      ];
      await s.commit({ expectedSize: 0, entries: es, tiles: [] });
      const idx = (xs: StoredEntry[]) => xs.map((x) => x.index);
      expect(idx(await s.listEntries({ limit: 10 }))).toEqual([0, 1, 2, 3, 4]);
      expect(idx(await s.listEntries({ limit: 2 }))).toEqual([0, 1]);
      expect(idx(await s.listEntries({ kind: 'decision', limit: 10 }))).toEqual([0, 2, 4]);
      expect(idx(await s.listEntries({ tenants: ['a', 'c'], limit: 10 }))).toEqual([0, 3, 4]);
      expect(idx(await s.listEntries({ tenants: [], limit: 10 }))).toEqual([]);
      expect(idx(await s.listEntries({ fromTime: 1001, toTime: 1003, limit: 10 }))).toEqual([1, 2, 3]);
      expect(idx(await s.listEntries({ after: 1, limit: 2 }))).toEqual([2, 3]);
      expect(idx(await s.listEntries({ order: 'desc', limit: 2 }))).toEqual([4, 3]);
      expect(idx(await s.listEntries({ order: 'desc', before: 3, limit: 10 }))).toEqual([2, 1, 0]);
      expect(idx(await s.listEntries({ text: '"n":3', limit: 10 }))).toEqual([3]);
      expect(idx(await s.listEntries({ kind: 'decision', tenants: ['b'], limit: 10 }))).toEqual([2]);
      await s.close();
    });

    it('keeps the first checkpoint stored for a size and returns the largest as latest', async () => {
      const s = await factory.create();
      await s.commit({ expectedSize: 0, entries: range(0, 4), tiles: [] });
      const cp = (size: number, note: string) => ({
        size,
        root: new Uint8Array(32).fill(size),
        note,
        createdAt: size,
      });
      await s.putCheckpoint(cp(2, 'first'));
      await s.putCheckpoint(cp(2, 'second'));
      await s.putCheckpoint(cp(4, 'four'));
      await s.putCheckpoint(cp(1, 'one'));
      expect((await s.getCheckpoint(2))!.note).toBe('first');
      expect((await s.getCheckpoint())!.size).toBe(4);
      expect((await s.listCheckpoints()).map((c) => c.size)).toEqual([1, 2, 4]);
      expect(await s.getCheckpoint(3)).toBeUndefined();
      await s.close();
    });

    it('stores anchors once per (size, authority), keeps the first, and lists them in order', async () => {
      const s = await factory.create();
      expect(await s.listAnchors()).toEqual([]);
      const a = (size: number, authority: string, fill: number) => ({
        size,
        authority,
        type: 'rfc3161',
        proof: new Uint8Array(40).fill(fill),
        anchoredAt: 1_000 + fill,
        createdAt: 2_000 + fill,
      });
      await s.putAnchor(a(4, 'tsa:b', 1));
      await s.putAnchor(a(4, 'tsa:a', 2));
      await s.putAnchor(a(2, 'tsa:a', 3));
      await s.putAnchor(a(4, 'tsa:b', 9));
      const all = await s.listAnchors();
      expect(all.map((x) => `${x.size}/${x.authority}`)).toEqual(['2/tsa:a', '4/tsa:a', '4/tsa:b']);
      expect(all[2]).toEqual(a(4, 'tsa:b', 1));
      expect((await s.listAnchors(4)).map((x) => x.authority)).toEqual(['tsa:a', 'tsa:b']);
      expect(await s.listAnchors(3)).toEqual([]);
      if (factory.reopen) {
        const r = await factory.reopen(s);
        expect(await r.listAnchors()).toEqual(all);
        await r.close();
      } else await s.close();
    });

    it('stores metadata and lists tiles in (level, index) order', async () => {
      const s = await factory.create();
      await s.setMeta('origin', 'x');
      await s.setMeta('origin', 'y');
      expect(await s.getMeta('origin')).toBe('y');
      expect(await s.getMeta('missing')).toBeUndefined();
      await s.commit({
        expectedSize: 0,
        entries: [],
        tiles: [tile(1, 0, 1), tile(0, 1, 256), tile(0, 0, 256)],
      });
      const seen: string[] = [];
      for await (const t of s.listTiles()) seen.push(`${t.level}/${t.index}/${t.width}`);
      expect(seen).toEqual(['0/0/256', '0/1/256', '1/0/1']);
      await s.close();
    });

    it('refuses use after close', async () => {
      const s = await factory.create();
      await s.close();
      await expect(s.size()).rejects.toBeInstanceOf(LogError);
    });

    if (factory.reopen) {
      const reopen = factory.reopen;
      it('keeps every committed entry, tile, checkpoint and meta across reopen', async () => {
        const s = await factory.create();
        await s.commit({ expectedSize: 0, entries: range(0, 300), tiles: [tile(0, 0, 256), tile(0, 1, 44)] });
        await s.putCheckpoint({ size: 300, root: new Uint8Array(32).fill(1), note: 'n', createdAt: 5 });
        await s.setMeta('k', 'v');
        const r = await reopen(s);
        expect(await r.size()).toBe(300);
        expect(await r.getEntry(299)).toEqual(entry(299));
        expect((await r.getTile(0, 1))!.width).toBe(44);
        expect((await r.getCheckpoint())!.size).toBe(300);
        expect(await r.getMeta('k')).toBe('v');
        await r.close();
      });
    }
  });
}
