// Leadership over a lease store: one leader at a time; a leader that can no longer renew stops leading by its own
// clock before the lease could pass to another; a stopped leader hands over at the next try of another node.
import { expect, it } from 'vitest';
import type { LeaseStore } from '@vaultmesh/types';
import { createLeadership, createMemoryLeaseStore } from '../src/cluster.ts';

it('one leader; a stopped leader hands over; an unreachable store ends leadership before the lease lapses', async () => {
  let now = 1_000_000;
  const clock = () => now;
  const store = createMemoryLeaseStore(clock);
  const a = createLeadership({ leases: store, ttlMs: 3000, holder: 'a', now: clock });
  const b = createLeadership({ leases: store, ttlMs: 3000, holder: 'b', now: clock });
  await a.start();
  await b.start();
  expect([a.isLeader(), b.isLeader()]).toEqual([true, false]);
  expect(a.status()).toMatchObject({ node: 'a', leader: true, token: 1 });
  await a.stop();
  expect(a.isLeader()).toBe(false);
  // b's loop tries again a third of the TTL later (real timers); the released lease is free now.
  const deadline = Date.now() + 5000;
  while (!b.isLeader() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  expect(b.status()).toMatchObject({ leader: true, token: 2 });
  await b.stop();

  // A store that fails: the leader keeps leading only until its grant could have lapsed, minus a margin.
  let failing = false;
  const flaky: LeaseStore = {
    acquire: (...args) =>
      failing ? Promise.reject(new Error('database unreachable')) : store.acquire(...args),
    release: (...args) => store.release(...args),
    current: (name) => store.current(name),
  };
  const c = createLeadership({ leases: flaky, ttlMs: 3000, holder: 'c', now: clock });
  await c.start();
  expect(c.isLeader()).toBe(true);
  failing = true;
  now += 2000;
  expect(c.isLeader()).toBe(true);
  now += 500; // 2.5 s after the last grant: within the TTL, but past TTL minus the margin (600 ms)
  expect(c.isLeader()).toBe(false);
  await c.stop();
});
