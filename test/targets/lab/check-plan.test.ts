import { describe, expect, test } from '@jest/globals';
import { checkScenario } from '../../../src/targets/lab/check.js';
import { hostsFile, planLab, resolvConf } from '../../../src/targets/lab/plan.js';
import { UnsupportedError } from '../../../src/targets/target.js';
import { makeScenario } from './helpers.js';

const base = {
  workloads: [
    { name: 'server', namespace: 'app', ports: [{ port: 8080, protocol: 'http' as const }] },
    { name: 'client', namespace: 'legacy' },
  ],
  externals: [{ name: 'api.partner.test', ports: [{ port: 443, protocol: 'https' as const }] }],
  probes: [{ name: 'p', from: 'legacy/client', to: 'app/server', port: 8080, protocol: 'http' as const, expect: { reach: true } }],
};

const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UnsupportedError);
    return `${(e as UnsupportedError).field} :: ${(e as Error).message} :: ${(e as UnsupportedError).hint}`;
  }
  throw new Error('not refused');
};

describe('what the lab refuses', () => {
  test('resource kinds it does not emulate, named, with --target kind suggested', () => {
    const s = makeScenario('x', {
      ...base,
      resources: [{ apiVersion: 'networking.istio.io/v1', kind: 'WorkloadEntry', metadata: { name: 'vm', namespace: 'app' }, spec: {} }],
    });
    expect(refusal(() => checkScenario(s))).toMatch(/^spec\.resources\[0\] :: .*WorkloadEntry app\/vm.* :: .*--target kind/);
  });
  test('RequestAuthentication: jwksUri (no JWKS endpoint in the lab) and fields the model does not implement; inline jwks is fine', () => {
    const ra = (jwtRules: object[]) =>
      makeScenario('x', {
        ...base,
        resources: [
          { apiVersion: 'security.istio.io/v1', kind: 'RequestAuthentication', metadata: { name: 'jwt', namespace: 'app' }, spec: { jwtRules } },
        ],
      });
    expect(refusal(() => checkScenario(ra([{ issuer: 'a' }, { issuer: 'b', jwksUri: 'https://idp.example.com/jwks' }])))).toMatch(
      /^spec\.resources\[0\]\.spec\.jwtRules\[1\]\.jwksUri .*:: .*the lab cannot serve it/,
    );
    expect(refusal(() => checkScenario(ra([{ issuer: 'a', fromCookies: ['session'] }])))).toMatch(/spec\.jwtRules\[0\]\.fromCookies/);
    expect(() => checkScenario(ra([{ issuer: 'a', jwks: '{"keys":[]}', fromParams: ['token'], audiences: ['x'] }]))).not.toThrow();
  });
  test('fields of emulated kinds that the model does not implement, by path', () => {
    const custom = makeScenario('x', {
      ...base,
      resources: [
        {
          apiVersion: 'security.istio.io/v1',
          kind: 'AuthorizationPolicy',
          metadata: { name: 'ext', namespace: 'app' },
          spec: { action: 'CUSTOM', provider: { name: 'opa' } },
        },
      ],
    });
    expect(refusal(() => checkScenario(custom))).toMatch(/^spec\.resources\[0\]\.spec\.action=CUSTOM :: .*spec\.provider/);
    const lb = makeScenario('x', {
      ...base,
      resources: [
        {
          apiVersion: 'networking.istio.io/v1',
          kind: 'DestinationRule',
          metadata: { name: 'd', namespace: 'app' },
          spec: { host: 'x', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } },
        },
      ],
    });
    expect(refusal(() => checkScenario(lb))).toMatch(/spec\.trafficPolicy\.loadBalancer/);
    const ca = makeScenario('x', {
      ...base,
      resources: [
        {
          apiVersion: 'networking.istio.io/v1',
          kind: 'DestinationRule',
          metadata: { name: 'd', namespace: 'app' },
          spec: { host: 'x', trafficPolicy: { tls: { mode: 'SIMPLE', caCertificates: '/etc/certs/mine.pem' } } },
        },
      ],
    });
    expect(refusal(() => checkScenario(ca))).toMatch(/caCertificates=\/etc\/certs\/mine\.pem/);
    const tcpRoute = makeScenario('x', {
      ...base,
      resources: [
        { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'v', namespace: 'app' }, spec: { hosts: ['x'], tcp: [] } },
      ],
    });
    expect(refusal(() => checkScenario(tcpRoute))).toMatch(/^spec\.resources\[0\]\.spec\.tcp/);
    const ingress = makeScenario('x', {
      ...base,
      resources: [
        {
          apiVersion: 'networking.istio.io/v1',
          kind: 'Gateway',
          metadata: { name: 'g', namespace: 'app' },
          spec: { selector: { istio: 'ingressgateway' }, servers: [] },
        },
      ],
    });
    expect(refusal(() => checkScenario(ingress))).toMatch(/spec\.selector \(only the egress gateway/);
  });
  test('Istio annotations other than the capture ones', () => {
    const s = makeScenario('x', {
      ...base,
      workloads: [{ ...base.workloads[0], annotations: { 'sidecar.istio.io/interceptionMode': 'TPROXY' } }, base.workloads[1]],
    });
    expect(refusal(() => checkScenario(s))).toMatch(/annotations\.sidecar\.istio\.io\/interceptionMode/);
  });
  test('REGISTRY_ONLY, mTLS expectations and the Istio policy kinds the sidecar emulates are accepted', () => {
    const istio = (kind: string, spec: Record<string, unknown>) => ({
      apiVersion: `${kind.endsWith('Policy') || kind === 'PeerAuthentication' ? 'security' : 'networking'}.istio.io/v1`,
      kind,
      metadata: { name: 'n', namespace: 'app' },
      spec,
    });
    const s = makeScenario('x', {
      ...base,
      mesh: { outboundTrafficPolicy: 'REGISTRY_ONLY' },
      probes: [{ ...base.probes[0], expect: { reach: true, mtls: true, peer: 'spiffe://cluster.local/ns/legacy/sa/client' } }],
      resources: [
        istio('PeerAuthentication', { mtls: { mode: 'STRICT' } }),
        istio('AuthorizationPolicy', { rules: [{ from: [{ source: { namespaces: ['app'] } }] }] }),
        istio('Sidecar', { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } }),
        istio('ServiceEntry', { hosts: ['api.partner.test'], ports: [{ number: 443, name: 'https', protocol: 'TLS' }] }),
        istio('DestinationRule', {
          host: 'api.partner.test',
          trafficPolicy: { tls: { mode: 'SIMPLE', caCertificates: '/etc/ssl/certs/ca-certificates.crt' } },
        }),
      ],
    });
    expect(checkScenario(s)).toEqual([]);
  });
  test('NetworkPolicy and capture annotations are accepted', () => {
    const s = makeScenario('x', {
      ...base,
      workloads: [{ ...base.workloads[0], annotations: { 'traffic.sidecar.istio.io/excludeInboundPorts': '8080' } }, base.workloads[1]],
      resources: [
        { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'n', namespace: 'app' }, spec: { podSelector: {} } },
      ],
    });
    expect(checkScenario(s).map((p) => p.name)).toEqual(['n']);
  });
});

describe('the lab plan', () => {
  const plan = planLab(makeScenario('x', base), 'abc123');
  test('names: netns prefixed with the lab id, node-side interfaces within 15 characters', () => {
    expect([plan.nodeNetns, ...plan.hosts.map((h) => h.netns)].every((n) => n.startsWith('mp-abc123-'))).toBe(true);
    expect(plan.hosts.every((h) => h.nodeIf.length <= 15)).toBe(true);
    expect(plan.hosts.map((h) => h.sidecar)).toEqual([true, false, false]);
  });
  test('hosts file: every service form, the short name only within the namespace, and externals', () => {
    const [server, client] = plan.hosts;
    expect(hostsFile(plan, server)).toContain('10.244.1.2\tserver.app.svc.cluster.local server.app.svc server.app server\n');
    expect(hostsFile(plan, client)).toContain('10.244.1.2\tserver.app.svc.cluster.local server.app.svc server.app\n');
    expect(hostsFile(plan, client)).toContain('172.18.0.2\tapi.partner.test\n');
    expect(resolvConf(client)).toMatch(/^search legacy\.svc\.cluster\.local svc\.cluster\.local cluster\.local$/m);
  });
});
