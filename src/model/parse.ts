/**
 * Raw manifests (`{apiVersion, kind, metadata, spec}` as in a scenario's `resources`) → typed model resources.
 * Parsing is lenient about fields the model does not use; `unsupportedFields` (unsupported.ts) names those so the
 * caller can refuse them instead of silently ignoring them.
 */
import { pathTemplateError } from './path-template.js';
import { arrayAt, isObject, labelsAt, objectAt, stringAt, stringsAt, type RawObject } from './raw.js';
import { qualifyServiceAccount, serviceAccountError } from './service-account.js';
import type {
  AuthorizationAction,
  AuthorizationPolicy,
  AuthzCondition,
  AuthzOperation,
  AuthzRule,
  AuthzSource,
  ClientTls,
  ClientTlsMode,
  DestinationRule,
  IstioKind,
  IstioResource,
  Metadata,
  MtlsMode,
  OperationField,
  JwtRule,
  PeerAuthentication,
  RequestAuthentication,
  ServiceEntry,
  Sidecar,
  SourceField,
  ValueMatch,
} from './types.js';

export const SUPPORTED_API_VERSIONS: Readonly<Record<IstioKind, readonly string[]>> = {
  PeerAuthentication: ['security.istio.io/v1', 'security.istio.io/v1beta1'],
  AuthorizationPolicy: ['security.istio.io/v1', 'security.istio.io/v1beta1'],
  Sidecar: ['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'],
  ServiceEntry: ['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'],
  DestinationRule: ['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'],
  RequestAuthentication: ['security.istio.io/v1', 'security.istio.io/v1beta1'],
};

/** Namespace of a resource whose manifest has none (what `kubectl apply` without `-n` would use). */
export const DEFAULT_NAMESPACE = 'default';

export type ParseResult =
  | { readonly ok: true; readonly resource: IstioResource }
  /** Not a kind this model knows (e.g. a Deployment or NetworkPolicy): for another part of the system. */
  | { readonly ok: false; readonly kind: 'not-modelled'; readonly error: string }
  | { readonly ok: false; readonly kind: 'invalid'; readonly error: string };

const MTLS_MODES: readonly MtlsMode[] = ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'];
const ACTIONS: readonly AuthorizationAction[] = ['ALLOW', 'DENY', 'AUDIT', 'CUSTOM'];
const TLS_MODES: readonly ClientTlsMode[] = ['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL'];

class InvalidResource extends Error {}

function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], fallback: T, path: string): T {
  if (value === undefined) return fallback;
  const found = allowed.find((a) => a === value);
  if (!found) throw new InvalidResource(`${path}: "${value}" is not one of ${allowed.join(', ')}`);
  return found;
}

function isKind(kind: string): kind is IstioKind {
  return Object.hasOwn(SUPPORTED_API_VERSIONS, kind);
}

/** `order` is the resource's position in its list; it breaks ties between resources of equal age. */
export function parseResource(raw: unknown, order = 0): ParseResult {
  if (!isObject(raw)) return { ok: false, kind: 'invalid', error: 'a resource must be an object' };
  const kind = stringAt(raw, 'kind') ?? '';
  const apiVersion = stringAt(raw, 'apiVersion') ?? '';
  const metadataRaw = objectAt(raw, 'metadata');
  const label = `${kind || '(no kind)'} ${stringAt(metadataRaw, 'namespace') ?? DEFAULT_NAMESPACE}/${stringAt(metadataRaw, 'name') ?? '(no name)'}`;
  if (!isKind(kind))
    return { ok: false, kind: 'not-modelled', error: `${label}: kind ${kind || '(none)'} is not an Istio policy this model evaluates` };
  if (!SUPPORTED_API_VERSIONS[kind].includes(apiVersion)) {
    return { ok: false, kind: 'invalid', error: `${label}: apiVersion "${apiVersion}" is not one of ${SUPPORTED_API_VERSIONS[kind].join(', ')}` };
  }
  const name = stringAt(metadataRaw, 'name');
  if (!name) return { ok: false, kind: 'invalid', error: `${label}: metadata.name is required` };
  const metadata: Metadata = {
    name,
    namespace: stringAt(metadataRaw, 'namespace') ?? DEFAULT_NAMESPACE,
    creationTimestamp: stringAt(metadataRaw, 'creationTimestamp'),
    order,
  };
  const spec = objectAt(raw, 'spec') ?? {};
  try {
    return { ok: true, resource: PARSERS[kind](metadata, spec) };
  } catch (error) {
    if (error instanceof InvalidResource) return { ok: false, kind: 'invalid', error: `${label}: ${error.message}` };
    throw error;
  }
}

export interface ParsedResources {
  readonly resources: readonly IstioResource[];
  /** One message per invalid resource, naming it. */
  readonly errors: readonly string[];
  /** Kinds this model does not evaluate, for other parts of the system. */
  readonly notModelled: readonly string[];
}

export function parseResources(raws: readonly unknown[]): ParsedResources {
  const resources: IstioResource[] = [];
  const errors: string[] = [];
  const notModelled: string[] = [];
  raws.forEach((raw, index) => {
    const result = parseResource(raw, index);
    if (result.ok) resources.push(result.resource);
    else if (result.kind === 'invalid') errors.push(result.error);
    else notModelled.push(result.error);
  });
  return { resources, errors, notModelled };
}

const PARSERS: { [K in IstioKind]: (metadata: Metadata, spec: RawObject) => Extract<IstioResource, { kind: K }> } = {
  PeerAuthentication: parsePeerAuthentication,
  AuthorizationPolicy: parseAuthorizationPolicy,
  Sidecar: parseSidecar,
  ServiceEntry: parseServiceEntry,
  DestinationRule: parseDestinationRule,
  RequestAuthentication: parseRequestAuthentication,
};

function parsePort(key: string | number, path: string): number {
  const port = Number(key);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidResource(`${path}: "${key}" is not a port number`);
  return port;
}

function parsePeerAuthentication(metadata: Metadata, spec: RawObject): PeerAuthentication {
  const mode = oneOf(stringAt(objectAt(spec, 'mtls'), 'mode'), MTLS_MODES, 'UNSET', 'spec.mtls.mode');
  const portLevelMtls = new Map<number, MtlsMode>();
  for (const [port, value] of Object.entries(objectAt(spec, 'portLevelMtls') ?? {})) {
    const path = `spec.portLevelMtls.${port}.mode`;
    portLevelMtls.set(parsePort(port, path), oneOf(isObject(value) ? stringAt(value, 'mode') : undefined, MTLS_MODES, 'UNSET', path));
  }
  return { kind: 'PeerAuthentication', metadata, selector: labelsAt(objectAt(spec, 'selector'), 'matchLabels'), mode, portLevelMtls };
}

function valueMatch(obj: RawObject, field: string): ValueMatch | undefined {
  const notField = `not${field[0]?.toUpperCase()}${field.slice(1)}`;
  const values = stringsAt(obj, field);
  const notValues = stringsAt(obj, notField);
  return values.length === 0 && notValues.length === 0 ? undefined : { values, notValues };
}

function fieldsOf<F extends string>(obj: RawObject | undefined, names: readonly F[]): Partial<Record<F, ValueMatch>> {
  const out: Partial<Record<F, ValueMatch>> = {};
  if (!obj) return out;
  for (const name of names) {
    const match = valueMatch(obj, name);
    if (match) out[name] = match;
  }
  return out;
}

const SOURCE_FIELDS: readonly SourceField[] = ['principals', 'namespaces', 'ipBlocks', 'remoteIpBlocks', 'requestPrincipals', 'serviceAccounts'];
const OPERATION_FIELDS: readonly OperationField[] = ['ports', 'hosts', 'methods', 'paths'];

function qualified(match: ValueMatch, namespace: string): ValueMatch {
  const q = (values: readonly string[]) => values.map((v) => qualifyServiceAccount(v, namespace));
  return { values: q(match.values), notValues: q(match.notValues) };
}

/** Istio's validation of the fields the model adds meaning to (pkg/config/validation ValidateAuthorizationPolicy). */
function validateRule(rule: AuthzRule, i: number): void {
  const fail = (message: string | undefined) => {
    if (message !== undefined) throw new InvalidResource(`spec.rules[${i}]: ${message}`);
  };
  for (const { fields } of rule.from) {
    const sa = fields.serviceAccounts;
    if (sa && (fields.principals || fields.namespaces)) fail(`cannot set serviceAccounts with namespaces or principals, found at rule ${i}`);
    fail(serviceAccountError('ServiceAccounts', sa?.values ?? []) ?? serviceAccountError('NotServiceAccounts', sa?.notValues ?? []));
  }
  for (const { fields } of rule.to) {
    fail(pathTemplateError('Paths', fields.paths?.values ?? []) ?? pathTemplateError('NotPaths', fields.paths?.notValues ?? []));
  }
  for (const w of rule.when) {
    if (w.key === 'source.serviceAccount') fail(serviceAccountError(w.key, [...w.values, ...w.notValues]));
  }
}

function parseRule(raw: unknown, i: number, namespace: string): AuthzRule {
  const rule = isObject(raw) ? raw : {};
  const from: AuthzSource[] = arrayAt(rule, 'from').map((f) => ({
    fields: fieldsOf(isObject(f) ? objectAt(f, 'source') : undefined, SOURCE_FIELDS),
  }));
  const to: AuthzOperation[] = arrayAt(rule, 'to').map((t) => ({
    fields: fieldsOf(isObject(t) ? objectAt(t, 'operation') : undefined, OPERATION_FIELDS),
  }));
  const when: AuthzCondition[] = arrayAt(rule, 'when').flatMap((w) =>
    isObject(w) ? [{ key: stringAt(w, 'key') ?? '', values: stringsAt(w, 'values'), notValues: stringsAt(w, 'notValues') }] : [],
  );
  validateRule({ from, to, when }, i);
  // Service accounts without a namespace are in the policy's namespace (generator.go serviceAccountRegex).
  return {
    from: from.map(({ fields }) => ({
      fields: fields.serviceAccounts ? { ...fields, serviceAccounts: qualified(fields.serviceAccounts, namespace) } : fields,
    })),
    to,
    when: when.map((w) => (w.key === 'source.serviceAccount' ? { key: w.key, ...qualified(w, namespace) } : w)),
  };
}

function parseAuthorizationPolicy(metadata: Metadata, spec: RawObject): AuthorizationPolicy {
  return {
    kind: 'AuthorizationPolicy',
    metadata,
    selector: labelsAt(objectAt(spec, 'selector'), 'matchLabels'),
    action: oneOf(stringAt(spec, 'action'), ACTIONS, 'ALLOW', 'spec.action'),
    rules: arrayAt(spec, 'rules').map((r, i) => parseRule(r, i, metadata.namespace)),
  };
}

function parseSidecar(metadata: Metadata, spec: RawObject): Sidecar {
  const egress = arrayAt(spec, 'egress');
  const mode = stringAt(objectAt(spec, 'outboundTrafficPolicy'), 'mode');
  return {
    kind: 'Sidecar',
    metadata,
    selector: labelsAt(objectAt(spec, 'workloadSelector'), 'labels'),
    egressHosts: egress.length === 0 ? undefined : egress.flatMap((e) => (isObject(e) ? stringsAt(e, 'hosts') : [])),
    outboundTrafficPolicy:
      mode === undefined ? undefined : oneOf(mode, ['ALLOW_ANY', 'REGISTRY_ONLY'] as const, 'ALLOW_ANY', 'spec.outboundTrafficPolicy.mode'),
  };
}

function parseServiceEntry(metadata: Metadata, spec: RawObject): ServiceEntry {
  const hosts = stringsAt(spec, 'hosts');
  if (hosts.length === 0) throw new InvalidResource('spec.hosts must list at least one host');
  const ports = arrayAt(spec, 'ports').map((p, i) => {
    const port = isObject(p) ? p : {};
    const number = port['number'];
    return {
      number: parsePort(typeof number === 'number' || typeof number === 'string' ? number : '(missing)', `spec.ports[${i}].number`),
      protocol: (stringAt(port, 'protocol') ?? 'TCP').toUpperCase(),
      name: stringAt(port, 'name'),
    };
  });
  return {
    kind: 'ServiceEntry',
    metadata,
    hosts,
    ports,
    location: oneOf(stringAt(spec, 'location'), ['MESH_EXTERNAL', 'MESH_INTERNAL'] as const, 'MESH_EXTERNAL', 'spec.location'),
    exportTo: stringsAt(spec, 'exportTo'),
  };
}

function parseTls(raw: RawObject | undefined, path: string): ClientTls | undefined {
  if (!raw) return undefined;
  const skip = raw['insecureSkipVerify'];
  const subjectAltNames = stringsAt(raw, 'subjectAltNames');
  return {
    mode: oneOf(stringAt(raw, 'mode'), TLS_MODES, 'DISABLE', `${path}.mode`),
    caCertificates: stringAt(raw, 'caCertificates'),
    insecureSkipVerify: typeof skip === 'boolean' ? skip : undefined,
    sni: stringAt(raw, 'sni'),
    subjectAltNames: subjectAltNames.length > 0 ? subjectAltNames : undefined,
    clientCertificate: stringAt(raw, 'clientCertificate'),
    privateKey: stringAt(raw, 'privateKey'),
  };
}

function parseDestinationRule(metadata: Metadata, spec: RawObject): DestinationRule {
  const host = stringAt(spec, 'host');
  if (!host) throw new InvalidResource('spec.host is required');
  const policy = objectAt(spec, 'trafficPolicy');
  const portTls = new Map<number, ClientTls>();
  arrayAt(policy, 'portLevelSettings').forEach((raw, i) => {
    const setting = isObject(raw) ? raw : {};
    const number = objectAt(setting, 'port')?.['number'];
    const path = `spec.trafficPolicy.portLevelSettings[${i}]`;
    const tls = parseTls(objectAt(setting, 'tls'), `${path}.tls`);
    if (tls) portTls.set(parsePort(typeof number === 'number' || typeof number === 'string' ? number : '(missing)', `${path}.port.number`), tls);
  });
  return {
    kind: 'DestinationRule',
    metadata,
    host,
    exportTo: stringsAt(spec, 'exportTo'),
    tls: parseTls(objectAt(policy, 'tls'), 'spec.trafficPolicy.tls'),
    portTls,
  };
}

function parseJwtRule(raw: unknown, i: number): JwtRule {
  const path = `spec.jwtRules[${i}]`;
  const rule = isObject(raw) ? raw : {};
  const issuer = stringAt(rule, 'issuer');
  if (!issuer) throw new InvalidResource(`${path}.issuer is required`);
  const jwks = stringAt(rule, 'jwks');
  if (jwks !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(jwks);
    } catch {
      throw new InvalidResource(`${path}.jwks is not JSON (a JWKS: {"keys": [...]})`);
    }
    if (!isObject(parsed) || !Array.isArray(parsed['keys'])) throw new InvalidResource(`${path}.jwks has no "keys" list (a JWKS: {"keys": [...]})`);
  }
  const forward = rule['forwardOriginalToken'];
  return {
    issuer,
    audiences: stringsAt(rule, 'audiences'),
    ...(jwks !== undefined ? { jwks } : {}),
    ...(stringAt(rule, 'jwksUri') !== undefined ? { jwksUri: stringAt(rule, 'jwksUri') } : {}),
    fromHeaders: arrayAt(rule, 'fromHeaders').flatMap((h, j) => {
      const name = isObject(h) ? stringAt(h, 'name') : undefined;
      if (!name) throw new InvalidResource(`${path}.fromHeaders[${j}].name is required`);
      return [{ name: name.toLowerCase(), prefix: (isObject(h) ? stringAt(h, 'prefix') : undefined) ?? '' }];
    }),
    fromParams: stringsAt(rule, 'fromParams'),
    forwardOriginalToken: forward === true,
    ...(stringAt(rule, 'outputPayloadToHeader') ? { outputPayloadToHeader: stringAt(rule, 'outputPayloadToHeader') } : {}),
  };
}

function parseRequestAuthentication(metadata: Metadata, spec: RawObject): RequestAuthentication {
  return {
    kind: 'RequestAuthentication',
    metadata,
    selector: labelsAt(objectAt(spec, 'selector'), 'matchLabels'),
    jwtRules: arrayAt(spec, 'jwtRules').map(parseJwtRule),
  };
}
