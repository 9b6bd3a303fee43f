/**
 * Checks the columns stored beside a leaf (kind, tenant, time in Unix ms) against the leaf's canonical
 * receipt bytes without parsing them. Returns the first field that disagrees, or undefined.
 */
export declare function envelopeMismatch(
  bytes: Uint8Array,
  columns: { kind: string; tenant: string; time: number },
): 'kind' | 'tenant' | 'time' | undefined;
