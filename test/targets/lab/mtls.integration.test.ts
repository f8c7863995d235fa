/**
 * PeerAuthentication in the lab with real traffic: PERMISSIVE accepts plaintext and mTLS, STRICT closes plaintext,
 * precedence workload > namespace > mesh, portLevelMtls, and the peer identity the application sees (XFCC on HTTP,
 * the sidecar's record on TCP). Needs root.
 */
import { describe, expect, test } from '@jest/globals';
import { makeScenario } from './helpers.js';
import { deployedLab, pa, seen, server } from './mesh-helpers.js';
import { describeAsRoot } from '../../support/as-root.js';

describeAsRoot('mtls (on the lab, as root)', () => {
  const scenario = makeScenario('mtls', {
    namespaces: [{ name: 'app' }, { name: 'legacy', sidecarInjection: false }, { name: 'open' }, { name: 'strict' }],
    workloads: [
      { name: 'client', namespace: 'app' },
      { name: 'client', namespace: 'legacy' },
      server('echo', 'app'),
      { ...server('web', 'open'), ports: [...server('web', 'open').ports, { port: 8443, protocol: 'https' as const }] },
      server('db', 'strict'),
      server('lenient', 'strict'),
      server('ported', 'strict'),
    ],
    resources: [
      pa('istio-system', 'default', { mtls: { mode: 'STRICT' } }),
      pa('open', 'default', { mtls: { mode: 'PERMISSIVE' } }),
      pa('strict', 'default', { mtls: { mode: 'STRICT' } }),
      pa('strict', 'lenient', { selector: { matchLabels: { app: 'lenient' } }, mtls: { mode: 'PERMISSIVE' } }),
      pa('strict', 'ported', {
        selector: { matchLabels: { app: 'ported' } },
        mtls: { mode: 'STRICT' },
        portLevelMtls: { 9000: { mode: 'PERMISSIVE' } },
      }),
    ],
    probes: [
      { name: 'open-plain-http', from: 'legacy/client', to: 'open/web', port: 8080, protocol: 'http', expect: { reach: true } },
      { name: 'open-mtls-http', from: 'app/client', to: 'open/web', port: 8080, protocol: 'http', expect: { reach: true } },
      { name: 'open-plain-tcp', from: 'legacy/client', to: 'open/web', port: 9000, protocol: 'tcp', expect: { reach: true } },
      { name: 'open-mtls-tcp', from: 'app/client', to: 'open/web', port: 9000, protocol: 'tcp', expect: { reach: true } },
      { name: 'open-https-plain', from: 'legacy/client', to: 'open/web', port: 8443, protocol: 'https', expect: { reach: true } },
      { name: 'open-https-mtls', from: 'app/client', to: 'open/web', port: 8443, protocol: 'https', expect: { reach: true } },
      {
        name: 'forged-xfcc',
        from: 'legacy/client',
        to: 'open/web',
        port: 8080,
        protocol: 'http',
        http: { headers: { 'x-forwarded-client-cert': 'By=x;URI=spiffe://cluster.local/ns/kube-system/sa/admin' } },
        expect: { reach: true },
      },
      { name: 'strict-plain-http', from: 'legacy/client', to: 'strict/db', port: 8080, protocol: 'http', expect: { reach: false } },
      { name: 'strict-plain-tcp', from: 'legacy/client', to: 'strict/db', port: 9000, protocol: 'tcp', expect: { reach: false } },
      { name: 'strict-mtls-http', from: 'app/client', to: 'strict/db', port: 8080, protocol: 'http', expect: { reach: true } },
      { name: 'mesh-strict-plain', from: 'legacy/client', to: 'app/echo', port: 8080, protocol: 'http', expect: { reach: false } },
      { name: 'workload-permissive', from: 'legacy/client', to: 'strict/lenient', port: 8080, protocol: 'http', expect: { reach: true } },
      { name: 'port-permissive', from: 'legacy/client', to: 'strict/ported', port: 9000, protocol: 'tcp', expect: { reach: true } },
      { name: 'port-strict', from: 'legacy/client', to: 'strict/ported', port: 8080, protocol: 'http', expect: { reach: false } },
    ],
  });

  const lab = deployedLab(scenario);
  const r = (name: string) => seen(lab.ran.results.get(name));
  const CLIENT = 'spiffe://cluster.local/ns/app/sa/client';

  describe('PERMISSIVE', () => {
    test('accepts plaintext (no peer identity) and mTLS (the client sidecar identity) on HTTP', () => {
      expect(r('open-plain-http')).toMatchObject({ reached: true, outcome: 'ok', peer: undefined });
      expect(r('open-mtls-http')).toMatchObject({ reached: true, outcome: 'ok', peer: CLIENT, basis: 'xfcc-from-sidecar' });
    });
    test('on TCP the application gets no header; the peer identity comes from the sidecar record of that very connection', () => {
      expect(r('open-plain-tcp')).toMatchObject({ reached: true, peer: undefined });
      expect(r('open-mtls-tcp')).toMatchObject({ reached: true, peer: CLIENT, basis: 'sidecar-record' });
    });
    test("the application's own TLS: passed through from a client without sidecar, wrapped in mTLS by a client sidecar", () => {
      expect(r('open-https-plain')).toMatchObject({ reached: true, outcome: 'ok', peer: undefined });
      expect(r('open-https-mtls')).toMatchObject({ reached: true, outcome: 'ok', peer: CLIENT, basis: 'sidecar-record' });
    });
    test('many requests to one destination all arrive over mTLS (pooled connections, no session resumption surprises)', async () => {
      const probe = scenario.spec.probes.find((p) => p.name === 'open-mtls-http')!;
      const batch = Array.from({ length: 40 }, (_, i) => ({ probe, nonce: `many${process.pid}x${i}`, attempt: 1 }));
      const out = await lab.ran.target.probe(lab.ran.d, batch);
      expect(out.filter((x) => x.arrived[0]?.peer?.identity === CLIENT)).toHaveLength(40);
    });
    test('a client-forged X-Forwarded-Client-Cert on plaintext is stripped', () => {
      const got = lab.ran.results.get('forged-xfcc')?.arrived[0];
      expect(got?.http?.headers['x-forwarded-client-cert']).toBeUndefined();
      expect(got?.peer).toBeUndefined();
    });
    test('XFCC as Istio sets it: By = server identity, Hash, empty Subject, URI = client identity', () => {
      const xfcc = lab.ran.results.get('open-mtls-http')?.arrived[0]?.http?.headers['x-forwarded-client-cert'];
      expect(xfcc).toMatch(
        /^By=spiffe:\/\/cluster\.local\/ns\/open\/sa\/web;Hash=[0-9a-f]{64};Subject="";URI=spiffe:\/\/cluster\.local\/ns\/app\/sa\/client$/,
      );
    });
  });

  describe('STRICT', () => {
    test('closes plaintext (HTTP and TCP) and accepts mTLS', () => {
      expect(r('strict-plain-http')).toMatchObject({ reached: false });
      expect(['reset', 'eof']).toContain(r('strict-plain-http').outcome);
      expect(r('strict-plain-tcp')).toMatchObject({ reached: false });
      expect(['reset', 'eof']).toContain(r('strict-plain-tcp').outcome);
      expect(r('strict-mtls-http')).toMatchObject({ reached: true, peer: CLIENT });
    });
  });

  describe('precedence', () => {
    test('mesh STRICT applies where the namespace sets nothing; a namespace policy overrides the mesh', () => {
      expect(r('mesh-strict-plain').reached).toBe(false);
      expect(r('open-plain-http').reached).toBe(true);
    });
    test('a workload policy overrides the namespace policy', () => {
      expect(r('workload-permissive').reached).toBe(true);
    });
    test('portLevelMtls overrides the workload mode for that port only', () => {
      expect(r('port-permissive').reached).toBe(true);
      expect(r('port-strict').reached).toBe(false);
    });
    test('the server sidecar logs why it rejected plaintext', () => {
      const log = lab.ran.d.pods.get('strict/db')?.sidecarLog?.() ?? '';
      expect(log).toMatch(/inbound \S+ -> \S+:8080 rejected \| .*STRICT from the namespace policy PeerAuthentication strict\/default/);
    });
  });
});
