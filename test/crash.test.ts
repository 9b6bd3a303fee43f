// Crash safety on the embedded SQLite ledger (test/helpers/crash-suite.ts says what is checked).
import { crashSuite } from './helpers/crash-suite.ts';

crashSuite({ name: 'SQLite', storage: () => undefined });
