import { describe, expect, it } from 'vitest';
import { PermanentError, decide } from '../src/retry.js';
import { parseJob } from '../src/handler.js';

const policy = { maxAttempts: 4, baseMs: 100, maxMs: 1_000 };

describe('retry policy', () => {
  it('backs off exponentially, within half to all of the ceiling', () => {
    expect(decide(policy, 1, new Error('x'), () => 0)).toEqual({ action: 'retry', delayMs: 50 });
    expect(decide(policy, 1, new Error('x'), () => 1)).toEqual({ action: 'retry', delayMs: 100 });
    expect(decide(policy, 3, new Error('x'), () => 1)).toEqual({ action: 'retry', delayMs: 400 });
  });

  it('never waits longer than the maximum', () => {
    const wide = { ...policy, maxAttempts: 50 };
    expect(decide(wide, 30, new Error('x'), () => 1)).toEqual({ action: 'retry', delayMs: 1_000 });
  });

  it('dead-letters at the attempt limit, naming the last error', () => {
    expect(decide(policy, 4, new Error('boom'))).toEqual({
      action: 'dead-letter',
      reason: 'failed 4 times; last: boom',
    });
  });

  it('dead-letters a permanent error at once', () => {
    expect(decide(policy, 1, new PermanentError('bad input'))).toEqual({
      action: 'dead-letter',
      reason: 'permanent: bad input',
    });
  });

  it('refuses malformed jobs as permanent', () => {
    expect(() => parseJob('not json')).toThrow(PermanentError);
    expect(() => parseJob('{"id":1}')).toThrow(PermanentError);
    expect(parseJob('{"id":"1","task":"t"}')).toEqual({ id: '1', task: 't' });
  });
});
