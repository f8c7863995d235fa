/**
 * Builds the predictor's World from what a scenario declares (namespaces, workloads, externals, mesh settings,
 * manifests). Pure. Addresses come from the model's address plan, which the lab uses too, so an ipBlock means the
 * same to the prediction as to the lab; manifests go through the model's parsers, as in the lab's sidecar, so the
 * predictor reads them exactly as the target does.
 */
import { DEFAULT_PATH_NORMALIZATION, parseResources, type IstioResource, type Labels, type PathNormalization } from '../model/index.js';
import { fieldsNewerThan } from '../model/authz-versions.js';
import { addressPlan } from '../model/addresses.js';
import { IMAGE_DEFAULT_UID } from '../model/capabilities.js';
import { captureConfigFromAnnotations, CaptureConfigError } from '../model/capture.js';
import { hasSidecar, podLabels } from '../model/mesh.js';
import { namespaceLabels as labelsOfNamespace, NetworkPolicyRefusal, parseNetworkPolicy, type NetworkPolicy } from '../model/network-policy.js';
import type { External, Namespace, Resource, Workload } from '../scenario/schema.js';
import type { ExternalInfo, IstioPolicies, WorkloadInfo, World } from './types.js';

export interface WorldInput {
  readonly namespaces: readonly Namespace[];
  readonly workloads: readonly Workload[];
  readonly externals: readonly External[];
  readonly mesh?: { readonly outboundTrafficPolicy?: 'ALLOW_ANY' | 'REGISTRY_ONLY'; readonly pathNormalization?: PathNormalization };
  readonly resources: readonly Resource[];
}

export interface WorldResult {
  readonly world: World;
  /** Manifests or annotations the predictor cannot read, each naming the resource or workload. */
  readonly errors: readonly string[];
}

function splitIstio(resources: readonly IstioResource[]): IstioPolicies {
  const of = <K extends IstioResource['kind']>(kind: K) => resources.filter((r): r is Extract<IstioResource, { kind: K }> => r.kind === kind);
  return {
    peerAuthentications: of('PeerAuthentication'),
    authorizationPolicies: of('AuthorizationPolicy'),
    sidecars: of('Sidecar'),
    serviceEntries: of('ServiceEntry'),
    destinationRules: of('DestinationRule'),
    requestAuthentications: of('RequestAuthentication'),
  };
}

function readNetworkPolicies(resources: readonly Resource[], defaultNamespace: string, errors: string[]): NetworkPolicy[] {
  const out: NetworkPolicy[] = [];
  for (const r of resources) {
    if (r.kind !== 'NetworkPolicy') continue;
    try {
      out.push(parseNetworkPolicy(r, defaultNamespace));
    } catch (err) {
      if (!(err instanceof NetworkPolicyRefusal)) throw err;
      errors.push(`NetworkPolicy ${r.metadata.name}: ${err.message}`);
    }
  }
  return out;
}

export function buildWorld(input: WorldInput, options: { istioVersion?: string } = {}): WorldResult {
  const errors: string[] = [];
  const scenario = { spec: { namespaces: input.namespaces } };
  const address = addressPlan(input);
  const workloads: WorkloadInfo[] = input.workloads.map((w) => {
    let capture = captureConfigFromAnnotations({});
    try {
      capture = captureConfigFromAnnotations(w.annotations);
    } catch (err) {
      if (!(err instanceof CaptureConfigError)) throw err;
      errors.push(`workload ${w.namespace}/${w.name}: ${err.message}`);
    }
    return {
      kind: 'workload',
      key: `${w.namespace}/${w.name}`,
      name: w.name,
      namespace: w.namespace,
      serviceAccount: w.serviceAccount ?? w.name,
      labels: podLabels(w),
      address: address.get(`${w.namespace}/${w.name}`) ?? '0.0.0.0',
      sidecar: hasSidecar(scenario, w),
      uid: w.runAsUser ?? IMAGE_DEFAULT_UID,
      capabilities: w.capabilities ?? [],
      ports: w.ports,
      capture,
    };
  });
  const externals: ExternalInfo[] = input.externals.map((e) => ({
    kind: 'external',
    key: e.name,
    address: address.get(e.name) ?? '0.0.0.0',
    ports: e.ports,
  }));
  const istioManifests = input.resources.filter((r) => r.kind !== 'NetworkPolicy');
  const parsed = parseResources(istioManifests);
  errors.push(...parsed.errors, ...parsed.notModelled);
  // Fields the target's Istio does not have yet (e.g. serviceAccounts before 1.25) cannot be predicted as written.
  for (const r of istioManifests) {
    for (const field of fieldsNewerThan(r, options.istioVersion))
      errors.push(`${r.kind} ${r.metadata.namespace ?? 'default'}/${r.metadata.name}: ${field}`);
  }
  // The lab's default for a NetworkPolicy without a namespace is the first declared namespace; follow it.
  const networkPolicies = readNetworkPolicies(input.resources, input.namespaces[0]?.name ?? 'default', errors);
  const namespaceLabels = (ns: string): Labels =>
    labelsOfNamespace(
      ns,
      input.namespaces.find((n) => n.name === ns),
    );
  const world: World = {
    workloads,
    externals,
    namespaceLabels,
    istio: splitIstio(parsed.resources),
    networkPolicies,
    meshOutboundPolicy: input.mesh?.outboundTrafficPolicy ?? 'ALLOW_ANY',
    pathNormalization: input.mesh?.pathNormalization ?? DEFAULT_PATH_NORMALIZATION,
    istioVersion: options.istioVersion,
  };
  return { world, errors };
}
