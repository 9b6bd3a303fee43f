// The RFC 3161 authority for the anchor scheduler: timestamps a checkpoint's signed note bytes at one TSA.
import { requestTimestamp, type TsaClientOptions } from './timestamp.ts';

/** An anchor authority (structurally the `Anchor` port of @vaultmesh/log) backed by one RFC 3161 TSA. */
export interface TsaAnchor {
  readonly name: string;
  readonly type: 'rfc3161';
  anchor(cp: { readonly note: string }): Promise<{
    proof: Uint8Array;
    anchoredAt: number;
    details: Record<string, string>;
  }>;
}

/** Creates the authority; every token it returns has been fully validated (imprint, nonce, policy, chain). */
export function createTsaAnchor(opts: TsaClientOptions): TsaAnchor {
  return {
    name: opts.name,
    type: 'rfc3161',
    async anchor(cp) {
      const { token, info } = await requestTimestamp(opts, new TextEncoder().encode(cp.note));
      return {
        proof: token,
        anchoredAt: info.genTime.getTime(),
        details: { serialNumber: info.serialNumber, policy: info.policy, tsa: info.tsaSubject.slice(0, 400) },
      };
    },
  };
}
