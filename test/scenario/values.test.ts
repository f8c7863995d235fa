/** The value syntax checks of src/scenario/values.ts, case by case (Kubernetes' and Istio's rules). */
import { describe, expect, it } from '@jest/globals';
import * as v from '../../src/scenario/values.js';

const ok = (m: string | undefined) => expect(m).toBeUndefined();
const bad = (m: string | undefined, text?: RegExp) => {
  expect(m).toBeDefined();
  if (text) expect(m).toMatch(text);
};

describe('CIDRs', () => {
  it('accepts IPv4 and IPv6 blocks with the prefix in range', () => {
    for (const c of ['10.0.0.0/8', '0.0.0.0/0', '10.244.0.0/16', '192.168.1.7/32', '::/0', '2001:db8::/32', 'fd00::1/128', '::ffff:10.0.0.0/104'])
      ok(v.cidr(c));
  });
  it('refuses the hostile and malformed ones', () => {
    for (const c of [
      '',
      'not-a-cidr',
      '10.0.0.0/33',
      '300.1.1.1/8',
      '10.0.0.0',
      '10.0.0.0/',
      '10.0.0.0/8 ',
      ' 10.0.0.0/8',
      '010.0.0.0/8',
      '10.0.0.0/08',
      '10.244.0.0/16\nCOMMIT\nMESHPROBE_EOF\ntouch pwned',
      '10.9.9.9/32\n-I FORWARD 1 -j ACCEPT',
      '2001:db8::/129',
      'fe80::1%eth0/64',
      '10.0.0.0/-1',
      '1.2.3.4.5/8',
    ]) {
      bad(v.cidr(c), /is not a CIDR/);
    }
  });
  it('except must be a strict subset of cidr (inside it, longer prefix, same family)', () => {
    ok(v.strictSubset('10.1.0.0/16', '10.0.0.0/8'));
    ok(v.strictSubset('2001:db8:1::/48', '2001:db8::/32'));
    bad(v.strictSubset('10.0.0.0/8', '10.0.0.0/8'), /strict subset/);
    bad(v.strictSubset('11.0.0.0/16', '10.0.0.0/8'), /strict subset/);
    bad(v.strictSubset('10.0.0.0/7', '10.0.0.0/8'), /strict subset/);
    bad(v.strictSubset('::/64', '10.0.0.0/8'), /strict subset/);
  });
});

describe('ports', () => {
  it('numbers from 1 to 65535', () => {
    ok(v.portNumber(1));
    ok(v.portNumber(65535));
    for (const p of [0, -1, 70000, 1.5, '80', null]) bad(v.portNumber(p), /1 to 65535/);
    ok(v.portString('8080'));
    for (const p of ['0', '65536', '80a', '', ' 80', '+80']) bad(v.portString(p));
  });
  it('names are IANA_SVC_NAME', () => {
    for (const n of ['http', 'http-alt', 'h2c', 'a1']) ok(v.portName(n));
    for (const n of ['', 'HTTP', '-http', 'http-', 'ht--tp', '8080', 'a-very-long-port-name', 'web;rm']) bad(v.portName(n), /IANA_SVC_NAME/);
  });
});

describe('names and labels', () => {
  it('DNS-1123 labels and subdomains', () => {
    ok(v.dnsLabel('app-1'));
    for (const n of ['App', '-a', 'a-', 'a.b', '../x', '', 'a'.repeat(64)]) bad(v.dnsLabel(n));
    ok(v.dnsSubdomain('allow-from.app'));
    for (const n of ['../../../../x', 'a..b', '.a', 'a/b', 'A.b', '']) bad(v.dnsSubdomain(n));
  });
  it('qualified names (label and annotation keys) and label values', () => {
    for (const k of ['app', 'app.kubernetes.io/name', 'traffic.sidecar.istio.io/excludeInterfaces', 'A_b.c']) ok(v.qualifiedName(k));
    for (const k of ['', '/app', 'a b', 'UPPER.example/x', 'a/', '-a', 'a/b/c', 'x'.repeat(64)]) bad(v.qualifiedName(k));
    for (const val of ['', 'v1', 'a.b_c-d']) ok(v.labelValue(val));
    for (const val of ['-v', 'a b', 'a\nb', 'x'.repeat(64)]) bad(v.labelValue(val));
  });
});

describe('Istio hosts', () => {
  it('DNS names, "*" alone or as the first label, a trailing dot', () => {
    for (const h of ['reviews', 'api.partner.test', 'istio.io.', '*.wikipedia.org']) ok(v.istioDomain(h, true));
    ok(v.istioDomain('*', true));
    for (const h of ['foo*.example.com', 'a.*.com', '', 'a..b', 'example.123', 'bad host', 'x'.repeat(256)]) bad(v.istioDomain(h, true));
    bad(v.istioDomain('*.example.com', false));
  });
});

describe('HTTP', () => {
  it('methods and header names are RFC 9110 tokens', () => {
    for (const m of ['GET', 'M-SEARCH', 'x-custom']) ok(v.httpToken(m, 'HTTP method'));
    for (const m of ['', 'GET /', 'GE\rT', 'X:Y', 'Ü']) bad(v.httpToken(m, 'header name'), /token/);
  });
  it('header values: no CR, LF, NUL or other control characters, no surrounding whitespace', () => {
    for (const h of ['abc', 'a b\tc', 'caf\u00e9']) ok(v.headerValue(h));
    for (const h of ['a\r\nX-Injected: 1', 'a\nb', 'a\0b', ' a', 'a ', '\u2603', 'a\x7fb']) bad(v.headerValue(h));
  });
  it('paths start with "/" and hold visible ASCII only', () => {
    for (const p of ['/', '/a/../b', '/%2e%2e/x?y=1', '//x']) ok(v.httpPath(p));
    for (const p of ['', 'a', '/a b', '/a\r\nHost: x', '/\u00e9', '/\t']) bad(v.httpPath(p));
  });
});

describe('capture annotations (traffic.sidecar.istio.io/*)', () => {
  const a = (name: string, value: string) => v.sidecarAnnotation(`${v.SIDECAR_ANNOTATION_PREFIX}${name}`, value);
  it('accepts the lists Istio accepts', () => {
    ok(a('includeOutboundIPRanges', '*'));
    ok(a('includeOutboundIPRanges', '10.0.0.0/8, 192.168.0.0/16'));
    ok(a('excludeOutboundIPRanges', '10.96.0.0/12,fd00::/8'));
    ok(a('includeInboundPorts', '*'));
    ok(a('excludeInboundPorts', '8080,9090'));
    ok(a('excludeInterfaces', 'eth1,veth0'));
  });
  it('refuses anything else', () => {
    bad(a('excludeOutboundIPRanges', '10.0.0.0/8\n-A OUTPUT -j ACCEPT'));
    bad(a('excludeOutboundIPRanges', '10.0.0.0/33'));
    bad(a('excludeInboundPorts', '0'));
    bad(a('excludeOutboundPorts', '80;reboot'));
    bad(a('includeOutboundPorts', '*'));
    bad(a('excludeInterfaces', '../../etc'));
    bad(a('excludeInterfaces', 'a-name-longer-than-15'));
  });
});
