/**
 * The existing target: any kubeconfig context with Istio installed. It must be named explicitly (--context),
 * creates only per-run namespaces, deletes only those, and refuses mesh-wide changes unless allowed.
 */
import { KubeConfig } from '@kubernetes/client-node';
import YAML from 'yaml';
import type { Scenario } from '../../scenario/schema.js';
import { TargetError, UnsupportedError, type Target, type TargetInfo } from '../target.js';
import { ClusterRun } from '../k8s/cluster.js';
import { requireTool, ZxRunner, type CommandRunner } from '../k8s/commands.js';
import { Kube } from '../k8s/kube.js';
import { newRunId, ROOT_NAMESPACE } from '../k8s/names.js';
import { ClusterTargetBase, istioVersionFromImage } from '../k8s/target-base.js';

export interface ExistingTargetOptions {
  /** kubeconfig context to use; required, so a run never lands on whatever context happens to be current. */
  context?: string;
  kubeconfig?: string;
  allowMeshChanges?: boolean;
  keep?: boolean;
  /** Probe image the cluster can pull (there is no `kind load` here). */
  image?: string;
  runId?: string;
  readyTimeoutMs?: number;
  xdsSettleMs?: number;
  /** Dependency injection for tests: a ready KubeConfig, a command runner, a PATH lookup. */
  kubeConfig?: KubeConfig;
  runner?: CommandRunner;
  lookup?: (name: string) => Promise<string | null>;
  log?: (line: string) => void;
}

export class ExistingTarget extends ClusterTargetBase implements Target {
  readonly name = 'existing' as const;
  private meshOutbound: 'ALLOW_ANY' | 'REGISTRY_ONLY' = 'ALLOW_ANY';

  constructor(private readonly options: ExistingTargetOptions = {}) {
    super();
  }

  private kubeConfig(context: string): KubeConfig {
    if (this.options.kubeConfig) return this.options.kubeConfig;
    const kc = new KubeConfig();
    if (this.options.kubeconfig) kc.loadFromFile(this.options.kubeconfig);
    else kc.loadFromDefault();
    if (!kc.getContextObject(context)) {
      throw new TargetError(`kubeconfig has no context "${context}"`, `known contexts: ${kc.getContexts().map((c) => c.name).join(', ') || '(none)'}`);
    }
    kc.setCurrentContext(context);
    return kc;
  }

  async prepare(signal?: AbortSignal): Promise<TargetInfo> {
    const context = this.options.context;
    if (!context) throw new TargetError('the existing target needs --context NAME', 'name the kubeconfig context explicitly, e.g. --context staging; meshprobe never uses the current context implicitly');
    const runner = this.options.runner ?? new ZxRunner(this.options.log);
    if (!this.options.runner) await requireTool('istioctl', this.options.lookup);
    const kube = new Kube(this.kubeConfig(context));
    const version = await this.istioVersion(kube);
    this.meshOutbound = await this.readMeshOutbound(kube);
    const istioctlArgs = ['--context', context, ...(this.options.kubeconfig ? ['--kubeconfig', this.options.kubeconfig] : [])];
    this.run = new ClusterRun({
      kube,
      runner,
      istioctlArgs,
      runId: this.options.runId ?? newRunId(),
      image: this.options.image,
      readyTimeoutMs: this.options.readyTimeoutMs,
      xdsSettleMs: this.options.xdsSettleMs,
      keep: this.options.keep,
      log: this.options.log,
    });
    if (signal?.aborted) throw new TargetError('interrupted');
    this.info = { name: 'existing', istioVersion: version, notes: [`context ${context}; per-run namespaces mp-${this.run.options.runId}-*`] };
    return this.info;
  }

  private async istioVersion(kube: Kube): Promise<string> {
    let images: string[];
    try {
      images = await kube.readDeploymentImages(ROOT_NAMESPACE, 'istiod');
    } catch (err) {
      throw new TargetError(`Istio does not seem to be installed on context ${this.options.context}: ${(err as Error).message}`, 'install Istio (istioctl install) or pick the context of a cluster that has it');
    }
    const version = images.map(istioVersionFromImage).find(Boolean);
    if (!version) throw new TargetError(`cannot tell the Istio version from istiod's image (${images.join(', ')})`);
    return version;
  }

  /** The mesh's outbound policy from the `istio` ConfigMap (absent or unreadable: the Istio default). */
  private async readMeshOutbound(kube: Kube): Promise<'ALLOW_ANY' | 'REGISTRY_ONLY'> {
    try {
      const cm = await kube.core.readNamespacedConfigMap({ namespace: ROOT_NAMESPACE, name: 'istio' });
      const mesh = YAML.parse(cm.data?.mesh ?? '') as { outboundTrafficPolicy?: { mode?: string }; pathNormalization?: { normalization?: string } } | null;
      const n = mesh?.pathNormalization?.normalization;
      // Unset or DEFAULT means BASE (as an unreadable ConfigMap is taken for Istio's defaults, like the outbound policy).
      this.meshNormalization = n === undefined || n === 'DEFAULT' ? 'BASE' : n;
      return mesh?.outboundTrafficPolicy?.mode === 'REGISTRY_ONLY' ? 'REGISTRY_ONLY' : 'ALLOW_ANY';
    } catch {
      return 'ALLOW_ANY';
    }
  }

  /** meshConfig.pathNormalization.normalization as read with the outbound policy (BASE when unset). */
  private meshNormalization = 'BASE';

  check(scenario: Scenario): void {
    this.checkCommon(scenario);
    if (scenario.spec.externals.length) {
      throw new UnsupportedError('spec.externals', 'the existing target cannot run hosts outside the mesh', 'use --target kind, which runs externals as containers on the kind network');
    }
    const wanted = scenario.spec.mesh?.outboundTrafficPolicy;
    if (wanted && wanted !== this.meshOutbound) {
      throw new UnsupportedError('spec.mesh.outboundTrafficPolicy', `the scenario needs ${wanted} but the mesh runs ${this.meshOutbound}; meshprobe never changes an existing mesh's configuration`, 'run it on a cluster configured that way, or with --target kind');
    }
    const normalization = scenario.spec.mesh?.pathNormalization;
    if (normalization && normalization !== this.meshNormalization) {
      throw new UnsupportedError('spec.mesh.pathNormalization', `the scenario needs ${normalization} but the mesh runs ${this.meshNormalization}; meshprobe never changes an existing mesh's configuration`, 'run it on a cluster configured that way, or on the lab');
    }
    const own = new Set(scenario.spec.namespaces.map((n) => n.name));
    scenario.spec.resources.forEach((r, i) => {
      const ns = r.metadata.namespace;
      if (ns && !own.has(ns) && !this.options.allowMeshChanges) {
        throw new UnsupportedError(`spec.resources[${i}].metadata.namespace`, `${r.kind} ${r.metadata.name} in ${ns} would change the mesh outside the run's namespaces`, 'pass --allow-mesh-changes if this cluster may be changed mesh-wide for the duration of the run');
      }
    });
  }

  async teardown(): Promise<void> {
    await this.run?.cleanup();
  }
}
