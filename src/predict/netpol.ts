/**
 * Kubernetes NetworkPolicy as a decision (kubernetes.io/docs/concepts/services-networking/network-policies): a pod
 * selected by a policy of a type is isolated in that direction and then only what some selecting policy's rules
 * allow gets through; a connection needs the client's egress AND the server's ingress. Rules: peers ORed
 * (podSelector in the policy's namespace, namespaceSelector [+ podSelector], ipBlock minus except), ports ORed
 * (protocol defaults to TCP; no ports = every protocol, ICMP included). Manifests are read and their policyTypes
 * defaulted by the model (src/model/network-policy.ts), the same reading the lab compiles into iptables.
 */
import { ipInBlock, type Labels } from '../model/index.js';
import {
  matchesSelector,
  resolvedPortMatches,
  resolvePolicyPort,
  type NetworkPolicy,
  type PolicyPeer,
  type PolicyPort,
  type PolicyRule,
} from '../model/network-policy.js';
import type { NamedContainerPort } from '../model/ports.js';
import type { ProbeProtocolName } from './names.js';

export interface NetpolEndpoint {
  readonly address: string;
  /** Absent for externals: they are matched by ipBlock only. */
  readonly namespace?: string;
  readonly labels: Labels;
  /** A pod's container ports with their names, against which a NetworkPolicy named port resolves (none: externals). */
  readonly ports?: readonly NamedContainerPort[];
}

export interface NetpolFlow {
  readonly source: NetpolEndpoint;
  readonly destination: NetpolEndpoint;
  readonly port?: number;
  readonly protocol: ProbeProtocolName;
}

export type NetpolVerdict = { readonly allowed: boolean; readonly reason: string };

const ref = (p: NetworkPolicy) => `NetworkPolicy ${p.namespace}/${p.name}`;

function peerMatches(peer: PolicyPeer, policyNs: string, other: NetpolEndpoint, nsLabels: (ns: string) => Labels): boolean {
  if (peer.ipBlock) {
    return ipInBlock(peer.ipBlock.cidr, other.address) && !(peer.ipBlock.except ?? []).some((ex) => ipInBlock(ex, other.address));
  }
  if (other.namespace === undefined) return false;
  const nsOk = peer.namespaceSelector ? matchesSelector(peer.namespaceSelector, { ...nsLabels(other.namespace) }) : other.namespace === policyNs;
  return nsOk && matchesSelector(peer.podSelector ?? {}, { ...other.labels });
}

/** A named port resolves on the destination pod, whichever direction the rule is for (model: resolvePolicyPort). */
function portMatches(p: PolicyPort, flow: NetpolFlow): boolean {
  const transport = flow.protocol === 'udp' ? 'UDP' : flow.protocol === 'icmp' ? 'ICMP' : 'TCP';
  const resolved = resolvePolicyPort(p, flow.destination.ports ?? []);
  return resolved !== undefined && resolvedPortMatches(resolved, transport, flow.port);
}

function ruleAllows(rule: PolicyRule, policyNs: string, other: NetpolEndpoint, flow: NetpolFlow, nsLabels: (ns: string) => Labels): boolean {
  const peersOk = !rule.peers || rule.peers.length === 0 || rule.peers.some((peer) => peerMatches(peer, policyNs, other, nsLabels));
  const portsOk = !rule.ports || rule.ports.length === 0 || rule.ports.some((p) => portMatches(p, flow));
  return peersOk && portsOk;
}

function direction(
  type: 'Ingress' | 'Egress',
  policies: readonly NetworkPolicy[],
  flow: NetpolFlow,
  nsLabels: (ns: string) => Labels,
): NetpolVerdict | undefined {
  const pod = type === 'Egress' ? flow.source : flow.destination;
  const other = type === 'Egress' ? flow.destination : flow.source;
  if (pod.namespace === undefined) return undefined;
  const selecting = policies.filter(
    (p) => p.namespace === pod.namespace && p.policyTypes.includes(type) && matchesSelector(p.podSelector, { ...pod.labels }),
  );
  if (selecting.length === 0) return undefined;
  const what = type === 'Egress' ? 'egress' : 'ingress';
  for (const p of selecting) {
    const rules = type === 'Egress' ? p.egress : p.ingress;
    const index = rules.findIndex((r) => ruleAllows(r, p.namespace, other, flow, nsLabels));
    if (index >= 0) return { allowed: true, reason: `${what} allowed by ${ref(p)} (${what}[${index}])` };
  }
  return {
    allowed: false,
    reason: `${what} denied: ${selecting.map(ref).join(', ')} isolate${selecting.length === 1 ? 's' : ''} the ${type === 'Egress' ? 'client' : 'server'} and no rule allows this ${flow.protocol.toUpperCase()}${flow.port ? ` port ${flow.port}` : ''} traffic`,
  };
}

/** Egress of the source, then ingress of the destination; a drop is silent (the client times out). */
export function networkPolicyDecision(policies: readonly NetworkPolicy[], flow: NetpolFlow, nsLabels: (ns: string) => Labels): NetpolVerdict {
  const egress = direction('Egress', policies, flow, nsLabels);
  if (egress && !egress.allowed) return egress;
  const ingress = direction('Ingress', policies, flow, nsLabels);
  if (ingress && !ingress.allowed) return ingress;
  const parts = [egress?.reason, ingress?.reason].filter((r): r is string => r !== undefined);
  return { allowed: true, reason: parts.length > 0 ? parts.join('; ') : 'no NetworkPolicy isolates either end' };
}
