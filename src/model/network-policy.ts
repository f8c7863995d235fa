/**
 * Kubernetes NetworkPolicy (networking.k8s.io/v1) as the model reads it: the manifest parsed into rules, its
 * `policyTypes` defaulted as the API server does, and label selectors matched. The lab compiles these rules into
 * iptables and the predictor decides flows with them, so both read a policy the same way (pure, no I/O).
 * Every field the model does not read is refused by name (NetworkPolicyRefusal), never ignored.
 */
import type { Resource } from '../scenario/schema.js';
import { portName } from '../scenario/values.js';
import type { NamedContainerPort } from './ports.js';

export type PolicyType = 'Ingress' | 'Egress';

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
  /** A number, or a named port: resolved per destination pod (resolvePolicyPort). */
  port?: number | string;
  endPort?: number;
}

/** A policy port with its port resolved to a number (or absent: every port of the protocol). */
export interface ResolvedPolicyPort {
  protocol: 'TCP' | 'UDP' | 'SCTP';
  port?: number;
  endPort?: number;
}

/**
 * A policy port as it applies to traffic to one destination pod, or undefined when it matches nothing there.
 * A named port matches the container port of the destination pod with that name AND the rule's protocol
 * (default TCP); a pod without such a port does not match (Kubernetes API reference NetworkPolicyPort.port: "a
 * numerical or named port on a pod"; e2e test/e2e/network/netpol "should allow ingress access on one named port",
 * "should allow egress access on one named port": the name is looked up on the server pod, for egress too).
 * Destinations that are not pods (externals, ipBlock addresses) have no named ports: `destinationPorts` empty.
 * The lab's iptables and the predictor both resolve named ports here.
 */
export function resolvePolicyPort(p: PolicyPort, destinationPorts: readonly NamedContainerPort[]): ResolvedPolicyPort | undefined {
  const protocol = p.protocol ?? 'TCP';
  if (typeof p.port !== 'string')
    return { protocol, ...(p.port !== undefined ? { port: p.port } : {}), ...(p.endPort !== undefined ? { endPort: p.endPort } : {}) };
  const hit = destinationPorts.find((c) => c.name === p.port && c.transport === protocol);
  return hit ? { protocol, port: hit.port } : undefined;
}

/** Whether a rule's port matches traffic of `transport` to `port` (undefined: a portless protocol such as ICMP). */
export function resolvedPortMatches(r: ResolvedPolicyPort, transport: string, port: number | undefined): boolean {
  if (r.protocol !== transport) return false;
  if (r.port === undefined) return true;
  if (port === undefined) return false;
  return r.endPort !== undefined ? port >= r.port && port <= r.endPort : port === r.port;
}
export interface PolicyRule {
  peers?: PolicyPeer[];
  ports?: PolicyPort[];
}
export interface NetworkPolicy {
  name: string;
  namespace: string;
  podSelector: LabelSelector;
  policyTypes: PolicyType[];
  ingress: PolicyRule[];
  egress: PolicyRule[];
}

/**
 * The policy types a NetworkPolicy has once the API server stored it. Kubernetes' defaulting
 * (kubernetes/kubernetes pkg/apis/networking/v1/defaults.go, SetDefaults_NetworkPolicy): when `policyTypes` is
 * empty or absent (`len(PolicyTypes) == 0`, so `policyTypes: []` too) it becomes [Ingress], plus Egress only when
 * the policy has egress rules (`len(Egress) != 0`: `egress: []` and `egress: null` add nothing). Explicit
 * policyTypes are used as given: `policyTypes: [Egress]` with no egress rules isolates egress (deny all egress).
 * The one place this is decided: the lab's iptables and the predictor both read policyTypes from here.
 */
export function effectivePolicyTypes(
  policyTypes: readonly PolicyType[] | null | undefined,
  egress: readonly unknown[] | null | undefined,
): PolicyType[] {
  if (policyTypes && policyTypes.length > 0) return [...new Set(policyTypes)];
  return egress && egress.length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
}

/** Labels a namespace of the format is created with, as namespaceSelector sees them (lab, predictor, clusters). */
export function namespaceLabels(
  name: string,
  decl?: { readonly sidecarInjection?: boolean; readonly labels?: Readonly<Record<string, string>> },
): Record<string, string> {
  return {
    ...(decl?.labels ?? {}),
    ...(decl?.sidecarInjection !== false ? { 'istio-injection': 'enabled' } : {}),
    // Set by the API server on every namespace (Kubernetes >= 1.21), whatever else is declared.
    'kubernetes.io/metadata.name': name,
  };
}

/** Kubernetes label-selector semantics: every matchLabels pair and every expression must hold; {} selects all. */
export function matchesSelector(sel: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const inValues = has && (e.values ?? []).includes(labels[e.key]);
    if (e.operator === 'In' && !inValues) return false;
    if (e.operator === 'NotIn' && inValues) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

// ---- reading a NetworkPolicy manifest: every field the model does not read is refused by name ----

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
/** A field of a NetworkPolicy manifest the model does not read (or a malformed one), named by its path. */
export class NetworkPolicyRefusal extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'NetworkPolicyRefusal';
  }
}

function refuse(field: string, what: string): never {
  throw new NetworkPolicyRefusal(field, `${field}: ${what}`);
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
    if (!isObj(v.matchLabels) || !Object.values(v.matchLabels).every((x) => typeof x === 'string'))
      refuse(`${at}.matchLabels`, 'must map strings to strings');
    out.matchLabels = v.matchLabels as Record<string, string>;
  }
  if (v.matchExpressions !== undefined) {
    if (!Array.isArray(v.matchExpressions)) refuse(`${at}.matchExpressions`, 'must be a list');
    out.matchExpressions = v.matchExpressions.map((e: unknown, i) => {
      const f = `${at}.matchExpressions[${i}]`;
      if (!isObj(e) || typeof e.key !== 'string') refuse(f, 'needs a key');
      if (!['In', 'NotIn', 'Exists', 'DoesNotExist'].includes(String(e.operator)))
        refuse(`${f}.operator`, `unknown operator ${JSON.stringify(e.operator)}`);
      return { key: e.key, operator: e.operator as 'In', values: Array.isArray(e.values) ? e.values.map(String) : undefined };
    });
  }
  return out;
}

const IPV4_CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** An IPv4 CIDR as the API server validates it (address/prefix); nothing else may reach an iptables rule. */
function ipv4Cidr(v: unknown, at: string): string {
  const m = typeof v === 'string' ? IPV4_CIDR.exec(v) : null;
  if (!m || m.slice(1, 5).some((o) => Number(o) > 255) || Number(m[5]) > 32)
    refuse(at, `${JSON.stringify(v)} is not an IPv4 CIDR such as 10.0.0.0/8`);
  return v as string;
}

const isPort = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535;

function peer(v: unknown, at: string): PolicyPeer {
  if (!isObj(v)) refuse(at, 'must be an object');
  onlyKeys(v, at, ['podSelector', 'namespaceSelector', 'ipBlock']);
  if (v.ipBlock !== undefined) {
    const b = v.ipBlock;
    if (!isObj(b) || typeof b.cidr !== 'string') refuse(`${at}.ipBlock.cidr`, 'is required');
    onlyKeys(b, `${at}.ipBlock`, ['cidr', 'except']);
    if (b.cidr.includes(':')) refuse(`${at}.ipBlock.cidr`, 'IPv6 blocks are not emulated (the lab is IPv4 only)');
    const cidr = ipv4Cidr(b.cidr, `${at}.ipBlock.cidr`);
    if (b.except !== undefined && b.except !== null && !Array.isArray(b.except)) refuse(`${at}.ipBlock.except`, 'must be a list');
    const except = (b.except ?? []).map((e: unknown, i: number) => ipv4Cidr(e, `${at}.ipBlock.except[${i}]`));
    return { ipBlock: { cidr, except } };
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
  if (typeof v.port === 'string') {
    // The API server's validation: a named port is an IANA_SVC_NAME, and endPort needs a numeric port.
    const problem = portName(v.port);
    if (problem) refuse(`${at}.port`, problem);
    if (v.endPort !== undefined) refuse(`${at}.endPort`, 'may not be set when port is a named port (the API server refuses it)');
    return { protocol: protocol as PolicyPort['protocol'], port: v.port };
  }
  if (v.port !== undefined && !isPort(v.port)) refuse(`${at}.port`, 'must be a port number from 1 to 65535 or a port name');
  if (v.endPort !== undefined && (!isPort(v.endPort) || v.port === undefined || v.endPort < (v.port as number))) {
    refuse(`${at}.endPort`, 'needs a numeric port and an endPort from port to 65535');
  }
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
    return {
      peers: peers?.map((p: unknown, j: number) => peer(p, `${f}.${peerKey}[${j}]`)),
      ports: ps?.map((p: unknown, j: number) => port(p, `${f}.ports[${j}]`)),
    };
  });
}

/** Reads a NetworkPolicy manifest; `defaultNamespace` is used when metadata.namespace is absent. */
export function parseNetworkPolicy(r: Resource, defaultNamespace: string): NetworkPolicy {
  const at = `NetworkPolicy ${r.metadata.name}: spec`;
  const spec = (r as Obj).spec;
  if (!isObj(spec)) refuse(at, 'is required');
  onlyKeys(spec, at, ['podSelector', 'policyTypes', 'ingress', 'egress']);
  const types = spec.policyTypes;
  if (types !== undefined && types !== null && (!Array.isArray(types) || !types.every((t) => t === 'Ingress' || t === 'Egress'))) {
    refuse(`${at}.policyTypes`, 'must list Ingress and/or Egress');
  }
  const egress = rules(spec.egress, `${at}.egress`, 'to');
  return {
    name: r.metadata.name,
    namespace: r.metadata.namespace ?? defaultNamespace,
    podSelector: selector(spec.podSelector, `${at}.podSelector`),
    policyTypes: effectivePolicyTypes(types as PolicyType[] | null | undefined, egress),
    ingress: rules(spec.ingress, `${at}.ingress`, 'from'),
    egress,
  };
}
