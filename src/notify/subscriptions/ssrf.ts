/**
 * Where a Subscription may send (issue 14: "SSRF-safe: https only (loopback allowed in development),
 * refuse private, link-local and loopback addresses after DNS resolution in production"). Address
 * classes come from ipaddr.js (IANA special-purpose registries): only global unicast passes, plus
 * loopback in development mode. IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
 * The resolved address is what the delivery connects to (rest-hook.ts), so a name that resolves
 * differently a second time (DNS rebinding) changes nothing.
 * See: https://cheatsheetseries.owasp.org/cheatsheets/Server_Side_Request_Forgery_Prevention_Cheat_Sheet.html
 */
import dns from 'node:dns/promises';
import net from 'node:net';
import ipaddr from 'ipaddr.js';

export interface EndpointMode {
  /** Production refuses loopback and plain http everywhere. */
  production: boolean;
}

export type Verdict = { ok: true } | { ok: false; reason: string };

/** May a connection go to this IP address? */
export function addressVerdict(ip: string, mode: EndpointMode): Verdict {
  if (!ipaddr.isValid(ip)) return { ok: false, reason: `"${ip}" is not an IP address` };
  // process(): an IPv4-mapped IPv6 address is judged as its IPv4 address.
  const range = ipaddr.process(ip).range();
  if (range === 'unicast') return { ok: true };
  if (range === 'loopback' && !mode.production) return { ok: true };
  return { ok: false, reason: `${ip} is a ${range} address${range === 'loopback' ? ' (allowed in development mode only)' : ''}` };
}

const LOOPBACK_NAMES = /^(localhost|.+\.localhost)$/i;

/** The host of a URL without IPv6 brackets. */
function bareHost(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/**
 * What can be judged from the endpoint URL alone (on create, answered with 422): the scheme, no
 * credentials in the URL, and an IP literal's class. Names are judged after resolution.
 */
export function endpointVerdict(endpoint: string, mode: EndpointMode): Verdict {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return { ok: false, reason: `"${endpoint}" is not an absolute URL` };
  }
  if (url.username || url.password) return { ok: false, reason: 'the endpoint may not carry credentials in the URL; use Subscription.channel.header' };
  const host = bareHost(url);
  const literal = net.isIP(host) !== 0;
  const loopback = LOOPBACK_NAMES.test(host) || (literal && ipaddr.process(host).range() === 'loopback');
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback && !mode.production)) {
    return { ok: false, reason: `the endpoint must use https${mode.production ? '' : ' (plain http only to localhost or 127.0.0.1 in development mode)'}` };
  }
  if (literal) return addressVerdict(host, mode);
  if (LOOPBACK_NAMES.test(host) && mode.production) return { ok: false, reason: `${host} is a loopback name (allowed in development mode only)` };
  return { ok: true };
}

export interface ResolvedEndpoint {
  url: URL;
  address: string;
  family: 4 | 6;
}

export type Lookup = (host: string) => Promise<Array<{ address: string; family: number }>>;
const systemLookup: Lookup = (host) => dns.lookup(host, { all: true, verbatim: true });

/**
 * Resolves the endpoint's host and judges every address it resolves to: one forbidden address
 * refuses the endpoint (an attacker's name may list a public and a private address).
 */
export async function resolveEndpoint(endpoint: string, mode: EndpointMode, lookup: Lookup = systemLookup): Promise<ResolvedEndpoint> {
  const v = endpointVerdict(endpoint, mode);
  if (!v.ok) throw new EndpointRefused(v.reason);
  const url = new URL(endpoint);
  const host = bareHost(url);
  let addresses: Array<{ address: string; family: number }>;
  if (net.isIP(host)) addresses = [{ address: host, family: net.isIP(host) }];
  else {
    try {
      addresses = await lookup(host);
    } catch (err) {
      throw new EndpointRefused(`${host} does not resolve (${(err as NodeJS.ErrnoException).code ?? 'DNS error'})`);
    }
  }
  if (addresses.length === 0) throw new EndpointRefused(`${host} does not resolve`);
  for (const a of addresses) {
    const av = addressVerdict(a.address, mode);
    if (!av.ok) throw new EndpointRefused(`${host} resolves to ${av.reason}`);
  }
  const first = addresses[0]!;
  return { url, address: first.address, family: first.family === 6 ? 6 : 4 };
}

/** The endpoint may not be called; the reason goes into Subscription.error. */
export class EndpointRefused extends Error {}
