/** A reader request: a range scan (verified when `verify` is given), a pragma, or close. */
export interface ReaderRequest {
  op: 'scan' | 'pragma' | 'close';
  start?: number;
  end?: number;
  verify?: { sizes: number[] };
  name?: string;
}

/**
 * Opens a read-only connection to the database at `path`; returns the handler of reader requests, which
 * answers with the reply and the buffers a thread may transfer.
 */
export declare function openReader(
  path: string,
  busyTimeoutMs: number,
): (m: ReaderRequest) => { reply: Record<string, unknown>; transfer: ArrayBuffer[] };
