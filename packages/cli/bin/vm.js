#!/usr/bin/env node
// The `vm` binary: runs the TypeScript sources through tsx's loader (no build step).
import { register } from 'tsx/esm/api';

// A reader that stops early (`vm memory list | head`) closes the pipe: stop quietly, as Unix tools do.
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });

register();
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv);
