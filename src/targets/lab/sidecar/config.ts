/**
 * What the lab tells its sidecar, in the pod's start message to the lab runtime (deploy.ts sidecarConfig; nothing is
 * written to a file): who the sidecar is, its certificates, the lab's service registry (every pod and external, by
 * address and name) and the scenario's raw Istio resources, which the sidecar evaluates with the model (src/model)
 * — the decisions are the model's, the sidecar only acts on them.
 */
import type { ListenProtocol } from '../../../agent/types.js';
import type { OutboundTrafficPolicyMode, PathNormalization } from '../../../model/index.js';

/** Envoy's inbound passthrough source address; ISTIO_OUTPUT returns it unredirected (`-o lo -s 127.0.0.6/32`). */
export const INBOUND_SOURCE = '127.0.0.6';

export interface RegistryHost {
  kind: 'workload' | 'external';
  /** `namespace/name` or the external's DNS name. */
  key: string;
  /** The name policies use: `<name>.<ns>.svc.cluster.local`, or the external's DNS name. */
  host: string;
  /** Every name that resolves to it (hosts file entries). */
  names: string[];
  address: string;
  namespace?: string;
  labels: Record<string, string>;
  /** A sidecar (or the egress gateway proxy) is in front of it. */
  sidecar: boolean;
  /** The egress gateway: auto mTLS does not apply to it (gateway pods carry no `security.istio.io/tlsMode` label, istio/istio#25536). */
  gateway?: boolean;
  spiffe?: string;
  ports: { port: number; protocol: ListenProtocol }[];
}

export interface SidecarConfig {
  mode: 'sidecar' | 'gateway';
  istioVersion: string;
  self: RegistryHost & { namespace: string; spiffe: string };
  certFile: string;
  keyFile: string;
  /** The mesh CA (Istio's root of trust for workload certificates). */
  meshCaFile: string;
  /** What the lab calls "the system CA bundle": the CA of externals with trusted certificates. */
  systemCaFile: string;
  meshOutboundPolicy?: OutboundTrafficPolicyMode;
  /** meshConfig.pathNormalization.normalization; absent: BASE, Istio's default. */
  pathNormalization?: PathNormalization;
  /**
   * The public JWKS of the run's JWT issuer (model/jwt-issuer.ts): what a RequestAuthentication rule without
   * `jwks` is verified against. Absent: such rules verify nothing (every token fails).
   */
  jwks?: string;
  /** Raw manifests of the scenario (Istio kinds, Gateway, VirtualService). */
  resources: unknown[];
  registry: RegistryHost[];
  /** The decision log (append); the lab creates it writable for the sidecar's uid. Default: stdout. */
  logFile?: string;
  /** Gateway mode: the ports the Gateway servers declare (plaintext HTTP listeners). */
  gatewayPorts?: number[];
}

/** DestinationRule caCertificates paths that name the system CA bundle (Debian/Ubuntu, RHEL, Alpine/macOS). */
export const SYSTEM_CA_PATHS = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem'];
