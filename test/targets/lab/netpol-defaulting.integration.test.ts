/**
 * NetworkPolicy policyTypes defaulting with real traffic on the lab, and the predictor agreeing cell by cell.
 * Upstream: kubernetes/kubernetes pkg/apis/networking/v1/defaults.go (SetDefaults_NetworkPolicy): an empty or
 * absent policyTypes becomes [Ingress], plus Egress only when egress has rules. Cases translated from
 * test/e2e/network/netpol/network_policy.go:
 *  - "should support a 'default-deny-ingress' policy" in its original form without policyTypes
 *    ({podSelector: {}, ingress: []}): ingress to the namespace denied, its egress untouched;
 *  - "should support a 'default-deny-all' policy" (policyTypes [Ingress, Egress], ingress: [], egress: []):
 *    explicit Egress without rules denies all egress.
 * And the forms the lab and the predictor used to get wrong: egress: [] and egress: null without policyTypes
 * (no egress isolation), policyTypes: [] (defaulted to Ingress, not ignored), egress rules without policyTypes
 * (Ingress AND Egress: ingress denied too). Needs root.
 */
import { expect, test } from '@jest/globals';
import { matrixFlows, predictMatrix } from '../../../src/predict/matrix.js';
import { probeMatrix } from '../../../src/predict/probe.js';
import { buildWorld } from '../../../src/predict/world.js';
import type { Resource, Workload } from '../../../src/scenario/schema.js';
import { ensureAgentBundle } from './helpers.js';
import { describeAsRoot } from '../../support/as-root.js';

const np = (namespace: string, spec: Record<string, unknown>): Resource =>
  ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'p', namespace }, spec: { podSelector: {}, ...spec } }) as Resource;

// One namespace per policy form, one workload each; no sidecars, so a drop is a plain timeout.
const FORMS: Record<string, Record<string, unknown>> = {
  'deny-ingress': { ingress: [] },
  'deny-all': { policyTypes: ['Ingress', 'Egress'], ingress: [], egress: [] },
  'egress-empty': { ingress: [{}], egress: [] },
  'egress-null': { ingress: [{}], egress: null },
  'types-empty': { policyTypes: [] },
  'egress-rules': { egress: [{ to: [{ podSelector: {} }] }] },
  open: { ingress: [{}] },
};
const ports: Workload['ports'] = [{ port: 9000, protocol: 'tcp' }];
const input = {
  namespaces: Object.keys(FORMS).map((name) => ({ name, sidecarInjection: false })),
  workloads: Object.keys(FORMS).map((namespace) => ({ name: 'w', namespace, ports })),
  externals: [],
  resources: Object.entries(FORMS).map(([ns, spec]) => np(ns, spec)),
};

/**
 * Upstream's answer for a flow between two namespaces' pods (defaults.go applied by hand). A pod talking to its
 * own address never leaves its network namespace, so no policy applies (the e2e suite's AllowLoopback).
 */
function upstream(from: string, to: string): boolean {
  if (from === to) return true;
  const egressDenied = from === 'deny-all' || (from === 'egress-rules' && to !== from);
  const ingressDenied = ['deny-ingress', 'deny-all', 'types-empty', 'egress-rules'].includes(to);
  return !egressDenied && !ingressDenied;
}

describeAsRoot('policyTypes defaulting on the lab', () => {
  test('predicted as upstream defaults it, and observed so with real traffic on every cell', async () => {
    ensureAgentBundle();
    const { world, errors } = buildWorld(input);
    expect(errors).toEqual([]);
    const matrix = predictMatrix(world, matrixFlows(world, ['tcp']));
    expect(matrix.cells).toHaveLength(7 * 7);
    const ns = (key: string) => key.split('/')[0];
    const wrong = matrix.cells.filter((c) => c.prediction.reach !== upstream(ns(c.flow.from), ns(c.flow.to)));
    expect(wrong.map((c) => `${c.flow.from} -> ${c.flow.to}: predicted ${c.prediction.reach}`)).toEqual([]);
    const r = await probeMatrix(input, input.resources, matrix, { target: 'lab', name: 'netpol-defaulting' });
    if (!r.ok) throw new Error(r.error);
    const disagree = r.matrix.cells.filter((c) => c.status !== 'agree');
    expect(disagree.map((c) => `${c.flow.from} -> ${c.flow.to}: ${c.observed?.reason}`)).toEqual([]);
    // Both answers were really observed: some flows arrived, the denied ones did not.
    const observed = r.matrix.cells.map((c) => c.observed?.facts?.reach);
    expect(observed.filter((x) => x === true).length).toBeGreaterThan(10);
    expect(observed.filter((x) => x === false).length).toBeGreaterThan(10);
  }, 120_000);
});
