// docs/api.md documents how each error class's codes map to HTTP statuses, and docs/interop.md the A2A task state of
// a failed call; this compares every documented sentence with the tables the edges use (STATUS_TABLES,
// A2A_TASK_STATES), both ways: a code documented wrong, a code missing from the docs, or a code the docs name that no
// longer exists fails here.
import { STATUS_TABLES } from '@vaultmesh/api';
import { A2A_TASK_STATES } from '@vaultmesh/interop/core';
import { describe, expect, it } from 'vitest';
import { documentedTable } from './helpers/doc-table.ts';

describe('HTTP statuses: docs/api.md and the REST edge agree', () => {
  it.each(Object.keys(STATUS_TABLES))('%s', (errorClass) => {
    expect(documentedTable('api.md', errorClass)).toEqual({
      ...STATUS_TABLES[errorClass as keyof typeof STATUS_TABLES],
    });
  });
});

describe('A2A task states: docs/interop.md and the JSON-RPC edge agree', () => {
  it('InteropError', () => {
    expect(documentedTable('interop.md', 'InteropError')).toEqual({ ...A2A_TASK_STATES });
  });
});
