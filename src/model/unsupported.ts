/**
 * `unsupportedFields(manifest)`: the JSON paths of fields and values of a manifest that the model does NOT
 * implement, so the lab can refuse them by name instead of silently ignoring them. Each supported kind is
 * described by the shape of what the model evaluates; anything outside that shape is reported.
 */
import { fieldsNewerThan } from './authz-versions.js';
import { isRequestAuthKey } from './jwt.js';
import { MODEL_ISTIO_VERSION } from './mesh.js';
import { isObject, objectAt, stringAt } from './raw.js';

type Shape =
  | { readonly t: 'leaf'; readonly accept?: (value: unknown) => boolean }
  | { readonly t: 'list'; readonly of: Shape }
  | { readonly t: 'object'; readonly fields: Readonly<Record<string, Shape>> }
  /** An object with arbitrary keys (labels, portLevelMtls) whose values have one shape. */
  | { readonly t: 'map'; readonly of: Shape };

const leaf: Shape = { t: 'leaf' };
const strings: Shape = { t: 'list', of: leaf };
const oneOf = (...allowed: string[]): Shape => ({ t: 'leaf', accept: (v) => typeof v === 'string' && allowed.includes(v) });
const obj = (fields: Record<string, Shape>): Shape => ({ t: 'object', fields });
const list = (of: Shape): Shape => ({ t: 'list', of });
const labels: Shape = { t: 'map', of: leaf };

/** `when` keys the model evaluates (pilot/pkg/security/authz/model/model.go knows more: those are refused). */
export const SUPPORTED_WHEN_KEYS = [
  'source.ip',
  'remote.ip',
  'source.namespace',
  'source.principal',
  'source.serviceAccount',
  'destination.ip',
  'destination.port',
  'connection.sni',
] as const;
const HEADER_KEY = /^request\.headers\[[^\]]+\]$/;

function isSupportedWhenKey(key: unknown): boolean {
  return typeof key === 'string' && ((SUPPORTED_WHEN_KEYS as readonly string[]).includes(key) || HEADER_KEY.test(key) || isRequestAuthKey(key));
}

const mtls = obj({ mode: oneOf('UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT') });

const PEER_AUTHENTICATION = obj({ selector: obj({ matchLabels: labels }), mtls, portLevelMtls: { t: 'map', of: mtls } });

const AUTHORIZATION_POLICY = obj({
  selector: obj({ matchLabels: labels }),
  action: oneOf('ALLOW', 'DENY', 'AUDIT'),
  rules: list(
    obj({
      from: list(
        obj({
          source: obj(
            Object.fromEntries(
              [
                'principals',
                'notPrincipals',
                'namespaces',
                'notNamespaces',
                'ipBlocks',
                'notIpBlocks',
                'remoteIpBlocks',
                'notRemoteIpBlocks',
                'serviceAccounts',
                'notServiceAccounts',
                'requestPrincipals',
                'notRequestPrincipals',
              ].map((f) => [f, strings]),
            ),
          ),
        }),
      ),
      to: list(
        obj({
          operation: obj({
            ports: strings,
            notPorts: strings,
            hosts: strings,
            notHosts: strings,
            methods: strings,
            notMethods: strings,
            paths: strings,
            notPaths: strings,
          }),
        }),
      ),
      when: list(obj({ key: { t: 'leaf', accept: isSupportedWhenKey }, values: strings, notValues: strings })),
    }),
  ),
});

const SIDECAR = obj({
  workloadSelector: obj({ labels }),
  egress: list(obj({ hosts: strings })),
  outboundTrafficPolicy: obj({ mode: oneOf('ALLOW_ANY', 'REGISTRY_ONLY') }),
});

/** `resolution` changes how endpoints are found, not whether traffic is allowed or encrypted: accepted. */
const SERVICE_ENTRY = obj({
  hosts: strings,
  ports: list(obj({ number: leaf, protocol: leaf, name: leaf, targetPort: leaf })),
  location: oneOf('MESH_EXTERNAL', 'MESH_INTERNAL'),
  resolution: leaf,
  exportTo: strings,
});

const CLIENT_TLS = obj({
  mode: oneOf('DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL'),
  caCertificates: leaf,
  insecureSkipVerify: leaf,
  sni: leaf,
  subjectAltNames: strings,
  clientCertificate: leaf,
  privateKey: leaf,
});

const DESTINATION_RULE = obj({
  host: leaf,
  exportTo: strings,
  trafficPolicy: obj({ tls: CLIENT_TLS, portLevelSettings: list(obj({ port: obj({ number: leaf }), tls: CLIENT_TLS })) }),
});

/**
 * RequestAuthentication (model/jwt.ts). Not emulated: fromCookies, outputClaimToHeaders, timeout, targetRef(s);
 * `jwksUri` is refused by the lab (it serves no JWKS endpoint), see targets/lab/check.ts.
 */
const REQUEST_AUTHENTICATION = obj({
  selector: obj({ matchLabels: labels }),
  jwtRules: list(
    obj({
      issuer: leaf,
      audiences: strings,
      jwks: leaf,
      jwksUri: leaf,
      fromHeaders: list(obj({ name: leaf, prefix: leaf })),
      fromParams: strings,
      forwardOriginalToken: leaf,
      outputPayloadToHeader: leaf,
    }),
  ),
});

const SPEC_SHAPES: Readonly<Record<string, Shape>> = {
  RequestAuthentication: REQUEST_AUTHENTICATION,
  PeerAuthentication: PEER_AUTHENTICATION,
  AuthorizationPolicy: AUTHORIZATION_POLICY,
  Sidecar: SIDECAR,
  ServiceEntry: SERVICE_ENTRY,
  DestinationRule: DESTINATION_RULE,
};

function walk(value: unknown, shape: Shape, path: string, out: string[]): void {
  switch (shape.t) {
    case 'leaf':
      if (shape.accept && !shape.accept(value)) out.push(`${path}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
      return;
    case 'list':
      if (Array.isArray(value)) value.forEach((item, i) => walk(item, shape.of, `${path}[${i}]`, out));
      return;
    case 'map':
      if (isObject(value)) for (const [key, item] of Object.entries(value)) walk(item, shape.of, `${path}.${key}`, out);
      return;
    case 'object':
      if (!isObject(value)) return;
      for (const [key, item] of Object.entries(value)) {
        const fieldShape = shape.fields[key];
        if (fieldShape) walk(item, fieldShape, `${path}.${key}`, out);
        else out.push(`${path}.${key}`);
      }
  }
}

/**
 * Fields newer than `istioVersion` (authz-versions.ts) are reported too, naming the version they need.
 * Paths such as `spec.action=CUSTOM`, `spec.jwtRules[0].fromCookies`,
 * `spec.rules[0].when[1].key=experimental.envoy.filters.x[y]`, `spec.trafficPolicy.loadBalancer`. Empty for kinds the
 * model does not evaluate (they belong to other parts of the system) and for fully supported manifests.
 */
export function unsupportedFields(manifest: unknown, istioVersion: string = MODEL_ISTIO_VERSION): string[] {
  if (!isObject(manifest)) return [];
  const kind = stringAt(manifest, 'kind') ?? '';
  const shape = SPEC_SHAPES[kind];
  if (!shape) return [];
  const out: string[] = [];
  walk(manifest['spec'] ?? {}, shape, 'spec', out);
  out.push(...fieldsNewerThan(manifest, istioVersion));
  const annotations = objectAt(objectAt(manifest, 'metadata'), 'annotations');
  if (kind === 'AuthorizationPolicy' && annotations && 'istio.io/dry-run' in annotations) {
    out.push('metadata.annotations.istio.io/dry-run');
  }
  const spec = objectAt(manifest, 'spec');
  // Istio only honours portLevelMtls on workload-selector policies; validation rejects the other case.
  if (kind === 'PeerAuthentication' && spec?.['portLevelMtls'] !== undefined && !objectAt(objectAt(spec, 'selector'), 'matchLabels')) {
    out.push('spec.portLevelMtls (without spec.selector.matchLabels)');
  }
  return out;
}
