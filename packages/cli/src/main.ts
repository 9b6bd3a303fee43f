// `vm` entry: a command table, one file per command, one error → exit code table.
import { Command, CommanderError } from 'commander';
import * as anchor from './commands/anchor.ts';
import * as audit from './commands/audit.ts';
import * as aurora from './commands/aurora.ts';
import * as autonomy from './commands/autonomy.ts';
import * as bench from './commands/bench.ts';
import * as callback from './commands/callback.ts';
import * as checkpoint from './commands/checkpoint.ts';
import * as demo from './commands/demo.ts';
import * as deploy from './commands/deploy.ts';
import * as evidence from './commands/evidence.ts';
import * as federate from './commands/federate.ts';
import * as genesis from './commands/genesis.ts';
import * as golive from './commands/golive.ts';
import * as init from './commands/init.ts';
import * as key from './commands/key.ts';
import * as mcp from './commands/mcp.ts';
import * as memory from './commands/memory.ts';
import * as policy from './commands/policy.ts';
import * as psi from './commands/psi.ts';
import * as spawn from './commands/spawn.ts';
import * as readiness from './commands/readiness.ts';
import * as run from './commands/run/index.ts';
import * as sim from './commands/sim.ts';
import * as storage from './commands/storage.ts';
import * as token from './commands/token.ts';
import * as tripwire from './commands/tripwire.ts';
import * as up from './commands/up.ts';
import * as verify from './commands/verify.ts';
import { EXIT, exitFor } from './exit.ts';

const COMMANDS = [
  up,
  init,
  storage,
  memory,
  audit,
  checkpoint,
  token,
  key,
  anchor,
  genesis,
  evidence,
  verify,
  run,
  callback,
  autonomy,
  tripwire,
  golive,
  readiness,
  policy,
  mcp,
  federate,
  deploy,
  aurora,
  psi,
  spawn,
  sim,
  demo,
  bench,
];

/** Builds the program (exported for tests and docs). */
export function buildProgram(): Command {
  const program = new Command('vm')
    .description(
      'VaultMesh: a verifiable control plane for infrastructure operations run by people and AI agents',
    )
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const c of COMMANDS) c.register(program);
  program.commands.forEach(function override(cmd: Command): void {
    cmd.exitOverride();
    cmd.commands.forEach(override);
  });
  return program;
}

/** Runs the CLI and returns the exit code (see docs/cli.md). */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (
        err.code === 'commander.helpDisplayed' ||
        err.code === 'commander.version' ||
        err.code === 'commander.help'
      )
        return EXIT.OK;
      return EXIT.USAGE;
    }
    const [code, message] = exitFor(err);
    process.stderr.write(`vm: ${message}\n`);
    return code;
  }
}
