/**
 * NetworkPolicy named ports and one port number on TCP and UDP, with real traffic on the lab and the predictor
 * agreeing cell by cell. Cases translated from kubernetes test/e2e/network/netpol/network_policy.go:
 *  - "should allow ingress access on one named port": x/a admits serve-81-tcp only (81 reaches, 80 does not);
 *  - "should allow egress access on one named port": y's pods may send to serve-80-tcp only, resolved on each
 *    destination pod: 80 on x/a and y/c, 8080 on x/b (one name, two numbers: per destination pod);
 * and a pod serving 80/TCP and 80/UDP at once (Kubernetes allows one number on two protocols): both answer, and a
 * named port matches only the protocol its rule names. Needs root.
 */
import { expect, test } from '@jest/globals';
import { matrixFlows, predictMatrix } from '../../../src/predict/matrix.js';
import { probeMatrix } from '../../../src/predict/probe.js';
import { buildWorld } from '../../../src/predict/world.js';
import type { Resource, Workload } from '../../../src/scenario/schema.js';
import { ensureAgentBundle } from './helpers.js';
import { describeAsRoot } from '../../support/as-root.js';

const np = (namespace: string, name: string, spec: Record<string, unknown>): Resource =>
  ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace }, spec }) as Resource;

const serve = (web: number): Workload['ports'] => [
  { port: web, protocol: 'tcp', name: 'serve-80-tcp' },
  { port: 81, protocol: 'tcp', name: 'serve-81-tcp' },
  { port: 80, protocol: 'udp', name: 'serve-80-udp' },
];
const input = {
  namespaces: [
    { name: 'x', sidecarInjection: false },
    { name: 'y', sidecarInjection: false },
  ],
  workloads: [
    { name: 'a', namespace: 'x', ports: serve(80) },
    { name: 'b', namespace: 'x', ports: serve(8080) },
    { name: 'c', namespace: 'y', ports: serve(80) },
  ],
  externals: [],
  resources: [
    np('x', 'allow-ingress-serve-81', { podSelector: { matchLabels: { app: 'a' } }, ingress: [{ ports: [{ port: 'serve-81-tcp' }] }] }),
    np('y', 'allow-egress-serve-80', { podSelector: {}, policyTypes: ['Egress'], egress: [{ ports: [{ port: 'serve-80-tcp' }] }] }),
  ],
};

/** Upstream's answer, written out by hand from the two policies. */
function upstream(from: string, to: string, port: number, protocol: string): boolean {
  if (from === to) return true; // a pod calling itself never leaves it (the e2e suite's AllowLoopback)
  const dst = input.workloads.find((w) => `${w.namespace}/${w.name}` === to)!;
  const named = (name: string) => dst.ports.find((p) => p.name === name);
  const ingressOk = to !== 'x/a' || (protocol === 'tcp' && port === named('serve-81-tcp')!.port);
  const egressOk = !from.startsWith('y/') || (protocol === 'tcp' && port === named('serve-80-tcp')!.port);
  return ingressOk && egressOk;
}

describeAsRoot('NetworkPolicy named ports on the lab', () => {
  test('predicted as Kubernetes resolves them, and observed so with real traffic on every cell', async () => {
    ensureAgentBundle();
    const { world, errors } = buildWorld(input);
    expect(errors).toEqual([]);
    const matrix = predictMatrix(world, matrixFlows(world, ['tcp', 'udp']));
    expect(matrix.cells).toHaveLength(3 * 3 * 3);
    const wrong = matrix.cells.filter((c) => c.prediction.reach !== upstream(c.flow.from, c.flow.to, c.flow.port!, c.flow.protocol));
    expect(wrong.map((c) => `${c.flow.from} -> ${c.flow.to}:${c.flow.port}/${c.flow.protocol}: predicted ${c.prediction.reach}`)).toEqual([]);
    const r = await probeMatrix(input, input.resources, matrix, { target: 'lab', name: 'netpol-named-ports' });
    if (!r.ok) throw new Error(r.error);
    const disagree = r.matrix.cells.filter((c) => c.status !== 'agree');
    expect(disagree.map((c) => `${c.flow.from} -> ${c.flow.to}:${c.flow.port}/${c.flow.protocol}: ${c.observed?.reason}`)).toEqual([]);
    const seen = (from: string, to: string, port: number, protocol: string) =>
      r.matrix.cells.find((c) => c.flow.from === from && c.flow.to === to && c.flow.port === port && c.flow.protocol === protocol)?.observed?.facts
        ?.reach;
    // One named port allowed, the other blocked (ingress), per destination pod (egress: 8080 on x/b, 80 on x/a's peers).
    expect([seen('x/b', 'x/a', 81, 'tcp'), seen('x/b', 'x/a', 80, 'tcp')]).toEqual([true, false]);
    expect([seen('y/c', 'x/b', 8080, 'tcp'), seen('y/c', 'x/b', 81, 'tcp'), seen('y/c', 'x/b', 80, 'udp')]).toEqual([true, false, false]);
    // 80/TCP and 80/UDP on one pod both answer where no policy stands in the way.
    expect([seen('x/b', 'y/c', 80, 'tcp'), seen('x/b', 'y/c', 80, 'udp'), seen('x/a', 'x/b', 80, 'udp')]).toEqual([true, true, true]);
  }, 120_000);

  test('behind sidecars: 53/UDP and 53/TCP of one workload both answer, TCP through the sidecars with mTLS, UDP not captured', async () => {
    ensureAgentBundle();
    const mesh = {
      namespaces: [{ name: 'dns', sidecarInjection: true }],
      workloads: [
        {
          name: 'server',
          namespace: 'dns',
          ports: [
            { port: 53, protocol: 'udp' as const, name: 'dns-udp' },
            { port: 53, protocol: 'tcp' as const, name: 'dns-tcp' },
          ],
        },
        { name: 'client', namespace: 'dns', ports: [] },
      ],
      externals: [],
      resources: [],
    };
    const { world, errors } = buildWorld(mesh);
    expect(errors).toEqual([]);
    const matrix = predictMatrix(world, matrixFlows(world, ['tcp', 'udp']));
    const r = await probeMatrix(mesh, [], matrix, { target: 'lab', name: 'tcp-udp-same-port' });
    if (!r.ok) throw new Error(r.error);
    expect(r.matrix.cells.filter((c) => c.status !== 'agree').map((c) => c.observed?.reason)).toEqual([]);
    const facts = (protocol: string) => r.matrix.cells.find((c) => c.flow.from === 'dns/client' && c.flow.protocol === protocol)?.observed?.facts;
    expect(facts('tcp')).toMatchObject({ reach: true, mtls: true, viaSidecar: true });
    expect(facts('udp')).toMatchObject({ reach: true });
  }, 120_000);
});
