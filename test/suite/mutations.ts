/**
 * One mutation per lab-capable scenario of the built-in suite: the scenario's key policy line removed or inverted,
 * the way a wrong configuration (or a wrong claim) would look. Each must turn the scenario into a FAIL — a suite
 * that stays green under these edits proves nothing. Mutations edit the parsed YAML in place.
 */
import type { ScenarioInput } from '../../src/scenario/schema.js';

type Spec = ScenarioInput['spec'];
type Resource = NonNullable<Spec['resources']>[number];
export interface Mutation {
  what: string;
  apply: (s: ScenarioInput) => void;
  /** The probes that must notice (FAIL); every other probe keeps its verdict. */
  fails: string[];
}

/** A raw manifest seen through the fields a mutation edits (resources are loose objects in the schema). */
function view<T>(r: Resource | undefined): T | undefined {
  return r as unknown as T | undefined;
}

function resources(s: ScenarioInput): Resource[] {
  return s.spec.resources ?? [];
}

/** Removes every resource of that kind; throws when there is none, so a stale mutation cannot silently no-op. */
function dropKind(kind: string): (s: ScenarioInput) => void {
  return (s) => {
    const before = resources(s).length;
    s.spec.resources = resources(s).filter((r) => r.kind !== kind);
    if (s.spec.resources.length === before) throw new Error(`${s.metadata.name}: no ${kind} to remove`);
  };
}

function setPeerAuthMode(mode: string): (s: ScenarioInput) => void {
  return (s) => {
    const pas = resources(s).filter((r) => r.kind === 'PeerAuthentication');
    if (pas.length === 0) throw new Error(`${s.metadata.name}: no PeerAuthentication`);
    for (const pa of pas) view<{ spec: { mtls: { mode: string } } }>(pa)!.spec.mtls.mode = mode;
  };
}

function removeAnnotation(workload: string, key: string): (s: ScenarioInput) => void {
  return (s) => {
    const w = s.spec.workloads.find((x) => `${x.namespace}/${x.name}` === workload);
    if (!w?.annotations?.[key]) throw new Error(`${s.metadata.name}: ${workload} has no ${key}`);
    delete w.annotations[key];
  };
}

function addResource(resource: Resource): (s: ScenarioInput) => void {
  return (s) => {
    s.spec.resources = [...resources(s), resource];
  };
}

const strictNamespace = (namespace: string): Resource => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'PeerAuthentication',
  metadata: { name: 'mutation-strict', namespace },
  spec: { mtls: { mode: 'STRICT' } },
});

/** The `operation` of the only rule of AuthorizationPolicy `name`; throws when there is none. */
function operationOf(s: ScenarioInput, name: string): Record<string, unknown> {
  const ap = view<{ spec: { rules: { to: { operation: Record<string, unknown> }[] }[] } }>(resources(s).find((r) => r.metadata.name === name));
  const op = ap?.spec.rules[0]?.to[0]?.operation;
  if (!op) throw new Error(`${s.metadata.name}: no AuthorizationPolicy ${name} with an operation`);
  return op;
}

/** Replaces the operation of AuthorizationPolicy `name` (e.g. positive matching swapped for negative matching). */
function setOperation(name: string, operation: Record<string, unknown>): (s: ScenarioInput) => void {
  return (s) => {
    const op = operationOf(s, name);
    for (const k of Object.keys(op)) delete op[k];
    Object.assign(op, operation);
  };
}

function setPathNormalization(option: 'NONE' | 'BASE' | 'MERGE_SLASHES' | 'DECODE_AND_MERGE_SLASHES'): (s: ScenarioInput) => void {
  return (s) => {
    if (s.spec.mesh?.pathNormalization === option) throw new Error(`${s.metadata.name}: already ${option}`);
    s.spec.mesh = { ...s.spec.mesh, pathNormalization: option };
  };
}

export const MUTATIONS: Record<string, Mutation> = {
  'permissive-accepts-both': {
    fails: ['plaintext-from-legacy-accepted'],
    what: 'the default PERMISSIVE replaced by a namespace-wide STRICT',
    apply: addResource(strictNamespace('app')),
  },
  'strict-accepts-only-mtls': {
    fails: ['plaintext-http-from-legacy', 'plaintext-tcp-from-legacy'],
    what: 'STRICT → PERMISSIVE',
    apply: setPeerAuthMode('PERMISSIVE'),
  },
  'mtls-authenticates-not-authorizes': {
    fails: ['any-mesh-identity-gets-in'],
    what: 'an AuthorizationPolicy added: only app/frontend is authorized',
    apply: addResource({
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'frontend-only', namespace: 'app' },
      spec: { action: 'ALLOW', rules: [{ from: [{ source: { principals: ['cluster.local/ns/app/sa/frontend'] } }] }] },
    }),
  },
  'authz-only-app-namespace': {
    fails: ['http-from-other-namespace', 'tcp-from-other-namespace'],
    what: 'AuthorizationPolicy deleted',
    apply: dropKind('AuthorizationPolicy'),
  },
  'udp-not-captured': {
    fails: ['http-denied', 'tcp-denied'],
    what: 'allow-nothing AuthorizationPolicy deleted',
    apply: dropKind('AuthorizationPolicy'),
  },
  'icmp-not-captured': { fails: ['http-denied'], what: 'allow-nothing AuthorizationPolicy deleted', apply: dropKind('AuthorizationPolicy') },
  'exclude-inbound-ports': {
    fails: ['excluded-port-plaintext-bypasses-strict'],
    what: 'excludeInboundPorts annotation removed',
    apply: removeAnnotation('app/server', 'traffic.sidecar.istio.io/excludeInboundPorts'),
  },
  'exclude-outbound-ports': {
    fails: ['excluded-port-leaves-as-plaintext'],
    what: 'excludeOutboundPorts annotation removed',
    apply: removeAnnotation('app/client', 'traffic.sidecar.istio.io/excludeOutboundPorts'),
  },
  'app-bypasses-own-sidecar': {
    fails: ['captured-request-blocked-by-own-sidecar', 'net-admin-captured-request-blocked'],
    what: 'Sidecar outboundTrafficPolicy REGISTRY_ONLY → ALLOW_ANY',
    apply: (s) => {
      const sc = view<{ spec: { outboundTrafficPolicy: { mode: string } } }>(resources(s).find((r) => r.kind === 'Sidecar'));
      if (!sc) throw new Error(`${s.metadata.name}: no Sidecar`);
      sc.spec.outboundTrafficPolicy.mode = 'ALLOW_ANY';
    },
  },
  'cannot-bypass-another-pods-sidecar': {
    fails: ['intruder-through-its-sidecar-denied'],
    what: 'AuthorizationPolicy deleted',
    apply: dropKind('AuthorizationPolicy'),
  },
  'networkpolicy-defense-in-depth': {
    fails: ['excluded-port-9090-dropped', 'port-9091-dropped', 'uid-1337-still-dropped'],
    what: 'NetworkPolicy dropped',
    apply: dropKind('NetworkPolicy'),
  },
  'registry-only-not-a-boundary': {
    fails: ['undeclared-host-blocked'],
    what: 'mesh REGISTRY_ONLY → ALLOW_ANY',
    apply: (s) => {
      s.spec.mesh = { ...s.spec.mesh, outboundTrafficPolicy: 'ALLOW_ANY' };
    },
  },
  'egress-gateway-with-networkpolicy': {
    fails: ['net-admin-flush-bypass-blocked', 'uid-1337-bypass-blocked'],
    what: 'NetworkPolicy dropped',
    apply: dropKind('NetworkPolicy'),
  },
  'tls-origination-verification': {
    fails: ['insecure-skip-verify-accepts-forged-server'],
    what: 'insecureSkipVerify removed (the forged certificate is then verified and refused)',
    apply: (s) => {
      const dr = view<{ spec: { trafficPolicy: { portLevelSettings: { tls: Record<string, unknown> }[] } } }>(
        resources(s).find((r) => r.metadata.name === 'forged-skip'),
      );
      const tls = dr?.spec.trafficPolicy.portLevelSettings[0]?.tls;
      if (!tls || !('insecureSkipVerify' in tls)) throw new Error(`${s.metadata.name}: no insecureSkipVerify on forged-skip`);
      delete tls.insecureSkipVerify;
    },
  },
  'allow-with-positive-matching': {
    fails: ['double-slash-denied', 'trailing-slash-denied', 'upper-case-denied'],
    what: 'ALLOW paths [/public] → ALLOW notPaths [/admin] (ALLOW with negative matching)',
    apply: setOperation('foo', { notPaths: ['/admin'] }),
  },
  'deny-with-negative-matching': {
    fails: ['double-slash-denied', 'public-variant-denied', 'upper-case-denied'],
    what: 'DENY notPaths [/public] → DENY paths [/admin] (DENY with positive matching)',
    apply: setOperation('foo', { paths: ['/admin'] }),
  },
  'path-normalization-none': {
    fails: ['backslash-not-converted', 'dot-segments-not-resolved'],
    what: 'pathNormalization NONE → BASE',
    apply: setPathNormalization('BASE'),
  },
  'path-normalization-base': {
    fails: ['backslash-converted', 'dot-segments-resolved', 'encoded-dot-segments-resolved'],
    what: 'pathNormalization (default BASE) → NONE',
    apply: setPathNormalization('NONE'),
  },
  'path-normalization-merge-slashes': {
    fails: ['dot-segments-resolved', 'double-slash-merged'],
    what: 'pathNormalization MERGE_SLASHES → BASE',
    apply: setPathNormalization('BASE'),
  },
  'path-normalization-decode-and-merge-slashes': {
    fails: ['encoded-backslash-decoded', 'encoded-slash-decoded', 'lower-case-encoded-slash-decoded'],
    what: 'pathNormalization DECODE_AND_MERGE_SLASHES → MERGE_SLASHES',
    apply: setPathNormalization('MERGE_SLASHES'),
  },
  'host-match-policies': {
    fails: ['host-with-port-gets-through'],
    what: "the exact-host DENY also lists admin.example.com:* (the page's recommendation)",
    apply: (s) => {
      const op = operationOf(s, 'deny-admin-host');
      op.hosts = [...(op.hosts as string[]), 'admin.example.com:*'];
    },
  },
};
