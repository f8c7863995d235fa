/**
 * NetworkPolicy (networking.k8s.io/v1) compiled to iptables rules for the lab's node namespace (pure).
 *
 * Every pod-to-pod or pod-to-external packet crosses the node namespace's FORWARD chain, so that is where the
 * policy is enforced, as a CNI would on a node. Replies of allowed connections pass by conntrack. The layout:
 *   FORWARD      → established/related ACCEPT, then MP-EGRESS
 *   MP-EGRESS    → per source pod isolated for egress: MP-EG-<i>; otherwise on to MP-INGRESS
 *   MP-EG-<i>    → allowed destinations jump to MP-INGRESS; anything else DROP
 *   MP-INGRESS   → per destination pod isolated for ingress: MP-IN-<i>; otherwise ACCEPT
 *   MP-IN-<i>    → allowed sources ACCEPT; anything else DROP
 * MP-INGRESS always ends in ACCEPT or DROP, so a jump to it is final: a packet must pass both the sender's egress
 * and the receiver's ingress policy. Blocked traffic is dropped silently, so the client sees a timeout.
 */
import { ipInBlock } from '../../model/match.js';
import {
  matchesSelector,
  NetworkPolicyRefusal,
  parseNetworkPolicy as parseModel,
  resolvePolicyPort,
  type NetworkPolicy,
  type PolicyPeer,
  type PolicyRule,
  type ResolvedPolicyPort,
} from '../../model/network-policy.js';
import { podLabels } from '../../model/mesh.js';
import { namedContainerPorts, type NamedContainerPort } from '../../model/ports.js';
import type { LabHost } from './plan.js';
import type { Resource } from '../../scenario/schema.js';
import { UnsupportedError } from '../target.js';
import { iptablesRule, restoreInput } from './tokens.js';

/** A pod or external as the policy engine sees it. Externals have no namespace and are matched by ipBlock only. */
export interface PolicyEndpoint {
  address: string;
  nodeIf: string;
  namespace?: string;
  labels: Record<string, string>;
  /** A pod's container ports with their names, for NetworkPolicy named ports (externals have none). */
  ports?: readonly NamedContainerPort[];
}

export interface PolicyRules {
  chains: string[];
  rules: string[];
  /** The accounting rules of watched flows (see WatchedFlow), by accountingKey: what their packet counters mean. */
  accounting: Map<string, DropRule>;
}

/**
 * A flow the lab will probe: a new packet from `src` to `dst` (`port` of `protocol`). Each isolated pod's chain ends
 * with one DROP rule per watched flow that reaches it, before its catch-all DROP: the verdict stays DROP, but the
 * rule's own packet counter says that this flow's new packets are the ones dropped there (drops.ts reads them).
 */
export interface WatchedFlow {
  src: string;
  dst: string;
  protocol: 'tcp' | 'udp';
  port: number;
}

export interface DropRule {
  /** `-A MP-IN-3 -s 10.1.0.2/32 -p tcp --dport 80 -j DROP` */
  rule: string;
  chain: string;
  /** Which NetworkPolicy side dropped it: the destination's ingress or the source's egress isolation. */
  side: 'ingress' | 'egress';
  /** flowKey of the flow it counts. */
  flow: string;
}

/** A rule's identity as `iptables-save` prints it back: chain, peer flag and address, protocol, port. */
export function accountingKey(chain: string, peerFlag: '-s' | '-d', address: string, protocol: string, port: number): string {
  return `${chain} ${peerFlag} ${address} ${protocol} ${port}`;
}

/** `tcp 10.1.0.2>10.1.0.3:80`: a flow as the accounting rules and the lab runtime name it. */
export function flowKey(f: WatchedFlow): string {
  return `${f.protocol} ${f.src}>${f.dst}:${f.port}`;
}

/** What a peer selects: pods, or one address block with exceptions. */
type PeerMatch = { kind: 'any' } | { kind: 'pods'; pods: PolicyEndpoint[] } | { kind: 'block'; cidr: string; except: string[] };

function peerMatch(peer: PolicyPeer, policyNs: string, endpoints: PolicyEndpoint[], nsLabels: (ns: string) => Record<string, string>): PeerMatch {
  if (peer.ipBlock) return { kind: 'block', cidr: peer.ipBlock.cidr, except: peer.ipBlock.except ?? [] };
  const pods = endpoints.filter((e) => {
    if (e.namespace === undefined) return false;
    const nsOk = peer.namespaceSelector ? matchesSelector(peer.namespaceSelector, nsLabels(e.namespace)) : e.namespace === policyNs;
    return nsOk && matchesSelector(peer.podSelector ?? {}, e.labels);
  });
  return { kind: 'pods', pods };
}

/** The pods a peer selects as destinations (an address block: the pods whose address it holds, minus except). */
function destinationPods(peer: PeerMatch, endpoints: PolicyEndpoint[]): PolicyEndpoint[] {
  const pods = endpoints.filter((e) => e.namespace !== undefined);
  if (peer.kind === 'any') return pods;
  if (peer.kind === 'pods') return peer.pods;
  return pods.filter((e) => ipInBlock(peer.cidr, e.address) && !peer.except.some((ex) => ipInBlock(ex, e.address)));
}

/** Resolved ports as iptables tokens; undefined (the rule lists no ports) is one empty list: any port. */
function portTokens(ports: ResolvedPolicyPort[] | undefined): string[][] {
  if (ports === undefined) return [[]];
  return ports.map((p) => {
    const proto = ['-p', p.protocol.toLowerCase()];
    if (p.port === undefined) return proto;
    return [...proto, '--dport', p.endPort !== undefined ? `${p.port}:${p.endPort}` : String(p.port)];
  });
}

const defined = <T>(v: T | undefined): v is T => v !== undefined;

/**
 * Rules of one per-pod chain for one direction: `dir` is 's' (ingress: match sources) or 'd' (egress: destinations).
 * A named port resolves on the destination pod (model: resolvePolicyPort): for ingress that is `pod` itself; for
 * egress each destination pod the peer selects gets its own rule with the number its container port of that name
 * and protocol has, and a pod without one (or an external) gets none.
 */
function directionRules(
  chain: string,
  rules: PolicyRule[],
  dir: 's' | 'd',
  allow: string,
  ctx: {
    pod: PolicyEndpoint;
    policyNs: string;
    endpoints: PolicyEndpoint[];
    nsLabels: (ns: string) => Record<string, string>;
    blocks: { n: number };
    where: string;
  },
  out: PolicyRules,
): void {
  // Every value is checked as a token before it becomes part of a line (tokens.ts): an address block or port that
  // is not one is refused, whatever the loader let through.
  const add = (...tokens: string[]) => out.rules.push(iptablesRule(tokens, ctx.where));
  const emit = (peer: PeerMatch, ports: string[][]) => {
    for (const port of ports) {
      if (peer.kind === 'any') add('-A', chain, ...port, '-j', allow);
      else if (peer.kind === 'pods') for (const p of peer.pods) add('-A', chain, `-${dir}`, `${p.address}/32`, ...port, '-j', allow);
      else {
        // An ipBlock with exceptions gets its own chain: an excepted address RETURNs to try the next rule.
        const sub = `${chain}-B${ctx.blocks.n++}`;
        out.chains.push(sub);
        for (const ex of peer.except) add('-A', sub, `-${dir}`, ex, '-j', 'RETURN');
        add('-A', sub, `-${dir}`, peer.cidr, ...port, '-j', allow);
        add('-A', chain, '-j', sub);
      }
    }
  };
  for (const rule of rules) {
    const peers = rule.peers?.length
      ? rule.peers.map((p) => peerMatch(p, ctx.policyNs, ctx.endpoints, ctx.nsLabels))
      : [{ kind: 'any' } as PeerMatch];
    const listed = rule.ports && rule.ports.length > 0 ? rule.ports : undefined;
    if (dir === 's') {
      // Ingress: the destination is this pod; ports that resolve to nothing on it allow nothing.
      const resolved = listed?.map((p) => resolvePolicyPort(p, ctx.pod.ports ?? [])).filter(defined);
      if (resolved && resolved.length === 0) continue;
      for (const peer of peers) emit(peer, portTokens(resolved));
      continue;
    }
    const numeric = listed?.filter((p) => typeof p.port !== 'string').map((p) => resolvePolicyPort(p, [])!);
    const named = (listed ?? []).filter((p) => typeof p.port === 'string');
    for (const peer of peers) {
      if (!listed || numeric!.length > 0) emit(peer, portTokens(numeric));
      for (const p of named) {
        for (const dst of destinationPods(peer, ctx.endpoints)) {
          const r = resolvePolicyPort(p, dst.ports ?? []);
          if (r) for (const port of portTokens([r])) add('-A', chain, '-d', `${dst.address}/32`, ...port, '-j', allow);
        }
      }
    }
  }
}

/** The policies that select `pod` for a direction (a pod selected by any is isolated in that direction). */
function selecting(policies: NetworkPolicy[], pod: PolicyEndpoint, type: 'Ingress' | 'Egress'): NetworkPolicy[] {
  return policies.filter((p) => p.namespace === pod.namespace && p.policyTypes.includes(type) && matchesSelector(p.podSelector, pod.labels));
}

/** The lab's hosts as the policy engine sees them: pods with their labels and named ports; externals by address. */
export function policyEndpoints(hosts: readonly LabHost[]): PolicyEndpoint[] {
  return hosts.map((h) => ({
    address: h.address,
    nodeIf: h.nodeIf,
    namespace: h.workload?.namespace,
    labels: h.workload ? podLabels(h.workload) : {},
    ...(h.workload ? { ports: namedContainerPorts(h.ports) } : {}),
  }));
}

export function compileNetworkPolicies(
  policies: NetworkPolicy[],
  endpoints: PolicyEndpoint[],
  nsLabels: (ns: string) => Record<string, string>,
  watched: readonly WatchedFlow[] = [],
): PolicyRules {
  const out: PolicyRules = { chains: ['MP-EGRESS', 'MP-INGRESS'], rules: [], accounting: new Map() };
  out.rules.push('-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT', '-A FORWARD -j MP-EGRESS');
  const perPod: string[] = [];
  endpoints.forEach((pod, i) => {
    if (pod.namespace === undefined) return;
    for (const [type, prefix, dir, allow, flag, dispatch] of [
      ['Egress', 'MP-EG', 'd', 'MP-INGRESS', '-i', 'MP-EGRESS'],
      ['Ingress', 'MP-IN', 's', 'ACCEPT', '-o', 'MP-INGRESS'],
    ] as const) {
      const selected = selecting(policies, pod, type);
      if (selected.length === 0) continue;
      const chain = `${prefix}-${i}`;
      out.chains.push(chain);
      perPod.push(iptablesRule(['-A', dispatch, flag, pod.nodeIf, '-j', chain], 'NetworkPolicy dispatch'));
      const blocks = { n: 0 };
      for (const p of selected) {
        const where = `NetworkPolicy ${p.namespace}/${p.name}`;
        directionRules(
          chain,
          type === 'Ingress' ? p.ingress : p.egress,
          dir,
          allow,
          { pod, policyNs: p.namespace, endpoints, nsLabels, blocks, where },
          out,
        );
      }
      // Whatever no selecting policy allows is denied: a selected pod is isolated in this direction. A watched
      // flow's new packets that get this far are dropped by a rule of their own (same verdict, own counter).
      const side = type === 'Ingress' ? 'ingress' : 'egress';
      for (const f of watched) {
        if ((side === 'ingress' ? f.dst : f.src) !== pod.address) continue;
        const flag = side === 'ingress' ? '-s' : '-d';
        const peer = side === 'ingress' ? f.src : f.dst;
        const key = accountingKey(chain, flag, peer, f.protocol, f.port);
        if (out.accounting.has(key)) continue;
        const rule = iptablesRule(
          ['-A', chain, flag, `${peer}/32`, '-p', f.protocol, '--dport', String(f.port), '-j', 'DROP'],
          'NetworkPolicy drop accounting',
        );
        out.accounting.set(key, { rule, chain, side, flow: flowKey(f) });
        out.rules.push(rule);
      }
      out.rules.push(`-A ${chain} -j DROP`);
    }
  });
  out.rules.push(...perPod.filter((r) => r.startsWith('-A MP-EGRESS')), '-A MP-EGRESS -j MP-INGRESS');
  out.rules.push(...perPod.filter((r) => r.startsWith('-A MP-INGRESS')), '-A MP-INGRESS -j ACCEPT');
  return out;
}

/** iptables-restore input that replaces the node namespace's filter table. */
export function policyRestoreInput(r: PolicyRules): string {
  return restoreInput('filter', r.chains, r.rules, true);
}

const KIND_HINT = 'use --target kind for a real CNI';

/** Reads a NetworkPolicy manifest with the model's parser; a field the model does not read is refused for the lab. */
export function parseNetworkPolicy(r: Resource, defaultNamespace: string): NetworkPolicy {
  try {
    return parseModel(r, defaultNamespace);
  } catch (err) {
    if (err instanceof NetworkPolicyRefusal) throw new UnsupportedError(err.field, err.message, KIND_HINT);
    throw err;
  }
}
