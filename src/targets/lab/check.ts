/**
 * What the lab emulates, and the refusals for everything else (pure). The lab emulates Kubernetes NetworkPolicy,
 * Istio's capture annotations, and — in its sidecar, through the model (src/model) — PeerAuthentication,
 * AuthorizationPolicy, RequestAuthentication, Sidecar, ServiceEntry and DestinationRule, plus the Gateway / VirtualService subset of
 * Istio's egress-gateway task. Any field the model or the lab does not implement is refused by name rather than
 * silently ignored.
 */
import { ANNOTATION_PREFIX, CAPTURE_ANNOTATIONS, CaptureConfigError, captureConfigFromAnnotations } from '../../model/capture.js';
import { parseResource, unsupportedFields } from '../../model/index.js';
import type { Resource, Scenario } from '../../scenario/schema.js';
import { UnsupportedError } from '../target.js';
import type { NetworkPolicy } from '../../model/network-policy.js';
import { parseNetworkPolicy } from './netpol.js';
import { EGRESS_GATEWAY_KEY, EGRESS_GATEWAY_SELECTOR } from './plan.js';
import { SYSTEM_CA_PATHS } from './sidecar/config.js';
import { parseGateway, unsupportedRoutingFields } from './sidecar/routes.js';

const KIND_HINT = 'run this scenario with --target kind';
/** Annotation prefixes that change what Istio does; any of them the lab does not emulate is refused. */
const ISTIO_ANNOTATION = /^([a-z0-9.-]*\.)?istio\.io\//;
const MODEL_KINDS = ['PeerAuthentication', 'AuthorizationPolicy', 'Sidecar', 'ServiceEntry', 'DestinationRule', 'RequestAuthentication'];
const ROUTING_KINDS = ['Gateway', 'VirtualService'];

type Raw = Record<string, unknown>;
const obj = (v: unknown): Raw => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Raw) : {});

function describe(r: Resource): string {
  return `resource ${r.apiVersion} ${r.kind} ${r.metadata.namespace ?? 'default'}/${r.metadata.name}`;
}

/** DestinationRule subsets with only a name (as the egress-gateway task uses) change nothing the lab emulates. */
function nameOnlySubsets(r: Resource): boolean {
  const subsets = obj(r['spec'])['subsets'];
  return Array.isArray(subsets) && subsets.every((s) => Object.keys(obj(s)).every((k) => k === 'name' || k === 'labels'));
}

/** Client TLS settings the lab cannot reproduce: certificate files it does not have, SAN pinning, MUTUAL origination. */
function destinationRuleTlsProblems(r: Resource): string[] {
  const policy = obj(obj(r['spec'])['trafficPolicy']);
  const all: [string, Raw][] = [['spec.trafficPolicy.tls', obj(policy['tls'])]];
  (Array.isArray(policy['portLevelSettings']) ? policy['portLevelSettings'] : []).forEach((p, i) =>
    all.push([`spec.trafficPolicy.portLevelSettings[${i}].tls`, obj(obj(p)['tls'])]),
  );
  const out: string[] = [];
  for (const [path, tls] of all) {
    if (tls['mode'] === 'MUTUAL') out.push(`${path}.mode=MUTUAL`);
    for (const f of ['clientCertificate', 'privateKey', 'subjectAltNames', 'credentialName']) if (tls[f] !== undefined) out.push(`${path}.${f}`);
    const ca = tls['caCertificates'];
    if (typeof ca === 'string' && !SYSTEM_CA_PATHS.includes(ca))
      out.push(`${path}.caCertificates=${ca} (the lab knows only the system bundle ${SYSTEM_CA_PATHS[0]})`);
  }
  return out;
}

/**
 * The lab serves no JWKS endpoint and fetches none: a rule names its keys inline (`jwks`) or, with neither `jwks`
 * nor `jwksUri`, is verified against the run's own issuer, whose tokens the probes carry (`http.jwt`).
 */
function jwksUriProblems(r: Resource): string[] {
  const rules = obj(r['spec'])['jwtRules'];
  return (Array.isArray(rules) ? rules : []).flatMap((rule, i) =>
    obj(rule)['jwksUri'] !== undefined
      ? [`spec.jwtRules[${i}].jwksUri (the lab cannot serve it: give the keys inline as jwks, or omit both for the lab's own issuer)`]
      : [],
  );
}

function checkIstioResource(r: Resource, i: number): void {
  const refuse = (paths: string[]) => {
    throw new UnsupportedError(`spec.resources[${i}].${paths[0]}`, `${describe(r)}: the lab does not emulate ${paths.join(', ')}`, KIND_HINT);
  };
  if (ROUTING_KINDS.includes(r.kind)) {
    if (!r.apiVersion.startsWith('networking.istio.io/')) refuse([`apiVersion=${r.apiVersion}`]);
    const paths = unsupportedRoutingFields(r);
    if (paths.length) refuse(paths);
    if (r.kind === 'Gateway') {
      const gw = parseGateway(r);
      if (!Object.entries(EGRESS_GATEWAY_SELECTOR).every(([k, v]) => gw.selector[k] === v)) {
        refuse(['spec.selector (only the egress gateway, istio: egressgateway, exists in the lab)']);
      }
    }
    return;
  }
  const parsed = parseResource(r, i);
  if (!parsed.ok) throw new UnsupportedError(`spec.resources[${i}]`, parsed.error, KIND_HINT);
  const paths = unsupportedFields(r).filter((p) => !(r.kind === 'DestinationRule' && p === 'spec.subsets' && nameOnlySubsets(r)));
  if (r.kind === 'DestinationRule') paths.push(...destinationRuleTlsProblems(r));
  if (r.kind === 'RequestAuthentication') paths.push(...jwksUriProblems(r));
  if (paths.length) refuse(paths);
}

function checkWorkloads(spec: Scenario['spec']): void {
  spec.workloads.forEach((w, i) => {
    for (const name of Object.keys(w.annotations ?? {})) {
      const emulated =
        name.startsWith(ANNOTATION_PREFIX) && (CAPTURE_ANNOTATIONS as readonly string[]).includes(name.slice(ANNOTATION_PREFIX.length));
      if (ISTIO_ANNOTATION.test(name) && !emulated) {
        throw new UnsupportedError(
          `spec.workloads[${i}].annotations.${name}`,
          `workload ${w.namespace}/${w.name}: annotation ${name} is not emulated by the lab`,
          KIND_HINT,
        );
      }
    }
    try {
      captureConfigFromAnnotations(w.annotations);
    } catch (err) {
      if (!(err instanceof CaptureConfigError)) throw err;
      throw new UnsupportedError(`spec.workloads[${i}].annotations.${err.annotation}`, `workload ${w.namespace}/${w.name}: ${err.message}`);
    }
    if (`${w.namespace}/${w.name}` === EGRESS_GATEWAY_KEY) {
      throw new UnsupportedError(
        `spec.workloads[${i}]`,
        'workload istio-system/istio-egressgateway: the lab creates the egress gateway itself when a Gateway selects istio: egressgateway',
      );
    }
  });
}

export function checkScenario(scenario: Scenario): NetworkPolicy[] {
  const { spec } = scenario;
  checkWorkloads(spec);
  const policies: NetworkPolicy[] = [];
  spec.resources.forEach((r, i) => {
    if (r.kind === 'NetworkPolicy' && r.apiVersion === 'networking.k8s.io/v1') {
      policies.push(parseNetworkPolicy(r, spec.namespaces[0]?.name ?? 'default'));
      return;
    }
    if (MODEL_KINDS.includes(r.kind) || ROUTING_KINDS.includes(r.kind)) return checkIstioResource(r, i);
    throw new UnsupportedError(
      `spec.resources[${i}]`,
      `${describe(r)}: the lab does not emulate ${r.kind} (it emulates NetworkPolicy, ${MODEL_KINDS.join(', ')}, and the egress-gateway subset of Gateway and VirtualService)`,
      KIND_HINT,
    );
  });
  return policies;
}
