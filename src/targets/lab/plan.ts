/**
 * The lab's layout for one scenario, decided before anything is created (pure): one network namespace per
 * workload and per external, at the model's addresses (src/model/addresses.ts), their interface names and the
 * files name resolution reads. The addresses exist only inside the lab's namespaces: the node namespace routes
 * between them and nothing is routed to or from the host.
 */
import { addressPlan, EXTERNAL_GATEWAY, POD_GATEWAY, podAddress } from '../../model/addresses.js';
import { IMAGE_DEFAULT_UID } from '../../model/capabilities.js';
import { CLUSTER_DOMAIN, hasSidecar, ROOT_NAMESPACE, serviceFqdn, SIDECAR_UID } from '../../model/mesh.js';
import type { Scenario, Workload, External, WorkloadPort } from '../../scenario/schema.js';
import { parseGateway } from './sidecar/routes.js';

/** Every netns the lab creates starts with this, followed by the lab id. */
export const NETNS_PREFIX = 'mp-';

export interface LabHost {
  kind: 'workload' | 'external';
  /** `namespace/name` for a workload, the DNS name for an external. */
  key: string;
  netns: string;
  /** The veth end in the node namespace (≤ 15 characters). */
  nodeIf: string;
  address: string;
  gateway: string;
  sidecar: boolean;
  uid: number;
  capabilities: string[];
  ports: WorkloadPort[];
  /** Present for workloads. */
  workload?: Workload;
  /** The egress gateway pod: runs the lab's proxy in gateway mode instead of an agent and a sidecar. */
  egressGateway?: boolean;
  external?: External;
}

export interface LabPlan {
  labId: string;
  nodeNetns: string;
  hosts: LabHost[];
}

/** Istio's egress gateway, as the demo profile installs it (selector `istio: egressgateway`). */
export const EGRESS_GATEWAY_SELECTOR = { istio: 'egressgateway' } as const;
export const EGRESS_GATEWAY_KEY = `${ROOT_NAMESPACE}/istio-egressgateway`;

/** The ports of Gateways selecting the egress gateway; undefined when the scenario has none (no gateway pod then). */
export function egressGatewayPorts(scenario: Scenario): number[] | undefined {
  const gws = scenario.spec.resources
    .filter((r) => r.kind === 'Gateway')
    .map(parseGateway)
    .filter((g) => Object.entries(EGRESS_GATEWAY_SELECTOR).every(([k, v]) => g.selector[k] === v));
  if (gws.length === 0) return undefined;
  return [...new Set(gws.flatMap((g) => g.servers.map((s) => s.port)))].sort((a, b) => a - b);
}

export function egressGatewayWorkload(ports: number[]): Workload {
  return {
    name: 'istio-egressgateway',
    namespace: ROOT_NAMESPACE,
    serviceAccount: 'istio-egressgateway-service-account',
    labels: { ...EGRESS_GATEWAY_SELECTOR, app: 'istio-egressgateway' },
    ports: ports.map((port) => ({ port, protocol: 'http' as const })),
  };
}

export function netnsName(labId: string, suffix: string): string {
  return `${NETNS_PREFIX}${labId}-${suffix}`;
}

const clip = (s: string, n: number) => s.slice(0, n).replace(/-+$/, '');

export function planLab(scenario: Scenario, labId: string): LabPlan {
  if (!/^[a-z0-9]{4,8}$/.test(labId)) throw new Error(`lab id "${labId}" must be 4-8 lower-case letters or digits`);
  const { workloads, externals } = scenario.spec;
  const address = addressPlan(scenario.spec);
  const hosts: LabHost[] = [
    ...workloads.map(
      (w, i): LabHost => ({
        kind: 'workload',
        key: `${w.namespace}/${w.name}`,
        netns: netnsName(labId, clip(`w${i}-${w.namespace}-${w.name}`, 40)),
        nodeIf: `mp${labId}w${i}`,
        address: address.get(`${w.namespace}/${w.name}`)!,
        gateway: POD_GATEWAY,
        sidecar: hasSidecar(scenario, w),
        uid: w.runAsUser ?? IMAGE_DEFAULT_UID,
        capabilities: w.capabilities ?? [],
        ports: w.ports,
        workload: w,
      }),
    ),
    ...externals.map(
      (e, i): LabHost => ({
        kind: 'external',
        key: e.name,
        netns: netnsName(labId, clip(`x${i}-${e.name.replace(/\./g, '-')}`, 40)),
        nodeIf: `mp${labId}x${i}`,
        address: address.get(e.name)!,
        gateway: EXTERNAL_GATEWAY,
        sidecar: false,
        uid: IMAGE_DEFAULT_UID,
        capabilities: [],
        ports: e.ports.map((p) => ({ port: p.port, protocol: p.protocol })),
        external: e,
      }),
    ),
  ];
  const gatewayPorts = egressGatewayPorts(scenario);
  if (gatewayPorts) {
    const w = egressGatewayWorkload(gatewayPorts);
    hosts.push({
      kind: 'workload',
      key: EGRESS_GATEWAY_KEY,
      netns: netnsName(labId, 'g0-istio-egressgateway'),
      nodeIf: `mp${labId}g0`,
      address: podAddress(workloads.length),
      gateway: POD_GATEWAY,
      egressGateway: true,
      sidecar: false,
      uid: SIDECAR_UID,
      capabilities: [],
      ports: w.ports,
      workload: w,
    });
  }
  return { labId, nodeNetns: netnsName(labId, 'node'), hosts };
}

/** Every name a workload is known by from a pod in `fromNamespace` (the hosts file cannot expand search domains). */
export function workloadNames(w: Workload, fromNamespace: string | undefined): string[] {
  const fqdn = serviceFqdn(w.name, w.namespace);
  const names = [fqdn, `${w.name}.${w.namespace}.svc`, `${w.name}.${w.namespace}`];
  if (fromNamespace === w.namespace) names.push(w.name);
  return names;
}

/** The DNS name a probe uses for a workload: the service's full name, as a client in a cluster would. */
export function serviceName(w: Workload): string {
  return serviceFqdn(w.name, w.namespace);
}

/** /etc/hosts as seen from `host`: localhost, itself, every workload by its service names and every external. */
export function hostsFile(plan: LabPlan, host: LabHost): string {
  const ns = host.workload?.namespace;
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
  for (const h of plan.hosts) {
    const names = h.workload ? workloadNames(h.workload, ns) : [h.key];
    lines.push(`${h.address}\t${names.join(' ')}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * resolv.conf: the cluster search list. There is no DNS server in the lab (every name is in the hosts file);
 * the nameserver is the pod's own loopback so that a name not in the hosts file fails at once instead of
 * timing out.
 */
export function resolvConf(host: LabHost): string {
  const ns = host.workload?.namespace;
  const search = ns ? [`${ns}.svc.${CLUSTER_DOMAIN}`, `svc.${CLUSTER_DOMAIN}`, CLUSTER_DOMAIN] : [];
  return [...(search.length ? [`search ${search.join(' ')}`] : []), 'nameserver 127.0.0.1', 'options ndots:5 timeout:1 attempts:1', ''].join('\n');
}
