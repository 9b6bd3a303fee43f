// C2SP tlog-checkpoint: "<origin>\n<size>\n<base64 root>\n[extension lines]" as a signed note body.
import { fromBase64, toBase64 } from './bytes.ts';
import { LedgerError } from './errors.ts';

/** A parsed checkpoint body. */
export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly root: Uint8Array;
  readonly extensions: readonly string[];
}

/** Formats checkpoint note text (newline-terminated). */
export function formatCheckpoint(cp: Checkpoint): string {
  if (cp.origin.length === 0 || /[\n\r]/.test(cp.origin))
    throw new LedgerError('CHECKPOINT_MALFORMED', 'bad origin');
  if (!Number.isSafeInteger(cp.size) || cp.size < 0)
    throw new LedgerError('CHECKPOINT_MALFORMED', 'bad size');
  if (cp.root.length !== 32) throw new LedgerError('CHECKPOINT_MALFORMED', 'root must be 32 bytes');
  let out = `${cp.origin}\n${cp.size}\n${toBase64(cp.root)}\n`;
  for (const e of cp.extensions) {
    if (e.length === 0 || e.includes('\n'))
      throw new LedgerError('CHECKPOINT_MALFORMED', 'bad extension line');
    out += e + '\n';
  }
  return out;
}

/** Parses checkpoint note text (attacker-controlled). */
export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith('\n'))
    throw new LedgerError('CHECKPOINT_MALFORMED', 'checkpoint must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3)
    throw new LedgerError('CHECKPOINT_MALFORMED', 'checkpoint needs origin, size and root');
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string, ...string[]];
  if (origin.length === 0) throw new LedgerError('CHECKPOINT_MALFORMED', 'empty origin');
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText))
    throw new LedgerError('CHECKPOINT_MALFORMED', 'size is not a decimal');
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) throw new LedgerError('CHECKPOINT_MALFORMED', 'size too large');
  let root: Uint8Array;
  try {
    root = fromBase64(rootText);
  } catch {
    throw new LedgerError('CHECKPOINT_MALFORMED', 'root is not base64');
  }
  if (root.length !== 32) throw new LedgerError('CHECKPOINT_MALFORMED', 'root must be 32 bytes');
  if (extensions.some((e) => e.length === 0))
    throw new LedgerError('CHECKPOINT_MALFORMED', 'empty extension line');
  return { origin, size, root, extensions };
}
