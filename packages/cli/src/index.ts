// @vaultmesh/cli: `vm` as a library: the program and its main(argv) (for in-process tests), the exit codes and the
// per-package error → exit-code tables docs/cli.md documents, and the one-line rendering of run events.
export { buildProgram, main } from './main.ts';
export { EXIT, EXIT_TABLES } from './exit.ts';
export { eventLine } from './commands/mcp.ts';
