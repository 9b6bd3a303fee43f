// The ControlStore contract: every driver must pass this suite unchanged.
import { describe, expect, it } from 'vitest';
import { StoreError, type ControlStore } from '@vaultmesh/types';

export function controlStoreContract(name: string, create: () => Promise<ControlStore>): void {
  describe(`ControlStore contract: ${name}`, () => {
    it('puts and gets documents with increasing versions', async () => {
      const s = await create();
      expect(await s.get('plans', 'p1')).toBeUndefined();
      const a = await s.put('plans', 'p1', { goal: 'deploy', n: 1 });
      expect(a).toMatchObject({ collection: 'plans', id: 'p1', version: 1, doc: { goal: 'deploy', n: 1 } });
      const b = await s.put('plans', 'p1', { goal: 'deploy', n: 2 });
      expect(b.version).toBe(2);
      expect((await s.get<{ n: number }>('plans', 'p1'))!.doc.n).toBe(2);
    });

    it('compare-and-swap: a stale expectedVersion fails with CONFLICT and writes nothing', async () => {
      const s = await create();
      await s.put('runs', 'r1', { state: 'pending' }, { expectedVersion: 0 });
      await expect(s.put('runs', 'r1', { state: 'x' }, { expectedVersion: 0 })).rejects.toBeInstanceOf(
        StoreError,
      );
      await expect(s.put('runs', 'r1', { state: 'x' }, { expectedVersion: 0 })).rejects.toMatchObject({
        evidence: { collection: 'runs', id: 'r1', expected: 0, found: 1 },
      });
      await expect(s.put('runs', 'r1', { state: 'x' }, { expectedVersion: 5 })).rejects.toMatchObject({
        code: 'CONFLICT',
      });
      const ok = await s.put('runs', 'r1', { state: 'running' }, { expectedVersion: 1 });
      expect(ok.version).toBe(2);
      expect((await s.get<{ state: string }>('runs', 'r1'))!.doc.state).toBe('running');
    });

    it('lists a collection by id prefix in id order, with a limit; collections are separate', async () => {
      const s = await create();
      for (const id of ['r1/s2', 'r1/s1', 'r2/s1', 'r1/s10']) await s.put('journal', id, { id });
      await s.put('plans', 'r1/s1', { other: true });
      expect((await s.list('journal', { prefix: 'r1/' })).map((d) => d.id)).toEqual([
        'r1/s1',
        'r1/s10',
        'r1/s2',
      ]);
      expect((await s.list('journal', { limit: 2 })).map((d) => d.id)).toEqual(['r1/s1', 'r1/s10']);
      expect(await s.list('nothing')).toEqual([]);
    });

    it('deletes documents', async () => {
      const s = await create();
      await s.put('approvals', 'a1', { used: false });
      expect(await s.delete('approvals', 'a1')).toBe(true);
      expect(await s.delete('approvals', 'a1')).toBe(false);
      expect(await s.get('approvals', 'a1')).toBeUndefined();
    });

    it('returns copies: mutating a returned document changes nothing stored', async () => {
      const s = await create();
      const d = await s.put('plans', 'p', { steps: [1, 2] });
      (d.doc as { steps: number[] }).steps.push(3);
      (await s.get<{ steps: number[] }>('plans', 'p'))!.doc.steps.push(4);
      expect((await s.get<{ steps: number[] }>('plans', 'p'))!.doc.steps).toEqual([1, 2]);
    });
  });
}
