/**
 * Types of the predictor: a World (who exists, which policies apply), a Flow (one probe's traffic) and the
 * Prediction for it. A prediction is what Istio + Kubernetes would do, layer by layer, with one Reason per layer so
 * a divergence in the matrix can be read next to the explanation that produced the expectation.
 */
import type { NetworkPolicy } from '../model/network-policy.js';
import type { CaptureConfig } from '../model/capture.js';
import type {
  AuthorizationPolicy,
  DestinationRule,
  Labels,
  OutboundTrafficPolicyMode,
  PathNormalization,
  PeerAuthentication,
  RequestAuthentication,
  ServiceEntry,
  Sidecar,
} from '../model/index.js';
import type { JwtToken, RawRequest } from '../scenario/schema.js';
import type { Failure, ListenProtocolName, ProbeProtocolName } from './names.js';

export interface WorkloadInfo {
  readonly kind: 'workload';
  /** `namespace/name`. */
  readonly key: string;
  readonly name: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly labels: Labels;
  readonly address: string;
  readonly sidecar: boolean;
  /** The uid the application runs as. */
  readonly uid: number;
  readonly capabilities: readonly string[];
  readonly ports: ReadonlyArray<{ readonly port: number; readonly protocol: ListenProtocolName; readonly name?: string }>;
  /** istio-iptables flags from the pod's annotations (only meaningful with a sidecar). */
  readonly capture: CaptureConfig;
}

export interface ExternalInfo {
  readonly kind: 'external';
  readonly key: string;
  readonly address: string;
  readonly ports: ReadonlyArray<{ readonly port: number; readonly protocol: ListenProtocolName; readonly certificate?: 'trusted' | 'untrusted' }>;
}

export type EndpointInfo = WorkloadInfo | ExternalInfo;

export interface IstioPolicies {
  readonly peerAuthentications: readonly PeerAuthentication[];
  readonly authorizationPolicies: readonly AuthorizationPolicy[];
  readonly sidecars: readonly Sidecar[];
  readonly serviceEntries: readonly ServiceEntry[];
  readonly destinationRules: readonly DestinationRule[];
  readonly requestAuthentications: readonly RequestAuthentication[];
}

export interface World {
  readonly workloads: readonly WorkloadInfo[];
  readonly externals: readonly ExternalInfo[];
  /** Namespace labels as NetworkPolicy namespaceSelectors see them. */
  readonly namespaceLabels: (namespace: string) => Labels;
  readonly istio: IstioPolicies;
  readonly networkPolicies: readonly NetworkPolicy[];
  readonly meshOutboundPolicy: OutboundTrafficPolicyMode;
  /** meshConfig.pathNormalization.normalization (BASE unless the scenario says otherwise). */
  readonly pathNormalization: PathNormalization;
  /** The Istio version to predict for; undefined: current Istio. */
  readonly istioVersion?: string;
}

/** One probe's traffic. */
export interface Flow {
  /** `namespace/name` of the client workload. */
  readonly from: string;
  /** `namespace/name` of a workload, or an external's DNS name. */
  readonly to: string;
  /** Absent for icmp. */
  readonly port?: number;
  readonly protocol: ProbeProtocolName;
  /** The client runs as this uid instead of the workload's (`as.user`). */
  readonly asUser?: number;
  readonly bypass?: 'flush-capture';
  readonly http?: {
    readonly method?: string;
    readonly path?: string;
    readonly headers?: Readonly<Record<string, string>>;
    /** `http.raw`: the request exactly as written (excludes method/path/headers). */
    readonly raw?: RawHttp;
    /** `http.jwt`: a token of the run's issuer, in the place it names (model/jwt-issuer.ts withToken). */
    readonly jwt?: JwtToken;
  };
}

export type RawHttp = RawRequest;

export type Layer =
  | 'source-capture'
  | 'outbound'
  | 'network-policy'
  | 'destination-capture'
  | 'peer-authentication'
  | 'authorization'
  | 'application';

export interface Reason {
  readonly layer: Layer;
  readonly text: string;
}

interface PredictionBase {
  readonly explanation: readonly Reason[];
}

export type Prediction =
  | (PredictionBase & {
      readonly reach: true;
      readonly mtls: boolean;
      readonly peer?: string;
      /** undefined when the application cannot tell (a pod calling itself sees its own address either way). */
      readonly viaSidecar?: boolean;
      readonly status?: number;
    })
  | (PredictionBase & { readonly reach: false; readonly failure: Failure });
