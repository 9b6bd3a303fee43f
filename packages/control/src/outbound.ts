// Where steps may send HTTP requests: a destination allow-list per tenant, and addresses no step may reach
// (link-local and cloud metadata by default). Every address a host name resolves to is checked when the
// connection is made (so DNS rebinding cannot slip past a check made earlier), and IP literals before.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { Agent, fetch as undiciFetch } from 'undici';

/** Addresses no step reaches unless the operator changes `deny`: link-local (metadata lives there) and metadata. */
export const DEFAULT_OUTBOUND_DENY: readonly string[] = [
  '169.254.0.0/16', // IPv4 link-local, incl. 169.254.169.254 (AWS, GCP, Azure, OpenStack metadata)
  'fe80::/10', // IPv6 link-local
  'fd00:ec2::254/128', // AWS metadata over IPv6
  '100.100.100.200/32', // Alibaba Cloud metadata
  '0.0.0.0/8', // "this network": reaches local services on some systems
  'metadata.google.internal',
  'metadata.goog',
  'metadata',
  'instance-data',
];

/** Outbound rules: per-tenant allow-lists ("*" applies to every tenant) and the deny-list. */
export interface OutboundRules {
  /**
   * Tenant → allowed destinations: host names (`api.acme.com`), wildcards (`*.acme.com`), IP addresses or CIDRs
   * (`10.0.0.0/8`). A tenant with no list here (and no "*" list) may reach any destination not denied.
   */
  readonly allow?: Readonly<Record<string, readonly string[]>>;
  /** Host names and CIDRs no step reaches, whatever the allow-list says; default DEFAULT_OUTBOUND_DENY. */
  readonly deny?: readonly string[];
}

/** Checks and performs a tenant's outbound requests. */
export interface OutboundGuard {
  /** Rejects (plain Error, one line, naming the rule) when `tenant` may not reach `url`'s host. */
  check(url: string | URL, tenant: string): Promise<void>;
  /** A fetch for `tenant`: the URL is checked first, and every address it connects to when connecting. */
  fetchFor(tenant: string): typeof fetch;
}

interface Matcher {
  readonly hosts: Set<string>;
  readonly suffixes: string[];
  readonly blocks: BlockList;
  hasBlocks: boolean;
}

/** An IPv4-mapped IPv6 address as its IPv4 form; other addresses as they are, without brackets. */
function plainAddress(a: string): string {
  const s = a.replace(/^\[|\]$/g, '').toLowerCase();
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  return m ? m[1]! : s;
}

function matcher(entries: readonly string[], what: string): Matcher {
  const m: Matcher = { hosts: new Set(), suffixes: [], blocks: new BlockList(), hasBlocks: false };
  for (const raw of entries) {
    const e = raw.trim().toLowerCase();
    const [addr, bits] = e.split('/');
    const family = isIP(plainAddress(addr ?? ''));
    if (family) {
      const prefix = bits === undefined ? (family === 4 ? 32 : 128) : Number(bits);
      if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128))
        throw new Error(`${what}: invalid CIDR "${raw}"`);
      m.blocks.addSubnet(plainAddress(addr!), prefix, family === 4 ? 'ipv4' : 'ipv6');
      m.hasBlocks = true;
    } else if (/^\*\.[a-z0-9.-]+$/.test(e)) m.suffixes.push(e.slice(1));
    else if (/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(e)) m.hosts.add(e);
    else throw new Error(`${what}: "${raw}" is neither a host name, a *.wildcard, an IP address nor a CIDR`);
  }
  return m;
}

const hostMatches = (m: Matcher, host: string) =>
  m.hosts.has(host) || m.suffixes.some((s) => host.endsWith(s) && host.length > s.length);
const addressMatches = (m: Matcher, address: string) => {
  if (!m.hasBlocks) return false;
  const a = plainAddress(address);
  const family = isIP(a);
  return family !== 0 && m.blocks.check(a, family === 4 ? 'ipv4' : 'ipv6');
};

/** Creates the guard; throws a plain Error naming a malformed entry. */
export function createOutboundGuard(rules: OutboundRules = {}): OutboundGuard {
  const deny = matcher(rules.deny ?? DEFAULT_OUTBOUND_DENY, 'outbound deny');
  const allow = new Map<string, Matcher>();
  for (const [tenant, list] of Object.entries(rules.allow ?? {}))
    allow.set(tenant, matcher(list, `outbound allow for ${tenant}`));

  const listsFor = (tenant: string) =>
    [allow.get(tenant), allow.get('*')].filter((m): m is Matcher => m !== undefined);

  /** Why `host` (a name) may not be reached by `tenant`, or undefined. */
  const hostRefusal = (host: string, tenant: string): string | undefined => {
    if (hostMatches(deny, host)) return `destination ${host} is denied to every step (control.outbound.deny)`;
    const lists = listsFor(tenant);
    if (lists.length === 0 || isIP(host)) return undefined;
    // A named host passes on its name, or later on every address it resolves to.
    if (lists.some((l) => hostMatches(l, host))) return undefined;
    if (lists.some((l) => l.hasBlocks)) return undefined;
    return `destination ${host} is not on tenant ${tenant}'s outbound allow-list (control.outbound.allow)`;
  };

  /** Why `address` (reached for `host`) may not be used by `tenant`, or undefined. */
  const addressRefusal = (address: string, host: string, tenant: string): string | undefined => {
    if (addressMatches(deny, address))
      return `destination ${host} (${plainAddress(address)}) is denied to every step (control.outbound.deny)`;
    const lists = listsFor(tenant);
    if (lists.length === 0) return undefined;
    if (!isIP(host) && lists.some((l) => hostMatches(l, host))) return undefined;
    if (lists.some((l) => addressMatches(l, address))) return undefined;
    return `destination ${host} (${plainAddress(address)}) is not on tenant ${tenant}'s outbound allow-list (control.outbound.allow)`;
  };

  const parse = (url: string | URL): URL => {
    const u = typeof url === 'string' ? new URL(url) : url;
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`URL must be http or https`);
    return u;
  };
  const hostOf = (u: URL) => plainAddress(u.hostname).replace(/\.$/, '');

  const checkUrl = (u: URL, tenant: string) => {
    const host = hostOf(u);
    const why = isIP(host) ? addressRefusal(host, host, tenant) : hostRefusal(host, tenant);
    if (why) throw new Error(why);
  };

  const resolveAll = (host: string) =>
    new Promise<LookupAddress[]>((resolve, reject) =>
      dnsLookup(host, { all: true }, (err, addrs) => (err ? reject(err) : resolve(addrs))),
    );

  /** node:net lookup that refuses addresses the tenant may not reach (checked at connect time). */
  const guardedLookup =
    (tenant: string): LookupFunction =>
    (hostname, options, callback) => {
      dnsLookup(hostname, { ...options, all: true }, (err, addrs) => {
        if (err) return callback(err, '', 0);
        const list = addrs as unknown as LookupAddress[];
        for (const a of list) {
          const why = addressRefusal(a.address, hostname, tenant);
          if (why) return callback(Object.assign(new Error(why), { code: 'EDESTDENIED' }), '', 0);
        }
        if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
        const first = list[0];
        if (!first)
          return callback(
            Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }),
            '',
            0,
          );
        callback(null, first.address, first.family);
      });
    };

  const agents = new Map<string, Agent>();
  const agentFor = (tenant: string) => {
    let a = agents.get(tenant);
    if (!a) agents.set(tenant, (a = new Agent({ connect: { lookup: guardedLookup(tenant) } })));
    return a;
  };

  return {
    async check(url, tenant) {
      const u = parse(url);
      checkUrl(u, tenant);
      const host = hostOf(u);
      if (isIP(host)) return;
      let addrs: LookupAddress[];
      try {
        addrs = await resolveAll(host);
      } catch {
        return; // unresolvable: the request itself will fail and say so
      }
      for (const a of addrs) {
        const why = addressRefusal(a.address, host, tenant);
        if (why) throw new Error(why);
      }
    },
    fetchFor(tenant) {
      const dispatcher = agentFor(tenant);
      return (async (input: string | URL | Request, init?: RequestInit) => {
        const u = parse(input instanceof Request ? input.url : input);
        checkUrl(u, tenant);
        // Cast: undici's fetch is the implementation behind the global one (same shapes, separate types).
        return (await undiciFetch(u, { ...(init as object), dispatcher } as never)) as unknown as Response;
      }) as typeof fetch;
    },
  };
}
