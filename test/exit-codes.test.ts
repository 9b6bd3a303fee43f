// docs/cli.md documents how each package's error codes map to `vm` exit codes; this compares every documented
// sentence with the table the CLI uses (packages/cli/src/exit.ts), both ways: a code documented wrong, a code
// missing from the docs, or a code the docs name that no longer exists fails here.
import { EXIT_TABLES } from '@vaultmesh/cli';
import { describe, expect, it } from 'vitest';
import { documentedTable } from './helpers/doc-table.ts';

describe('exit codes: docs/cli.md and the CLI agree', () => {
  it.each(Object.keys(EXIT_TABLES))('%s', (errorClass) => {
    expect(documentedTable('cli.md', errorClass)).toEqual({
      ...EXIT_TABLES[errorClass as keyof typeof EXIT_TABLES],
    });
  });
});
