/**
 * Workload ports as Kubernetes and Istio see them (pure): the name a port carries on the container and the
 * Service, the transport it uses, and what Istio's protocol selection reads from that name. One home for these
 * facts: the loader checks names with them, the cluster render writes them, and NetworkPolicy named ports
 * (network-policy.ts) resolve against them in the lab and the predictor alike.
 */

export type PortTransport = 'TCP' | 'UDP';

/** A workload port as declared in the format: http, https and tcp listen on TCP, udp on UDP. */
export interface DeclaredPort {
  readonly port: number;
  readonly protocol: 'http' | 'https' | 'tcp' | 'udp';
  readonly name?: string;
}

/** A port of a pod as a NetworkPolicy named port resolves against it: container port number, protocol and name. */
export interface NamedContainerPort {
  readonly port: number;
  readonly transport: PortTransport;
  readonly name: string;
}

export const transportOf = (protocol: string): PortTransport => (protocol === 'udp' ? 'UDP' : 'TCP');

/**
 * The protocols Istio's protocol selection recognises as a Service port name prefix (`<protocol>[-<suffix>]`,
 * istio.io docs/ops/configuration/traffic-management/protocol-selection; pkg/config/protocol Parse, compared
 * case-insensitively; grpc-web is checked before the first '-' split).
 */
export const ISTIO_PORT_PREFIXES = ['grpc-web', 'grpc', 'http', 'http2', 'https', 'mongo', 'mysql', 'redis', 'tcp', 'tls', 'udp'] as const;

/** The Istio protocol a port name selects by its prefix, or undefined when the name carries no known prefix. */
export function istioProtocolOfName(name: string): string | undefined {
  const lower = name.toLowerCase();
  if (lower === 'grpc-web' || lower.startsWith('grpc-web-')) return 'grpc-web';
  const prefix = lower.split('-')[0];
  return (ISTIO_PORT_PREFIXES as readonly string[]).includes(prefix) ? prefix : undefined;
}

/**
 * Why a user's port name contradicts the declared protocol for Istio, or undefined. A name whose prefix selects
 * another protocol than the declared one (`tcp-web` on an http port, `http-x` on a tcp port) would make Istio
 * treat the port differently from what the scenario says and what the lab emulates, so it is refused. A name
 * without a known prefix is allowed: the cluster render then sets the Service port's `appProtocol`, which Istio
 * reads before the name (Istio >= 1.6 with Kubernetes >= 1.18), so the declared protocol still decides.
 */
export function portNameConflict(p: DeclaredPort): string | undefined {
  if (p.name === undefined) return undefined;
  const selected = istioProtocolOfName(p.name);
  if (selected === undefined || selected === p.protocol) return undefined;
  return `port name "${p.name}" makes Istio select protocol ${selected} (its prefix), but the port is declared ${p.protocol}; name it ${p.protocol}-<suffix> or without a protocol prefix`;
}

/** The Service port name: the declared name, else `<protocol>-<port>` (Istio selects the protocol by this prefix). */
export function servicePortName(p: DeclaredPort): string {
  return p.name ?? `${p.protocol}-${p.port}`;
}

/**
 * The container port name: the declared name, else `p<port>`, with `-udp` added to a UDP port whose number the
 * workload also declares on TCP (container port names must be unique within a pod).
 */
export function containerPortName(p: DeclaredPort, all: readonly DeclaredPort[]): string {
  if (p.name !== undefined) return p.name;
  const shared = p.protocol === 'udp' && all.some((q) => q !== p && q.port === p.port && q.protocol !== 'udp');
  return shared ? `p${p.port}-udp` : `p${p.port}`;
}

/** A pod's ports as a NetworkPolicy named port sees them (the names its container ports carry). */
export function namedContainerPorts(ports: readonly DeclaredPort[]): NamedContainerPort[] {
  return ports.map((p) => ({ port: p.port, transport: transportOf(p.protocol), name: containerPortName(p, ports) }));
}
