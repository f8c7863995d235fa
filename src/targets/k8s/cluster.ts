/**
 * What the kind and existing targets share once a cluster is reachable: deploy a scenario into its per-run
 * namespaces, check the mesh accepted its config, run probe batches by exec, gather diagnostics, and delete only
 * what the run created. The two targets differ in how the cluster comes to exist and what they refuse.
 */
import type { Observation } from '../../agent/types.js';
import type { Scenario, Step } from '../../scenario/schema.js';
import { resourceKey } from '../../scenario/steps.js';
import { attemptChains } from '../attempt-chains.js';
import { TargetError, type AttemptResult, type Deployment, type Diagnostic, type ProbeAttempt } from '../target.js';
import { classifyFindings, describeFinding, parseAnalyzeJson, type Finding } from './analyze.js';
import { runChecked, type CommandRunner } from './commands.js';
import {
  callCommand,
  groupAttempts,
  isExternal,
  parseCallOutput,
  parseQueryOutput,
  probeRequest,
  queryCommand,
  resolveCommand,
} from './exec-probe.js';
import { abortable, exitCodeOf, type Kube } from './kube.js';
import { PodLocks } from './pod-locks.js';
import { AGENT_BUNDLE_FILE, agentSource, describeAgentSource, loadAgentBundle, processUid } from './agent-process.js';
import { AGENT_CONTAINER, renderScenario, WORKLOAD_LABEL, type Manifest, type RenderedScenario } from './manifests.js';
import { ROOT_NAMESPACE } from '../../model/mesh.js';
import type { NamespaceMap } from './names.js';
import { metricTotal, parsePrometheusText, XDS_REJECTS } from './prometheus.js';
import { reverseText, rewriteResource } from './rewrite.js';
import { withRunJwks } from './jwks.js';

/** The addresses a name resolves to from inside the cluster (a pod of the run); [] when it does not resolve. */
export type InClusterResolver = (name: string, signal?: AbortSignal) => Promise<string[]>;

/** Externals (hosts outside the mesh) where the target can run them: the kind target's containers. */
export interface ExternalsHost {
  /** Resolves once every external answers and its name resolves to it from inside the cluster. */
  start(scenario: Scenario, signal?: AbortSignal, resolve?: InClusterResolver): Promise<void>;
  query(name: string, nonces: string[]): Promise<Observation[]>;
  /** Resolves once the names no longer resolve (a later scenario may expect them not to). */
  stop(scenario: Scenario, resolve?: InClusterResolver): Promise<void>;
}

export interface ClusterOptions {
  kube: Kube;
  /** Runs istioctl (analyze, proxy-config). */
  runner: CommandRunner;
  /** Passed to istioctl as --context / --kubeconfig so it talks to the same cluster as `kube`. */
  istioctlArgs: string[];
  runId: string;
  /** The probe image for scenarios that need it (agentSource); without one such scenarios are refused by check(). */
  image?: string;
  imagePullPolicy?: 'IfNotPresent' | 'Never' | 'Always';
  /** Stock mode: the image (default STOCK_IMAGE) and the agent bundle file (default dist/agent/meshprobe-agent.mjs). */
  stockImage?: string;
  agentBundleFile?: string;
  /** istiod's revision (existing clusters): injection labels and the istiod whose metrics are read. */
  revision?: string;
  readyTimeoutMs?: number;
  /** Time for istiod to push the new config and proxies to accept or reject it before rejects are read again. */
  xdsSettleMs?: number;
  analyze?: boolean;
  keep?: boolean;
  externals?: ExternalsHost;
  log?: (line: string) => void;
}

interface PodRef {
  namespace: string;
  name: string;
  ips: string[];
}

export interface ClusterDeployment extends Deployment {
  map: NamespaceMap;
  rendered: RenderedScenario;
  /** `ns/workload` (scenario names) → its pod */
  pods: Map<string, PodRef>;
  /** Lower-level `istioctl analyze` findings, in the scenario's names, for the report. */
  findings: Finding[];
  notes: string[];
}

function workloadOf(scenario: Scenario, ref: string): Scenario['spec']['workloads'][number] {
  const w = scenario.spec.workloads.find((x) => `${x.namespace}/${x.name}` === ref);
  if (!w) throw new TargetError(`no workload ${ref} in scenario ${scenario.metadata.name}`);
  return w;
}

const sleep = (ms: number, signal?: AbortSignal) => abortable(new Promise<void>((r) => setTimeout(r, ms)), signal);

export class ClusterRun {
  /** Every namespace this run created or started to create: the only ones it will ever delete. */
  readonly created = new Set<string>();
  /** Objects applied outside the run's namespaces (root-namespace policy, only with allowMeshChanges). */
  private readonly outside: Manifest[] = [];
  /** Serialises a pod's flush-capture execs against everything else that sends from or to it. */
  private readonly locks = new PodLocks();

  constructor(readonly options: ClusterOptions) {}

  private log(line: string): void {
    this.options.log?.(line);
  }

  private bundle?: Promise<string>;

  async deploy(scenario: Scenario, signal?: AbortSignal): Promise<ClusterDeployment> {
    const { kube } = this.options;
    if (agentSource(scenario).mode === 'stock') this.bundle ??= loadAgentBundle(this.options.agentBundleFile ?? AGENT_BUNDLE_FILE);
    const rendered = renderScenario(scenario, {
      runId: this.options.runId,
      image: this.options.image,
      imagePullPolicy: this.options.imagePullPolicy,
      stockImage: this.options.stockImage,
      revision: this.options.revision,
      agentBundle: this.bundle ? await this.bundle : undefined,
    });
    this.log(`scenario ${scenario.metadata.name}: ${describeAgentSource(rendered.agent, this.options.stockImage)}`);
    const dep: ClusterDeployment = {
      scenario,
      id: `${this.options.runId}-${scenario.metadata.name}`,
      map: rendered.map,
      rendered,
      pods: new Map(),
      findings: [],
      notes: [],
    };
    try {
      for (const ns of rendered.namespaces) {
        this.created.add(ns.metadata.name);
        await kube.apply(ns, signal);
      }
      for (const m of rendered.workloads) await kube.apply(m, signal);
      await this.waitWorkloads(dep, signal);
      await this.options.externals?.start(scenario, signal, this.resolver(dep));
      await this.applyResources(dep, signal);
      return dep;
    } catch (err) {
      if (!this.options.keep && !signal?.aborted) await this.deleteNamespaces(rendered.namespaces.map((n) => n.metadata.name)).catch(() => {});
      throw err;
    }
  }

  private async waitWorkloads(dep: ClusterDeployment, signal?: AbortSignal): Promise<void> {
    const timeout = this.options.readyTimeoutMs ?? 180_000;
    await Promise.all(
      dep.scenario.spec.workloads.map(async (w) => {
        const namespace = dep.map.forward.get(w.namespace)!;
        const pod = await this.options.kube.waitPodReady(namespace, `${WORKLOAD_LABEL}=${w.name}`, timeout, signal);
        const ips = (pod.status?.podIPs ?? []).map((p) => p.ip).filter((ip): ip is string => !!ip);
        if (!ips.length && pod.status?.podIP) ips.push(pod.status.podIP);
        dep.pods.set(`${w.namespace}/${w.name}`, { namespace, name: pod.metadata!.name!, ips });
      }),
    );
  }

  /** Name lookups from the first pod of the deployment, the way its probes will resolve. */
  private resolver(dep: ClusterDeployment): InClusterResolver {
    return async (name, signal) => {
      const pod = [...dep.pods.values()][0];
      if (!pod) throw new TargetError(`no pod in scenario ${dep.scenario.metadata.name} to resolve ${name} from`);
      const r = await this.options.kube.exec(pod.namespace, pod.name, AGENT_CONTAINER, resolveCommand(name), undefined, signal);
      if (exitCodeOf(r.status) !== 0)
        throw new TargetError(`resolving ${name} in ${pod.namespace}/${pod.name} failed: ${r.stderr.trim().slice(-300)}`);
      return JSON.parse(r.stdout.trim() || '[]') as string[];
    };
  }

  /** Applies the scenario's resources, then refuses to go on if the mesh rejected or flags them. */
  private async applyResources(dep: ClusterDeployment, signal?: AbortSignal): Promise<void> {
    const before = await this.xdsRejects(dep);
    for (const m of dep.rendered.resources) {
      if (m.metadata.namespace && !this.created.has(m.metadata.namespace)) this.outside.push(m);
      await this.options.kube.apply(m, signal);
    }
    if (this.options.analyze !== false) await this.analyze(dep, signal);
    if (before === undefined || !dep.rendered.resources.length) return;
    await sleep(this.options.xdsSettleMs ?? 5_000, signal);
    const after = await this.xdsRejects(dep);
    if (after !== undefined && after > before) {
      throw new TargetError(
        `the proxies rejected configuration after scenario ${dep.scenario.metadata.name} was applied (${XDS_REJECTS} rose from ${before} to ${after})`,
        'run `istioctl proxy-status` and check istiod logs for the rejected resource; the scenario was not judged',
      );
    }
  }

  /**
   * A step: its deletions, then its manifests by server-side apply (create or update), in the run's namespaces,
   * with the same rejected-config check as the first apply. Propagation to the proxies is what the engine's settle
   * phase waits for, probe by probe.
   */
  async applyStep(dep: ClusterDeployment, step: Step, signal?: AbortSignal): Promise<void> {
    const before = await this.xdsRejects(dep);
    const deleted = new Set<string>();
    for (const d of step.delete) {
      const ref = rewriteResource(dep.map, {
        apiVersion: d.apiVersion,
        kind: d.kind,
        metadata: { name: d.name, ...(d.namespace ? { namespace: d.namespace } : {}) },
      }) as Manifest;
      await this.options.kube.deleteObject(ref);
      deleted.add(resourceKey(ref));
    }
    const applied = step.apply.map((r) => withRunJwks(rewriteResource(dep.map, r) as Manifest));
    for (const m of applied) {
      if (m.metadata.namespace && !this.created.has(m.metadata.namespace)) this.outside.push(m);
      await this.options.kube.apply(m, signal);
    }
    const replaced = new Set(applied.map(resourceKey));
    dep.rendered = {
      ...dep.rendered,
      resources: [...dep.rendered.resources.filter((m) => !deleted.has(resourceKey(m)) && !replaced.has(resourceKey(m))), ...applied],
    };
    if (before === undefined || applied.length === 0) return;
    await sleep(this.options.xdsSettleMs ?? 5_000, signal);
    const after = await this.xdsRejects(dep);
    if (after !== undefined && after > before) {
      throw new TargetError(
        `the proxies rejected configuration after step ${step.name} was applied (${XDS_REJECTS} rose from ${before} to ${after})`,
        'run `istioctl proxy-status` and check istiod logs for the rejected resource',
      );
    }
  }

  private async analyze(dep: ClusterDeployment, signal?: AbortSignal): Promise<void> {
    const findings: Finding[] = [];
    for (const ns of dep.map.forward.values()) {
      const out = await runChecked(this.options.runner, 'istioctl', ['analyze', ...this.options.istioctlArgs, '-n', ns, '-o', 'json'], { signal });
      findings.push(...parseAnalyzeJson(out));
    }
    const { errors, others } = classifyFindings(findings, dep.map);
    dep.findings = others;
    if (errors.length) {
      throw new TargetError(
        `istioctl analyze reports errors in scenario ${dep.scenario.metadata.name}:\n${errors.map((f) => `  ${describeFinding(f)}`).join('\n')}`,
        'fix the resources; the scenario was not judged on configuration Istio considers invalid',
      );
    }
  }

  /** istiod's pilot_total_xds_rejects, or undefined (with a note) when it cannot be read. */
  private async xdsRejects(dep: ClusterDeployment): Promise<number | undefined> {
    try {
      const rev = this.options.revision;
      const pods = await this.options.kube.listPods(ROOT_NAMESPACE, rev && rev !== 'default' ? `app=istiod,istio.io/rev=${rev}` : 'app=istiod');
      const pod = pods.find((p) => p.status?.phase === 'Running') ?? pods[0];
      if (!pod?.metadata?.name) throw new TargetError(`no istiod pod in ${ROOT_NAMESPACE}`);
      const text = await this.options.kube.portForwardGet(ROOT_NAMESPACE, pod.metadata.name, 15014, '/metrics');
      return metricTotal(parsePrometheusText(text), XDS_REJECTS);
    } catch (err) {
      const note = `${XDS_REJECTS} could not be read, so rejected config is detected by istioctl analyze only: ${(err as Error).message}`;
      if (!dep.notes.includes(note)) dep.notes.push(note);
      return undefined;
    }
  }

  async probe(dep: ClusterDeployment, batch: ProbeAttempt[], signal?: AbortSignal): Promise<AttemptResult[]> {
    if (!batch.length) return [];
    const from = batch[0].probe.from;
    const source = dep.pods.get(from);
    if (!source) throw new TargetError(`no pod for source workload ${from} in scenario ${dep.scenario.metadata.name}`);
    const where = `${source.namespace}/${source.name}`;
    const clients = new Map<string, import('../../agent/types.js').ProbeResult>();
    for (const group of groupAttempts(batch)) {
      const chains = attemptChains(group).map((c) => c.map((a) => probeRequest(dep.scenario, dep.map, a)));
      const flush = group[0].probe.bypass === 'flush-capture';
      const others = [...new Set(group.map((a) => a.probe.to))].filter((to) => dep.pods.has(to)).map((to) => podKey(dep.pods.get(to)!));
      const pending = this.locks.acquire(flush ? others : [podKey(source), ...others], flush ? [podKey(source)] : []);
      const release = await abortable(pending, signal).catch((err: unknown) => {
        void pending.then((r) => r());
        throw err;
      });
      try {
        const r = await this.options.kube.exec(
          source.namespace,
          source.name,
          AGENT_CONTAINER,
          callCommand(group[0].probe, processUid(dep.scenario, workloadOf(dep.scenario, from))),
          `${JSON.stringify(chains)}\n`,
          signal,
        );
        for (const [nonce, result] of parseCallOutput(where, chains.flat(), r)) clients.set(nonce, result);
      } finally {
        release();
      }
    }
    const arrived = await this.queryDestinations(dep, batch, signal);
    return batch.map((a) => {
      const dest = dep.pods.get(a.probe.to);
      const seen = arrived.get(a.probe.to);
      return {
        nonce: a.nonce,
        probeName: a.probe.name,
        client: reverseJson(dep.map, clients.get(a.nonce)!),
        arrived: seen ? seen.filter((o) => o.nonce === a.nonce).map((o) => reverseJson(dep.map, o)) : [],
        destinationQueried: seen !== undefined,
        ...(dest ? { destinationAddresses: dest.ips } : {}),
      };
    });
  }

  /** destination → its observations for the batch's nonces; absent when the destination could not be read. */
  private async queryDestinations(dep: ClusterDeployment, batch: ProbeAttempt[], signal?: AbortSignal): Promise<Map<string, Observation[]>> {
    const byDest = new Map<string, string[]>();
    for (const a of batch) byDest.set(a.probe.to, [...(byDest.get(a.probe.to) ?? []), a.nonce]);
    const out = new Map<string, Observation[]>();
    for (const [to, nonces] of byDest) {
      try {
        if (isExternal(dep.scenario, to)) {
          if (!this.options.externals) throw new TargetError(`external ${to} is not run by this target`);
          out.set(to, await this.options.externals.query(to, nonces));
          continue;
        }
        const pod = dep.pods.get(to)!;
        const r = await this.options.kube.exec(pod.namespace, pod.name, AGENT_CONTAINER, queryCommand(nonces), undefined, signal);
        out.set(to, parseQueryOutput(`${pod.namespace}/${pod.name}`, r));
      } catch (err) {
        if (signal?.aborted) throw err;
        this.log(`reading observations at ${to} failed: ${(err as Error).message}`);
      }
    }
    return out;
  }

  async diagnose(dep: ClusterDeployment, probeNames: string[]): Promise<Diagnostic[]> {
    const involved = new Set<string>();
    for (const p of dep.scenario.spec.probes) {
      if (!probeNames.includes(p.name)) continue;
      involved.add(p.from);
      if (dep.pods.has(p.to)) involved.add(p.to);
    }
    const out: Diagnostic[] = [];
    for (const key of involved) {
      const pod = dep.pods.get(key);
      if (!pod) continue;
      out.push(...(await this.podDiagnostics(dep, key, pod)));
    }
    out.push({ title: 'agent', body: describeAgentSource(dep.rendered.agent, this.options.stockImage) });
    if (dep.findings.length) out.push({ title: 'istioctl analyze', body: dep.findings.map(describeFinding).join('\n') });
    return out;
  }

  private async podDiagnostics(dep: ClusterDeployment, key: string, pod: PodRef): Promise<Diagnostic[]> {
    const { kube, runner, istioctlArgs } = this.options;
    const target = `${pod.name}.${pod.namespace}`;
    const attempt = async (title: string, fn: () => Promise<string>): Promise<Diagnostic> => {
      try {
        return { title, body: reverseText(dep.map, await fn()) };
      } catch (err) {
        return { title, body: `(unavailable: ${(err as Error).message})` };
      }
    };
    const sidecar = dep.rendered.workloads.some(
      (m) => m.kind === 'Deployment' && m.metadata.namespace === pod.namespace && hasSidecarLabel(m, key.split('/')[1]),
    );
    const list: Array<Promise<Diagnostic>> = [
      attempt(`${key} events`, async () => (await kube.podEvents(pod.namespace, pod.name)).join('\n')),
      attempt(`${key} agent log`, () => kube.podLogs(pod.namespace, pod.name, AGENT_CONTAINER, 50)),
    ];
    if (sidecar) {
      list.push(
        attempt(`${key} istio-proxy log`, () => kube.podLogs(pod.namespace, pod.name, 'istio-proxy', 50)),
        attempt(`${key} proxy-config listeners`, () => runChecked(runner, 'istioctl', ['proxy-config', 'listeners', target, ...istioctlArgs])),
        attempt(`${key} proxy-config clusters`, () => runChecked(runner, 'istioctl', ['proxy-config', 'clusters', target, ...istioctlArgs])),
      );
    }
    return Promise.all(list);
  }

  async undeploy(dep: ClusterDeployment): Promise<void> {
    await this.options.externals?.stop(dep.scenario, this.resolver(dep));
    if (this.options.keep) return;
    const mine = new Set(dep.map.forward.values());
    for (const m of dep.rendered.resources) {
      if (m.metadata.namespace && !mine.has(m.metadata.namespace)) await this.options.kube.deleteObject(m);
    }
    await this.deleteNamespaces([...mine]);
  }

  /** Deletes namespaces, but only ever ones this run created. */
  async deleteNamespaces(names: string[]): Promise<void> {
    for (const name of names) {
      if (!this.created.has(name)) throw new TargetError(`refusing to delete namespace ${name}: this run did not create it`);
      await this.options.kube.deleteNamespace(name);
      this.created.delete(name);
    }
  }

  /** Everything left (after Ctrl-C or a failed deploy): objects outside the run's namespaces, then the namespaces. */
  async cleanup(): Promise<void> {
    if (this.options.keep) return;
    for (const m of this.outside.splice(0)) await this.options.kube.deleteObject(m).catch(() => {});
    await this.deleteNamespaces([...this.created]);
  }

  access(dep: ClusterDeployment): string[] {
    return [...dep.map.forward.entries()].map(([own, cluster]) => `namespace ${own}: kubectl get pods -n ${cluster}`);
  }
}

function podKey(p: PodRef): string {
  return `${p.namespace}/${p.name}`;
}

function hasSidecarLabel(m: Manifest, name: string): boolean {
  const labels = (m as { spec?: { template?: { metadata?: { labels?: Record<string, string> } } } }).spec?.template?.metadata?.labels;
  return m.metadata.name === name && labels?.['sidecar.istio.io/inject'] === 'true';
}

/** Cluster names in results (hosts, identities, XFCC) shown in the scenario's own names. */
function reverseJson<T>(map: NamespaceMap, value: T): T {
  return JSON.parse(reverseText(map, JSON.stringify(value))) as T;
}
