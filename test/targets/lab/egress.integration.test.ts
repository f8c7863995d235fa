/**
 * Egress control in the lab with real traffic: REGISTRY_ONLY blocks unknown hosts (HTTP 502, TCP closed) and a
 * ServiceEntry opens one; uid 1337 escapes REGISTRY_ONLY; Istio's egress-gateway task (Gateway + VirtualService +
 * DestinationRule) routes a host through the lab's egress gateway, and a NetworkPolicy limiting a namespace's
 * egress to istio-system blocks the uid-1337 escape while the gateway path works; DestinationRule TLS origination
 * to an external with an untrusted certificate fails with caCertificates and passes with insecureSkipVerify.
 * Needs root.
 */
import { describe, expect, test } from '@jest/globals';
import { makeScenario } from './helpers.js';
import { deployedLab, seen } from './mesh-helpers.js';
import { describeAsRoot } from '../../support/as-root.js';

describeAsRoot('egress (on the lab, as root)', () => {
  const net = 'networking.istio.io/v1';
  const se = (name: string, host: string, ports: Record<string, unknown>[]) => ({
    apiVersion: net,
    kind: 'ServiceEntry',
    metadata: { name, namespace: 'app' },
    spec: { hosts: [host], ports, location: 'MESH_EXTERNAL', resolution: 'DNS' },
  });
  const dr = (name: string, host: string, trafficPolicy: Record<string, unknown>) => ({
    apiVersion: net,
    kind: 'DestinationRule',
    metadata: { name, namespace: 'app' },
    spec: { host, trafficPolicy },
  });
  const http80 = { number: 80, name: 'http', protocol: 'HTTP' };
  const originate = (tls: Record<string, unknown>) => ({ portLevelSettings: [{ port: { number: 80 }, tls: { mode: 'SIMPLE', ...tls } }] });
  const GW_HOST = 'istio-egressgateway.istio-system.svc.cluster.local';

  const scenario = makeScenario('egress', {
    mesh: { outboundTrafficPolicy: 'REGISTRY_ONLY' },
    namespaces: [{ name: 'app' }, { name: 'gated' }],
    // uid 0: the clients start probes as uid 1337 (setpriv needs a container running as root).
    workloads: [
      { name: 'client', namespace: 'app', runAsUser: 0 },
      { name: 'client', namespace: 'gated', runAsUser: 0 },
    ],
    externals: [
      { name: 'api.partner.test', ports: [{ port: 80, protocol: 'http' }] },
      {
        name: 'blocked.example.test',
        ports: [
          { port: 80, protocol: 'http' },
          { port: 9000, protocol: 'tcp' },
        ],
      },
      { name: 'cnn.example.test', ports: [{ port: 80, protocol: 'http' }] },
      {
        name: 'untrusted-a.test',
        ports: [
          { port: 80, protocol: 'http' },
          { port: 443, protocol: 'https', certificate: 'untrusted' },
        ],
      },
      {
        name: 'untrusted-b.test',
        ports: [
          { port: 80, protocol: 'http' },
          { port: 443, protocol: 'https', certificate: 'untrusted' },
        ],
      },
    ],
    resources: [
      se('partner', 'api.partner.test', [http80]),
      se('cnn', 'cnn.example.test', [http80]),
      se('untrusted-a', 'untrusted-a.test', [{ ...http80, targetPort: 443 }]),
      se('untrusted-b', 'untrusted-b.test', [{ ...http80, targetPort: 443 }]),
      dr('untrusted-a', 'untrusted-a.test', originate({ caCertificates: '/etc/ssl/certs/ca-certificates.crt' })),
      dr('untrusted-b', 'untrusted-b.test', originate({ insecureSkipVerify: true })),
      // Istio's egress-gateway task, HTTP variant.
      {
        apiVersion: net,
        kind: 'Gateway',
        metadata: { name: 'istio-egressgateway', namespace: 'istio-system' },
        spec: {
          selector: { istio: 'egressgateway' },
          servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['cnn.example.test'] }],
        },
      },
      {
        apiVersion: net,
        kind: 'DestinationRule',
        metadata: { name: 'egressgateway-for-cnn', namespace: 'istio-system' },
        spec: { host: GW_HOST, subsets: [{ name: 'cnn' }] },
      },
      {
        apiVersion: net,
        kind: 'VirtualService',
        metadata: { name: 'direct-cnn-through-egress-gateway', namespace: 'istio-system' },
        spec: {
          hosts: ['cnn.example.test'],
          gateways: ['istio-egressgateway', 'mesh'],
          http: [
            {
              match: [{ gateways: ['mesh'], port: 80 }],
              route: [{ destination: { host: GW_HOST, subset: 'cnn', port: { number: 80 } }, weight: 100 }],
            },
            {
              match: [{ gateways: ['istio-egressgateway'], port: 80 }],
              route: [{ destination: { host: 'cnn.example.test', port: { number: 80 } }, weight: 100 }],
            },
          ],
        },
      },
      {
        apiVersion: 'security.istio.io/v1',
        kind: 'AuthorizationPolicy',
        metadata: { name: 'gateway-deny-flagged', namespace: 'istio-system' },
        spec: {
          selector: { matchLabels: { istio: 'egressgateway' } },
          action: 'DENY',
          rules: [{ when: [{ key: 'request.headers[x-deny]', values: ['yes'] }] }],
        },
      },
      {
        apiVersion: 'security.istio.io/v1',
        kind: 'RequestAuthentication',
        metadata: { name: 'gateway-jwt', namespace: 'istio-system' },
        spec: { selector: { matchLabels: { istio: 'egressgateway' } }, jwtRules: [{ issuer: 'lab' }] },
      },
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'egress-via-gateway-only', namespace: 'gated' },
        spec: {
          podSelector: {},
          policyTypes: ['Egress'],
          egress: [{ to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'istio-system' } } }] }],
        },
      },
    ],
    probes: [
      { name: 'unknown-http', from: 'app/client', to: 'blocked.example.test', port: 80, protocol: 'http', expect: { reach: false } },
      { name: 'unknown-tcp', from: 'app/client', to: 'blocked.example.test', port: 9000, protocol: 'tcp', expect: { reach: false } },
      { name: 'service-entry', from: 'app/client', to: 'api.partner.test', port: 80, protocol: 'http', expect: { reach: true } },
      {
        name: 'uid-1337-escape',
        from: 'app/client',
        to: 'blocked.example.test',
        port: 80,
        protocol: 'http',
        as: { user: 1337 },
        expect: { reach: true },
      },
      { name: 'via-gateway', from: 'gated/client', to: 'cnn.example.test', port: 80, protocol: 'http', expect: { reach: true } },
      {
        name: 'via-gateway-denied',
        from: 'gated/client',
        to: 'cnn.example.test',
        port: 80,
        protocol: 'http',
        http: { headers: { 'x-deny': 'yes' } },
        expect: { reach: false },
      },
      {
        name: 'via-gateway-jwt',
        from: 'gated/client',
        to: 'cnn.example.test',
        port: 80,
        protocol: 'http',
        http: { jwt: { subject: 'alice' } },
        expect: { reach: true },
      },
      {
        name: 'via-gateway-jwt-expired',
        from: 'gated/client',
        to: 'cnn.example.test',
        port: 80,
        protocol: 'http',
        http: { jwt: { subject: 'alice', expired: true } },
        expect: { reach: false },
      },
      {
        name: 'gated-1337-direct',
        from: 'gated/client',
        to: 'cnn.example.test',
        port: 80,
        protocol: 'http',
        as: { user: 1337 },
        expect: { reach: false },
      },
      {
        name: 'gated-1337-unknown',
        from: 'gated/client',
        to: 'blocked.example.test',
        port: 80,
        protocol: 'http',
        as: { user: 1337 },
        expect: { reach: false },
      },
      { name: 'originate-ca', from: 'app/client', to: 'untrusted-a.test', port: 80, protocol: 'http', expect: { reach: false } },
      { name: 'originate-skip-verify', from: 'app/client', to: 'untrusted-b.test', port: 80, protocol: 'http', expect: { reach: true } },
    ],
  });

  const lab = deployedLab(scenario);
  const r = (name: string) => seen(lab.ran.results.get(name));
  const address = (key: string) => lab.ran.d.pods.get(key)?.host.address;

  describe('REGISTRY_ONLY', () => {
    test('an unknown host: HTTP 502 from the client sidecar, TCP closed; nothing arrives', () => {
      expect(r('unknown-http')).toMatchObject({ reached: false, outcome: 'http-502' });
      expect(r('unknown-tcp').reached).toBe(false);
      expect(['reset', 'eof']).toContain(r('unknown-tcp').outcome);
    });
    test('a ServiceEntry for host and port opens it', () => {
      expect(r('service-entry')).toMatchObject({ reached: true, outcome: 'ok' });
    });
    test('is not a boundary: uid 1337 is not captured and reaches the unknown host', () => {
      expect(r('uid-1337-escape').reached).toBe(true);
    });
    test('the client sidecar logs why it blackholed', () => {
      expect(lab.ran.d.pods.get('app/client')?.sidecarLog?.()).toMatch(
        /outbound .* blackholed \| .*blocked\.example\.test:80 is not in the registry; REGISTRY_ONLY/,
      );
    });
  });

  describe('egress gateway + NetworkPolicy', () => {
    test('the gateway path works: the external sees the egress gateway as its client', () => {
      expect(r('via-gateway')).toMatchObject({ reached: true, outcome: 'ok' });
      expect(lab.ran.results.get('via-gateway')?.arrived[0]?.source.address).toBe(address('istio-system/istio-egressgateway'));
    });
    test('AuthorizationPolicy applies at the gateway: a DENY selecting istio: egressgateway answers 403 there', () => {
      expect(r('via-gateway-denied')).toMatchObject({ reached: false, outcome: 'http-403', body: 'RBAC: access denied' });
    });
    test('RequestAuthentication applies at the gateway: an expired token gets 401 there, a valid one passes without its header', () => {
      expect(r('via-gateway-jwt-expired')).toMatchObject({ reached: false, outcome: 'http-401', body: 'Jwt is expired' });
      expect(r('via-gateway-jwt').reached).toBe(true);
      expect(lab.ran.results.get('via-gateway-jwt')?.arrived[0]?.http?.headers['authorization']).toBeUndefined();
    });
    test('uid 1337 no longer escapes: NetworkPolicy drops direct egress (timeout)', () => {
      expect(r('gated-1337-direct')).toMatchObject({ reached: false, outcome: 'timeout' });
      expect(r('gated-1337-unknown')).toMatchObject({ reached: false, outcome: 'timeout' });
    });
    test('the gateway logs the VirtualService route it followed', () => {
      const gw = lab.ran.d.pods.get('istio-system/istio-egressgateway')?.sidecarLog?.() ?? '';
      expect(gw).toMatch(/gateway .* connected \| .*VirtualService istio-system\/direct-cnn-through-egress-gateway http\[1\]/);
    });
  });

  describe('DestinationRule TLS origination (Istio 1.30: the server certificate is verified)', () => {
    test('an untrusted server certificate fails verification against caCertificates: 503, nothing arrives', () => {
      expect(r('originate-ca')).toMatchObject({ reached: false, outcome: 'http-503' });
      expect(r('originate-ca').body).toMatch(/TLS_error/);
    });
    test('insecureSkipVerify: the request arrives at the external over TLS on the ServiceEntry targetPort', () => {
      expect(r('originate-skip-verify').reached).toBe(true);
      const o = lab.ran.results.get('originate-skip-verify')?.arrived[0];
      expect(o?.protocol).toBe('https');
      expect(o?.local.port).toBe(443);
    });
  });
});
