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
import type { Resource } from '../../scenario/schema.js';
import { UnsupportedError } from '../target.js';
import { iptablesRule, restoreInput } from './tokens.js';

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}
export interface PolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}
export interface PolicyPort {
  protocol?: 'TCP' | 'UDP' | 'SCTP';
  port?: number;
  endPort?: number;
}
export interface PolicyRule {
  peers?: PolicyPeer[];
  ports?: PolicyPort[];
}
export interface NetworkPolicy {
  name: string;
  namespace: string;
  podSelector: LabelSelector;
  policyTypes: ('Ingress' | 'Egress')[];
  ingress: PolicyRule[];
  egress: PolicyRule[];
}

/** A pod or external as the policy engine sees it. Externals have no namespace and are matched by ipBlock only. */
export interface PolicyEndpoint {
  address: string;
  nodeIf: string;
  namespace?: string;
  labels: Record<string, string>;
}

export interface PolicyRules {
  chains: string[];
  rules: string[];
}

export function matchesSelector(sel: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const inValues = has && (e.values ?? []).includes(labels[e.key]);
    if (e.operator === 'In' && !inValues) return false;
    if (e.operator === 'NotIn' && inValues) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

/** What a peer selects: pod addresses, or one address block with exceptions. */
type PeerMatch = { kind: 'any' } | { kind: 'addresses'; addresses: string[] } | { kind: 'block'; cidr: string; except: string[] };

function peerMatch(peer: PolicyPeer, policyNs: string, endpoints: PolicyEndpoint[], nsLabels: (ns: string) => Record<string, string>): PeerMatch {
  if (peer.ipBlock) return { kind: 'block', cidr: peer.ipBlock.cidr, except: peer.ipBlock.except ?? [] };
  const pods = endpoints.filter((e) => {
    if (e.namespace === undefined) return false;
    const nsOk = peer.namespaceSelector ? matchesSelector(peer.namespaceSelector, nsLabels(e.namespace)) : e.namespace === policyNs;
    return nsOk && matchesSelector(peer.podSelector ?? {}, e.labels);
  });
  return { kind: 'addresses', addresses: pods.map((p) => p.address) };
}

/** Each port of a rule as iptables tokens (one empty list: any port). */
function portMatches(ports: PolicyPort[] | undefined): string[][] {
  if (!ports || ports.length === 0) return [[]];
  return ports.map((p) => {
    const proto = ['-p', (p.protocol ?? 'TCP').toLowerCase()];
    if (p.port === undefined) return proto;
    return [...proto, '--dport', p.endPort !== undefined ? `${p.port}:${p.endPort}` : String(p.port)];
  });
}

/** Rules of one per-pod chain for one direction: `dir` is 's' (ingress: match sources) or 'd' (egress: destinations). */
function directionRules(
  chain: string,
  rules: PolicyRule[],
  dir: 's' | 'd',
  allow: string,
  ctx: { policyNs: string; endpoints: PolicyEndpoint[]; nsLabels: (ns: string) => Record<string, string>; blocks: { n: number }; where: string },
  out: PolicyRules,
): void {
  // Every value is checked as a token before it becomes part of a line (tokens.ts): an address block or port that
  // is not one is refused, whatever the loader let through.
  const add = (...tokens: string[]) => out.rules.push(iptablesRule(tokens, ctx.where));
  for (const rule of rules) {
    const peers = rule.peers && rule.peers.length ? rule.peers.map((p) => peerMatch(p, ctx.policyNs, ctx.endpoints, ctx.nsLabels)) : [{ kind: 'any' } as PeerMatch];
    for (const peer of peers) {
      for (const port of portMatches(rule.ports)) {
        if (peer.kind === 'any') add('-A', chain, ...port, '-j', allow);
        else if (peer.kind === 'addresses') for (const a of peer.addresses) add('-A', chain, `-${dir}`, `${a}/32`, ...port, '-j', allow);
        else {
          // An ipBlock with exceptions gets its own chain: an excepted address RETURNs to try the next rule.
          const sub = `${chain}-B${ctx.blocks.n++}`;
          out.chains.push(sub);
          for (const ex of peer.except) add('-A', sub, `-${dir}`, ex, '-j', 'RETURN');
          add('-A', sub, `-${dir}`, peer.cidr, ...port, '-j', allow);
          add('-A', chain, '-j', sub);
        }
      }
    }
  }
}

/** The policies that select `pod` for a direction (a pod selected by any is isolated in that direction). */
function selecting(policies: NetworkPolicy[], pod: PolicyEndpoint, type: 'Ingress' | 'Egress'): NetworkPolicy[] {
  return policies.filter((p) => p.namespace === pod.namespace && p.policyTypes.includes(type) && matchesSelector(p.podSelector, pod.labels));
}

export function compileNetworkPolicies(
  policies: NetworkPolicy[],
  endpoints: PolicyEndpoint[],
  nsLabels: (ns: string) => Record<string, string>,
): PolicyRules {
  const out: PolicyRules = { chains: ['MP-EGRESS', 'MP-INGRESS'], rules: [] };
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
        directionRules(chain, type === 'Ingress' ? p.ingress : p.egress, dir, allow, { policyNs: p.namespace, endpoints, nsLabels, blocks, where }, out);
      }
      // Whatever no selecting policy allows is denied: a selected pod is isolated in this direction.
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

// ---- reading a NetworkPolicy manifest: every field the lab does not emulate is refused by name ----

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const KIND_HINT = 'use --target kind for a real CNI';

function refuse(field: string, what: string): never {
  throw new UnsupportedError(field, `${field}: ${what}`, KIND_HINT);
}

function onlyKeys(v: Obj, at: string, allowed: string[]): void {
  for (const k of Object.keys(v)) if (!allowed.includes(k)) refuse(`${at}.${k}`, 'the lab does not emulate this NetworkPolicy field');
}

function selector(v: unknown, at: string): LabelSelector {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) refuse(at, 'must be a label selector');
  onlyKeys(v, at, ['matchLabels', 'matchExpressions']);
  const out: LabelSelector = {};
  if (v.matchLabels !== undefined) {
    if (!isObj(v.matchLabels) || !Object.values(v.matchLabels).every((x) => typeof x === 'string')) refuse(`${at}.matchLabels`, 'must map strings to strings');
    out.matchLabels = v.matchLabels as Record<string, string>;
  }
  if (v.matchExpressions !== undefined) {
    if (!Array.isArray(v.matchExpressions)) refuse(`${at}.matchExpressions`, 'must be a list');
    out.matchExpressions = v.matchExpressions.map((e: unknown, i) => {
      const f = `${at}.matchExpressions[${i}]`;
      if (!isObj(e) || typeof e.key !== 'string') refuse(f, 'needs a key');
      if (!['In', 'NotIn', 'Exists', 'DoesNotExist'].includes(String(e.operator))) refuse(`${f}.operator`, `unknown operator ${JSON.stringify(e.operator)}`);
      return { key: e.key, operator: e.operator as 'In', values: Array.isArray(e.values) ? e.values.map(String) : undefined };
    });
  }
  return out;
}

function peer(v: unknown, at: string): PolicyPeer {
  if (!isObj(v)) refuse(at, 'must be an object');
  onlyKeys(v, at, ['podSelector', 'namespaceSelector', 'ipBlock']);
  if (v.ipBlock !== undefined) {
    const b = v.ipBlock;
    if (!isObj(b) || typeof b.cidr !== 'string') refuse(`${at}.ipBlock.cidr`, 'is required');
    onlyKeys(b, `${at}.ipBlock`, ['cidr', 'except']);
    if (b.cidr.includes(':')) refuse(`${at}.ipBlock.cidr`, 'IPv6 blocks are not emulated (the lab is IPv4 only)');
    const except = Array.isArray(b.except) ? b.except.map(String) : [];
    return { ipBlock: { cidr: b.cidr, except } };
  }
  const out: PolicyPeer = {};
  if (v.podSelector !== undefined) out.podSelector = selector(v.podSelector, `${at}.podSelector`);
  if (v.namespaceSelector !== undefined) out.namespaceSelector = selector(v.namespaceSelector, `${at}.namespaceSelector`);
  return out;
}

function port(v: unknown, at: string): PolicyPort {
  if (!isObj(v)) refuse(at, 'must be an object');
  onlyKeys(v, at, ['protocol', 'port', 'endPort']);
  const protocol = (v.protocol ?? 'TCP') as string;
  if (!['TCP', 'UDP', 'SCTP'].includes(protocol)) refuse(`${at}.protocol`, `unknown protocol ${protocol}`);
  if (typeof v.port === 'string') refuse(`${at}.port`, `named port "${v.port}": lab workloads have no port names; use the number`);
  if (v.port !== undefined && typeof v.port !== 'number') refuse(`${at}.port`, 'must be a number');
  if (v.endPort !== undefined && (typeof v.endPort !== 'number' || v.port === undefined)) refuse(`${at}.endPort`, 'needs a numeric port and endPort');
  return { protocol: protocol as PolicyPort['protocol'], port: v.port as number | undefined, endPort: v.endPort as number | undefined };
}

function rules(v: unknown, at: string, peerKey: 'from' | 'to'): PolicyRule[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) refuse(at, 'must be a list');
  return v.map((r: unknown, i) => {
    const f = `${at}[${i}]`;
    if (!isObj(r)) refuse(f, 'must be an object');
    onlyKeys(r, f, [peerKey, 'ports']);
    const peers = r[peerKey];
    if (peers !== undefined && !Array.isArray(peers)) refuse(`${f}.${peerKey}`, 'must be a list');
    const ps = r.ports;
    if (ps !== undefined && !Array.isArray(ps)) refuse(`${f}.ports`, 'must be a list');
    return { peers: peers?.map((p: unknown, j: number) => peer(p, `${f}.${peerKey}[${j}]`)), ports: ps?.map((p: unknown, j: number) => port(p, `${f}.ports[${j}]`)) };
  });
}

/** Reads a NetworkPolicy manifest; `defaultNamespace` is used when metadata.namespace is absent. */
export function parseNetworkPolicy(r: Resource, defaultNamespace: string): NetworkPolicy {
  const at = `NetworkPolicy ${r.metadata.name}: spec`;
  const spec = (r as Obj).spec;
  if (!isObj(spec)) refuse(at, 'is required');
  onlyKeys(spec, at, ['podSelector', 'policyTypes', 'ingress', 'egress']);
  const types = spec.policyTypes;
  if (types !== undefined && (!Array.isArray(types) || !types.every((t) => t === 'Ingress' || t === 'Egress'))) {
    refuse(`${at}.policyTypes`, 'must list Ingress and/or Egress');
  }
  // Kubernetes' default: Ingress always, Egress when the policy has an egress section.
  const policyTypes = (types as NetworkPolicy['policyTypes'] | undefined) ?? (spec.egress !== undefined ? ['Ingress', 'Egress'] : ['Ingress']);
  return {
    name: r.metadata.name,
    namespace: r.metadata.namespace ?? defaultNamespace,
    podSelector: selector(spec.podSelector, `${at}.podSelector`),
    policyTypes,
    ingress: rules(spec.ingress, `${at}.ingress`, 'from'),
    egress: rules(spec.egress, `${at}.egress`, 'to'),
  };
}
