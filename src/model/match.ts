/**
 * The matchers Istio's generated Envoy config uses, as pure predicates: Istio string patterns (exact, `abc*`,
 * `*abc`, `*`), CIDR blocks, label selectors and DNS host patterns.
 */
import { BlockList, isIP } from 'node:net';
import type { Labels } from './types.js';

/**
 * Istio's string pattern (pilot/pkg/security/authz/matcher): `*` = present (any value), `*abc` = suffix,
 * `abc*` = prefix, otherwise exact.
 */
export function matchesPattern(pattern: string, value: string | undefined, ignoreCase = false): boolean {
  if (value === undefined) return false;
  const p = ignoreCase ? pattern.toLowerCase() : pattern;
  const v = ignoreCase ? value.toLowerCase() : value;
  if (p === '*') return true;
  if (p.startsWith('*')) return v.endsWith(p.slice(1));
  if (p.endsWith('*')) return v.startsWith(p.slice(0, -1));
  return v === p;
}

/** Namespace values are globs (`*` = any run of characters) over the principal's namespace, unlike other fields. */
export function matchesGlob(glob: string, value: string | undefined): boolean {
  if (value === undefined) return false;
  const escaped = glob.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`).test(value);
}

/** `10.0.0.1` or `10.0.0.0/16` (IPv4 or IPv6). An invalid block matches nothing. */
export function ipInBlock(block: string, ip: string | undefined): boolean {
  if (ip === undefined) return false;
  const family = isIP(ip);
  if (family === 0) return false;
  const [address, prefixText] = block.split('/');
  const blockFamily = isIP(address ?? '');
  if (blockFamily !== family) return false;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  const prefix = prefixText === undefined ? (family === 4 ? 32 : 128) : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) return false;
  const list = new BlockList();
  list.addSubnet(address ?? '', prefix, type);
  return list.check(ip, type);
}

/** matchLabels semantics: every selector label present with the same value; an empty selector selects all. */
export function selectorMatches(selector: Labels | undefined, labels: Labels): boolean {
  if (!selector) return true;
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

export function isEmptySelector(selector: Labels | undefined): boolean {
  return !selector || Object.keys(selector).length === 0;
}

/**
 * DNS host pattern as used in ServiceEntry/DestinationRule/Sidecar hosts: `*` matches everything, `*.example.com`
 * matches any name ending in `.example.com` (not `example.com` itself), otherwise exact (case-insensitive).
 */
export function hostMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  const h = host.toLowerCase();
  if (p === '*') return true;
  if (p.startsWith('*.')) return h.endsWith(p.slice(1));
  return p === h;
}

/** How specific a host pattern is: exact names beat wildcards, longer wildcards beat shorter ones. */
export function hostSpecificity(pattern: string): number {
  if (pattern === '*') return 0;
  if (pattern.startsWith('*')) return pattern.length;
  return 10_000 + pattern.length;
}
