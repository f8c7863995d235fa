/**
 * The Sidecar resource in the lab with real traffic: ALLOW_ANY passes unknown hosts through (without mTLS); a
 * namespace's Sidecar with outboundTrafficPolicy REGISTRY_ONLY blackholes them for that namespace only, and its
 * egress hosts (`./*`) leave mesh services of other namespaces out of its registry. Needs root.
 */
import { describe, expect, test } from '@jest/globals';
import { makeScenario } from './helpers.js';
import { deployedLab, seen } from './mesh-helpers.js';
import { describeAsRoot } from '../../support/as-root.js';

describeAsRoot('sidecar-resource (on the lab, as root)', () => {
  const web = (name: string, namespace: string) => ({ name, namespace, ports: [{ port: 8080, protocol: 'http' as const }] });
  const scenario = makeScenario('sidecar-resource', {
    namespaces: [{ name: 'open' }, { name: 'scoped' }, { name: 'shop' }],
    workloads: [{ name: 'client', namespace: 'open' }, { name: 'client', namespace: 'scoped' }, web('local', 'scoped'), web('web', 'shop')],
    externals: [
      {
        name: 'unknown.example.test',
        ports: [
          { port: 80, protocol: 'http' },
          { port: 9000, protocol: 'tcp' },
        ],
      },
    ],
    resources: [
      {
        apiVersion: 'networking.istio.io/v1',
        kind: 'Sidecar',
        metadata: { name: 'default', namespace: 'scoped' },
        spec: { egress: [{ hosts: ['./*'] }], outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } },
      },
    ],
    probes: [
      { name: 'allow-any-http', from: 'open/client', to: 'unknown.example.test', port: 80, protocol: 'http', expect: { reach: true } },
      { name: 'allow-any-tcp', from: 'open/client', to: 'unknown.example.test', port: 9000, protocol: 'tcp', expect: { reach: true } },
      { name: 'open-to-shop', from: 'open/client', to: 'shop/web', port: 8080, protocol: 'http', expect: { reach: true } },
      { name: 'scoped-unknown', from: 'scoped/client', to: 'unknown.example.test', port: 80, protocol: 'http', expect: { reach: false } },
      { name: 'scoped-own-namespace', from: 'scoped/client', to: 'scoped/local', port: 8080, protocol: 'http', expect: { reach: true } },
      { name: 'scoped-other-namespace', from: 'scoped/client', to: 'shop/web', port: 8080, protocol: 'http', expect: { reach: false } },
    ],
  });

  const lab = deployedLab(scenario);
  const r = (name: string) => seen(lab.ran.results.get(name));

  describe('outboundTrafficPolicy', () => {
    test('ALLOW_ANY (the default): an unknown host is passed through, HTTP and TCP, without mTLS', () => {
      expect(r('allow-any-http')).toMatchObject({ reached: true, peer: undefined });
      expect(r('allow-any-tcp').reached).toBe(true);
    });
    test('a Sidecar with REGISTRY_ONLY applies to its namespace: 502 there', () => {
      expect(r('scoped-unknown')).toMatchObject({ reached: false, outcome: 'http-502' });
    });
  });

  describe('Sidecar egress hosts', () => {
    test('./* keeps the own namespace (over mTLS) and drops other namespaces from the registry', () => {
      expect(r('scoped-own-namespace')).toMatchObject({ reached: true, peer: 'spiffe://cluster.local/ns/scoped/sa/client' });
      expect(r('scoped-other-namespace')).toMatchObject({ reached: false, outcome: 'http-502' });
      expect(r('open-to-shop')).toMatchObject({ reached: true, peer: 'spiffe://cluster.local/ns/open/sa/client' });
    });
    test('the decision log names the Sidecar that decided', () => {
      expect(lab.ran.d.pods.get('scoped/client')?.sidecarLog?.()).toMatch(
        /blackholed \| .*not imported by the egress hosts of Sidecar scoped\/default/,
      );
    });
  });
});
