// vm golive: the go/no-go prerequisite checklist (check) and go/no-go polls (poll open|vote|close|status) on the
// local data directory. Polls live in the node's ControlStore; opening, votes and outcomes are `decision` receipts
// tagged golive in the local log. Local access to the data directory is admin access: voters name themselves.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { Command } from 'commander';
import { AttestError } from '@vaultmesh/attest';
import type {
  GoliveCheckConfig,
  GoliveCheckReport,
  GolivePoll,
  GolivePolls,
  Principal,
} from '@vaultmesh/control';
import { openNode, verifyNode } from '@vaultmesh/node';
import { dataDir, keyOptions, localActor, parseDuration, withData, withStorage } from '../context.ts';
import { CliError, EXIT } from '../exit.ts';
import { print, printJson, printTable } from '../output.ts';

/** @vaultmesh/control, loaded on first use so that other commands do not load the control plane. */
const lib = () => import('@vaultmesh/control');

export function register(program: Command): void {
  const golive = program
    .command('golive')
    .description('go/no-go: check the prerequisites of going live, and poll the roles that must agree');
  registerCheck(golive);
  const poll = golive
    .command('poll')
    .description('go/no-go polls: every role must vote go within the window, else the outcome is hold');
  registerOpen(poll);
  registerVote(poll);
  registerClose(poll);
  registerStatus(poll);
}

/** The kubeconfig to use: --kubeconfig, else the first file of $KUBECONFIG, else ~/.kube/config. */
function kubeconfigPath(flag: string | undefined): string {
  if (flag) return flag;
  const env = process.env.KUBECONFIG?.split(delimiter).find((p) => p !== '');
  return env ?? join(homedir(), '.kube', 'config');
}

/** Reads and validates a go-live config file (exit 3 when unreadable, 2 when invalid). */
async function readConfig(path: string): Promise<GoliveCheckConfig[]> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CliError(EXIT.NOT_FOUND, `cannot read go-live config ${path}: ${(e as Error).message}`);
  }
  return (await lib()).readGoliveConfig(text);
}

function printCheckReport(r: GoliveCheckReport): void {
  printTable(
    r.checks.map((c) => [c.id, c.ok ? 'PASS' : 'FAIL', `${c.durationMs} ms`, c.detail]),
    ['CHECK', 'RESULT', 'TIME', 'DETAIL'],
  );
  const failed = r.checks.filter((c) => !c.ok).length;
  print();
  print(
    failed === 0
      ? `go-live checks: all ${r.checks.length} passed`
      : `go-live checks: ${failed} of ${r.checks.length} failed`,
  );
}

function registerCheck(golive: Command): void {
  withData(
    golive
      .command('check')
      .description(
        'run the go-live prerequisite checks (default: ledger, database, key; a config adds prometheus, kubernetes, api); exit 1 when any fails',
      )
      .option('-c, --config <file>', 'checks to run, JSON or YAML: { checks: [{ id, ...params }] }')
      .option(
        '--kubeconfig <file>',
        'kubeconfig for the kubernetes check (default: $KUBECONFIG, else ~/.kube/config)',
      )
      .option('--json', 'machine-readable output'),
  ).action(async (o: { data?: string; config?: string; kubeconfig?: string; json?: boolean }) => {
    const m = await lib();
    const checks = o.config ? await readConfig(o.config) : m.DEFAULT_GOLIVE_CHECKS;
    const dir = dataDir(o);
    const report = await m.runGoliveChecks(checks, {
      // The quick verification (checkpoints, roots, consistency, unsealed tail); `vm audit verify --full` is the deep one.
      async verifyLedger() {
        const r = await verifyNode(dir);
        return {
          ok: r.ok,
          size: r.size,
          checkpointsChecked: r.checkpointsChecked,
          problemCount: r.problemCount,
          problems: r.problems.slice(0, 5).map((p) => p.message),
        };
      },
      probeDatabase: () => withStorage(dir, (s) => s.probe()),
      async keyStatus() {
        try {
          const node = await openNode(dir, keyOptions());
          try {
            return { unsealed: true, sealed: node.keySealed, keyName: node.key.signer.name };
          } finally {
            await node.close();
          }
        } catch (e) {
          if (e instanceof AttestError && e.code === 'KEY_PASSPHRASE')
            return { unsealed: false, sealed: true, detail: `the node key is sealed: ${e.message}` };
          throw e;
        }
      },
      kubeconfigPath: kubeconfigPath(o.kubeconfig),
    });
    if (o.json) printJson(report);
    else printCheckReport(report);
    if (!report.ok)
      throw new CliError(
        EXIT.FAILED,
        `go-live check failed: ${report.checks
          .filter((c) => !c.ok)
          .map((c) => c.id)
          .join(', ')}`,
      );
  });
}

/** Opens the node and hands the poll service (over its ControlStore and log) to `fn`, then closes it. */
async function withPolls<T>(o: { data?: string }, fn: (polls: GolivePolls) => Promise<T>): Promise<T> {
  const m = await lib();
  const node = await openNode(dataDir(o), keyOptions());
  try {
    return await fn(m.createGolivePolls({ store: node.storage.controlStore(), receipts: node.log }));
  } finally {
    await node.close();
  }
}

const iso = (ms: number | undefined) => (ms === undefined ? '-' : new Date(ms).toISOString());

/** The poll as shown by --json: times as RFC 3339. */
function pollJson(p: GolivePoll) {
  return {
    ...p,
    openedAt: iso(p.openedAt),
    closesAt: iso(p.closesAt),
    ...(p.closedAt !== undefined ? { closedAt: iso(p.closedAt) } : {}),
    votes: Object.fromEntries(Object.entries(p.votes).map(([k, v]) => [k, { ...v, at: iso(v.at) }])),
  };
}

function printPoll(p: GolivePoll): void {
  print(`poll ${p.id}: ${p.subject}`);
  print(`  tenant ${p.tenant}; opened ${iso(p.openedAt)} by ${p.openedBy}; votes close ${iso(p.closesAt)}`);
  print(
    `  state ${p.state}${p.outcome ? `, outcome ${p.outcome}` : ''}${p.outcomeReceipt ? ` (receipt ${p.outcomeReceipt.index})` : ''}`,
  );
  printTable(
    p.roles.map((role) => {
      const v = p.votes[role];
      return v
        ? [role, v.vote, v.voter.id, v.receipt ? `receipt ${v.receipt.index}` : 'not recorded', v.reason]
        : [role, '-', '-', '-', ''];
    }),
    ['ROLE', 'VOTE', 'VOTER', 'RECORDED', 'REASON'],
  );
  for (const r of p.reasons ?? []) print(`  ${r}`);
}

function registerOpen(poll: Command): void {
  withData(
    poll
      .command('open')
      .description('open a go/no-go poll (recorded as a decision receipt tagged golive)')
      .requiredOption(
        '--roles <list>',
        'comma-separated roles that must all vote go, e.g. sre,security,product',
      )
      .option('--window <duration>', 'how long votes are accepted, e.g. 30m, 2h, 1d', '30m')
      .option('--subject <text>', 'what is decided', 'promote from dry-run to live mode')
      .option('--id <id>', 'poll id (default: golive-<random>)')
      .option(
        '-t, --tenant <tenant>',
        'tenant of the poll: a tenant-wide poll, or "system" for the node-wide promotion poll',
        'system',
      )
      .option('--plan <id>', 'bind the poll to one plan (with --hash): its go lets that plan hash run live')
      .option('--hash <planHash>', 'the plan hash the poll decides on')
      .option('--json', 'machine-readable output'),
  ).action(
    async (o: {
      data?: string;
      roles: string;
      window: string;
      subject: string;
      id?: string;
      tenant: string;
      plan?: string;
      hash?: string;
      json?: boolean;
    }) => {
      if ((o.plan === undefined) !== (o.hash === undefined))
        throw new CliError(EXIT.USAGE, 'give --plan and --hash together (a poll on one plan hash)');
      const roles = o.roles
        .split(',')
        .map((r) => r.trim())
        .filter(Boolean);
      const windowMs = parseDuration(o.window);
      const p = await withPolls(o, (polls) =>
        polls.openPoll({
          id: o.id,
          roles,
          windowMs,
          subject: o.subject,
          tenant: o.tenant,
          ...(o.plan !== undefined && o.hash !== undefined
            ? { plan: { planId: o.plan, planHash: o.hash } }
            : {}),
          openedBy: localActor(),
        }),
      );
      if (o.json) printJson(pollJson(p));
      else
        print(
          `poll ${p.id} open: ${p.roles.join(', ')} must vote go by ${iso(p.closesAt)} (receipt ${p.openReceipt.index})`,
        );
    },
  );
}

function registerVote(poll: Command): void {
  withData(
    poll
      .command('vote')
      .description(
        "cast one role's vote (once per role and one per voter, only while the window is open; recorded as a receipt)",
      )
      .requiredOption('--poll <id>', 'poll id')
      .requiredOption('--role <role>', 'the role voting')
      .requiredOption('--vote <vote>', 'go or no-go')
      .requiredOption('--reason <text>', 'why (goes into the receipt)')
      .option('--voter <id>', 'who votes (default: cli:<OS user>)')
      .option('--json', 'machine-readable output'),
  ).action(
    async (o: {
      data?: string;
      poll: string;
      role: string;
      vote: string;
      reason: string;
      voter?: string;
      json?: boolean;
    }) => {
      const voter: Principal = { type: 'person', id: o.voter ?? localActor(), role: 'admin', tenant: '*' };
      const p = await withPolls(o, (polls) =>
        polls.vote({ pollId: o.poll, role: o.role, voter, vote: o.vote as 'go', reason: o.reason }),
      );
      const v = p.votes[o.role]!;
      if (o.json) printJson(pollJson(p));
      else print(`${o.role} votes ${v.vote} in poll ${p.id} (receipt ${v.receipt?.index ?? '-'})`);
    },
  );
}

function registerClose(poll: Command): void {
  withData(
    poll
      .command('close')
      .description(
        'close a poll and record its outcome: go only if every role voted go in time; exit 1 on hold',
      )
      .requiredOption('--poll <id>', 'poll id')
      .option('--json', 'machine-readable output'),
  ).action(async (o: { data?: string; poll: string; json?: boolean }) => {
    const r = await withPolls(o, (polls) => polls.closePoll(o.poll, { closedBy: localActor() }));
    if (o.json) printJson({ outcome: r.outcome, reasons: r.reasons, poll: pollJson(r.poll) });
    else {
      print(`poll ${r.poll.id}: ${r.outcome} (receipt ${r.poll.outcomeReceipt?.index ?? '-'})`);
      for (const reason of r.reasons) print(`  ${reason}`);
    }
    if (r.outcome !== 'go')
      throw new CliError(EXIT.FAILED, `poll ${r.poll.id} holds: ${r.reasons.join('; ')}`);
  });
}

function registerStatus(poll: Command): void {
  withData(
    poll
      .command('status')
      .description('show one poll, or every poll and whether promotion to live mode is allowed')
      .option('--poll <id>', 'poll id')
      .option('--json', 'machine-readable output'),
  ).action(async (o: { data?: string; poll?: string; json?: boolean }) => {
    const m = await lib();
    const node = await openNode(dataDir(o), keyOptions());
    try {
      const store = node.storage.controlStore();
      const polls = m.createGolivePolls({ store, receipts: node.log });
      if (o.poll) {
        const p = await polls.getPoll(o.poll);
        if (o.json) printJson(pollJson(p));
        else printPoll(p);
        return;
      }
      const all = await polls.listPolls();
      const allowed = await m.promotionAllowed(store);
      const latest = await m.latestClosedPoll(store);
      if (o.json) {
        printJson({ promotionAllowed: allowed, latestClosed: latest?.id ?? null, polls: all.map(pollJson) });
        return;
      }
      printTable(
        all.map((p) => [
          p.id,
          p.state,
          p.outcome ?? '-',
          `${Object.values(p.votes).filter((v) => v.receipt).length}/${p.roles.length}`,
          iso(p.closesAt),
          p.subject,
        ]),
        ['POLL', 'STATE', 'OUTCOME', 'VOTES', 'CLOSES', 'SUBJECT'],
      );
      print();
      print(
        `promotion to live mode: ${allowed ? 'allowed' : 'not allowed'}${latest ? ` (latest closed poll ${latest.id}: ${latest.outcome})` : ' (no closed poll)'}`,
      );
    } finally {
      await node.close();
    }
  });
}
