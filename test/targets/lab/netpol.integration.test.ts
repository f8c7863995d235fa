/** NetworkPolicy in the lab with real traffic: dropped in the node namespace, so the client times out. Needs root. */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { LabTarget } from '../../../src/targets/lab/index.js';
import type { LabDeployment } from '../../../src/targets/lab/deploy.js';
import type { AttemptResult } from '../../../src/targets/target.js';
import { labLeftovers, makeScenario } from './helpers.js';
import { deployAndProbe } from './mesh-helpers.js';
import { describeAsRoot } from '../../support/as-root.js';

describeAsRoot('netpol (on the lab, as root)', () => {
  const scenario = makeScenario('netpol', {
    workloads: [
      {
        name: 'server',
        namespace: 'app',
        ports: [
          { port: 9080, protocol: 'http' },
          { port: 9090, protocol: 'tcp' },
        ],
      },
      { name: 'client', namespace: 'app' },
      { name: 'locked', namespace: 'legacy', runAsUser: 0 }, // root: it starts a probe as uid 1337 (setpriv)
    ],
    externals: [{ name: 'api.partner.test', ports: [{ port: 80, protocol: 'http' }] }],
    resources: [
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'only-9080', namespace: 'app' },
        spec: { podSelector: { matchLabels: { app: 'server' } }, policyTypes: ['Ingress'], ingress: [{ ports: [{ protocol: 'TCP', port: 9080 }] }] },
      },
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'egress-dns-and-server', namespace: 'legacy' },
        spec: {
          podSelector: {},
          policyTypes: ['Egress'],
          egress: [
            {
              ports: [
                { protocol: 'UDP', port: 53 },
                { protocol: 'TCP', port: 53 },
              ],
            },
            {
              to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'app' } }, podSelector: { matchLabels: { app: 'server' } } }],
            },
          ],
        },
      },
    ],
    probes: [
      { name: 'allowed-9080', from: 'app/client', to: 'app/server', port: 9080, protocol: 'http', expect: { reach: true } },
      { name: 'blocked-9090', from: 'app/client', to: 'app/server', port: 9090, protocol: 'tcp', expect: { reach: false, failure: 'timeout' } },
      { name: 'egress-allowed', from: 'legacy/locked', to: 'app/server', port: 9080, protocol: 'http', expect: { reach: true } },
      { name: 'egress-blocked', from: 'legacy/locked', to: 'api.partner.test', port: 80, protocol: 'http', expect: { reach: false } },
      {
        name: 'egress-blocked-1337',
        from: 'legacy/locked',
        to: 'api.partner.test',
        port: 80,
        protocol: 'http',
        as: { user: 1337 },
        expect: { reach: false },
      },
      { name: 'external-open', from: 'app/client', to: 'api.partner.test', port: 80, protocol: 'http', expect: { reach: true } },
    ],
  });

  let target: LabTarget;
  let d: LabDeployment;
  let results: Map<string, AttemptResult>;

  beforeAll(async () => {
    ({ target, d, results } = await deployAndProbe(scenario));
  }, 60_000);

  afterAll(async () => {
    await target?.teardown();
  });

  const outcome = (name: string) => results.get(name)?.client.outcome.kind;
  const reached = (name: string) => results.get(name)?.arrived.length;

  describe('NetworkPolicy', () => {
    test('an allow-only-9080 ingress policy allows 9080 and times out other ports', () => {
      expect([outcome('allowed-9080'), reached('allowed-9080')]).toEqual(['ok', 1]);
      expect([outcome('blocked-9090'), reached('blocked-9090')]).toEqual(['timeout', 0]);
    });

    test('an egress policy allowing DNS and one destination blocks everything else, uid 1337 included', () => {
      expect([outcome('egress-allowed'), reached('egress-allowed')]).toEqual(['ok', 1]);
      expect([outcome('egress-blocked'), reached('egress-blocked')]).toEqual(['timeout', 0]);
      expect([outcome('egress-blocked-1337'), reached('egress-blocked-1337')]).toEqual(['timeout', 0]);
    });

    test('externals are reachable where no policy selects the source', () => {
      expect([outcome('external-open'), reached('external-open')]).toEqual(['ok', 1]);
      expect(results.get('external-open')?.destinationQueried).toBe(true);
    });

    test('teardown leaves nothing of the lab behind', async () => {
      const id = d.labId;
      await target.teardown();
      expect(labLeftovers(id)).toEqual([]);
    });
  });
});
