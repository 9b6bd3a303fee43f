// Leadership: the work that must run once per cluster (signing checkpoints, the anchor scheduler, the federation
// loop) runs on the node that holds the `leader` lease. Every node keeps trying to acquire it (a third of the TTL
// apart), so when the leader dies another takes over within about one TTL. A node counts itself leader only until
// its own clock says the lease could have lapsed (measured from before the request), minus a margin, so two nodes
// never both act as leader unless a clock runs more than that margin fast.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { LeaseGrant, LeaseStore } from '@vaultmesh/types';

/** The leader lease's name. */
export const LEADER_LEASE = 'leader';

/** What a node reports about leadership. */
export interface LeadershipStatus {
  /** This node's holder id. */
  readonly node: string;
  readonly leader: boolean;
  /** The fencing token of this node's grant (while it leads). */
  readonly token: number | null;
  /** The last error acquiring the lease (the database unreachable ...), if the last try failed. */
  readonly error: string | null;
}

export interface Leadership {
  /** Starts trying; resolves after the first attempt (so a sole node leads from the start). */
  start(): Promise<void>;
  stop(): Promise<void>;
  isLeader(): boolean;
  status(): LeadershipStatus;
}

/** A holder id unique to this process: host, pid and a random part. */
export function newHolderId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

export function createLeadership(opts: {
  leases: LeaseStore;
  ttlMs: number;
  holder?: string;
  now?: () => number;
  onChange?: (leader: boolean, grant: LeaseGrant | undefined) => void;
}): Leadership {
  const holder = opts.holder ?? newHolderId();
  const now = opts.now ?? Date.now;
  const margin = Math.max(100, Math.floor(opts.ttlMs / 5));
  let grant: LeaseGrant | undefined;
  let validUntil = 0;
  let error: string | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  let was = false;
  const isLeader = () => grant !== undefined && now() < validUntil;
  const changed = () => {
    const is = isLeader();
    if (is !== was) {
      was = is;
      opts.onChange?.(is, grant);
    }
  };
  const tryAcquire = async () => {
    const asked = now();
    try {
      const g = await opts.leases.acquire(LEADER_LEASE, holder, opts.ttlMs);
      grant = g;
      validUntil = g ? asked + opts.ttlMs - margin : 0;
      error = null;
    } catch (err) {
      error = (err as Error).message;
      // Keep what was granted until it could have lapsed: isLeader() turns false by the clock.
    }
    changed();
  };
  const loop = () => {
    running = tryAcquire().finally(() => {
      running = undefined;
      if (!stopped) {
        timer = setTimeout(loop, Math.max(50, Math.floor(opts.ttlMs / 3)));
        timer.unref?.();
      }
    });
  };
  return {
    async start() {
      if (timer || running || stopped) return;
      loop();
      await running;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running?.catch(() => undefined);
      if (grant && isLeader())
        await opts.leases.release(LEADER_LEASE, holder, grant.token).catch(() => false);
      grant = undefined;
      changed();
    },
    isLeader,
    status: () => ({
      node: holder,
      leader: isLeader(),
      token: isLeader() ? (grant?.token ?? null) : null,
      error,
    }),
  };
}

/** A LeaseStore in memory: one process, so it always grants (the SQLite node, tests). */
export function createMemoryLeaseStore(now: () => number = Date.now): LeaseStore {
  const leases = new Map<string, LeaseGrant>();
  return {
    async acquire(name, holder, ttlMs) {
      const cur = leases.get(name);
      if (cur && cur.holder !== holder && cur.expiresAt > now()) return undefined;
      const token = cur && cur.holder === holder && cur.expiresAt > now() ? cur.token : (cur?.token ?? 0) + 1;
      const g = { name, holder, token, expiresAt: now() + ttlMs };
      leases.set(name, g);
      return g;
    },
    async release(name, holder, token) {
      const cur = leases.get(name);
      if (!cur || cur.holder !== holder || cur.token !== token) return false;
      leases.set(name, { ...cur, expiresAt: now() });
      return true;
    },
    async current(name) {
      const cur = leases.get(name);
      return cur && cur.expiresAt > now() ? cur : undefined;
    },
  };
}
