// Small pure helpers of the executor: digests, bounded journal output, one-line messages, plan-state records.
import { canonicalize } from '@vaultmesh/ledger';
import { createHash } from 'node:crypto';
import { MAX_JOURNAL_OUTPUT_BYTES, type RunState } from './types.ts';

const sha256Hex = (s: string) => createHash('sha256').update(s).digest('hex');

export function digestOf(value: unknown): string {
  let text: string;
  try {
    text = canonicalize(value);
  } catch {
    text = JSON.stringify(value) ?? 'null';
  }
  return sha256Hex(text);
}

export function boundedOutput(output: unknown): unknown {
  const text = JSON.stringify(output) ?? 'null';
  if (Buffer.byteLength(text) <= MAX_JOURNAL_OUTPUT_BYTES) return JSON.parse(text) as unknown;
  return { truncated: true, bytes: Buffer.byteLength(text), sha256: sha256Hex(text) };
}

export const oneLine = (s: string, max = 500) => s.replace(/\s+/g, ' ').slice(0, max);

export const isRunActive = (s: { state: RunState; resumable?: boolean }) =>
  s.state === 'running' || (s.state === 'hold' && s.resumable === true);

export interface PlanStateDoc {
  planId: string;
  runId: string;
  state: RunState;
  resumable: boolean;
  updatedAt: string;
}
