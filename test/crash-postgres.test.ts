// Crash safety on PostgreSQL, in a fresh schema of the local server (test/helpers/crash-suite.ts says what is
// checked). Skipped loudly when no server answers.
import { afterAll } from 'vitest';
import {
  dropSchemas,
  freshSchema,
  postgresUnavailable,
  TEST_DATABASE_URL,
} from '@vaultmesh/store-postgres/testing';
import { crashSuite } from './helpers/crash-suite.ts';

const schemas: string[] = [];
afterAll(() => dropSchemas(schemas));
const pgUnavailable = await postgresUnavailable();
if (pgUnavailable) console.warn(`SKIPPED: the crash test on PostgreSQL: ${pgUnavailable}`);

crashSuite({
  name: 'PostgreSQL',
  storage: () => {
    const schema = freshSchema('vmcrash');
    schemas.push(schema);
    return { driver: 'postgres', url: TEST_DATABASE_URL, schema };
  },
  ...(pgUnavailable ? { skip: pgUnavailable } : {}),
});
