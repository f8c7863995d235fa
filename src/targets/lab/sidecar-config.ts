/** The config file of one pod's sidecar (or of the egress gateway), from the lab plan and the scenario (pure). */
import { podLabels, spiffeId } from '../../model/mesh.js';
import type { Scenario } from '../../scenario/schema.js';
import { caFile, certPaths } from './certs.js';
import { egressGatewayPorts, serviceName, workloadNames, type LabHost, type LabPlan } from './plan.js';
import type { RegistryHost, SidecarConfig } from './sidecar/config.js';

export function meshCertKey(h: LabHost): string {
  return `${h.netns}-mesh`;
}

export function identityOf(h: LabHost): string | undefined {
  const w = h.workload;
  return w && (h.sidecar || h.egressGateway) ? spiffeId(w.namespace, w.serviceAccount ?? w.name) : undefined;
}

export function registryOf(plan: LabPlan): RegistryHost[] {
  return plan.hosts.map((h) => {
    const w = h.workload;
    const spiffe = identityOf(h);
    return {
      kind: h.kind,
      key: h.key,
      host: w ? serviceName(w) : h.key,
      // Bare short names are left out: they mean different services in different namespaces.
      names: w ? workloadNames(w, undefined) : [h.key],
      address: h.address,
      ...(w ? { namespace: w.namespace } : {}),
      labels: w ? podLabels(w) : {},
      sidecar: h.sidecar || h.egressGateway === true,
      ...(h.egressGateway ? { gateway: true } : {}),
      ...(spiffe ? { spiffe } : {}),
      ports: h.ports.map((p) => ({ port: p.port, protocol: p.protocol })),
    };
  });
}

export function sidecarConfig(scenario: Scenario, plan: LabPlan, h: LabHost, dir: string, istioVersion: string): SidecarConfig {
  const registry = registryOf(plan);
  const self = registry.find((r) => r.key === h.key);
  if (!self?.namespace || !self.spiffe) throw new Error(`${h.key} has no sidecar identity`);
  const { certFile, keyFile } = certPaths(dir, meshCertKey(h));
  const mesh = scenario.spec.mesh?.outboundTrafficPolicy;
  return {
    mode: h.egressGateway ? 'gateway' : 'sidecar',
    istioVersion,
    self: { ...self, namespace: self.namespace, spiffe: self.spiffe },
    certFile,
    keyFile,
    meshCaFile: caFile(dir, 'mesh'),
    systemCaFile: caFile(dir, 'trusted'),
    ...(mesh ? { meshOutboundPolicy: mesh } : {}),
    ...(scenario.spec.mesh?.pathNormalization ? { pathNormalization: scenario.spec.mesh.pathNormalization } : {}),
    resources: scenario.spec.resources,
    registry,
    ...(h.egressGateway ? { gatewayPorts: egressGatewayPorts(scenario) ?? [] } : {}),
  };
}
