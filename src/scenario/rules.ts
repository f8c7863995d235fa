/**
 * Cross-field rules of scenario format v1 (spec: "Rules the loader enforces") that a per-field schema cannot
 * express. Pure: checkRules(scenario) → RuleIssue[], each naming the field path the loader turns into file:line:col.
 *
 * Reading of the spec line "status may be given with `failure: http-403` style instead": `status` is an
 * observation of a request that reached the application; a request the mesh denies with 403/502 is written as
 * `reach: false, failure: http-403` (or http-502), so `status` with `reach: false` is an error that says so.
 */
import { canFlushCapture, canRunAs, IMAGE_DEFAULT_UID, nonRootNote } from '../model/capabilities.js';
import { containerPortName, portNameConflict, servicePortName, transportOf } from '../model/ports.js';
import type { External, Probe, Scenario, Workload } from './schema.js';
import { checkSteps } from './steps.js';

export type PathSegment = string | number;

export interface RuleIssue {
  path: PathSegment[];
  message: string;
  /** point at the field's name rather than its value (e.g. a field that must not be there) */
  at?: 'key' | 'value';
}

type Destination = { kind: 'workload'; workload: Workload } | { kind: 'external'; external: External };

const HTTP_ONLY_FAILURES = new Set(['http-401', 'http-403', 'http-502']);

export function checkRules(s: Scenario): RuleIssue[] {
  return [...checkNames(s), ...checkNamespaceLabels(s), ...checkWorkloads(s), ...checkExternals(s), ...checkProbes(s)];
}

function duplicates<T>(items: T[], key: (t: T) => string, path: (i: number) => PathSegment[], what: string): RuleIssue[] {
  const first = new Map<string, number>();
  const out: RuleIssue[] = [];
  items.forEach((item, i) => {
    const k = key(item);
    const j = first.get(k);
    if (j === undefined) first.set(k, i);
    else out.push({ path: path(i), message: `duplicate ${what} "${k}" (first declared at index ${j})` });
  });
  return out;
}

function checkNames(s: Scenario): RuleIssue[] {
  const { namespaces, workloads, externals, probes } = s.spec;
  return [
    ...duplicates(
      namespaces,
      (n) => n.name,
      (i) => ['spec', 'namespaces', i, 'name'],
      'namespace',
    ),
    ...duplicates(
      workloads,
      (w) => `${w.namespace}/${w.name}`,
      (i) => ['spec', 'workloads', i, 'name'],
      'workload',
    ),
    ...duplicates(
      externals,
      (e) => e.name,
      (i) => ['spec', 'externals', i, 'name'],
      'external',
    ),
    ...duplicates(
      probes,
      (p) => p.name,
      (i) => ['spec', 'probes', i, 'name'],
      'probe',
    ),
  ];
}

/** Namespace labels the format sets itself, or the cluster targets use to find their objects, cannot be declared. */
const RESERVED_NAMESPACE_LABELS: Record<string, string> = {
  'kubernetes.io/metadata.name': 'is always the namespace name',
  'istio-injection': 'follows sidecarInjection',
  'app.kubernetes.io/managed-by': 'is set by the cluster targets',
};

function checkNamespaceLabels(s: Scenario): RuleIssue[] {
  return s.spec.namespaces.flatMap((n, i) =>
    Object.keys(n.labels ?? {}).flatMap((key): RuleIssue[] => {
      const why = RESERVED_NAMESPACE_LABELS[key] ?? (key.startsWith('meshprobe.io/') ? 'is set by the cluster targets' : undefined);
      return why ? [{ path: ['spec', 'namespaces', i, 'labels', key], at: 'key', message: `label ${key} cannot be declared: it ${why}` }] : [];
    }),
  );
}

function checkWorkloads(s: Scenario): RuleIssue[] {
  const declared = new Set(s.spec.namespaces.map((n) => n.name));
  const out: RuleIssue[] = [];
  s.spec.workloads.forEach((w, i) => {
    if (!declared.has(w.namespace)) {
      out.push({
        path: ['spec', 'workloads', i, 'namespace'],
        message: `namespace "${w.namespace}" is not declared in spec.namespaces (declared: ${[...declared].join(', ')})`,
      });
    }
    out.push(...checkWorkloadPorts(w, i));
  });
  return out;
}

/**
 * A number may be declared once per transport (Kubernetes allows 53/UDP beside 53/TCP in one pod and one Service,
 * not the same number twice on one protocol); http, https and tcp all listen on TCP. Port names, declared or
 * default, are unique within the workload (container port names within a pod, Service port names within a
 * Service), and a declared name must not make Istio select another protocol than the declared one (ports.ts).
 */
function checkWorkloadPorts(w: Workload, i: number): RuleIssue[] {
  const at = (j: number, field: string): PathSegment[] => ['spec', 'workloads', i, 'ports', j, field];
  const out = duplicates(
    w.ports,
    (p) => `${p.port}/${transportOf(p.protocol)}`,
    (j) => at(j, 'port'),
    'port',
  );
  const duplicated = new Set(out.map((o) => o.path[4]));
  for (const [kind, nameOf] of [
    ['port name', (p: Workload['ports'][number]) => containerPortName(p, w.ports)],
    ['Service port name', servicePortName],
  ] as const) {
    const first = new Map<string, number>();
    w.ports.forEach((p, j) => {
      const name = nameOf(p);
      const k = first.get(name);
      if (k === undefined) return void first.set(name, j);
      // A duplicated number already said so; its default names follow from it.
      if (duplicated.has(j) || out.some((o) => o.path[4] === j && o.path[5] === 'name')) return;
      const message =
        p.name === undefined
          ? `this port's default ${kind} "${name}" is already used at index ${k}; name one of them`
          : `duplicate ${kind} "${name}" (first used at index ${k}); give the ports distinct names`;
      out.push({ path: at(j, 'name'), message });
    });
  }
  w.ports.forEach((p, j) => {
    const conflict = portNameConflict(p);
    if (conflict) out.push({ path: at(j, 'name'), message: conflict });
  });
  return out;
}

function checkExternals(s: Scenario): RuleIssue[] {
  // An external named like a workload's Service would shadow (or be shadowed by) cluster DNS: the probe would
  // not go where the author thinks.
  const serviceNames = new Map<string, string>();
  for (const w of s.spec.workloads) {
    for (const n of [w.name, `${w.name}.${w.namespace}`, `${w.name}.${w.namespace}.svc`, `${w.name}.${w.namespace}.svc.cluster.local`]) {
      serviceNames.set(n, `${w.namespace}/${w.name}`);
    }
  }
  const out: RuleIssue[] = [];
  s.spec.externals.forEach((e, i) => {
    const clash = serviceNames.get(e.name);
    if (clash) out.push({ path: ['spec', 'externals', i, 'name'], message: `external "${e.name}" clashes with the DNS name of workload ${clash}` });
    out.push(
      ...duplicates(
        e.ports,
        (p) => String(p.port),
        (j) => ['spec', 'externals', i, 'ports', j, 'port'],
        'port',
      ),
    );
    e.ports.forEach((p, j) => {
      if (p.certificate !== undefined && p.protocol !== 'https') {
        out.push({
          path: ['spec', 'externals', i, 'ports', j, 'certificate'],
          at: 'key',
          message: `certificate is only for https ports (this port is ${p.protocol})`,
        });
      }
    });
  });
  return out;
}

function checkProbes(s: Scenario): RuleIssue[] {
  const out: RuleIssue[] = [];
  s.spec.probes.forEach((p, i) => out.push(...checkProbe(s, p, ['spec', 'probes', i])));
  out.push(...checkSteps(s, (p, at) => checkProbe(s, p, at)));
  // Without steps an empty list is reported by checkSteps; with steps each step has its own control.
  if (!s.spec.steps && s.spec.probes.length > 0 && !s.spec.probes.some((p) => p.expect.reach)) {
    out.push({
      path: ['spec', 'probes'],
      message: 'no positive control: at least one probe must expect reach: true, or the scenario would pass on a broken setup',
    });
  }
  return out;
}

function findWorkload(s: Scenario, ref: string): Workload | undefined {
  const [ns, name, ...rest] = ref.split('/');
  if (rest.length > 0 || name === undefined) return undefined;
  return s.spec.workloads.find((w) => w.namespace === ns && w.name === name);
}

function findDestination(s: Scenario, ref: string): Destination | undefined {
  const workload = findWorkload(s, ref);
  if (workload) return { kind: 'workload', workload };
  const external = s.spec.externals.find((e) => e.name === ref);
  return external ? { kind: 'external', external } : undefined;
}

function workloadRefs(s: Scenario): string {
  return s.spec.workloads.map((w) => `${w.namespace}/${w.name}`).join(', ');
}

function checkProbe(s: Scenario, p: Probe, at: PathSegment[]): RuleIssue[] {
  const out: RuleIssue[] = [];
  const source = findWorkload(s, p.from);
  if (!source)
    out.push({ path: [...at, 'from'], message: `"${p.from}" is not a declared workload (namespace/workload; declared: ${workloadRefs(s)})` });
  const destination = findDestination(s, p.to);
  if (!destination) {
    const externals = s.spec.externals.map((e) => e.name);
    const declared = [workloadRefs(s), ...externals].join(', ');
    out.push({ path: [...at, 'to'], message: `"${p.to}" is not a declared workload (namespace/workload) or external (declared: ${declared})` });
  }
  out.push(...checkPort(p, destination, at));
  if (p.http !== undefined && p.protocol !== 'http' && p.protocol !== 'https') {
    out.push({ path: [...at, 'http'], at: 'key', message: `http options are only for http/https probes (this probe is ${p.protocol})` });
  }
  if (p.http?.raw !== undefined) {
    // scenario-v1-additions: `http.raw` excludes http.method/path/headers (the raw form says all of it).
    for (const field of ['method', 'path', 'headers'] as const) {
      if (p.http[field] !== undefined)
        out.push({ path: [...at, 'http', field], at: 'key', message: `http.${field} cannot be given with http.raw (write it in the raw request)` });
    }
  }
  if (p.http?.jwt !== undefined) out.push(...checkJwt(p, [...at, 'http', 'jwt']));
  if (p.bypass === 'flush-capture' && source && !(source.capabilities ?? []).includes('NET_ADMIN')) {
    out.push({ path: [...at, 'bypass'], message: `flush-capture needs NET_ADMIN: add capabilities: [NET_ADMIN] to workload ${p.from}` });
  }
  if (source) out.push(...checkPrivileges(p, source, at));
  out.push(...checkExpectation(p, [...at, 'expect']));
  return out;
}

/**
 * `http.jwt`: the sidecar checks a token on plain HTTP only (an https probe's request is inside the application's
 * TLS); the token goes in one place, a header (default `Authorization: Bearer`) or a query parameter.
 */
/** Headers the probe client writes itself: a token there would replace them (or be replaced). */
const CLIENT_HEADERS = ['host', 'content-length', 'transfer-encoding', 'connection', 'x-meshprobe-nonce'];

function checkJwt(p: Probe, at: PathSegment[]): RuleIssue[] {
  const jwt = p.http?.jwt;
  if (!jwt) return [];
  const out: RuleIssue[] = [];
  if (p.protocol !== 'http') {
    out.push({ path: at, at: 'key', message: `http.jwt needs an http probe: the sidecar cannot read a token inside ${p.protocol}` });
  }
  if (jwt.param !== undefined) {
    for (const field of ['header', 'prefix'] as const)
      if (jwt[field] !== undefined)
        out.push({ path: [...at, field], at: 'key', message: `jwt.${field} cannot be given with jwt.param (one place per token)` });
  }
  if (jwt.prefix !== undefined && jwt.header === undefined && jwt.param === undefined) {
    out.push({ path: [...at, 'prefix'], at: 'key', message: 'jwt.prefix needs jwt.header (the default Authorization header always uses "Bearer ")' });
  }
  const header = (jwt.param === undefined ? (jwt.header ?? 'authorization') : undefined)?.toLowerCase();
  if (header !== undefined && CLIENT_HEADERS.includes(header)) {
    out.push({ path: [...at, 'header'], message: `the token cannot travel in ${header}: the client sets that header itself` });
  }
  const taken = [...Object.keys(p.http?.headers ?? {}), ...(p.http?.raw?.headers ?? []).map(([name]) => name)];
  if (header !== undefined && taken.some((name) => name.toLowerCase() === header)) {
    out.push({ path: at, at: 'key', message: `the probe already sends a ${header} header; the token goes there (set jwt.header to another name)` });
  }
  return out;
}

/**
 * A probe may only ask of its workload what a Kubernetes container can do (src/model/capabilities.ts): added
 * capabilities are effective for uid 0 only, so flush-capture and a probe `as` another uid (setpriv) need
 * `runAsUser: 0`. Refused rather than warned: on every target such a probe would not test what it says
 * (flush-capture would leave the capture in place; setpriv fails and the probe is ERROR).
 */
function checkPrivileges(p: Probe, source: Workload, at: PathSegment[]): RuleIssue[] {
  const id = { uid: source.runAsUser ?? IMAGE_DEFAULT_UID, capabilities: source.capabilities ?? [] };
  const out: RuleIssue[] = [];
  const fix = `set runAsUser: 0 on workload ${p.from}`;
  if (p.bypass === 'flush-capture' && id.capabilities.includes('NET_ADMIN') && !canFlushCapture(id)) {
    out.push({ path: [...at, 'bypass'], message: `flush-capture needs NET_ADMIN in effect, but ${nonRootNote(id)}: ${fix}` });
  }
  if (p.as !== undefined && !canRunAs(id, p.as.user)) {
    const why = `a probe as uid ${p.as.user} is started by the container's process with setpriv, which needs SETUID and SETGID in effect, but ${nonRootNote(id)}`;
    out.push({ path: [...at, 'as', 'user'], message: `${why}: ${fix}` });
  }
  return out;
}

function compatible(probe: Probe['protocol'], listener: string): boolean {
  // tcp is a byte stream: it can open a connection to any TCP listener; http and https must match exactly.
  if (probe === 'tcp') return listener === 'tcp' || listener === 'http' || listener === 'https';
  return probe === listener;
}

function checkPort(p: Probe, destination: Destination | undefined, at: PathSegment[]): RuleIssue[] {
  if (p.protocol === 'icmp') {
    return p.port === undefined ? [] : [{ path: [...at, 'port'], at: 'key', message: 'icmp probes have no port; remove it' }];
  }
  if (p.port === undefined) return [{ path: at, message: `port is required for ${p.protocol} probes` }];
  if (!destination) return [];
  const ports = destination.kind === 'workload' ? destination.workload.ports : destination.external.ports;
  const declared = ports.map((q) => `${q.port}/${q.protocol}`).join(', ') || 'none';
  // A number may carry both tcp and udp: the listener is the one on the probe's transport, if any.
  const listener =
    ports.find((q) => q.port === p.port && transportOf(q.protocol) === transportOf(p.protocol)) ?? ports.find((q) => q.port === p.port);
  if (!listener) {
    return [{ path: [...at, 'port'], message: `${p.to} does not declare port ${p.port} (declares: ${declared})` }];
  }
  if (!compatible(p.protocol, listener.protocol)) {
    return [{ path: [...at, 'protocol'], message: `${p.protocol} probe to port ${p.port}, which ${p.to} declares as ${listener.protocol}` }];
  }
  return [];
}

function checkExpectation(p: Probe, at: PathSegment[]): RuleIssue[] {
  const e = p.expect;
  const out: RuleIssue[] = [];
  if (e.reach) {
    if (e.failure !== undefined) out.push({ path: [...at, 'failure'], at: 'key', message: 'failure is only allowed with reach: false' });
  } else {
    for (const field of ['mtls', 'peer', 'viaSidecar'] as const) {
      if (e[field] !== undefined) out.push({ path: [...at, field], at: 'key', message: `${field} is only allowed with reach: true` });
    }
    if (e.status !== undefined) {
      out.push({
        path: [...at, 'status'],
        at: 'key',
        message: 'status is only allowed with reach: true; for a request the mesh rejects write failure: http-403 (or http-401, http-502)',
      });
    }
  }
  const httpish = p.protocol === 'http' || p.protocol === 'https';
  if (e.failure !== undefined && HTTP_ONLY_FAILURES.has(e.failure) && !httpish) {
    out.push({ path: [...at, 'failure'], message: `failure ${e.failure} needs an http or https probe (this probe is ${p.protocol})` });
  }
  if (e.status !== undefined && e.reach && !httpish) {
    out.push({ path: [...at, 'status'], at: 'key', message: `status needs an http or https probe (this probe is ${p.protocol})` });
  }
  if (e.reach && e.peer !== undefined && e.mtls === false) {
    out.push({ path: [...at, 'peer'], at: 'key', message: 'peer contradicts mtls: false (a peer identity is only seen over mutual TLS)' });
  }
  return out;
}
