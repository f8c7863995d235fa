/**
 * Pure rendering of a scenario into the manifests a cluster target applies: per-run Namespaces (with the
 * injection label), one ServiceAccount, agent ConfigMap, Deployment and Service per workload, then the scenario's
 * own resources with every namespace reference rewritten. `render` and the targets share this one function, so
 * what `meshprobe render` writes is exactly what a run applies.
 */
import path from 'node:path';
import { hasSidecar } from '../../model/mesh.js';
import { containerPortName, istioProtocolOfName, servicePortName, transportOf } from '../../model/ports.js';
import type { ServeConfig } from '../../agent/config.js';
import type { Namespace, Scenario, Workload } from '../../scenario/schema.js';
import { MANAGED_BY_LABEL, namespaceMap, RUN_LABEL, SCENARIO_LABEL, type NamespaceMap } from './names.js';
import { rewriteResource } from './rewrite.js';
import {
  AGENT_BUNDLE_CONFIGMAP,
  AGENT_BUNDLE_KEY,
  agentSource,
  capabilityConflict,
  probeNeeds,
  processUid,
  STOCK_IMAGE,
  type AgentMode,
  type AgentSource,
} from './agent-process.js';
import { withRunJwks } from './jwks.js';

export const AGENT_CONTAINER = 'agent';
export const AGENT_PATH = '/agent/meshprobe-agent.mjs';
export const CONTROL_SOCKET = '/tmp/meshprobe/control.sock';
export const WORKLOAD_LABEL = 'meshprobe.io/workload';
/** The probe image `meshprobe up` builds and loads into kind. */
export const DEFAULT_IMAGE = 'meshprobe-agent:dev';

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

export interface RenderOptions {
  runId: string;
  /** The probe image, for scenarios whose probes need it (agentSource); its pull policy. */
  image?: string;
  imagePullPolicy?: 'IfNotPresent' | 'Never' | 'Always';
  /** The stock mode's image (default STOCK_IMAGE) and the agent bundle mounted into it; stock mode needs the bundle. */
  stockImage?: string;
  agentBundle?: string;
  /**
   * The istiod revision that must inject the run's pods (existing clusters; `default` when unset): a revisioned
   * one is selected with istio.io/rev=<rev> on the namespace (and pod), since istio-injection=enabled is served
   * only by the default revision or tag.
   */
  revision?: string;
}

export interface RenderedScenario {
  map: NamespaceMap;
  /** Whether the agent runs from the stock image or the probe image, and why. */
  agent: AgentSource;
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
function injectionLabel(scenario: Scenario, ns: Namespace, revision: string): Record<string, string> {
  if (ns.sidecarInjection) return revision === 'default' ? { 'istio-injection': 'enabled' } : { 'istio.io/rev': revision };
  const optIn = scenario.spec.workloads.some((w) => w.namespace === ns.name && hasSidecar(scenario, w));
  return optIn ? {} : { 'istio-injection': 'disabled' };
}

function renderNamespace(scenario: Scenario, map: NamespaceMap, ns: Namespace, runId: string, revision: string): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: map.forward.get(ns.name)!,
      labels: { ...(ns.labels ?? {}), ...commonLabels(runId, scenario), ...injectionLabel(scenario, ns, revision) },
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

/**
 * A Service port: Istio picks the protocol from the name's prefix (model/ports.ts); a declared name without an
 * Istio prefix gets `appProtocol`, which Istio reads first, so the declared protocol still decides.
 */
function servicePort(p: Workload['ports'][number]): Record<string, unknown> {
  const name = servicePortName(p);
  const appProtocol = p.protocol !== 'udp' && istioProtocolOfName(name) === undefined ? { appProtocol: p.protocol } : {};
  return { name, port: p.port, targetPort: p.port, protocol: transportOf(p.protocol), ...appProtocol };
}

/**
 * The container's securityContext. The uid is always explicit (the probe image's USER is not trusted to be what a
 * user-supplied --image has; the stock image runs as root by default), with the gid equal to it as setpriv would
 * set. Probes that need capabilities run the agent as uid 0 with exactly those capabilities added (SETUID/SETGID are
 * in the runtimes' default set, added anyway so the manifest says why): only then does the exec'd command have them.
 */
function securityContextOf(scenario: Scenario, w: Workload): Record<string, unknown> {
  const conflict = capabilityConflict(scenario, w);
  if (conflict) throw new RenderError(`scenario ${scenario.metadata.name}: ${conflict}`);
  const needs = probeNeeds(scenario, w);
  const add = [...(w.capabilities ?? [])];
  const want = [...(needs.setuid ? (['SETUID', 'SETGID'] as const) : []), ...(needs.netAdmin ? (['NET_ADMIN'] as const) : [])];
  for (const c of want) if (!add.includes(c)) add.push(c);
  const uid = processUid(scenario, w);
  return { runAsUser: uid, runAsGroup: uid, ...(add.length ? { capabilities: { add } } : {}) };
}

/** Ready only once `serve` listens (its control socket exists), not merely once the process started. */
const READINESS_PROBE = { exec: { command: ['test', '-S', CONTROL_SOCKET] }, periodSeconds: 1, failureThreshold: 60 };

function renderContainer(scenario: Scenario, w: Workload, options: RenderOptions, mode: AgentMode): Record<string, unknown> {
  const securityContext = securityContextOf(scenario, w);
  return {
    name: AGENT_CONTAINER,
    ...(mode === 'stock'
      ? { image: options.stockImage ?? STOCK_IMAGE, imagePullPolicy: 'IfNotPresent' }
      : { image: options.image ?? DEFAULT_IMAGE, imagePullPolicy: options.imagePullPolicy ?? 'IfNotPresent' }),
    command: ['node', AGENT_PATH, 'serve', '--config', '/etc/meshprobe/config.json'],
    ports: w.ports.map((p) => ({ containerPort: p.port, protocol: transportOf(p.protocol), name: containerPortName(p, w.ports) })),
    volumeMounts: [
      { name: 'config', mountPath: '/etc/meshprobe', readOnly: true },
      { name: 'control', mountPath: '/tmp/meshprobe' },
      ...(mode === 'stock' ? [{ name: 'agent', mountPath: path.posix.dirname(AGENT_PATH), readOnly: true }] : []),
    ],
    readinessProbe: READINESS_PROBE,
    securityContext,
  };
}

function renderWorkload(scenario: Scenario, map: NamespaceMap, w: Workload, options: RenderOptions, mode: AgentMode): Manifest[] {
  const namespace = map.forward.get(w.namespace)!;
  const labels = commonLabels(options.runId, scenario);
  const selector = { [WORKLOAD_LABEL]: w.name };
  const podLabels: Record<string, string> = {
    app: w.name,
    ...(w.labels ?? {}),
    ...selector,
    'sidecar.istio.io/inject': String(hasSidecar(scenario, w)),
    // a revisioned istiod's object-level injector selects pods by their istio.io/rev label
    ...(hasSidecar(scenario, w) && options.revision && options.revision !== 'default' ? { 'istio.io/rev': options.revision } : {}),
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
          containers: [renderContainer(scenario, w, options, mode)],
          volumes: [
            { name: 'config', configMap: { name: `${w.name}-agent` } },
            { name: 'control', emptyDir: {} },
            ...(mode === 'stock' ? [{ name: 'agent', configMap: { name: AGENT_BUNDLE_CONFIGMAP } }] : []),
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
        ports: w.ports.map(servicePort),
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

/** Stock mode: the agent bundle as a ConfigMap in each scenario namespace that runs a workload. */
function renderBundles(scenario: Scenario, map: NamespaceMap, options: RenderOptions): Manifest[] {
  if (options.agentBundle === undefined)
    throw new RenderError(
      `scenario ${scenario.metadata.name}: the agent runs from ${options.stockImage ?? STOCK_IMAGE} and needs the agent bundle to mount`,
    );
  return [...new Set(scenario.spec.workloads.map((w) => w.namespace))].map((ns) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: AGENT_BUNDLE_CONFIGMAP, namespace: map.forward.get(ns)!, labels: commonLabels(options.runId, scenario) },
    data: { [AGENT_BUNDLE_KEY]: options.agentBundle! },
  }));
}

export function renderScenario(scenario: Scenario, options: RenderOptions): RenderedScenario {
  const map = namespaceMap(options.runId, scenario);
  const agent = agentSource(scenario);
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
    agent,
    namespaces: scenario.spec.namespaces.map((ns) => renderNamespace(scenario, map, ns, options.runId, options.revision ?? 'default')),
    workloads: [
      ...renderServiceAccounts(scenario, map, options.runId),
      ...(agent.mode === 'stock' ? renderBundles(scenario, map, options) : []),
      ...scenario.spec.workloads.flatMap((w) => renderWorkload(scenario, map, w, options, agent.mode)),
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
