/**
 * AuthorizationPolicy features in the lab's sidecar with real traffic, and the predictor agreeing with every probe:
 * source.serviceAccounts (Istio 1.25+), `when` destination.ip and connection.sni, remoteIpBlocks decided by the
 * rightmost X-Forwarded-For address (HTTP) or the peer (TCP), and path templates {*} / {**} (Istio 1.22+) applied to
 * the normalised path. Path template cases: istio/istio tests/integration/security/authz_test.go
 * TestAuthz_PathTemplating. Needs root.
 */
import { expect, test } from '@jest/globals';
import { addressPlan } from '../../../src/model/addresses.js';
import { flowOf } from '../../../src/predict/expectation.js';
import { predict } from '../../../src/predict/predict.js';
import { buildWorld } from '../../../src/predict/world.js';
import type { Probe } from '../../../src/scenario/schema.js';
import { describeAsRoot } from '../../support/as-root.js';
import { makeScenario } from './helpers.js';
import { authz, DENIED_HTTP, deployedLab, observations, server } from './mesh-helpers.js';

const sel = (app: string) => ({ selector: { matchLabels: { app } } });
const namespaces = [{ name: 'app' }, { name: 'other' }, { name: 'legacy', sidecarInjection: false }, { name: 'shop' }];
const workloads = [
  { name: 'client', namespace: 'app' },
  { name: 'client', namespace: 'other' },
  { name: 'client', namespace: 'legacy' },
  { name: 'client', namespace: 'shop' },
  ...['bysa', 'local', 'sni', 'dstip', 'dstip-other', 'xff', 'tmpl'].map((n) => server(n, 'shop')),
  { name: 'sni-tls', namespace: 'shop', ports: [{ port: 8443, protocol: 'https' as const }] },
];
const address = addressPlan({ workloads, externals: [] });
const ipOf = (key: string) => {
  const ip = address.get(key);
  if (!ip) throw new Error(`no address for ${key}`);
  return ip;
};

const http = (name: string, from: string, to: string, extra: Partial<Probe> = {}, reach = true): Probe =>
  ({ name, from, to: `shop/${to}`, port: 8080, protocol: 'http', expect: { reach }, ...extra }) as Probe;
const tcp = (name: string, from: string, to: string, reach: boolean): Probe =>
  ({ name, from, to: `shop/${to}`, port: 9000, protocol: 'tcp', expect: { reach } }) as Probe;
const xff = (value: string) => ({ http: { headers: { 'x-forwarded-for': value } } });
const raw = (requestTarget: string, headers?: Array<[string, string]>) => ({
  http: { raw: { method: 'GET', requestTarget, version: '1.1' as const, ...(headers ? { headers } : {}) } },
});

const probes: Probe[] = [
  http('sa-allowed', 'app/client', 'bysa'),
  http('sa-other', 'other/client', 'bysa', {}, false),
  http('sa-plaintext', 'legacy/client', 'bysa', {}, false),
  tcp('sa-allowed-tcp', 'app/client', 'bysa', true),
  tcp('sa-other-tcp', 'other/client', 'bysa', false),
  http('sa-local-same-ns', 'shop/client', 'local'),
  http('sa-local-app', 'app/client', 'local', {}, false),
  http('sni-http', 'app/client', 'sni'),
  tcp('sni-other-port', 'app/client', 'sni', false),
  http('sni-plaintext', 'legacy/client', 'sni', {}, false),
  // An application's own TLS from a client without sidecar passes through with its own SNI; from a sidecar it is
  // wrapped in mTLS whose SNI is the outbound cluster name.
  { name: 'sni-app-tls', from: 'legacy/client', to: 'shop/sni-tls', port: 8443, protocol: 'https', expect: { reach: true } } as Probe,
  { name: 'sni-app-tls-meshed', from: 'app/client', to: 'shop/sni-tls', port: 8443, protocol: 'https', expect: { reach: false } } as Probe,
  http('dstip-own', 'app/client', 'dstip'),
  http('dstip-other', 'app/client', 'dstip-other', {}, false),
  tcp('dstip-own-tcp', 'app/client', 'dstip', true),
  http('xff-rightmost-in', 'app/client', 'xff', xff('198.51.100.1, 203.0.113.7')),
  http('xff-rightmost-out', 'app/client', 'xff', xff('203.0.113.7, 198.51.100.1'), false),
  http('xff-none', 'app/client', 'xff', {}, false),
  http('xff-not-an-ip', 'app/client', 'xff', xff('203.0.113.7, unknown'), false),
  http(
    'xff-duplicates',
    'app/client',
    'xff',
    raw('/', [
      ['X-Forwarded-For', '198.51.100.1'],
      ['x-forwarded-for', '203.0.113.7'],
    ]),
  ),
  http('xff-plaintext', 'legacy/client', 'xff', xff('203.0.113.7')),
  tcp('xff-tcp', 'app/client', 'xff', false),
  http('tmpl-any', 'app/client', 'tmpl', { http: { path: '/store/foo/bar/cart' } }),
  http('tmpl-any-empty', 'app/client', 'tmpl', raw('/store//cart')),
  http('tmpl-any-missing', 'app/client', 'tmpl', { http: { path: '/store/cart' } }, false),
  http('tmpl-one', 'app/client', 'tmpl', { http: { path: '/foo/buzz/bar/bat' } }),
  http('tmpl-one-missing', 'app/client', 'tmpl', { http: { path: '/foo/bar/bat.txt' } }, false),
  http('tmpl-trailing', 'app/client', 'tmpl', { http: { path: '/allow/admin/' } }),
  http('tmpl-no-trailing', 'app/client', 'tmpl', { http: { path: '/allow/admin' } }, false),
  http('tmpl-normalised-out', 'app/client', 'tmpl', raw('/store/x/../cart'), false),
  http('tmpl-normalised-in', 'app/client', 'tmpl', raw('/store/a/b/../cart')),
];

const scenario = makeScenario('authz-features', {
  namespaces,
  workloads,
  resources: [
    authz('shop', 'bysa', { ...sel('bysa'), rules: [{ from: [{ source: { serviceAccounts: ['app/client'] } }] }] }),
    // Without a namespace, a service account is in the policy's namespace: shop/client.
    authz('shop', 'local', { ...sel('local'), rules: [{ from: [{ source: { serviceAccounts: ['client'] } }] }] }),
    authz('shop', 'sni', { ...sel('sni'), rules: [{ when: [{ key: 'connection.sni', values: ['outbound_.8080_._.sni.shop.svc.cluster.local'] }] }] }),
    authz('shop', 'sni-tls', { ...sel('sni-tls'), rules: [{ when: [{ key: 'connection.sni', values: ['sni-tls.shop.svc.cluster.local'] }] }] }),
    authz('shop', 'dstip', { ...sel('dstip'), rules: [{ when: [{ key: 'destination.ip', values: [`${ipOf('shop/dstip')}/32`] }] }] }),
    authz('shop', 'dstip-other', { ...sel('dstip-other'), rules: [{ when: [{ key: 'destination.ip', values: [ipOf('shop/dstip')] }] }] }),
    authz('shop', 'xff', { ...sel('xff'), rules: [{ from: [{ source: { remoteIpBlocks: ['203.0.113.0/24'] } }] }] }),
    authz('shop', 'tmpl', {
      ...sel('tmpl'),
      rules: [{ to: [{ operation: { paths: ['/store/{**}/cart', '/foo/{*}/bar/{**}', '/allow/admin/{**}'] } }] }],
    }),
  ],
  probes,
});

describeAsRoot('AuthorizationPolicy features (on the lab, as root)', () => {
  const lab = deployedLab(scenario);
  const { r, closed } = observations(lab);

  test('serviceAccounts: the mTLS peer of that account gets in, HTTP and TCP; another account and plaintext do not', () => {
    expect(r('sa-allowed')).toMatchObject({ reached: true, outcome: 'ok' });
    expect(r('sa-other')).toMatchObject(DENIED_HTTP);
    expect(r('sa-plaintext')).toMatchObject(DENIED_HTTP);
    expect(r('sa-allowed-tcp').reached).toBe(true);
    closed('sa-other-tcp');
  });

  test("serviceAccounts: a bare name is in the policy's namespace", () => {
    expect(r('sa-local-same-ns').reached).toBe(true);
    expect(r('sa-local-app')).toMatchObject(DENIED_HTTP);
  });

  test('connection.sni: the client sidecar sends outbound_.PORT_._.HOST; another port or plaintext has another or none', () => {
    expect(r('sni-http').reached).toBe(true);
    closed('sni-other-port');
    expect(r('sni-plaintext')).toMatchObject(DENIED_HTTP);
    expect(r('sni-app-tls').reached).toBe(true);
    closed('sni-app-tls-meshed');
    const log = lab.ran.d.pods.get('shop/sni')?.sidecarLog?.() ?? '';
    expect(log).toMatch(/:9000 denied \| .*when\[0\] connection\.sni does not match/);
  });

  test('destination.ip: the address the connection was sent to', () => {
    expect(r('dstip-own').reached).toBe(true);
    expect(r('dstip-own-tcp').reached).toBe(true);
    expect(r('dstip-other')).toMatchObject(DENIED_HTTP);
  });

  test('remoteIpBlocks: the rightmost X-Forwarded-For address decides (duplicates joined), else the peer; TCP uses the peer', () => {
    expect(r('xff-rightmost-in').reached).toBe(true);
    expect(r('xff-rightmost-out')).toMatchObject(DENIED_HTTP);
    expect(r('xff-none')).toMatchObject(DENIED_HTTP);
    expect(r('xff-not-an-ip')).toMatchObject(DENIED_HTTP);
    expect(r('xff-duplicates').reached).toBe(true);
    expect(r('xff-plaintext').reached).toBe(true);
    closed('xff-tcp');
  });

  test('path templates: {**} zero or more segments, {*} exactly one, on the normalised path', () => {
    for (const name of ['tmpl-any', 'tmpl-any-empty', 'tmpl-one', 'tmpl-trailing', 'tmpl-normalised-in'])
      expect([name, r(name).reached]).toEqual([name, true]);
    const denied = ['tmpl-any-missing', 'tmpl-one-missing', 'tmpl-no-trailing', 'tmpl-normalised-out'];
    expect(Object.fromEntries(denied.map((n) => [n, r(n)]))).toMatchObject(Object.fromEntries(denied.map((n) => [n, DENIED_HTTP])));
  });

  test('the predictor agrees with every probe', () => {
    const { world, errors } = buildWorld({ ...scenario.spec, externals: [] });
    expect(errors).toEqual([]);
    const disagree = scenario.spec.probes.flatMap((p) => {
      const predicted = predict(world, flowOf(p)).reach;
      const observed = r(p.name).reached;
      return predicted === observed && observed === p.expect.reach
        ? []
        : [`${p.name}: predicted ${predicted}, observed ${observed}, expected ${p.expect.reach}`];
    });
    expect(disagree).toEqual([]);
  });
});
