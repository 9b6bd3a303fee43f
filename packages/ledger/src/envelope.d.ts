/**
 * Checks the columns stored beside a leaf (kind, tenant, time in Unix ms) against the leaf's canonical
 * receipt bytes without parsing them. Returns the first field that disagrees, or undefined. The receipt
 * bytes are bytes[start, end) (default: all of them).
 */
export declare function envelopeMismatch(
  bytes: Uint8Array,
  columns: { kind: string; tenant: string; time: number },
  start?: number,
  end?: number,
): 'kind' | 'tenant' | 'time' | undefined;
