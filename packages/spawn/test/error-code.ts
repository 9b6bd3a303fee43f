import { SpawnError } from '../src/index.ts';

/** The SpawnError code `fn` throws (undefined when it returns); any other error is rethrown. */
export function errorCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof SpawnError) return err.code;
    throw err;
  }
  return undefined;
}
