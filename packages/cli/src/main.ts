// `vm` entry: a command table, one file per command, one error → exit code table.
import { Command, CommanderError } from 'commander';
import * as audit from './commands/audit.ts';
import * as bench from './commands/bench.ts';
import * as checkpoint from './commands/checkpoint.ts';
import * as init from './commands/init.ts';
import * as memory from './commands/memory.ts';
import * as token from './commands/token.ts';
import * as up from './commands/up.ts';
import { EXIT, exitFor } from './exit.ts';

const COMMANDS = [up, init, memory, audit, checkpoint, token, bench];

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
