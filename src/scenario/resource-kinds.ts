/**
 * The Kubernetes and Istio resource kinds a scenario's `resources` may contain, and where their schemas live.
 * Shared by validateResource (runtime) and scripts/gen-schema.mjs (which writes schema/resources/*.json).
 */

export interface ResourceKind {
  apiVersion: string;
  kind: string;
  /** npm package holding the model */
  pkg: 'kubernetes-models' | '@kubernetes-models/istio';
  /** model module inside the package, without extension: exports class <Kind> (its validate() checks types, enums,
   * required and mutually exclusive fields) and its .d.ts declares interface I<Kind> (the field tree) */
  model: string;
  /** file under schema/resources/ with the field tree (unknown-field check) */
  shapeFile: string;
}

const ISTIO: Array<[group: string, versions: string[], kinds: string[]]> = [
  ['security.istio.io', ['v1', 'v1beta1'], ['PeerAuthentication', 'AuthorizationPolicy', 'RequestAuthentication']],
  ['networking.istio.io', ['v1', 'v1beta1', 'v1alpha3'], ['Sidecar', 'ServiceEntry', 'DestinationRule', 'VirtualService', 'Gateway']],
];

function istioKind(group: string, version: string, kind: string): ResourceKind {
  return {
    apiVersion: `${group}/${version}`,
    kind,
    pkg: '@kubernetes-models/istio',
    model: `${group}/${version}/${kind}`,
    shapeFile: `${group}_${version}_${kind}.json`,
  };
}

export const RESOURCE_KINDS: readonly ResourceKind[] = [
  ...ISTIO.flatMap(([group, versions, kinds]) => versions.flatMap((v) => kinds.map((k) => istioKind(group, v, k)))),
  {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    pkg: 'kubernetes-models',
    model: 'networking.k8s.io/v1/NetworkPolicy',
    shapeFile: 'networking.k8s.io_v1_NetworkPolicy.json',
  },
];

export function findResourceKind(apiVersion: unknown, kind: unknown): ResourceKind | undefined {
  return RESOURCE_KINDS.find((k) => k.apiVersion === apiVersion && k.kind === kind);
}
