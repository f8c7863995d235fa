import { describe, expect, it } from '@jest/globals';
import { authorize, denyResponse, type AuthzRequest } from '../../src/model/index.js';
import { parsed, SLEEP_BAR, SLEEP_FOO } from './fixtures.js';

const httpbin = { namespace: 'foo', labels: { app: 'httpbin' }, port: 8000 };
const http = (principal: string | undefined, method = 'GET', path = '/ip', extra: Partial<AuthzRequest> = {}): AuthzRequest => ({
  destination: httpbin,
  source: { principal, ip: '10.1.0.5' },
  protocol: 'http',
  http: { method, path, host: 'httpbin.foo:8000', headers: {} },
  ...extra,
});
const tcp = (principal: string | undefined, port = 9000, ip = '10.1.0.5'): AuthzRequest => ({
  destination: { namespace: 'foo', labels: { app: 'tcp-echo' }, port },
  source: { principal, ip },
  protocol: 'tcp',
});
const ap = (spec: object, ns = 'foo', name = 'p', order = 0) => parsed('AuthorizationPolicy', ns, name, spec, order);

describe('authorize: precedence (istio.io concepts/security "Authorization policy precedence")', () => {
  it('no policy → allow', () => {
    expect(authorize(http(SLEEP_FOO), [])).toMatchObject({ allowed: true, kind: 'no-allow-policy' });
  });

  it('allow-nothing `spec: {}` denies everything (concepts "allow-nothing")', () => {
    const d = authorize(http(SLEEP_FOO), [ap({})]);
    expect(d).toMatchObject({ allowed: false, kind: 'no-allow-match', allowPolicies: [{ name: 'p' }] });
  });

  it('deny-all `action: DENY, rules: [{}]` denies everything, even with an ALLOW match (concepts "deny-all")', () => {
    const d = authorize(http(SLEEP_FOO), [ap({ action: 'DENY', rules: [{}] }, 'foo', 'deny-all'), ap({ rules: [{}] }, 'foo', 'allow-all')]);
    expect(d).toMatchObject({ allowed: false, kind: 'denied-by-policy', matched: { policy: { name: 'deny-all' }, ruleIndex: 0 } });
    expect(d.reason).toContain('deny-all');
  });

  it('a DENY without rules matches nothing', () => {
    expect(authorize(http(SLEEP_FOO), [ap({ action: 'DENY' })]).allowed).toBe(true);
  });

  it('allow-all `rules: [{}]` allows', () => {
    expect(authorize(http(undefined), [ap({ rules: [{}] })])).toMatchObject({ allowed: true, kind: 'allowed-by-policy' });
  });

  it('AUDIT never changes the decision but is reported', () => {
    const d = authorize(http(SLEEP_FOO), [ap({ action: 'AUDIT', rules: [{ to: [{ operation: { paths: ['/ip'] } }] }] }, 'foo', 'audit')]);
    expect(d).toMatchObject({ allowed: true, audited: [{ policy: { name: 'audit' } }] });
  });

  it('root-namespace policies apply mesh-wide; other namespaces only to themselves; selector narrows', () => {
    const root = ap({}, 'istio-system', 'mesh-allow-nothing');
    expect(authorize(http(SLEEP_FOO), [root]).allowed).toBe(false);
    expect(authorize(http(SLEEP_FOO), [ap({}, 'bar')]).allowed).toBe(true);
    const other = ap({ selector: { matchLabels: { app: 'productpage' } } });
    expect(authorize(http(SLEEP_FOO), [other]).allowed).toBe(true);
    const mine = ap({ selector: { matchLabels: { app: 'httpbin' } } });
    expect(authorize(http(SLEEP_FOO), [mine]).allowed).toBe(false);
  });

  it('denial looks like 403 RBAC: access denied over HTTP, a closed connection over TCP', () => {
    expect(denyResponse('http')).toEqual({ kind: 'http', status: 403, body: 'RBAC: access denied' });
    expect(denyResponse('tcp')).toEqual({ kind: 'close' });
  });
});

describe('authorize: the concepts page example (allow cluster.local/ns/default/sa/sleep or namespace dev, GET, JWT iss)', () => {
  // The doc's example also has `when request.auth.claims[iss]`, which the model refuses; without it the rule reads:
  const policy = ap({
    selector: { matchLabels: { app: 'httpbin' } },
    action: 'ALLOW',
    rules: [
      {
        from: [{ source: { principals: ['cluster.local/ns/default/sa/sleep'] } }, { source: { namespaces: ['dev'] } }],
        to: [{ operation: { methods: ['GET'] } }],
      },
    ],
  });
  it('allows GET from the principal or from namespace dev (from entries ORed)', () => {
    expect(authorize(http('cluster.local/ns/default/sa/sleep'), [policy]).allowed).toBe(true);
    expect(authorize(http('spiffe://cluster.local/ns/dev/sa/anything'), [policy]).allowed).toBe(true);
  });
  it('denies POST (to ANDed with from) and other namespaces', () => {
    expect(authorize(http('cluster.local/ns/default/sa/sleep', 'POST'), [policy]).allowed).toBe(false);
    expect(authorize(http(SLEEP_BAR), [policy]).allowed).toBe(false);
  });
});

describe('authorize: sources, operations, conditions', () => {
  it('ALLOW by namespace denies plaintext (no principal without mTLS)', () => {
    const policy = ap({ rules: [{ from: [{ source: { namespaces: ['foo'] } }] }] });
    expect(authorize(http(SLEEP_FOO), [policy]).allowed).toBe(true);
    expect(authorize(http(undefined), [policy]).allowed).toBe(false);
  });

  it('notPrincipals / notNamespaces match plaintext (nothing to exclude)', () => {
    const deny = ap({ action: 'DENY', rules: [{ from: [{ source: { notNamespaces: ['foo'] } }] }] });
    expect(authorize(http(undefined), [deny]).allowed).toBe(false);
    expect(authorize(http(SLEEP_FOO), [deny]).allowed).toBe(true);
    expect(authorize(http(SLEEP_BAR), [deny]).allowed).toBe(false);
  });

  it('principal patterns: exact, prefix, suffix, * (presence = any mTLS peer)', () => {
    const allow = (p: string) => ap({ rules: [{ from: [{ source: { principals: [p] } }] }] });
    expect(authorize(http(SLEEP_FOO), [allow('cluster.local/ns/foo/*')]).allowed).toBe(true);
    expect(authorize(http(SLEEP_FOO), [allow('*/sa/sleep')]).allowed).toBe(true);
    expect(authorize(http(SLEEP_FOO), [allow('*')]).allowed).toBe(true);
    expect(authorize(http(undefined), [allow('*')]).allowed).toBe(false);
    expect(authorize(http(SLEEP_BAR), [allow('cluster.local/ns/foo/*')]).allowed).toBe(false);
  });

  it('fields within one source are ANDed; values within a field ORed', () => {
    const policy = ap({ rules: [{ from: [{ source: { namespaces: ['foo', 'baz'], ipBlocks: ['10.1.0.0/16'] } }] }] });
    expect(authorize(http(SLEEP_FOO), [policy]).allowed).toBe(true);
    expect(authorize({ ...http(SLEEP_FOO), source: { principal: SLEEP_FOO, ip: '10.2.0.1' } }, [policy]).allowed).toBe(false);
  });

  it('ipBlocks use the direct peer, remoteIpBlocks the original client address', () => {
    const deny = ap({ action: 'DENY', rules: [{ from: [{ source: { remoteIpBlocks: ['203.0.113.0/24'] } }] }] });
    expect(authorize({ ...http(undefined), source: { ip: '10.1.0.5', remoteIp: '203.0.113.9' } }, [deny]).allowed).toBe(false);
    expect(authorize({ ...http(undefined), source: { ip: '203.0.113.9', remoteIp: '198.51.100.1' } }, [deny]).allowed).toBe(true);
    const notIp = ap({ action: 'DENY', rules: [{ from: [{ source: { notIpBlocks: ['10.1.0.5'] } }] }] });
    expect(authorize(http(undefined), [notIp]).allowed).toBe(true);
  });

  it('paths: exact, prefix, suffix; query string ignored; methods; notPaths; hosts case-insensitive', () => {
    const allow = (operation: object) => [ap({ rules: [{ to: [{ operation }] }] })];
    expect(authorize(http(SLEEP_FOO, 'GET', '/headers?x=1'), allow({ paths: ['/headers'] })).allowed).toBe(true);
    expect(authorize(http(SLEEP_FOO, 'GET', '/status/200'), allow({ paths: ['/status/*'] })).allowed).toBe(true);
    expect(authorize(http(SLEEP_FOO, 'GET', '/a/b.png'), allow({ paths: ['*.png'] })).allowed).toBe(true);
    expect(authorize(http(SLEEP_FOO, 'GET', '/ip'), allow({ paths: ['/status/*'] })).allowed).toBe(false);
    expect(authorize(http(SLEEP_FOO, 'GET', '/admin'), allow({ notPaths: ['/admin*'] })).allowed).toBe(false);
    expect(authorize(http(SLEEP_FOO, 'GET', '/ip'), allow({ hosts: ['HTTPBIN.foo*'] })).allowed).toBe(true);
    expect(authorize(http(SLEEP_FOO, 'DELETE'), allow({ methods: ['GET', 'HEAD'] })).allowed).toBe(false);
  });

  it('ports and notPorts compare the destination port', () => {
    expect(authorize(tcp(SLEEP_FOO, 9000), [ap({ rules: [{ to: [{ operation: { ports: ['9000', '9001'] } }] }] })]).allowed).toBe(true);
    expect(authorize(tcp(SLEEP_FOO, 9002), [ap({ rules: [{ to: [{ operation: { ports: ['9000', '9001'] } }] }] })]).allowed).toBe(false);
    expect(authorize(tcp(SLEEP_FOO, 9002), [ap({ rules: [{ to: [{ operation: { notPorts: ['9000'] } }] }] })]).allowed).toBe(true);
  });

  it('when: source.namespace, source.principal, source.ip, destination.port, request.headers with notValues', () => {
    const allow = (when: object[]) => [ap({ rules: [{ when }] })];
    expect(authorize(http(SLEEP_FOO), allow([{ key: 'source.namespace', values: ['foo'] }])).allowed).toBe(true);
    expect(authorize(http(SLEEP_FOO), allow([{ key: 'source.principal', notValues: [SLEEP_FOO] }])).allowed).toBe(false);
    expect(
      authorize(
        http(SLEEP_FOO),
        allow([
          { key: 'source.ip', values: ['10.0.0.0/8'] },
          { key: 'destination.port', values: ['8000'] },
        ]),
      ).allowed,
    ).toBe(true);
    const withHeader = http(SLEEP_FOO, 'GET', '/ip', { http: { method: 'GET', path: '/ip', host: 'h', headers: { 'X-Token': 'admin-1' } } });
    expect(authorize(withHeader, allow([{ key: 'request.headers[x-token]', values: ['admin*'] }])).allowed).toBe(true);
    expect(authorize(http(SLEEP_FOO), allow([{ key: 'request.headers[x-token]', values: ['*'] }])).allowed).toBe(false);
  });

  it('an unknown when key invalidates the rule (Istio skips invalid rules)', () => {
    const key = 'experimental.envoy.filters.x[y]';
    expect(authorize(http(SLEEP_FOO), [ap({ rules: [{ when: [{ key, values: ['x'] }] }] })]).allowed).toBe(false);
  });
});

describe('authorize: HTTP-only fields on TCP (tasks/security/authorization/authz-tcp; pilot/pkg/security/authz/model checkError)', () => {
  it('ALLOW rule with methods on a TCP port never matches → denied (authz-tcp "invalid ALLOW")', () => {
    const policy = ap({ selector: { matchLabels: { app: 'tcp-echo' } }, rules: [{ to: [{ operation: { methods: ['GET'], ports: ['9000'] } }] }] });
    const d = authorize(tcp(SLEEP_FOO, 9000), [policy]);
    expect(d).toMatchObject({ allowed: false, kind: 'no-allow-match' });
    expect(d.trace.join('\n')).toContain('HTTP-only to[0].operation.methods on TCP traffic: the rule never matches');
  });

  it('DENY rule with methods on a TCP port ignores methods → denies port 9000 (authz-tcp "invalid DENY")', () => {
    const policy = ap({
      action: 'DENY',
      selector: { matchLabels: { app: 'tcp-echo' } },
      rules: [{ to: [{ operation: { methods: ['GET'], ports: ['9000'] } }] }],
    });
    const d = authorize(tcp(SLEEP_FOO, 9000), [policy]);
    expect(d).toMatchObject({ allowed: false, kind: 'denied-by-policy', matched: { ignoredFields: ['to[0].operation.methods'] } });
    expect(authorize(tcp(SLEEP_FOO, 9001), [policy]).allowed).toBe(true);
  });

  it('a DENY of only HTTP-only fields denies ALL TCP traffic, but only matching HTTP requests', () => {
    const policy = ap({
      action: 'DENY',
      rules: [{ to: [{ operation: { paths: ['/admin'] } }], when: [{ key: 'request.headers[x]', values: ['1'] }] }],
    });
    expect(authorize({ ...tcp(SLEEP_FOO), destination: httpbin }, [policy]).allowed).toBe(false);
    expect(authorize(http(SLEEP_FOO, 'GET', '/ip'), [policy]).allowed).toBe(true);
  });

  it('ALLOW by ports only (no HTTP field) works on TCP (authz-tcp "allow ports 9000, 9001")', () => {
    const policy = ap({ selector: { matchLabels: { app: 'tcp-echo' } }, rules: [{ to: [{ operation: { ports: ['9000', '9001'] } }] }] });
    expect(authorize(tcp(SLEEP_FOO, 9001), [policy]).allowed).toBe(true);
    expect(authorize(tcp(SLEEP_FOO, 9002), [policy]).allowed).toBe(false);
  });

  it('ALLOW with two rules: the HTTP-only one is skipped, the other still allows', () => {
    const policy = ap({ rules: [{ to: [{ operation: { methods: ['GET'] } }] }, { from: [{ source: { namespaces: ['foo'] } }] }] });
    expect(authorize(tcp(SLEEP_FOO), [policy])).toMatchObject({ allowed: true, matched: { ruleIndex: 1 } });
  });
});
