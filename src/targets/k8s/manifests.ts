/**
 * Pure rendering of a scenario into the manifests a cluster target applies: per-run Namespaces (with the
 * injection label), one ServiceAccount, agent ConfigMap, Deployment and Service per workload, then the scenario's
 * own resources with every namespace reference rewritten. `render` and the targets share this one function, so
 * what `meshprobe render` writes is exactly what a run applies.
 */
import { hasSidecar } from '../../model/mesh.js';
import type { ServeConfig } from '../../agent/config.js';
import type { Namespace, Scenario, Workload } from '../../scenario/schema.js';
import { MANAGED_BY_LABEL, namespaceMap, RUN_LABEL, SCENARIO_LABEL, type NamespaceMap } from './names.js';
import { rewriteResource } from './rewrite.js';
import { withRunJwks } from './jwks.js';

export const AGENT_CONTAINER = 'agent';
export const AGENT_PATH = '/agent/meshprobe-agent.mjs';
export const CONTROL_SOCKET = '/tmp/meshprobe/control.sock';
export const WORKLOAD_LABEL = 'meshprobe.io/workload';
export const DEFAULT_IMAGE = 'meshprobe-agent:dev';

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

export interface RenderOptions {
  runId: string;
  image?: string;
  imagePullPolicy?: 'IfNotPresent' | 'Never' | 'Always';
}

export interface RenderedScenario {
  map: NamespaceMap;
  /** Applied first, in this order: namespaces, then workloads; readiness is awaited before `resources`. */
  namespaces: Manifest[];
  workloads: Manifest[];
  /** The scenario's own resources, rewritten into the run's namespaces. */
  resources: Manifest[];
}

function commonLabels(runId: string, scenario: Scenario): Record<string, string> {
  return { [MANAGED_BY_LABEL]: 'meshprobe', [RUN_LABEL]: runId, [SCENARIO_LABEL]: scenario.metadata.name };
}

/**
 * istio-injection=disabled wins over any pod label, so a namespace without injection that holds a workload
 * with a sidecar gets no label at all and that pod opts in with sidecar.istio.io/inject=true.
 */
function injectionLabel(scenario: Scenario, ns: Namespace): Record<string, string> {
  if (ns.sidecarInjection) return { 'istio-injection': 'enabled' };
  const optIn = scenario.spec.workloads.some((w) => w.namespace === ns.name && hasSidecar(scenario, w));
  return optIn ? {} : { 'istio-injection': 'disabled' };
}

function renderNamespace(scenario: Scenario, map: NamespaceMap, ns: Namespace, runId: string): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: map.forward.get(ns.name)!,
      labels: { ...(ns.labels ?? {}), ...commonLabels(runId, scenario), ...injectionLabel(scenario, ns) },
    },
  };
}

export function serviceAccountOf(w: Workload): string {
  return w.serviceAccount ?? w.name;
}

export function agentConfig(scenario: Scenario, w: Workload): ServeConfig {
  return {
    name: `${w.namespace}/${w.name}`,
    ports: w.ports.map((p) => ({ port: p.port, protocol: p.protocol })),
    control: CONTROL_SOCKET,
    behindSidecar: hasSidecar(scenario, w),
  };
}

/** Istio picks the protocol from the Service port name prefix. */
function servicePortName(p: Workload['ports'][number]): string {
  return `${p.protocol}-${p.port}`;
}

/** What the probes sent from a workload need from its container's process (see probeNeeds). */
export interface ProbeNeeds {
  /** `as: {user}` probes: setpriv must change uid and gid. */
  setuid: boolean;
  /** `bypass: flush-capture`: iptables must rewrite the pod's nat table. */
  netAdmin: boolean;
}

export function probeNeeds(scenario: Scenario, w: Workload): ProbeNeeds {
  const mine = scenario.spec.probes.filter((p) => p.from === `${w.namespace}/${w.name}`);
  return { setuid: mine.some((p) => p.as !== undefined), netAdmin: mine.some((p) => p.bypass === 'flush-capture') };
}

/**
 * Why a workload's probes cannot run on a cluster as declared, or undefined. Real runtimes give a non-root
 * process no effective capabilities whatever the pod adds (kubernetes/kubernetes#56374), so setpriv and iptables
 * work only in a container running as uid 0: a workload that declares another uid cannot send such probes.
 */
export function capabilityConflict(scenario: Scenario, w: Workload): string | undefined {
  const needs = probeNeeds(scenario, w);
  if (!needs.setuid && !needs.netAdmin) return undefined;
  if (w.runAsUser === undefined || w.runAsUser === 0) return undefined;
  const what = [
    needs.setuid ? '`as: {user}` (setpriv needs CAP_SETUID/CAP_SETGID)' : '',
    needs.netAdmin ? '`bypass: flush-capture` (iptables needs CAP_NET_ADMIN)' : '',
  ]
    .filter(Boolean)
    .join(' and ');
  return `workload ${w.namespace}/${w.name} runs as uid ${w.runAsUser} but its probes use ${what}; Kubernetes gives a non-root container no effective capabilities (kubernetes/kubernetes#56374), so the command would fail`;
}

/**
 * The container's securityContext. Probes that need capabilities run the agent as uid 0 with exactly those
 * capabilities added (SETUID/SETGID are in the runtimes' default set, added anyway so the manifest says why):
 * only then does the exec'd command have them. The image's default user (uid 1000) is kept otherwise.
 */
function securityContextOf(scenario: Scenario, w: Workload): Record<string, unknown> | undefined {
  const conflict = capabilityConflict(scenario, w);
  if (conflict) throw new RenderError(`scenario ${scenario.metadata.name}: ${conflict}`);
  const needs = probeNeeds(scenario, w);
  const add = [...(w.capabilities ?? [])];
  const want = [...(needs.setuid ? (['SETUID', 'SETGID'] as const) : []), ...(needs.netAdmin ? (['NET_ADMIN'] as const) : [])];
  for (const c of want) if (!add.includes(c)) add.push(c);
  const securityContext: Record<string, unknown> = {};
  if (want.length) {
    securityContext.runAsUser = 0;
    securityContext.runAsGroup = 0;
  } else if (w.runAsUser !== undefined) securityContext.runAsUser = w.runAsUser;
  if (add.length) securityContext.capabilities = { add };
  return Object.keys(securityContext).length ? securityContext : undefined;
}

/** Ready only once `serve` listens (its control socket exists), not merely once the process started. */
const READINESS_PROBE = { exec: { command: ['test', '-S', CONTROL_SOCKET] }, periodSeconds: 1, failureThreshold: 60 };

function renderContainer(scenario: Scenario, w: Workload, options: RenderOptions): Record<string, unknown> {
  const securityContext = securityContextOf(scenario, w);
  return {
    name: AGENT_CONTAINER,
    image: options.image ?? DEFAULT_IMAGE,
    imagePullPolicy: options.imagePullPolicy ?? 'IfNotPresent',
    command: ['node', AGENT_PATH, 'serve', '--config', '/etc/meshprobe/config.json'],
    ports: w.ports.map((p) => ({ containerPort: p.port, protocol: p.protocol === 'udp' ? 'UDP' : 'TCP', name: `p${p.port}` })),
    volumeMounts: [
      { name: 'config', mountPath: '/etc/meshprobe', readOnly: true },
      { name: 'control', mountPath: '/tmp/meshprobe' },
    ],
    readinessProbe: READINESS_PROBE,
    ...(securityContext ? { securityContext } : {}),
  };
}

function renderWorkload(scenario: Scenario, map: NamespaceMap, w: Workload, options: RenderOptions): Manifest[] {
  const namespace = map.forward.get(w.namespace)!;
  const labels = commonLabels(options.runId, scenario);
  const selector = { [WORKLOAD_LABEL]: w.name };
  const podLabels: Record<string, string> = {
    app: w.name,
    ...(w.labels ?? {}),
    ...selector,
    'sidecar.istio.io/inject': String(hasSidecar(scenario, w)),
  };
  const configMap: Manifest = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: `${w.name}-agent`, namespace, labels },
    data: { 'config.json': JSON.stringify(agentConfig(scenario, w), null, 2) },
  };
  const deployment: Manifest = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: w.name, namespace, labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: selector },
      template: {
        metadata: { labels: podLabels, ...(w.annotations ? { annotations: { ...w.annotations } } : {}) },
        spec: {
          serviceAccountName: serviceAccountOf(w),
          terminationGracePeriodSeconds: 2,
          containers: [renderContainer(scenario, w, options)],
          volumes: [
            { name: 'config', configMap: { name: `${w.name}-agent` } },
            { name: 'control', emptyDir: {} },
          ],
        },
      },
    },
  };
  const out: Manifest[] = [configMap, deployment];
  if (w.ports.length) {
    out.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: w.name, namespace, labels },
      spec: {
        selector,
        ports: w.ports.map((p) => ({ name: servicePortName(p), port: p.port, targetPort: p.port, protocol: p.protocol === 'udp' ? 'UDP' : 'TCP' })),
      },
    });
  }
  return out;
}

function renderServiceAccounts(scenario: Scenario, map: NamespaceMap, runId: string): Manifest[] {
  const seen = new Set<string>();
  const out: Manifest[] = [];
  for (const w of scenario.spec.workloads) {
    const key = `${w.namespace}/${serviceAccountOf(w)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: serviceAccountOf(w), namespace: map.forward.get(w.namespace)!, labels: commonLabels(runId, scenario) },
    });
  }
  return out;
}

export class RenderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RenderError';
  }
}

export function renderScenario(scenario: Scenario, options: RenderOptions): RenderedScenario {
  const map = namespaceMap(options.runId, scenario);
  const resources = scenario.spec.resources.map((r, i) => {
    if (!r.metadata.namespace) {
      throw new RenderError(
        `scenario ${scenario.metadata.name}: spec.resources[${i}] (${r.kind} ${r.metadata.name}) has no metadata.namespace; on a cluster every resource needs one`,
      );
    }
    return withRunJwks(rewriteResource(map, r) as Manifest);
  });
  return {
    map,
    namespaces: scenario.spec.namespaces.map((ns) => renderNamespace(scenario, map, ns, options.runId)),
    workloads: [
      ...renderServiceAccounts(scenario, map, options.runId),
      ...scenario.spec.workloads.flatMap((w) => renderWorkload(scenario, map, w, options)),
    ],
    resources,
  };
}

/** Every manifest in apply order. */
export function allManifests(r: RenderedScenario): Manifest[] {
  return [...r.namespaces, ...r.workloads, ...r.resources];
}

/** The cluster service name a probe to `ns/workload` uses. */
export function serviceHost(map: NamespaceMap, to: string): string {
  const [ns, name] = to.split('/');
  return `${name}.${map.forward.get(ns) ?? ns}.svc.cluster.local`;
}
