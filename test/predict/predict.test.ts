import { describe, expect, it } from '@jest/globals';
import { flow, layers, manifest, run, world } from './fixtures.js';
import type { Workload } from '../../src/scenario/schema.js';
import { workloads as baseWorkloads } from './fixtures.js';

const STRICT_FOO = manifest('PeerAuthentication', 'foo', 'default', { mtls: { mode: 'STRICT' } });
const STRICT_MESH = manifest('PeerAuthentication', 'istio-system', 'default', { mtls: { mode: 'STRICT' } });

describe('PeerAuthentication (istio.io tasks/security/authentication/mtls-migration and authn-policy)', () => {
  it('no policy: PERMISSIVE — plaintext from legacy and mTLS from the mesh both reach httpbin', () => {
    const w = world();
    expect(run(w, flow('legacy/sleep', 'foo/httpbin', 8000))).toMatchObject({ reach: true, mtls: false, viaSidecar: true, status: 200 });
    expect(run(w, flow('bar/sleep', 'foo/httpbin', 8000))).toMatchObject({
      reach: true,
      mtls: true,
      peer: 'spiffe://cluster.local/ns/bar/sa/sleep',
      viaSidecar: true,
    });
  });

  it('namespace STRICT in foo: legacy sleep is reset (curl exit 56), sidecar clients still reach with mTLS', () => {
    const w = world({ resources: [STRICT_FOO] });
    const legacy = run(w, flow('legacy/sleep', 'foo/httpbin', 8000));
    expect(legacy).toMatchObject({ reach: false, failure: 'reset' });
    expect(layers(legacy)['peer-authentication']).toContain('STRICT from the namespace policy PeerAuthentication foo/default');
    expect(run(w, flow('foo/sleep', 'foo/httpbin', 8000))).toMatchObject({ reach: true, mtls: true });
    // bar is untouched by foo's policy.
    expect(run(w, flow('legacy/sleep', 'bar/httpbin', 8000))).toMatchObject({ reach: true, mtls: false });
  });

  it('mesh-wide STRICT in istio-system rejects plaintext everywhere a sidecar listens, not at legacy workloads', () => {
    const w = world({ resources: [STRICT_MESH] });
    expect(run(w, flow('legacy/sleep', 'bar/httpbin', 8000))).toMatchObject({ reach: false, failure: 'reset' });
    expect(run(w, flow('foo/sleep', 'legacy/httpbin', 8000))).toMatchObject({ reach: true, mtls: false, viaSidecar: false });
  });

  it('workload policy overrides namespace: httpbin.foo PERMISSIVE under namespace STRICT accepts plaintext', () => {
    const wp = manifest('PeerAuthentication', 'foo', 'httpbin', { selector: { matchLabels: { app: 'httpbin' } }, mtls: { mode: 'PERMISSIVE' } });
    expect(run(world({ resources: [STRICT_FOO, wp] }), flow('legacy/sleep', 'foo/httpbin', 8000))).toMatchObject({ reach: true, mtls: false });
  });

  it('portLevelMtls DISABLE on one port of a STRICT workload (authn-policy "Enable mutual TLS per port")', () => {
    const wp = manifest('PeerAuthentication', 'foo', 'tcp-echo', {
      selector: { matchLabels: { app: 'tcp-echo' } },
      mtls: { mode: 'STRICT' },
      portLevelMtls: { 9001: { mode: 'DISABLE' } },
    });
    const w = world({ resources: [wp] });
    expect(run(w, flow('legacy/sleep', 'foo/tcp-echo', 9000, 'tcp'))).toMatchObject({ reach: false, failure: 'reset' });
    expect(run(w, flow('legacy/sleep', 'foo/tcp-echo', 9001, 'tcp'))).toMatchObject({ reach: true, viaSidecar: true });
    // auto mTLS honours the destination's DISABLE: the client sidecar sends plaintext and it is accepted.
    const fromMesh = run(w, flow('bar/sleep', 'foo/tcp-echo', 9001, 'tcp'));
    expect(fromMesh).toMatchObject({ reach: true, mtls: false });
    expect(layers(fromMesh).outbound).toContain('plaintext');
  });
});

describe('AuthorizationPolicy (istio.io tasks/security/authorization/authz-http, authz-tcp, authz-deny)', () => {
  it('allow-nothing in foo: HTTP gets 403 "RBAC: access denied", TCP is closed', () => {
    const w = world({ resources: [manifest('AuthorizationPolicy', 'foo', 'allow-nothing', {})] });
    expect(run(w, flow('bar/sleep', 'foo/httpbin', 8000))).toMatchObject({ reach: false, failure: 'http-403' });
    expect(run(w, flow('bar/sleep', 'foo/tcp-echo', 9000, 'tcp'))).toMatchObject({ reach: false, failure: 'reset' });
  });

  it('authz-tcp: ALLOW ports 9000/9001 to tcp-echo; port 9002 (UDP, never captured) is untouched by the policy', () => {
    const allow = manifest('AuthorizationPolicy', 'foo', 'tcp-policy', {
      selector: { matchLabels: { app: 'tcp-echo' } },
      action: 'ALLOW',
      rules: [{ to: [{ operation: { ports: ['9000'] } }] }],
    });
    const w = world({ resources: [allow] });
    expect(run(w, flow('foo/sleep', 'foo/tcp-echo', 9000, 'tcp'))).toMatchObject({ reach: true });
    expect(run(w, flow('foo/sleep', 'foo/tcp-echo', 9001, 'tcp'))).toMatchObject({ reach: false, failure: 'reset' });
    const udp = run(w, flow('foo/sleep', 'foo/tcp-echo', 9002, 'udp'));
    expect(udp).toMatchObject({ reach: true, viaSidecar: false });
    expect(layers(udp)['destination-capture']).toContain('no Istio policy applies');
  });

  it('authz-tcp: an ALLOW rule with the HTTP-only field methods never matches TCP (connection rejected)', () => {
    const allow = manifest('AuthorizationPolicy', 'foo', 'tcp-policy', {
      selector: { matchLabels: { app: 'tcp-echo' } },
      action: 'ALLOW',
      rules: [{ to: [{ operation: { methods: ['GET'], ports: ['9000'] } }] }],
    });
    const p = run(world({ resources: [allow] }), flow('foo/sleep', 'foo/tcp-echo', 9000, 'tcp'));
    expect(p).toMatchObject({ reach: false, failure: 'reset' });
    expect(layers(p).authorization).toContain('ALLOW policies apply');
  });

  it('authz-tcp: a DENY rule with methods on TCP ignores them and denies the whole port', () => {
    const deny = manifest('AuthorizationPolicy', 'foo', 'tcp-policy', {
      selector: { matchLabels: { app: 'tcp-echo' } },
      action: 'DENY',
      rules: [{ to: [{ operation: { methods: ['GET'], ports: ['9000'] } }] }],
    });
    const w = world({ resources: [deny] });
    expect(run(w, flow('foo/sleep', 'foo/tcp-echo', 9000, 'tcp'))).toMatchObject({ reach: false, failure: 'reset' });
    expect(run(w, flow('foo/sleep', 'foo/tcp-echo', 9001, 'tcp'))).toMatchObject({ reach: true });
  });

  it('ALLOW from namespace foo: plaintext from legacy has no identity, so namespace rules cannot match it', () => {
    const allow = manifest('AuthorizationPolicy', 'foo', 'allow-foo', { action: 'ALLOW', rules: [{ from: [{ source: { namespaces: ['foo'] } }] }] });
    const w = world({ resources: [allow] });
    expect(run(w, flow('foo/sleep', 'foo/httpbin', 8000))).toMatchObject({ reach: true, mtls: true });
    expect(run(w, flow('bar/sleep', 'foo/httpbin', 8000))).toMatchObject({ reach: false, failure: 'http-403' });
    expect(run(w, flow('legacy/sleep', 'foo/httpbin', 8000))).toMatchObject({ reach: false, failure: 'http-403' });
  });

  it('authz-deny: DENY GET /headers from other namespaces; other paths pass', () => {
    const deny = manifest('AuthorizationPolicy', 'foo', 'deny-get', {
      selector: { matchLabels: { app: 'httpbin' } },
      action: 'DENY',
      rules: [{ from: [{ source: { notNamespaces: ['foo'] } }], to: [{ operation: { methods: ['GET'], paths: ['/headers'] } }] }],
    });
    const w = world({ resources: [deny] });
    expect(run(w, flow('bar/sleep', 'foo/httpbin', 8000, 'http', { http: { path: '/headers' } }))).toMatchObject({
      reach: false,
      failure: 'http-403',
    });
    expect(run(w, flow('bar/sleep', 'foo/httpbin', 8000, 'http', { http: { path: '/ip' } }))).toMatchObject({ reach: true });
    expect(run(w, flow('foo/sleep', 'foo/httpbin', 8000, 'http', { http: { path: '/headers' } }))).toMatchObject({ reach: true });
  });
});

describe('capture (istio-iptables rules; best-practices "Understand traffic capture limitations")', () => {
  it('uid 1337 skips the client sidecar: plaintext, so STRICT resets it', () => {
    const w = world({ resources: [STRICT_FOO] });
    const p = run(w, flow('bar/sleep', 'foo/httpbin', 8000, 'http', { asUser: 1337 }));
    expect(p).toMatchObject({ reach: false, failure: 'reset' });
    expect(layers(p)['source-capture']).toContain('uid 1337');
  });

  it('flush-capture (NET_ADMIN, uid 0) makes the client plaintext too', () => {
    const admin: Workload[] = baseWorkloads.map((w) =>
      w.namespace === 'bar' && w.name === 'sleep' ? { ...w, runAsUser: 0, capabilities: ['NET_ADMIN'] } : w,
    );
    const p = run(world({ workloads: admin, resources: [STRICT_FOO] }), flow('bar/sleep', 'foo/httpbin', 8000, 'http', { bypass: 'flush-capture' }));
    expect(p).toMatchObject({ reach: false, failure: 'reset' });
    expect(layers(p)['source-capture']).toContain('flush-capture');
  });

  it('flush-capture by a non-root workload fails whatever it adds (kubernetes#56374): the capture stays, mTLS as usual', () => {
    const admin: Workload[] = baseWorkloads.map((w) =>
      w.namespace === 'bar' && w.name === 'sleep' ? { ...w, runAsUser: 1000, capabilities: ['NET_ADMIN'] } : w,
    );
    const p = run(world({ workloads: admin, resources: [STRICT_FOO] }), flow('bar/sleep', 'foo/httpbin', 8000, 'http', { bypass: 'flush-capture' }));
    expect(p).toMatchObject({ reach: true, mtls: true });
    expect(p.explanation.map((r) => r.text).join('\n')).toMatch(/flush-capture fails .*uid 1000 has no effective capabilities/);
  });

  it('excludeOutboundPorts on the client: uncaptured, plaintext', () => {
    const ws: Workload[] = baseWorkloads.map((w) =>
      w.namespace === 'bar' && w.name === 'sleep' ? { ...w, annotations: { 'traffic.sidecar.istio.io/excludeOutboundPorts': '8000' } } : w,
    );
    const w = world({ workloads: ws, resources: [STRICT_FOO] });
    expect(run(w, flow('bar/sleep', 'foo/httpbin', 8000))).toMatchObject({ reach: false, failure: 'reset' });
    expect(run(w, flow('bar/sleep', 'bar/httpbin', 8000))).toMatchObject({ reach: true, mtls: false, viaSidecar: true });
  });

  it('excludeInboundPorts on the server: the application sees the client directly and STRICT does not apply', () => {
    const ws: Workload[] = baseWorkloads.map((w) =>
      w.namespace === 'foo' && w.name === 'httpbin' ? { ...w, annotations: { 'traffic.sidecar.istio.io/excludeInboundPorts': '8000' } } : w,
    );
    const w = world({ workloads: ws, resources: [STRICT_FOO] });
    const p = run(w, flow('legacy/sleep', 'foo/httpbin', 8000));
    expect(p).toMatchObject({ reach: true, mtls: false, viaSidecar: false });
    // A mesh client's sidecar still sends mTLS (auto mTLS does not know about the exclusion).
    expect(run(w, flow('bar/sleep', 'foo/httpbin', 8000))).toMatchObject({ reach: false, failure: 'any' });
  });

  it('port 22 is excluded from inbound capture before Istio 1.13 only (istio/istio#36312)', () => {
    const ws: Workload[] = [...baseWorkloads, { name: 'ssh', namespace: 'foo', ports: [{ port: 22, protocol: 'tcp' }] }];
    const old = run(world({ workloads: ws, resources: [STRICT_FOO], istioVersion: '1.12.0' }), flow('legacy/sleep', 'foo/ssh', 22, 'tcp'));
    expect(old).toMatchObject({ reach: true, viaSidecar: false });
    const current = run(world({ workloads: ws, resources: [STRICT_FOO], istioVersion: '1.20.0' }), flow('legacy/sleep', 'foo/ssh', 22, 'tcp'));
    expect(current).toMatchObject({ reach: false, failure: 'reset' });
  });

  it('UDP is never captured: a STRICT namespace does not protect a UDP port', () => {
    const p = run(world({ resources: [STRICT_FOO] }), flow('bar/sleep', 'foo/tcp-echo', 9002, 'udp'));
    expect(p).toMatchObject({ reach: true, mtls: false, viaSidecar: false });
    expect(layers(p)['source-capture']).toContain('never redirected');
  });

  it('a pod calling itself goes over lo uncaptured: STRICT does not apply and viaSidecar is not observable', () => {
    const p = run(world({ resources: [STRICT_FOO] }), flow('foo/httpbin', 'foo/httpbin', 8000));
    expect(p.reach).toBe(true);
    expect(p).not.toHaveProperty('viaSidecar');
  });
});

describe('egress (istio.io tasks/traffic-management/egress/egress-control, egress-tls-origination)', () => {
  const mesh = { outboundTrafficPolicy: 'REGISTRY_ONLY' as const };
  it('ALLOW_ANY passes unknown hosts through', () => {
    expect(run(world(), flow('foo/sleep', 'api.partner.test', 80))).toMatchObject({ reach: true, mtls: false, viaSidecar: false });
  });

  it('REGISTRY_ONLY: HTTP to an unknown host gets 502, HTTPS is closed', () => {
    const w = world({ mesh });
    expect(run(w, flow('foo/sleep', 'api.partner.test', 80))).toMatchObject({ reach: false, failure: 'http-502' });
    expect(run(w, flow('foo/sleep', 'api.partner.test', 443, 'https'))).toMatchObject({ reach: false, failure: 'reset' });
  });

  it('REGISTRY_ONLY: a ServiceEntry for host and port opens it; another port stays closed', () => {
    const se = manifest('ServiceEntry', 'foo', 'partner', {
      hosts: ['api.partner.test'],
      ports: [{ number: 80, name: 'http', protocol: 'HTTP' }],
      location: 'MESH_EXTERNAL',
      resolution: 'DNS',
    });
    const w = world({ mesh, resources: [se] });
    expect(run(w, flow('foo/sleep', 'api.partner.test', 80))).toMatchObject({ reach: true });
    expect(run(w, flow('foo/sleep', 'api.partner.test', 443, 'https'))).toMatchObject({ reach: false, failure: 'reset' });
  });

  it('REGISTRY_ONLY is not a boundary: uid 1337 and a workload without a sidecar get out', () => {
    const w = world({ mesh });
    expect(run(w, flow('foo/sleep', 'api.partner.test', 80, 'http', { asUser: 1337 }))).toMatchObject({ reach: true });
    expect(run(w, flow('legacy/sleep', 'api.partner.test', 80))).toMatchObject({ reach: true });
  });

  it('TLS origination verifies the server since Istio 1.21: an untrusted certificate fails, insecureSkipVerify passes', () => {
    const se = manifest('ServiceEntry', 'foo', 'partner', {
      hosts: ['api.partner.test'],
      ports: [{ number: 443, name: 'tls', protocol: 'TLS' }],
      location: 'MESH_EXTERNAL',
      resolution: 'DNS',
    });
    const dr = (tls: object) =>
      manifest('DestinationRule', 'foo', 'partner', {
        host: 'api.partner.test',
        trafficPolicy: { portLevelSettings: [{ port: { number: 443 }, tls }] },
      });
    const verified = world({ resources: [se, dr({ mode: 'SIMPLE' })] });
    expect(run(verified, flow('foo/sleep', 'api.partner.test', 443, 'tcp'))).toMatchObject({ reach: false, failure: 'any' });
    const skipped = world({ resources: [se, dr({ mode: 'SIMPLE', insecureSkipVerify: true })] });
    expect(run(skipped, flow('foo/sleep', 'api.partner.test', 443, 'tcp'))).toMatchObject({ reach: true });
    const old = world({ resources: [se, dr({ mode: 'SIMPLE' })], istioVersion: '1.20.0' });
    expect(run(old, flow('foo/sleep', 'api.partner.test', 443, 'tcp'))).toMatchObject({ reach: true });
  });
});

describe('NetworkPolicy (kubernetes.io network-policies; drops are timeouts)', () => {
  const denyIngress = manifest('NetworkPolicy', 'foo', 'default-deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] });
  it('default-deny ingress in foo: every protocol times out, other namespaces unaffected', () => {
    const w = world({ resources: [denyIngress] });
    for (const [port, protocol] of [
      [9000, 'tcp'],
      [9002, 'udp'],
      [undefined, 'icmp'],
    ] as const) {
      const p = run(w, flow('bar/sleep', 'foo/tcp-echo', port, protocol));
      expect(p).toMatchObject({ reach: false, failure: 'timeout' });
      expect(layers(p)['network-policy']).toContain('NetworkPolicy foo/default-deny-ingress');
    }
    expect(run(w, flow('foo/sleep', 'bar/httpbin', 8000))).toMatchObject({ reach: true });
  });

  it('an allow from namespace bar on TCP 9000 opens exactly that', () => {
    const allow = manifest('NetworkPolicy', 'foo', 'allow-bar', {
      podSelector: { matchLabels: { app: 'tcp-echo' } },
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'bar' } } }], ports: [{ port: 9000 }] }],
    });
    const w = world({ resources: [denyIngress, allow] });
    expect(run(w, flow('bar/sleep', 'foo/tcp-echo', 9000, 'tcp'))).toMatchObject({ reach: true });
    expect(run(w, flow('bar/sleep', 'foo/tcp-echo', 9001, 'tcp'))).toMatchObject({ reach: false, failure: 'timeout' });
    expect(run(w, flow('legacy/sleep', 'foo/tcp-echo', 9000, 'tcp'))).toMatchObject({ reach: false, failure: 'timeout' });
    // A rule with ports does not admit ICMP.
    expect(run(w, flow('bar/sleep', 'foo/tcp-echo', undefined, 'icmp'))).toMatchObject({ reach: false, failure: 'timeout' });
  });

  it('egress isolation of the client blocks the uid-1337 escape (egress gateway + NetworkPolicy pattern)', () => {
    const egress = manifest('NetworkPolicy', 'foo', 'no-external', {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [{ to: [{ ipBlock: { cidr: '10.244.0.0/16' } }] }],
    });
    const w = world({ resources: [egress] });
    expect(run(w, flow('foo/sleep', 'api.partner.test', 80, 'http', { asUser: 1337 }))).toMatchObject({ reach: false, failure: 'timeout' });
    expect(run(w, flow('foo/sleep', 'bar/httpbin', 8000))).toMatchObject({ reach: true });
  });

  it('NetworkPolicy is checked before Istio: a drop wins over an AuthorizationPolicy deny', () => {
    const w = world({ resources: [denyIngress, manifest('AuthorizationPolicy', 'foo', 'allow-nothing', {})] });
    expect(run(w, flow('bar/sleep', 'foo/httpbin', 8000))).toMatchObject({ reach: false, failure: 'timeout' });
  });
});

describe("more layers from Istio's docs", () => {
  it('uid 1337 calling its own pod is redirected to the inbound listener in plaintext: STRICT resets it', () => {
    const p = run(world({ resources: [STRICT_FOO] }), flow('foo/httpbin', 'foo/httpbin', 8000, 'http', { asUser: 1337 }));
    expect(p).toMatchObject({ reach: false, failure: 'reset' });
    expect(layers(p)['source-capture']).toContain('inbound listener');
  });

  it('includeInboundPorts lists the captured ports; others reach the application directly', () => {
    const ws: Workload[] = baseWorkloads.map((w) =>
      w.name === 'tcp-echo' ? { ...w, annotations: { 'traffic.sidecar.istio.io/includeInboundPorts': '9000' } } : w,
    );
    const w = world({ workloads: ws, resources: [STRICT_FOO] });
    expect(run(w, flow('legacy/sleep', 'foo/tcp-echo', 9000, 'tcp'))).toMatchObject({ reach: false, failure: 'reset' });
    expect(run(w, flow('legacy/sleep', 'foo/tcp-echo', 9001, 'tcp'))).toMatchObject({ reach: true, viaSidecar: false });
  });

  it('Sidecar egress hosts limit the registry: with REGISTRY_ONLY an unimported mesh service is blackholed (Sidecar reference)', () => {
    const sidecar = manifest('Sidecar', 'foo', 'default', {
      egress: [{ hosts: ['./*', 'istio-system/*'] }],
      outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' },
    });
    const w = world({ resources: [sidecar] });
    expect(run(w, flow('foo/sleep', 'foo/httpbin', 8000))).toMatchObject({ reach: true });
    const p = run(w, flow('foo/sleep', 'bar/httpbin', 8000));
    expect(p).toMatchObject({ reach: false, failure: 'http-502' });
    expect(layers(p).outbound).toContain('REGISTRY_ONLY');
  });

  it('DestinationRule tls.mode DISABLE turns auto mTLS off: the STRICT server resets the sidecar client', () => {
    const dr = manifest('DestinationRule', 'foo', 'httpbin', { host: 'httpbin.foo.svc.cluster.local', trafficPolicy: { tls: { mode: 'DISABLE' } } });
    const p = run(world({ resources: [STRICT_FOO, dr] }), flow('bar/sleep', 'foo/httpbin', 8000));
    expect(p).toMatchObject({ reach: false, failure: 'reset' });
  });

  it('an unknown endpoint is an error naming it', () => {
    expect(() => run(world(), flow('foo/nope', 'foo/httpbin', 8000))).toThrow('foo/nope is not a declared workload');
  });
});

describe('RequestAuthentication (istio.io tasks/security/authentication/authn-policy "End-user authentication"; jwt_test.go)', () => {
  const ISS = 'testing@secure.istio.io';
  const ra = manifest('RequestAuthentication', 'foo', 'jwt-example', {
    selector: { matchLabels: { app: 'httpbin' } },
    jwtRules: [{ issuer: ISS, audiences: ['httpbin'] }],
  });
  const requirePrincipal = manifest('AuthorizationPolicy', 'foo', 'require-jwt', {
    selector: { matchLabels: { app: 'httpbin' } },
    rules: [{ from: [{ source: { requestPrincipals: [`${ISS}/${ISS}`] } }] }],
  });
  const jwt = (extra: object = {}) => ({ http: { jwt: { issuer: ISS, subject: ISS, audiences: ['httpbin'], ...extra } } });
  const to = (w: ReturnType<typeof world>, extra: object) => run(w, flow('bar/sleep', 'foo/httpbin', 8000, 'http', extra));

  it('authentication only: no token and a valid token reach; expired or forged → 401; wrong audience → 403', () => {
    const w = world({ resources: [ra] });
    expect(to(w, {})).toMatchObject({ reach: true, status: 200 });
    expect(to(w, jwt())).toMatchObject({ reach: true, status: 200 });
    const expired = to(w, jwt({ expired: true }));
    expect(expired).toMatchObject({ reach: false, failure: 'http-401' });
    expect(layers(expired).authorization).toContain('Jwt is expired');
    expect(to(w, jwt({ signedBy: 'other' }))).toMatchObject({ reach: false, failure: 'http-401' });
    expect(to(w, jwt({ audiences: ['other'] }))).toMatchObject({ reach: false, failure: 'http-403' });
  });

  it('with requestPrincipals: a valid token reaches, none → 403 from RBAC, on TCP the ALLOW rule never matches', () => {
    const w = world({ resources: [ra, requirePrincipal] });
    expect(to(w, jwt())).toMatchObject({ reach: true });
    expect(to(w, {})).toMatchObject({ reach: false, failure: 'http-403' });
    expect(run(w, flow('bar/sleep', 'foo/httpbin', 8000, 'tcp'))).toMatchObject({ reach: false, failure: 'reset' });
  });
});
