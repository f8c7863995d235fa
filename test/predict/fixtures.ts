/**
 * The cast of Istio's security tasks (istio.io/latest/docs/tasks/security/): namespaces foo and bar with a sidecar,
 * legacy without; sleep and httpbin in each; tcp-echo in foo; plus an external. Tests add policies per case.
 */
import { buildWorld, predict, type Flow, type Prediction, type World } from '../../src/predict/index.js';
import type { External, Namespace, Resource, Workload } from '../../src/scenario/schema.js';

export const namespaces: Namespace[] = [
  { name: 'foo', sidecarInjection: true },
  { name: 'bar', sidecarInjection: true },
  { name: 'legacy', sidecarInjection: false },
];

const wl = (namespace: string, name: string, ports: Workload['ports'], extra: Partial<Workload> = {}): Workload => ({
  name,
  namespace,
  ports,
  ...extra,
});

export const workloads: Workload[] = [
  wl('foo', 'sleep', []),
  wl('bar', 'sleep', []),
  wl('legacy', 'sleep', []),
  wl('foo', 'httpbin', [{ port: 8000, protocol: 'http' }]),
  wl('bar', 'httpbin', [{ port: 8000, protocol: 'http' }]),
  wl('legacy', 'httpbin', [{ port: 8000, protocol: 'http' }]),
  wl('foo', 'tcp-echo', [
    { port: 9000, protocol: 'tcp' },
    { port: 9001, protocol: 'tcp' },
    { port: 9002, protocol: 'udp' },
  ]),
];

export const externals: External[] = [
  {
    name: 'api.partner.test',
    ports: [
      { port: 80, protocol: 'http' },
      { port: 443, protocol: 'https', certificate: 'untrusted' },
    ],
  },
];

export function manifest(kind: string, namespace: string, name: string, spec: object): Resource {
  const apiVersion =
    kind === 'NetworkPolicy'
      ? 'networking.k8s.io/v1'
      : ['PeerAuthentication', 'AuthorizationPolicy', 'RequestAuthentication'].includes(kind)
        ? 'security.istio.io/v1'
        : 'networking.istio.io/v1';
  return { apiVersion, kind, metadata: { name, namespace }, spec } as Resource;
}

export interface Setup {
  resources?: Resource[];
  workloads?: Workload[];
  mesh?: { outboundTrafficPolicy?: 'ALLOW_ANY' | 'REGISTRY_ONLY' };
  istioVersion?: string;
}

export function world(setup: Setup = {}): World {
  const r = buildWorld(
    { namespaces, workloads: setup.workloads ?? workloads, externals, resources: setup.resources ?? [], ...(setup.mesh ? { mesh: setup.mesh } : {}) },
    setup.istioVersion ? { istioVersion: setup.istioVersion } : {},
  );
  if (r.errors.length > 0) throw new Error(r.errors.join('\n'));
  return r.world;
}

/** `flow('legacy/sleep', 'foo/httpbin', 8000)`: protocol from the port unless given. */
export function flow(from: string, to: string, port: number | undefined, protocol: Flow['protocol'] = 'http', extra: Partial<Flow> = {}): Flow {
  return { from, to, protocol, ...(port !== undefined ? { port } : {}), ...extra };
}

export function run(w: World, f: Flow): Prediction {
  return predict(w, f);
}

/** The layer texts of a prediction, for asserting the explanation names the decisive rule. */
export function layers(p: Prediction): Record<string, string> {
  return Object.fromEntries(p.explanation.map((r) => [r.layer, r.text]));
}
