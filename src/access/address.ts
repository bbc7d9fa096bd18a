// Does a Policy resource cover an address, port and protocol someone asks about? Pure matching, no
// DNS lookups: a DNS-name resource is matched by name, never by the addresses it resolves to.
import { BlockList, isIP } from 'node:net';
import { PROTOCOLS } from '../api/v1alpha1/policy.js';

export type Protocol = (typeof PROTOCOLS)[number];

export interface ResourceLike {
  address: string;
  ports?: string[];
  protocols?: string[];
}

type Family = 'ipv4' | 'ipv6';

/** A CIDR, or an IP address as the block of that one address (a full-length prefix). */
interface IpBlock {
  family: Family;
  base: string;
  prefix: number;
}

export type AddressKind = 'ip' | 'cidr' | 'dns' | 'wildcard';

// Looser than a Policy address (underscores allowed, e.g. _sip._tcp names); names are lower-cased first.
const DNS_NAME = /^([a-z0-9_]([-a-z0-9_]{0,61}[a-z0-9_])?\.)*[a-z0-9_]([-a-z0-9_]{0,61}[a-z0-9_])?$/;

/** What kind of address a string is, or undefined when it is none of them. */
export function addressKind(text: string): AddressKind | undefined {
  const block = parseIpBlock(text);
  if (block) return text.includes('/') ? 'cidr' : 'ip';
  const name = normaliseName(text);
  if (name.startsWith('*.')) return isDnsName(name.slice(2)) ? 'wildcard' : undefined;
  return isDnsName(name) ? 'dns' : undefined;
}

/**
 * True when every address the query names lies within the resource's address: an IP within an
 * equal IP or a containing CIDR, a CIDR within an equal or larger CIDR, a DNS name equal to the
 * resource's name or under its wildcard (`*.example.com` covers `a.example.com` and `a.b.example.com`,
 * not `example.com`). An IPv4-mapped IPv6 address matches IPv4 resources.
 */
export function resourceCovers(resourceAddress: string, query: string): boolean {
  const queryBlock = parseIpBlock(query);
  if (queryBlock) {
    const resourceBlock = parseIpBlock(resourceAddress);
    return resourceBlock !== undefined && blockContains(resourceBlock, queryBlock);
  }
  if (parseIpBlock(resourceAddress)) return false;
  return nameCovers(normaliseName(resourceAddress), normaliseName(query));
}

/**
 * True when the resource lets the given port and protocol through. An absent port or protocol asks
 * "any at all": a query without a port is covered when some port is allowed. ICMP has no ports, so
 * a resource that lists ports only covers TCP and UDP; a query with a port is TCP or UDP traffic.
 */
export function portCovered(resource: ResourceLike, port?: number, protocol?: string): boolean {
  const allowed: readonly string[] = resource.protocols?.length ? resource.protocols : PROTOCOLS;
  const ports = resource.ports ?? [];
  const wanted = protocol?.toUpperCase();
  if (wanted !== undefined && !allowed.includes(wanted)) return false;
  if (wanted === 'ICMP') return ports.length === 0;
  if (port === undefined) return true;
  if (wanted === undefined && !allowed.some((p) => p === 'TCP' || p === 'UDP')) return false;
  return ports.length === 0 || ports.some((range) => inPortRange(range, port));
}

function inPortRange(range: string, port: number): boolean {
  const [low, high = low] = range.split('-').map(Number);
  return port >= low && port <= high;
}

/** A top-level label is never all digits, which keeps a malformed IP such as 10.0.0.256 out. */
function isDnsName(name: string): boolean {
  return name.length <= 253 && DNS_NAME.test(name) && !/(^|\.)[0-9]+$/.test(name);
}

function parseIpBlock(text: string): IpBlock | undefined {
  const slash = text.indexOf('/');
  const base = slash < 0 ? text : text.slice(0, slash);
  const version = isIP(base);
  if (version === 0 || base.includes('%')) return undefined;
  const family: Family = version === 4 ? 'ipv4' : 'ipv6';
  const full = version === 4 ? 32 : 128;
  if (slash < 0) return { family, base, prefix: full };
  const prefixText = text.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  return prefix <= full ? { family, base, prefix } : undefined;
}

function fullLength(block: IpBlock): boolean {
  return block.prefix === (block.family === 'ipv4' ? 32 : 128);
}

function blockContains(outer: IpBlock, inner: IpBlock): boolean {
  const list = new BlockList();
  list.addSubnet(outer.base, outer.prefix, outer.family);
  // A single address is checked as is, so BlockList can match IPv4-mapped IPv6 across families.
  if (fullLength(inner)) return list.check(inner.base, inner.family);
  // A CIDR lies inside another when it is no larger and one of its addresses is inside.
  return outer.family === inner.family && outer.prefix <= inner.prefix && list.check(inner.base, inner.family);
}

function normaliseName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

function nameCovers(resource: string, query: string): boolean {
  if (resource === query) return true;
  if (!resource.startsWith('*.')) return false;
  const domain = resource.slice(2);
  const under = (name: string) => name.endsWith(`.${domain}`);
  // A wildcard query stands for every name under its domain: covered when that domain is the
  // wildcard's own or lies under it.
  return query.startsWith('*.') ? query.slice(2) === domain || under(query.slice(2)) : under(query);
}
