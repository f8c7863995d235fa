/**
 * AuthorizationPolicy features beyond the first model: serviceAccounts, destination.ip, connection.sni, remote.ip
 * from X-Forwarded-For, path templates, and the Istio version each needs. Cases are translated from Istio's own
 * tests where it has them (cited per block).
 */
import { describe, expect, it } from '@jest/globals';
import {
  authorize,
  fieldsNewerThan,
  parseResource,
  pathTemplateError,
  pathTemplateMatches,
  remoteIpOf,
  serviceAccountError,
  serviceAccountMatches,
  unsupportedFields,
  type AuthzRequest,
} from '../../src/model/index.js';
import { manifest, parsed, SLEEP_BAR, SLEEP_FOO } from './fixtures.js';

const ap = (spec: object, ns = 'foo') => parsed('AuthorizationPolicy', ns, 'p', spec);
const req = (extra: Partial<AuthzRequest> & { principal?: string; path?: string; headers?: Record<string, string> } = {}): AuthzRequest => ({
  destination: { namespace: 'foo', labels: { app: 'httpbin' }, port: 8000, ip: '10.1.0.9' },
  source: { ...(extra.principal ? { principal: extra.principal } : {}), ip: '10.1.0.5' },
  protocol: 'http',
  http: { method: 'GET', path: extra.path ?? '/ip', host: 'httpbin.foo', headers: extra.headers ?? {} },
  ...extra,
});
const invalid = (spec: object) => {
  const r = parseResource(manifest('AuthorizationPolicy', 'foo', 'p', spec));
  return r.ok ? undefined : r.error;
};

describe('serviceAccounts (pilot/pkg/security/authz/model/generator_test.go TestServiceAccount, TestServiceAccountRegex)', () => {
  // Identity as the peer certificate's URI SAN; "not spiffe" is left out: the model receives identities without the scheme too.
  const cases: Array<[string, string, boolean]> = [
    ['standard', 'spiffe://cluster.local/ns/my-ns/sa/my-sa', true],
    ['suffix attributes', 'spiffe://cluster.local/ns/my-ns/sa/my-sa/k/v', true],
    ['prefix attributes', 'spiffe://cluster.local/k/v/ns/my-ns/sa/my-sa', true],
    ['middle attributes', 'spiffe://cluster.local/ns/my-ns/k/v/sa/my-sa', true],
    ['all attributes', 'spiffe://cluster.local/k1/v1/ns/my-ns/k2/v2/sa/my-sa/k3/v3', true],
    ['sa suffix string', 'spiffe://cluster.local/ns/my-ns/sa/my-sa-suffix', false],
    ['ns suffix string', 'spiffe://cluster.local/ns/my-ns-suffix/sa/my-sa', false],
    ['invalid spiffe', 'spiffe://ns/my-ns/sa/my-sa', false],
    ['missing sa', 'spiffe://cluster.local/ns/my-ns', false],
    ['missing ns', 'spiffe://cluster.local/sa/my-sa', false],
    ['weird keys', 'spiffe://cluster.local/k/ns/my-ns/something/bar/sa/my-sa/baz', true],
  ];
  it.each(cases)('%s', (_name, identity, match) => {
    expect(serviceAccountMatches('my-ns/my-sa', identity)).toBe(match);
  });

  it('regex metacharacters are literal', () => {
    expect(serviceAccountMatches('my.ns/my.sa', 'spiffe://cluster.local/ns/my.ns/sa/my.sa')).toBe(true);
    expect(serviceAccountMatches('my.ns/my.sa', 'spiffe://cluster.local/ns/myXns/sa/my.sa')).toBe(false);
    expect(serviceAccountMatches('my.ns/my.sa', 'spiffe://cluster.local/ns/my.ns/sa/myXsa')).toBe(false);
  });

  it('a name without namespace is in the policy namespace; plaintext (no identity) never matches', () => {
    const policy = ap({ rules: [{ from: [{ source: { serviceAccounts: ['sleep'] } }] }] });
    expect(authorize(req({ principal: SLEEP_FOO }), [policy]).allowed).toBe(true);
    expect(authorize(req({ principal: SLEEP_BAR }), [policy]).allowed).toBe(false);
    expect(authorize(req(), [policy]).allowed).toBe(false);
    const other = ap({ rules: [{ from: [{ source: { serviceAccounts: ['bar/sleep'] } }] }] });
    expect(authorize(req({ principal: SLEEP_BAR }), [other]).allowed).toBe(true);
  });

  it('notServiceAccounts and the when key source.serviceAccount', () => {
    const deny = ap({ action: 'DENY', rules: [{ from: [{ source: { notServiceAccounts: ['foo/sleep'] } }] }] });
    expect(authorize(req({ principal: SLEEP_FOO }), [deny]).allowed).toBe(true);
    expect(authorize(req({ principal: SLEEP_BAR }), [deny]).allowed).toBe(false);
    const when = ap({ rules: [{ when: [{ key: 'source.serviceAccount', values: ['bar/sleep'] }] }] });
    expect(authorize(req({ principal: SLEEP_BAR }), [when]).allowed).toBe(true);
    expect(authorize(req({ principal: SLEEP_FOO }), [when]).allowed).toBe(false);
  });

  it("validation as Istio's (pkg/config/security CheckServiceAccount, validation.go)", () => {
    expect(serviceAccountError('ServiceAccounts', ['ns/sa', 'sa'])).toBeUndefined();
    expect(serviceAccountError('ServiceAccounts', ['ns/*'])).toBe('wildcard not allowed, found in ServiceAccounts');
    expect(serviceAccountError('ServiceAccounts', ['a/b/c'])).toContain("expected format 'serviceAccount' or 'namespace/serviceAccount'");
    expect(serviceAccountError('ServiceAccounts', ['/sa'])).toContain('found empty namespace');
    expect(serviceAccountError('ServiceAccounts', ['ns/'])).toContain('found empty serviceAccount');
    expect(
      serviceAccountError(
        'ServiceAccounts',
        Array.from({ length: 17 }, (_, i) => `sa${i}`),
      ),
    ).toBe('may not have more than 16 values');
    expect(invalid({ rules: [{ from: [{ source: { serviceAccounts: ['sa'], namespaces: ['foo'] } }] }] })).toContain(
      'cannot set serviceAccounts with namespaces or principals, found at rule 0',
    );
    expect(invalid({ rules: [{ from: [{ source: { notServiceAccounts: ['x/*'] } }] }] })).toContain(
      'wildcard not allowed, found in NotServiceAccounts',
    );
  });
});

describe('destination.ip and connection.sni (pilot/pkg/security/authz/model/model.go attrDestIP, attrConnSNI)', () => {
  it('destination.ip: IPs and CIDRs against the address the connection was sent to', () => {
    const policy = ap({ rules: [{ when: [{ key: 'destination.ip', values: ['10.1.0.0/24'] }] }] });
    expect(authorize(req(), [policy]).allowed).toBe(true);
    expect(authorize(req({ destination: { namespace: 'foo', labels: { app: 'httpbin' }, port: 8000, ip: '10.2.0.9' } }), [policy]).allowed).toBe(
      false,
    );
    const not = ap({ action: 'DENY', rules: [{ when: [{ key: 'destination.ip', notValues: ['10.1.0.9'] }] }] });
    expect(authorize(req(), [not]).allowed).toBe(true);
  });

  it('connection.sni: Istio string patterns against the SNI; plaintext has none', () => {
    const sni = 'outbound_.8000_._.httpbin.foo.svc.cluster.local';
    const policy = ap({ rules: [{ when: [{ key: 'connection.sni', values: ['*.httpbin.foo.svc.cluster.local'] }] }] });
    expect(authorize(req({ connection: { sni } }), [policy]).allowed).toBe(true);
    expect(authorize(req({ connection: { sni: 'outbound_.8000_._.other.foo.svc.cluster.local' } }), [policy]).allowed).toBe(false);
    expect(authorize(req(), [policy]).allowed).toBe(false);
    // Not HTTP-only: on TCP an ALLOW rule with connection.sni still applies.
    const tcp: AuthzRequest = {
      destination: { namespace: 'foo', labels: {}, port: 9000 },
      source: { ip: '10.1.0.5' },
      protocol: 'tcp',
      connection: { sni },
    };
    expect(authorize(tcp, [policy]).allowed).toBe(true);
  });
});

describe('remote.ip from X-Forwarded-For (Envoy original IP detection, use_remote_address false, xff_num_trusted_hops 0)', () => {
  it('the rightmost X-Forwarded-For address, else the peer', () => {
    expect(remoteIpOf('10.1.0.5')).toBe('10.1.0.5');
    expect(remoteIpOf('10.1.0.5', {})).toBe('10.1.0.5');
    expect(remoteIpOf('10.1.0.5', { 'x-forwarded-for': '1.2.3.4' })).toBe('1.2.3.4');
    expect(remoteIpOf('10.1.0.5', { 'X-Forwarded-For': '1.2.3.4, 5.6.7.8' })).toBe('5.6.7.8');
    expect(remoteIpOf('10.1.0.5', { 'x-forwarded-for': '1.2.3.4,unknown' })).toBe('10.1.0.5');
    expect(remoteIpOf('10.1.0.5', { 'x-forwarded-for': '2001:db8::1' })).toBe('2001:db8::1');
  });

  it('remoteIpBlocks decides on it, ipBlocks on the peer (istio.io authorization-policy Source)', () => {
    const remote = ap({ rules: [{ from: [{ source: { remoteIpBlocks: ['1.2.3.0/24'] } }] }] });
    const headers = { 'x-forwarded-for': '9.9.9.9, 1.2.3.4' };
    const withXff: AuthzRequest = { ...req({ headers }), source: { ip: '10.1.0.5', remoteIp: remoteIpOf('10.1.0.5', headers) } };
    expect(authorize(withXff, [remote]).allowed).toBe(true);
    expect(authorize(req(), [remote]).allowed).toBe(false);
    const peer = ap({ rules: [{ from: [{ source: { ipBlocks: ['1.2.3.0/24'] } }] }] });
    expect(authorize(withXff, [peer]).allowed).toBe(false);
  });
});

describe('remote IP cases of tests/integration/security/authz_test.go TestAuthz_IngressGateway (testdata/authz/ingress-gateway.yaml.tmpl)', () => {
  // Istio sends one X-Forwarded-For address per call; the policy's rules are split by host there, by policy here.
  const deny = (source: object | undefined, when?: object) =>
    ap({ action: 'DENY', rules: [{ ...(source ? { from: [{ source }] } : {}), ...(when ? { when: [when] } : {}) }] });
  const cases: Array<[string, string, ReturnType<typeof ap>, boolean]> = [
    ['remoteIpBlocks', '172.17.72.46', deny({ remoteIpBlocks: ['172.17.72.46', '192.168.4.0/23'] }), false],
    ['remoteIpBlocks', '192.168.5.233', deny({ remoteIpBlocks: ['172.17.72.46', '192.168.4.0/23'] }), false],
    ['remoteIpBlocks', '10.4.5.6', deny({ remoteIpBlocks: ['172.17.72.46', '192.168.4.0/23'] }), true],
    ['notRemoteIpBlocks', '10.2.3.4', deny({ notRemoteIpBlocks: ['172.23.240.0/22'] }), false],
    ['notRemoteIpBlocks', '172.23.242.188', deny({ notRemoteIpBlocks: ['172.23.240.0/22'] }), true],
    ['remote.ip', '10.242.5.7', deny(undefined, { key: 'remote.ip', values: ['10.242.5.7', '10.124.99.0/24'] }), false],
    ['remote.ip', '10.124.99.10', deny(undefined, { key: 'remote.ip', values: ['10.242.5.7', '10.124.99.0/24'] }), false],
    ['remote.ip', '10.4.5.6', deny(undefined, { key: 'remote.ip', values: ['10.242.5.7', '10.124.99.0/24'] }), true],
  ];
  it.each(cases)('%s, X-Forwarded-For %s', (_field, ip, policy, allow) => {
    const headers = { 'x-forwarded-for': ip };
    const request: AuthzRequest = { ...req({ headers }), source: { ip: '10.1.0.5', remoteIp: remoteIpOf('10.1.0.5', headers) } };
    expect(authorize(request, [policy]).allowed).toBe(allow);
  });
});

describe('path templates (tests/integration/security/authz_test.go TestAuthz_PathTemplating, testdata/authz/path-templating.yaml.tmpl)', () => {
  const cases: Array<[string, string, boolean]> = [
    ['/allow/admin/{**}', '/allow/admin/', true],
    ['/allow/admin/{**}', '/allow/admin', false],
    ['/allow/admin/{**}', '/allow/user/', false],
    ['/allow/admin/{**}', '/allow/admin?param=value', false],
    ['/allow/admin/{**}', '/allow', false],
    ['/allow/admin/{**}', '/allow/admin/temp', true],
    ['/allow/admin/{**}', '/allow/admin/temp.txt', true],
    ['/allow/admin/{**}', '/allow/admin/foo/temp.txt', true],
    ['/foo/{*}/bar/{**}', '/foo/buzz/bar/bat.txt', true],
    ['/foo/{*}/bar/{**}', '/foo/buzz/bar/bat.temp.txt', true],
    ['/foo/{*}/bar/{**}', '/foo/buzz/bar/bat/fuzz.txt', true],
    ['/foo/{*}/bar/{**}', '/foo/bar/bat.txt', false],
    ['/foo/{*}/bar/{**}', '/foo//bar/bat.txt', false],
    ['/foo/{*}/bar/{**}', '/foo/buzz/bar/bat', true],
    ['/store/{**}/cart', '/store//cart', true],
    ['/store/{**}/cart', '/store/cart', false],
    ['/store/{**}/cart', '/store/foo/cart', true],
    ['/store/{**}/cart', '/store/foo/bar/cart', true],
  ];
  it.each(cases)('%s vs %s', (template, path, match) => {
    expect(pathTemplateMatches(template, path)).toBe(match);
    const policy = ap({ rules: [{ to: [{ operation: { paths: [template] } }] }] });
    expect(authorize(req({ path }), [policy]).allowed).toBe(match);
  });

  it('literals are literal; the query is not part of the match', () => {
    expect(pathTemplateMatches('/a.b/{*}', '/aXb/c')).toBe(false);
    expect(pathTemplateMatches('/a/{*}', '/a/b?c=d')).toBe(true);
    expect(pathTemplateMatches('/a/{*}', '/a/b*')).toBe(false);
  });

  it('notPaths with a template', () => {
    const deny = ap({ action: 'DENY', rules: [{ to: [{ operation: { notPaths: ['/public/{**}'] } }] }] });
    expect(authorize(req({ path: '/public/x' }), [deny]).allowed).toBe(true);
    expect(authorize(req({ path: '/private/x' }), [deny]).allowed).toBe(false);
  });

  it("validation as Istio's (pkg/config/security CheckValidPathTemplate; builder testdata allow-path-in.yaml is valid)", () => {
    expect(pathTemplateError('Paths', ['/exact', '/prefix/*', '*/suffix', '*', '/path/template/{*}', '/{**}/path/template'])).toBeUndefined();
    expect(pathTemplateError('Paths', ['/{**}/{*}'])).toBe('invalid or unsupported path {**}/{*}, found in Paths. {**} is not the last operator');
    expect(pathTemplateError('Paths', ['/{**}/a/{**}'])).toContain('{**} is not the last operator');
    expect(pathTemplateError('Paths', ['/a/{foo}'])).toContain("Contains '{' or '}' beyond a supported path template");
    expect(pathTemplateError('Paths', ['/a/x{*}'])).toContain("Contains '{' or '}' beyond a supported path template");
    expect(pathTemplateError('NotPaths', ['/a/*/{*}'])).toBe(
      'invalid or unsupported path a/*/{*}, found in NotPaths. Contains segment * with invalid string literal',
    );
    expect(invalid({ rules: [{ to: [{ operation: { paths: ['/{**}/{*}'] } }] }] })).toContain('spec.rules[0]: invalid or unsupported path');
  });
});

describe('Istio versions (authz-versions.ts)', () => {
  const policy = manifest('AuthorizationPolicy', 'foo', 'p', {
    rules: [
      {
        from: [{ source: { serviceAccounts: ['sa'] } }],
        to: [{ operation: { paths: ['/a/{*}', '/b'] } }],
        when: [{ key: 'source.serviceAccount', values: ['sa'] }],
      },
    ],
  });
  it('serviceAccounts need 1.25, path templates 1.22', () => {
    expect(fieldsNewerThan(policy, '1.30.0')).toEqual([]);
    expect(fieldsNewerThan(policy, '1.25.0')).toEqual([]);
    expect(fieldsNewerThan(policy, '1.24.3')).toEqual([
      'spec.rules[0].from[0].source.serviceAccounts (needs Istio 1.25+, the target runs 1.24.3)',
      'spec.rules[0].when[0].key=source.serviceAccount (needs Istio 1.25+, the target runs 1.24.3)',
    ]);
    expect(fieldsNewerThan(policy, '1.21')).toContain('spec.rules[0].to[0].operation.paths[0]=/a/{*} (needs Istio 1.22+, the target runs 1.21)');
  });
  it('unsupportedFields: accepted at the lab version, refused by name for an older one', () => {
    expect(unsupportedFields(policy)).toEqual([]);
    expect(unsupportedFields(policy, '1.24.0')).toHaveLength(2);
    const sni = manifest('AuthorizationPolicy', 'foo', 'p', {
      rules: [
        {
          when: [
            { key: 'connection.sni', values: ['x'] },
            { key: 'destination.ip', values: ['10.0.0.1'] },
          ],
        },
      ],
    });
    expect(unsupportedFields(sni)).toEqual([]);
  });
});
