/**
 * Effective PeerAuthentication mTLS mode for a workload port, as pilot/pkg/security/authn ComposePeerAuthentication
 * computes it: workload selector > namespace > mesh (root namespace, no selector); UNSET inherits from the parent;
 * nothing set → PERMISSIVE; portLevelMtls only on workload-selector policies (UNSET there inherits the workload
 * mode). Two policies at the same level: the OLDEST wins (metadata.creationTimestamp; without timestamps, or on a
 * tie, the one that appears first in the input). Selector policies in the root namespace are ignored, like Istio.
 */
import { isEmptySelector, selectorMatches } from './match.js';
import { formatRef, olderFirst, refOf, type Labels, type PeerAuthentication, type ResolvedMtlsMode, type ResourceRef } from './types.js';
import { ROOT_NAMESPACE } from './mesh.js';

export interface WorkloadPort {
  readonly namespace: string;
  readonly labels: Labels;
  /** The port the workload listens on (container / target port). */
  readonly port: number;
}

export type MtlsLevel = 'default' | 'mesh' | 'namespace' | 'workload' | 'port';

export interface MtlsDecision {
  readonly mode: ResolvedMtlsMode;
  /** Which level set the mode that applies. */
  readonly level: MtlsLevel;
  readonly policy?: ResourceRef;
  readonly reason: string;
  readonly trace: readonly string[];
}

interface Selected {
  readonly mesh?: PeerAuthentication;
  readonly namespace?: PeerAuthentication;
  readonly workload?: PeerAuthentication;
}

function selectPolicies(workload: Omit<WorkloadPort, 'port'>, policies: readonly PeerAuthentication[], rootNamespace: string): Selected {
  const sorted = [...policies].sort(olderFirst);
  const first = (pick: (p: PeerAuthentication) => boolean): PeerAuthentication | undefined => sorted.find(pick);
  return {
    mesh: first((p) => p.metadata.namespace === rootNamespace && isEmptySelector(p.selector)),
    namespace:
      workload.namespace === rootNamespace ? undefined : first((p) => p.metadata.namespace === workload.namespace && isEmptySelector(p.selector)),
    workload:
      workload.namespace === rootNamespace
        ? undefined
        : first((p) => p.metadata.namespace === workload.namespace && !isEmptySelector(p.selector) && selectorMatches(p.selector, workload.labels)),
  };
}

function conflicts(
  chosen: PeerAuthentication | undefined,
  policies: readonly PeerAuthentication[],
  same: (p: PeerAuthentication) => boolean,
): string[] {
  if (!chosen) return [];
  return policies
    .filter((p) => p !== chosen && same(p))
    .map((p) => `${formatRef(refOf(p))} also applies; ${formatRef(refOf(chosen))} wins because it is older`);
}

export function effectiveMtls(workload: WorkloadPort, policies: readonly PeerAuthentication[], rootNamespace = ROOT_NAMESPACE): MtlsDecision {
  const selected = selectPolicies(workload, policies, rootNamespace);
  const trace: string[] = [];
  let mode: ResolvedMtlsMode = 'PERMISSIVE';
  let level: MtlsLevel = 'default';
  let policy: ResourceRef | undefined;
  const levels: Array<[Exclude<MtlsLevel, 'default' | 'port'>, PeerAuthentication | undefined]> = [
    ['mesh', selected.mesh],
    ['namespace', selected.namespace],
    ['workload', selected.workload],
  ];
  for (const [name, p] of levels) {
    if (!p) continue;
    const ref = refOf(p);
    if (p.mode === 'UNSET') {
      trace.push(`${name} policy ${formatRef(ref)} has mode UNSET: inherits ${mode}`);
      continue;
    }
    mode = p.mode;
    level = name;
    policy = ref;
    trace.push(`${name} policy ${formatRef(ref)} sets ${mode}`);
  }
  trace.push(
    ...conflicts(
      selected.workload,
      policies,
      (p) => p.metadata.namespace === workload.namespace && !isEmptySelector(p.selector) && selectorMatches(p.selector, workload.labels),
    ),
  );
  trace.push(...conflicts(selected.namespace, policies, (p) => p.metadata.namespace === workload.namespace && isEmptySelector(p.selector)));
  const portMode = selected.workload?.portLevelMtls.get(workload.port);
  if (selected.workload && portMode !== undefined) {
    const ref = refOf(selected.workload);
    if (portMode === 'UNSET') {
      trace.push(`portLevelMtls ${workload.port} of ${formatRef(ref)} is UNSET: inherits ${mode}`);
    } else {
      mode = portMode;
      level = 'port';
      policy = ref;
      trace.push(`portLevelMtls ${workload.port} of ${formatRef(ref)} sets ${mode}`);
    }
  }
  const reason =
    level === 'default'
      ? `no PeerAuthentication sets a mode for port ${workload.port}: Istio's default PERMISSIVE`
      : `${mode} from the ${level === 'port' ? 'port-level setting of the workload' : level} policy ${formatRef(policy as ResourceRef)}`;
  return { mode, level, policy, reason, trace };
}

/** The mesh/namespace-level mode of a namespace, which client-side auto mTLS consults (no workload policies). */
export function namespaceMtls(namespace: string, policies: readonly PeerAuthentication[], rootNamespace = ROOT_NAMESPACE): MtlsDecision {
  return effectiveMtls(
    { namespace, labels: {}, port: 0 },
    policies.filter((p) => isEmptySelector(p.selector)),
    rootNamespace,
  );
}

export type ClientTransport = 'mtls' | 'plaintext';

export type InboundTransportDecision =
  | { readonly kind: 'accept'; readonly transport: ClientTransport; readonly reason: string }
  /** STRICT and plaintext: Envoy closes the connection (curl exit 56, istio.io mtls-migration). */
  | { readonly kind: 'reject'; readonly reason: string }
  /** DISABLE and mTLS: the inbound listener does not terminate TLS; the application receives TLS bytes. */
  | { readonly kind: 'not-terminated'; readonly reason: string };

export function inboundTransport(mode: ResolvedMtlsMode, client: ClientTransport): InboundTransportDecision {
  if (mode === 'STRICT' && client === 'plaintext') return { kind: 'reject', reason: 'STRICT requires mutual TLS: plaintext connection closed' };
  if (mode === 'DISABLE' && client === 'mtls') {
    return { kind: 'not-terminated', reason: 'DISABLE: the sidecar does not terminate mutual TLS; the application receives the TLS handshake' };
  }
  return { kind: 'accept', transport: client, reason: `${mode} accepts ${client === 'mtls' ? 'mutual TLS' : 'plaintext'}` };
}
