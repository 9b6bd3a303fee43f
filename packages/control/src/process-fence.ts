// Step processes that outlive their executor. A shell step runs in its own process group, recorded in the journal
// (pid, group, the leader's start time, host and boot). After a crash the group may still be running; a resume
// finds it and fences it (stops the whole group) before the step may run again, so two runs of a step never
// overlap. Identity is checked before any signal: the same host and boot, and the same start time when the leader
// is still there, so a reused pid is never signalled.
import { readFileSync, readdirSync } from 'node:fs';
import { hostname } from 'node:os';

/** A step's process group, as the journal records it. */
export interface StepProcess {
  readonly pid: number;
  /** The process group id (= pid: the step's command leads its own group). */
  readonly pgid: number;
  readonly command: readonly string[];
  readonly host: string;
  /** /proc/sys/kernel/random/boot_id, when the system has it. */
  readonly bootId?: string;
  /** The leader's start time in clock ticks since boot (/proc/<pid>/stat field 22), when the system has it. */
  readonly startTicks?: string;
  readonly startedAt: string;
}

const readText = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/** This machine's boot id (Linux), or undefined. */
export function bootId(): string | undefined {
  return readText('/proc/sys/kernel/random/boot_id')?.trim() || undefined;
}

/** A process's start time in clock ticks since boot (Linux /proc/<pid>/stat field 22), or undefined. */
export function processStartTicks(pid: number): string | undefined {
  // Field 2 (comm) is in parentheses and may hold spaces: fields are counted after the last ')'.
  return statFields(pid)?.[19]; // field 22 is the 20th after comm
}

/** The record of a process group just started by this process. */
export function describeStepProcess(pid: number, command: readonly string[], now: number): StepProcess {
  const boot = bootId();
  const ticks = processStartTicks(pid);
  return {
    pid,
    pgid: pid,
    command: command.slice(0, 50).map((a) => a.slice(0, 500)),
    host: hostname(),
    ...(boot ? { bootId: boot } : {}),
    ...(ticks ? { startTicks: ticks } : {}),
    startedAt: new Date(now).toISOString(),
  };
}

/** The fields of /proc/<pid>/stat after comm: [state, ppid, pgrp, ...]. */
function statFields(pid: string | number): string[] | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  return stat ? stat.slice(stat.lastIndexOf(')') + 2).split(' ') : undefined;
}

/**
 * Whether the group has a live member. Where /proc exists, its members are counted there, leaving out zombies (a
 * killed member whose parent has not reaped it yet, as under a container's PID 1 that reaps nothing); elsewhere a
 * signal 0 to the group decides (EPERM: it exists but is not ours to signal).
 */
function groupExists(pgid: number): boolean {
  let probe: boolean;
  try {
    process.kill(-pgid, 0);
    probe = true;
  } catch (e) {
    probe = (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (!probe) return false;
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((n) => /^[0-9]+$/.test(n));
  } catch {
    return probe;
  }
  return entries.some((pid) => {
    const f = statFields(pid);
    return f !== undefined && f[2] === String(pgid) && f[0] !== 'Z' && f[0] !== 'X';
  });
}

/**
 * Whether the recorded group is still running here: same host and boot, the group has members, and its leader (if
 * still there) started when the record says. Another host's or boot's record is never ours to judge: undefined.
 */
export function stepProcessRunning(p: StepProcess): boolean | undefined {
  if (p.host !== hostname()) return undefined;
  const boot = bootId();
  if (p.bootId && boot && p.bootId !== boot) return false; // rebooted: nothing of it runs
  if (!Number.isInteger(p.pgid) || p.pgid <= 1) return false;
  if (!groupExists(p.pgid)) return false;
  const ticks = processStartTicks(p.pid);
  // The leader is there but started at another time: its pid was reused, and the group is someone else's.
  if (ticks !== undefined && p.startTicks !== undefined && ticks !== p.startTicks) return false;
  return true;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Outcome of fencing a group. */
export interface FenceResult {
  /** It was running when the fence began. */
  readonly wasRunning: boolean;
  /** It is gone now. */
  readonly stopped: boolean;
  readonly detail: string;
}

/** Stops a still-running step group: SIGTERM, then SIGKILL after graceMs; waits until it is gone (bounded). */
export async function fenceStepProcess(p: StepProcess, graceMs = 5000): Promise<FenceResult> {
  const running = stepProcessRunning(p);
  if (running === undefined)
    return {
      wasRunning: false,
      stopped: false,
      detail: `process group ${p.pgid} ran on host ${p.host}, not here: it cannot be checked from this node`,
    };
  if (!running) return { wasRunning: false, stopped: true, detail: `process group ${p.pgid} is not running` };
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-p.pgid, s);
    } catch {
      // gone already
    }
  };
  signal('SIGTERM');
  for (let waited = 0; waited < graceMs && groupExists(p.pgid); waited += 50) await sleep(50);
  if (groupExists(p.pgid)) {
    signal('SIGKILL');
    for (let waited = 0; waited < 5000 && groupExists(p.pgid); waited += 50) await sleep(50);
  }
  const stopped = !groupExists(p.pgid);
  return {
    wasRunning: true,
    stopped,
    detail: stopped
      ? `process group ${p.pgid} (${p.command.join(' ').slice(0, 200)}) was still running and was stopped`
      : `process group ${p.pgid} is still running after SIGKILL`,
  };
}
