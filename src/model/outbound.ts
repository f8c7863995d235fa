/**
 * `outboundDecision`: what a client sidecar does with a connection the application opened to host:port.
 * 1. Registry: a mesh Service, or a ServiceEntry covering host AND port that is exported to the client, and
 *    imported by the client's Sidecar egress hosts. Unregistered: ALLOW_ANY → passthrough to the original
 *    destination (no mTLS, no DestinationRule); REGISTRY_ONLY (mesh-wide, or the client's Sidecar
 *    outboundTrafficPolicy) → blackhole: HTTP 502, TCP/TLS connection closed.
 * 2. Transport: a DestinationRule tls.mode (port-level first) decides — DISABLE plaintext, ISTIO_MUTUAL mTLS,
 *    SIMPLE/MUTUAL TLS origination with version-dependent verification. Without one, auto mTLS: mTLS when the
 *    destination endpoint has a sidecar and neither its namespace/mesh PeerAuthentication nor its own port-level
 *    mode is DISABLE, plaintext otherwise and always for MESH_EXTERNAL ServiceEntries (cluster_tls.go,
 *    endpoints/mtls_checker.go).
 */
import { destinationRuleFor, tlsForPort } from './destination-rule.js';
import { effectiveMtls, namespaceMtls } from './peer-authentication.js';
import { sidecarFor, sidecarImports, serviceEntryFor, type ClientWorkload } from './registry.js';
import { tlsVerification, type TlsVerification } from './tls-verification.js';
import {
  formatRef,
  refOf,
  type DestinationRule,
  type Labels,
  type OutboundTrafficPolicyMode,
  type PeerAuthentication,
  type ResourceRef,
  type ServiceEntry,
  type Sidecar,
} from './types.js';
import { ROOT_NAMESPACE } from './mesh.js';

export interface OutboundDestination {
  /** Fully qualified for mesh services (`web.shop.svc.cluster.local`), the DNS name for externals. */
  readonly host: string;
  readonly port: number;
  /** What the application speaks on this connection. */
  readonly protocol: 'tcp' | 'http' | 'https' | 'tls';
  readonly isMeshService: boolean;
  readonly hasSidecar: boolean;
  /** Namespace of the mesh Service; derived from `<svc>.<ns>.svc.…` when omitted. */
  readonly namespace?: string;
  /** The destination workload's labels and target port, to honour its PeerAuthentication DISABLE in auto mTLS. */
  readonly workload?: { readonly labels: Labels; readonly targetPort: number };
}

export interface OutboundInput {
  readonly source: ClientWorkload;
  readonly destination: OutboundDestination;
  readonly meshOutboundPolicy?: OutboundTrafficPolicyMode;
  readonly sidecars?: readonly Sidecar[];
  readonly serviceEntries?: readonly ServiceEntry[];
  readonly destinationRules?: readonly DestinationRule[];
  readonly peerAuthentications?: readonly PeerAuthentication[];
  /** Emulated Istio version; decides TLS origination verification. Default: current Istio. */
  readonly istioVersion?: string;
  readonly rootNamespace?: string;
}

interface Base {
  readonly reason: string;
  readonly trace: readonly string[];
}
interface Routed extends Base {
  /** What put the host in the client's registry. */
  readonly registeredBy: 'mesh-service' | ResourceRef;
  readonly destinationRule?: ResourceRef;
}

export type OutboundDecision =
  | (Routed & { readonly action: 'mtls' })
  | (Routed & { readonly action: 'plaintext' })
  | (Routed & { readonly action: 'tls-originate'; readonly mode: 'SIMPLE' | 'MUTUAL'; readonly sni: string; readonly verification: TlsVerification })
  | (Base & { readonly action: 'passthrough' })
  | (Base & { readonly action: 'blackhole'; readonly response: { readonly kind: 'http'; readonly status: 502 } | { readonly kind: 'close' } });

function serviceNamespace(destination: OutboundDestination): string | undefined {
  return destination.namespace ?? destination.host.match(/^[^.]+\.([^.]+)\.svc(\.|$)/)?.[1];
}

type Registration = { registeredBy: 'mesh-service' | ResourceRef; namespace?: string; meshExternal: boolean } | undefined;

function register(input: OutboundInput, sidecar: Sidecar | undefined, trace: string[]): Registration {
  const { source, destination } = input;
  if (destination.isMeshService) {
    const ns = serviceNamespace(destination) ?? source.namespace;
    const imported = sidecarImports(sidecar, ns, destination.host);
    trace.push(`${destination.host} is a mesh service in namespace ${ns}: ${imported.reason}`);
    if (imported.imported) return { registeredBy: 'mesh-service', namespace: ns, meshExternal: false };
  }
  const entry = serviceEntryFor(source, destination.host, destination.port, input.serviceEntries ?? []);
  if (!entry.found) {
    trace.push(entry.reason);
    return undefined;
  }
  const se = entry.found.serviceEntry;
  const imported = sidecarImports(sidecar, se.metadata.namespace, destination.host);
  trace.push(`${entry.found.reason}: ${imported.reason}`);
  if (!imported.imported) return undefined;
  return { registeredBy: refOf(se), namespace: se.metadata.namespace, meshExternal: se.location === 'MESH_EXTERNAL' };
}

function unregistered(input: OutboundInput, sidecar: Sidecar | undefined, trace: string[]): OutboundDecision {
  const mode = sidecar?.outboundTrafficPolicy ?? input.meshOutboundPolicy ?? 'ALLOW_ANY';
  const from = sidecar?.outboundTrafficPolicy ? `outboundTrafficPolicy of ${formatRef(refOf(sidecar))}` : 'the mesh outboundTrafficPolicy';
  const target = `${input.destination.host}:${input.destination.port}`;
  if (mode === 'ALLOW_ANY') {
    return {
      action: 'passthrough',
      trace,
      reason: `${target} is not in the registry; ALLOW_ANY (${from}) passes it through to the original destination without mTLS`,
    };
  }
  const http = input.destination.protocol === 'http';
  return {
    action: 'blackhole',
    trace,
    response: http ? { kind: 'http', status: 502 } : { kind: 'close' },
    reason: `${target} is not in the registry; REGISTRY_ONLY (${from}) sends it to the BlackHoleCluster: ${http ? 'HTTP 502' : 'connection closed'}`,
  };
}

function autoMtls(input: OutboundInput, registration: NonNullable<Registration>, root: string): { action: 'mtls' | 'plaintext'; reason: string } {
  const { destination } = input;
  if (registration.meshExternal) return { action: 'plaintext', reason: 'auto mTLS does not apply to a MESH_EXTERNAL ServiceEntry: plaintext' };
  if (!destination.hasSidecar) return { action: 'plaintext', reason: 'auto mTLS: the destination has no sidecar: plaintext' };
  const pas = input.peerAuthentications ?? [];
  const ns = registration.namespace ?? input.source.namespace;
  const nsMode = namespaceMtls(ns, pas, root);
  if (nsMode.mode === 'DISABLE') return { action: 'plaintext', reason: `auto mTLS: ${nsMode.reason} for namespace ${ns}: plaintext` };
  if (destination.workload) {
    const workloadMode = effectiveMtls({ namespace: ns, labels: destination.workload.labels, port: destination.workload.targetPort }, pas, root);
    if (workloadMode.mode === 'DISABLE') return { action: 'plaintext', reason: `auto mTLS: destination ${workloadMode.reason}: plaintext` };
  }
  return { action: 'mtls', reason: 'auto mTLS: the destination has a sidecar: ISTIO_MUTUAL' };
}

export function outboundDecision(input: OutboundInput): OutboundDecision {
  const root = input.rootNamespace ?? ROOT_NAMESPACE;
  const trace: string[] = [];
  const sidecar = sidecarFor(input.source, input.sidecars ?? [], root);
  if (sidecar) trace.push(`client Sidecar: ${formatRef(refOf(sidecar))}`);
  const registration = register(input, sidecar, trace);
  if (!registration) return unregistered(input, sidecar, trace);

  const { destination } = input;
  const rule = destinationRuleFor(
    { clientNamespace: input.source.namespace, serviceNamespace: registration.namespace, host: destination.host },
    input.destinationRules ?? [],
    root,
  );
  const portTls = rule ? tlsForPort(rule, destination.port) : undefined;
  const routed = { registeredBy: registration.registeredBy, destinationRule: rule ? refOf(rule) : undefined, trace };
  if (rule) trace.push(`DestinationRule ${formatRef(refOf(rule))} applies to ${destination.host}`);
  if (!portTls) {
    const auto = autoMtls(input, registration, root);
    trace.push(auto.reason);
    return { ...routed, action: auto.action, reason: auto.reason };
  }
  trace.push(portTls.reason);
  switch (portTls.tls.mode) {
    case 'DISABLE':
      return { ...routed, action: 'plaintext', reason: `${portTls.reason}: plaintext` };
    case 'ISTIO_MUTUAL':
      return { ...routed, action: 'mtls', reason: `${portTls.reason}: Istio mutual TLS` };
    case 'SIMPLE':
    case 'MUTUAL': {
      const verification = tlsVerification(input.istioVersion, portTls.tls);
      trace.push(verification.reason);
      return {
        ...routed,
        action: 'tls-originate',
        mode: portTls.tls.mode,
        sni: portTls.tls.sni ?? destination.host,
        verification,
        reason: `${portTls.reason}: the sidecar originates TLS; ${verification.reason}`,
      };
    }
  }
}
