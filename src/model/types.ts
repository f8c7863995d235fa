/**
 * Internal types of the Istio data-plane model. Parsed resources are discriminated by `kind`; every decision the
 * model returns carries a one-line `reason` and the `trace` of steps that led to it, so the lab sidecar's decision
 * log and the reachability matrix's explanations come from the same place.
 */

export type Labels = Readonly<Record<string, string>>;

/** Identifies one resource in explanations: `PeerAuthentication foo/default`. */
export interface ResourceRef {
  readonly kind: IstioKind;
  readonly namespace: string;
  readonly name: string;
}

export interface Metadata {
  readonly name: string;
  readonly namespace: string;
  /** RFC 3339; absent means "as old as its position in the input" (see `olderFirst`). */
  readonly creationTimestamp?: string;
  /** Position in the input list; breaks creation-time ties and orders resources without timestamps. */
  readonly order: number;
}

export type IstioKind = 'PeerAuthentication' | 'AuthorizationPolicy' | 'Sidecar' | 'ServiceEntry' | 'DestinationRule' | 'RequestAuthentication';

export type MtlsMode = 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT';
/** A mode after inheritance: UNSET never survives resolution. */
export type ResolvedMtlsMode = Exclude<MtlsMode, 'UNSET'>;

export interface PeerAuthentication {
  readonly kind: 'PeerAuthentication';
  readonly metadata: Metadata;
  /** undefined or empty: namespace-wide (mesh-wide in the root namespace). */
  readonly selector?: Labels;
  readonly mode: MtlsMode;
  readonly portLevelMtls: ReadonlyMap<number, MtlsMode>;
}

export type AuthorizationAction = 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';

/** A field with `values` / `notValues`, e.g. principals / notPrincipals. Empty lists mean "not set". */
export interface ValueMatch {
  readonly values: readonly string[];
  readonly notValues: readonly string[];
}

/** `serviceAccounts` values are stored qualified, `namespace/name` (parse.ts adds the policy's namespace). */
export type SourceField = 'principals' | 'namespaces' | 'ipBlocks' | 'remoteIpBlocks' | 'requestPrincipals' | 'serviceAccounts';
export type OperationField = 'ports' | 'hosts' | 'methods' | 'paths';

export interface AuthzSource {
  readonly fields: Partial<Record<SourceField, ValueMatch>>;
}
export interface AuthzOperation {
  readonly fields: Partial<Record<OperationField, ValueMatch>>;
}
export interface AuthzCondition extends ValueMatch {
  readonly key: string;
}
export interface AuthzRule {
  readonly from: readonly AuthzSource[];
  readonly to: readonly AuthzOperation[];
  readonly when: readonly AuthzCondition[];
}

export interface AuthorizationPolicy {
  readonly kind: 'AuthorizationPolicy';
  readonly metadata: Metadata;
  readonly selector?: Labels;
  readonly action: AuthorizationAction;
  /** `rules` absent or empty: the policy matches nothing (an ALLOW of this shape is "allow-nothing"). */
  readonly rules: readonly AuthzRule[];
}

export type OutboundTrafficPolicyMode = 'ALLOW_ANY' | 'REGISTRY_ONLY';

export interface Sidecar {
  readonly kind: 'Sidecar';
  readonly metadata: Metadata;
  readonly selector?: Labels;
  /** All `egress[].hosts`, e.g. `./*`, `istio-system/*`, `external/api.example.com`; undefined when no egress is given. */
  readonly egressHosts?: readonly string[];
  readonly outboundTrafficPolicy?: OutboundTrafficPolicyMode;
}

export type ServiceEntryLocation = 'MESH_EXTERNAL' | 'MESH_INTERNAL';

export interface ServiceEntryPort {
  readonly number: number;
  readonly protocol: string;
  readonly name?: string;
}

export interface ServiceEntry {
  readonly kind: 'ServiceEntry';
  readonly metadata: Metadata;
  readonly hosts: readonly string[];
  readonly ports: readonly ServiceEntryPort[];
  readonly location: ServiceEntryLocation;
  /** Empty: exported to every namespace (Istio's default). */
  readonly exportTo: readonly string[];
}

export type ClientTlsMode = 'DISABLE' | 'SIMPLE' | 'MUTUAL' | 'ISTIO_MUTUAL';

export interface ClientTls {
  readonly mode: ClientTlsMode;
  readonly caCertificates?: string;
  readonly insecureSkipVerify?: boolean;
  readonly sni?: string;
  readonly subjectAltNames?: readonly string[];
  readonly clientCertificate?: string;
  readonly privateKey?: string;
}

export interface DestinationRule {
  readonly kind: 'DestinationRule';
  readonly metadata: Metadata;
  readonly host: string;
  readonly exportTo: readonly string[];
  readonly tls?: ClientTls;
  /** portLevelSettings[].tls by port number. */
  readonly portTls: ReadonlyMap<number, ClientTls>;
}

/** Where a JWT is read from (jwtRules[].fromHeaders): the header's value after `prefix`. */
export interface JwtHeaderLocation {
  readonly name: string;
  readonly prefix: string;
}

/** One `jwtRules[]` entry of a RequestAuthentication (istio.io reference: security/request_authentication). */
export interface JwtRule {
  readonly issuer: string;
  /** Empty: the token's `aud` is not checked. */
  readonly audiences: readonly string[];
  /** Inline JWKS (JSON text). Absent with no `jwksUri`: the keys of the target's own issuer (docs/scenario-format.md). */
  readonly jwks?: string;
  readonly jwksUri?: string;
  /** Both empty: Envoy's defaults, `Authorization: Bearer <token>` and the `access_token` query parameter. */
  readonly fromHeaders: readonly JwtHeaderLocation[];
  readonly fromParams: readonly string[];
  /** false (Istio's default): the sidecar removes the token's header before forwarding the request. */
  readonly forwardOriginalToken: boolean;
  /** The verified payload, base64url, in this header to the application. */
  readonly outputPayloadToHeader?: string;
}

export interface RequestAuthentication {
  readonly kind: 'RequestAuthentication';
  readonly metadata: Metadata;
  readonly selector?: Labels;
  readonly jwtRules: readonly JwtRule[];
}

export type IstioResource = PeerAuthentication | AuthorizationPolicy | Sidecar | ServiceEntry | DestinationRule | RequestAuthentication;

export function refOf(resource: IstioResource): ResourceRef {
  return { kind: resource.kind, namespace: resource.metadata.namespace, name: resource.metadata.name };
}

export function formatRef(ref: ResourceRef): string {
  return `${ref.kind} ${ref.namespace}/${ref.name}`;
}

/** Istio resolves same-scope conflicts in favour of the oldest resource; input order breaks ties. */
export function olderFirst(a: { metadata: Metadata }, b: { metadata: Metadata }): number {
  const ta = a.metadata.creationTimestamp ? Date.parse(a.metadata.creationTimestamp) : Number.NaN;
  const tb = b.metadata.creationTimestamp ? Date.parse(b.metadata.creationTimestamp) : Number.NaN;
  if (!Number.isNaN(ta) && !Number.isNaN(tb) && ta !== tb) return ta - tb;
  if (!Number.isNaN(ta) && Number.isNaN(tb)) return -1;
  if (Number.isNaN(ta) && !Number.isNaN(tb)) return 1;
  return a.metadata.order - b.metadata.order;
}
