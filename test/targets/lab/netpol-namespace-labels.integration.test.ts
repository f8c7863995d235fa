/**
 * Namespace labels of the format (namespaces[].labels) as NetworkPolicy namespaceSelector sees them, with real
 * traffic on the lab and the predictor agreeing on every cell. Kubernetes' e2e suite selects namespaces by
 * label the same way (test/e2e/network/netpol/network_policy.go "should enforce policy based on
 * NamespaceSelector with MatchExpressions", "... to allow traffic only from a different namespace, based on
 * NamespaceSelector"). Needs root.
 */
import { describe, expect, test } from '@jest/globals';
import { matrixFlows, predictMatrix } from '../../../src/predict/matrix.js';
import { probeMatrix } from '../../../src/predict/probe.js';
import { buildWorld } from '../../../src/predict/world.js';
import type { Namespace, Resource, Workload } from '../../../src/scenario/schema.js';
import { ensureAgentBundle } from './helpers.js';
import { describeAsRoot } from '../../support/as-root.js';

const ports: Workload['ports'] = [{ port: 9000, protocol: 'tcp' }];
const input = {
  namespaces: <Namespace[]>[
    { name: 'db', sidecarInjection: false },
    { name: 'pay', sidecarInjection: false, labels: { team: 'payments' } },
    { name: 'shop', sidecarInjection: false, labels: { team: 'shop', tier: 'front' } },
    { name: 'misc', sidecarInjection: false },
  ],
  workloads: ['db', 'pay', 'shop', 'misc'].map((namespace) => ({ name: 'w', namespace, ports })),
  externals: [],
  resources: [
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'payments-only', namespace: 'db' },
      spec: {
        podSelector: {},
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [
              { namespaceSelector: { matchLabels: { team: 'payments' } } },
              { namespaceSelector: { matchExpressions: [{ key: 'tier', operator: 'In', values: ['front'] }] } },
            ],
          },
        ],
      },
    } as Resource,
  ],
};

describe('namespace labels on the lab', () => {
  describeAsRoot('as root', () =>
    test('namespaceSelector matches declared labels: pay (team) and shop (tier) reach db, misc does not', async () => {
      ensureAgentBundle();
      const { world, errors } = buildWorld(input);
      expect(errors).toEqual([]);
      const matrix = predictMatrix(world, matrixFlows(world, ['tcp']));
      const toDb = (from: string) => matrix.cells.find((c) => c.flow.from === `${from}/w` && c.flow.to === 'db/w')?.prediction.reach;
      expect([toDb('pay'), toDb('shop'), toDb('misc')]).toEqual([true, true, false]);
      const r = await probeMatrix(input, input.resources, matrix, { target: 'lab', name: 'ns-labels' });
      if (!r.ok) throw new Error(r.error);
      expect(r.matrix.cells.filter((c) => c.status !== 'agree').map((c) => `${c.flow.from} -> ${c.flow.to}: ${c.observed?.reason}`)).toEqual([]);
      const observed = (from: string) => r.matrix.cells.find((c) => c.flow.from === `${from}/w` && c.flow.to === 'db/w')?.observed?.facts?.reach;
      expect([observed('pay'), observed('shop'), observed('misc')]).toEqual([true, true, false]);
    }, 120_000),
  );
});
