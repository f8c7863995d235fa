import { describe, expect, it } from '@jest/globals';
import { hostMatches, ipInBlock, matchesPattern, namespaceOfPrincipal, normalizePrincipal } from '../../src/model/index.js';

describe('matchers', () => {
  it('Istio string patterns', () => {
    expect(['abc', 'ab*', '*bc', '*'].map((p) => matchesPattern(p, 'abc'))).toEqual([true, true, true, true]);
    expect(['abd', 'b*', '*b', 'ABC'].map((p) => matchesPattern(p, 'abc'))).toEqual([false, false, false, false]);
    expect(matchesPattern('ABC', 'abc', true)).toBe(true);
    expect(matchesPattern('*', undefined)).toBe(false);
  });

  it('CIDR and single-address blocks, IPv4 and IPv6; garbage matches nothing', () => {
    expect(ipInBlock('10.1.0.0/16', '10.1.255.3')).toBe(true);
    expect(ipInBlock('10.1.0.0/16', '10.2.0.1')).toBe(false);
    expect(ipInBlock('10.1.0.5', '10.1.0.5')).toBe(true);
    expect(ipInBlock('fd00::/8', 'fd12::1')).toBe(true);
    expect(ipInBlock('fd00::/8', '10.1.0.5')).toBe(false);
    expect(ipInBlock('10.0.0.0/40', '10.0.0.1')).toBe(false);
    expect(ipInBlock('nonsense', '10.0.0.1')).toBe(false);
  });

  it('DNS host patterns: "*.example.com" covers subdomains only; case-insensitive', () => {
    expect(hostMatches('*.example.com', 'api.example.com')).toBe(true);
    expect(hostMatches('*.example.com', 'example.com')).toBe(false);
    expect(hostMatches('API.example.com', 'api.EXAMPLE.com')).toBe(true);
    expect(hostMatches('*', 'anything')).toBe(true);
  });

  it('principals are compared without spiffe://; the namespace comes from the principal', () => {
    expect(normalizePrincipal('spiffe://cluster.local/ns/foo/sa/sleep')).toBe('cluster.local/ns/foo/sa/sleep');
    expect(namespaceOfPrincipal('spiffe://cluster.local/ns/foo/sa/sleep')).toBe('foo');
    expect(namespaceOfPrincipal(undefined)).toBeUndefined();
  });
});
