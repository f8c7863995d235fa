/**
 * The lab's layout for one scenario, decided before anything is created (pure): one network namespace per
 * workload and per external, their addresses, interface names and the files name resolution reads.
 *
 * Addresses copy kind's defaults (pods 10.244.0.0/16, the docker network of externals 172.18.0.0/16) so that a
 * NetworkPolicy ipBlock written for kind means the same here. They exist only inside the lab's namespaces: the
 * node namespace routes between them and nothing is routed to or from the host.
 */
import { IMAGE_DEFAULT_UID } from '../../model/capabilities.js';
import type { Scenario, Workload, External, WorkloadPort } from '../../scenario/schema.js';
import { parseGateway } from './sidecar/routes.js';

export const POD_CIDR = '10.244.0.0/16';
export const EXTERNAL_CIDR = '172.18.0.0/16';
/** The node side of every veth answers for these gateway addresses (like Calico's 169.254.1.1). */
export const POD_GATEWAY = '10.244.0.1';
export const EXTERNAL_GATEWAY = '172.18.0.1';
export const CLUSTER_DOMAIN = 'cluster.local';
/** Every netns the lab creates starts with this, followed by the lab id. */
export const NETNS_PREFIX = 'mp-';
/** The uid Istio's sample images run as; used when a workload sets no runAsUser. */
export const DEFAULT_RUN_AS_USER = IMAGE_DEFAULT_UID;
export const SIDECAR_UID = 1337;

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
  /** The egress gateway pod: runs the lab's proxy in gateway mode instead of a probe agent and a sidecar. */
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
export const EGRESS_GATEWAY_KEY = 'istio-system/istio-egressgateway';

/** The ports of Gateways selecting the egress gateway; undefined when the scenario has none (no gateway pod then). */
export function egressGatewayPorts(scenario: Scenario): number[] | undefined {
  const gws = scenario.spec.resources.filter((r) => r.kind === 'Gateway').map(parseGateway)
    .filter((g) => Object.entries(EGRESS_GATEWAY_SELECTOR).every(([k, v]) => g.selector[k] === v));
  if (gws.length === 0) return undefined;
  return [...new Set(gws.flatMap((g) => g.servers.map((s) => s.port)))].sort((a, b) => a - b);
}

export function egressGatewayWorkload(ports: number[]): Workload {
  return {
    name: 'istio-egressgateway', namespace: 'istio-system', serviceAccount: 'istio-egressgateway-service-account',
    labels: { ...EGRESS_GATEWAY_SELECTOR, app: 'istio-egressgateway' }, ports: ports.map((port) => ({ port, protocol: 'http' as const })),
  };
}

export function netnsName(labId: string, suffix: string): string {
  return `${NETNS_PREFIX}${labId}-${suffix}`;
}

/** Pod labels: the workload's own plus `app: <name>`, the convention selectors in the built-in scenarios use. */
export function podLabels(w: Workload): Record<string, string> {
  return { app: w.name, ...(w.labels ?? {}) };
}

export function hasSidecar(scenario: Scenario, w: Workload): boolean {
  return w.sidecar ?? scenario.spec.namespaces.find((n) => n.name === w.namespace)?.sidecarInjection ?? true;
}

const clip = (s: string, n: number) => s.slice(0, n).replace(/-+$/, '');

export function planLab(scenario: Scenario, labId: string): LabPlan {
  if (!/^[a-z0-9]{4,8}$/.test(labId)) throw new Error(`lab id "${labId}" must be 4-8 lower-case letters or digits`);
  const { workloads, externals } = scenario.spec;
  if (workloads.length > 250 || externals.length > 250) throw new Error('the lab supports at most 250 workloads and 250 externals');
  const hosts: LabHost[] = [
    ...workloads.map((w, i): LabHost => ({
      kind: 'workload',
      key: `${w.namespace}/${w.name}`,
      netns: netnsName(labId, clip(`w${i}-${w.namespace}-${w.name}`, 40)),
      nodeIf: `mp${labId}w${i}`,
      address: `10.244.1.${i + 2}`,
      gateway: POD_GATEWAY,
      sidecar: hasSidecar(scenario, w),
      uid: w.runAsUser ?? DEFAULT_RUN_AS_USER,
      capabilities: w.capabilities ?? [],
      ports: w.ports,
      workload: w,
    })),
    ...externals.map((e, i): LabHost => ({
      kind: 'external',
      key: e.name,
      netns: netnsName(labId, clip(`x${i}-${e.name.replace(/\./g, '-')}`, 40)),
      nodeIf: `mp${labId}x${i}`,
      address: `172.18.0.${i + 2}`,
      gateway: EXTERNAL_GATEWAY,
      sidecar: false,
      uid: DEFAULT_RUN_AS_USER,
      capabilities: [],
      ports: e.ports.map((p) => ({ port: p.port, protocol: p.protocol })),
      external: e,
    })),
  ];
  const gatewayPorts = egressGatewayPorts(scenario);
  if (gatewayPorts) {
    const w = egressGatewayWorkload(gatewayPorts);
    hosts.push({
      kind: 'workload', key: EGRESS_GATEWAY_KEY, netns: netnsName(labId, 'g0-istio-egressgateway'), nodeIf: `mp${labId}g0`,
      address: `10.244.1.${workloads.length + 2}`, gateway: POD_GATEWAY, egressGateway: true, sidecar: false, uid: SIDECAR_UID, capabilities: [],
      ports: w.ports, workload: w,
    });
  }
  return { labId, nodeNetns: netnsName(labId, 'node'), hosts };
}

/** Every name a workload is known by from a pod in `fromNamespace` (the hosts file cannot expand search domains). */
export function workloadNames(w: Workload, fromNamespace: string | undefined): string[] {
  const fqdn = `${w.name}.${w.namespace}.svc.${CLUSTER_DOMAIN}`;
  const names = [fqdn, `${w.name}.${w.namespace}.svc`, `${w.name}.${w.namespace}`];
  if (fromNamespace === w.namespace) names.push(w.name);
  return names;
}

/** The DNS name a probe uses for a workload: the service's full name, as a client in a cluster would. */
export function serviceName(w: Workload): string {
  return `${w.name}.${w.namespace}.svc.${CLUSTER_DOMAIN}`;
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
