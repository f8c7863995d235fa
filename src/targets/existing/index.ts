/**
 * The existing target: any kubeconfig context with Istio installed. It must be named explicitly (--context),
 * creates only per-run namespaces, deletes only those, and refuses mesh-wide changes unless allowed.
 */
import { KubeConfig } from '@kubernetes/client-node';
import type { Scenario } from '../../scenario/schema.js';
import { TargetError, UnsupportedError, type Target, type TargetInfo } from '../target.js';
import { ClusterRun } from '../k8s/cluster.js';
import { requireTool, ZxRunner, type CommandRunner } from '../k8s/commands.js';
import { Kube } from '../k8s/kube.js';
import { readMesh } from '../k8s/mesh.js';
import { newRunId } from '../k8s/names.js';
import { ClusterTargetBase } from '../k8s/target-base.js';
import { agentSource, STOCK_IMAGE } from '../k8s/agent-process.js';

export interface ExistingTargetOptions {
  /** kubeconfig context to use; required, so a run never lands on whatever context happens to be current. */
  context?: string;
  kubeconfig?: string;
  allowMeshChanges?: boolean;
  keep?: boolean;
  /**
   * Probe image the cluster can pull (there is no `kind load` here), for scenarios whose probes need ping, iptables
   * or setpriv; the others run the agent from the stock image (agentSource) and need none.
   */
  image?: string;
  /** The stock image (default node:22-slim), e.g. a mirror of it the cluster can pull. */
  stockImage?: string;
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
      throw new TargetError(
        `kubeconfig has no context "${context}"`,
        `known contexts: ${
          kc
            .getContexts()
            .map((c) => c.name)
            .join(', ') || '(none)'
        }`,
      );
    }
    kc.setCurrentContext(context);
    return kc;
  }

  async prepare(signal?: AbortSignal): Promise<TargetInfo> {
    const context = this.options.context;
    if (!context)
      throw new TargetError(
        'the existing target needs --context NAME',
        'name the kubeconfig context explicitly, e.g. --context staging; meshprobe never uses the current context implicitly',
      );
    const runner = this.options.runner ?? new ZxRunner(this.options.log);
    if (!this.options.runner) await requireTool('istioctl', this.options.lookup);
    const kube = new Kube(this.kubeConfig(context));
    const mesh = await readMesh(kube, `context ${context}`).catch((err: Error) => {
      if (err instanceof TargetError) throw err;
      throw new TargetError(`reading the mesh on context ${context}: ${err.message}`);
    });
    this.meshOutbound = mesh.outboundTrafficPolicy;
    this.meshNormalization = mesh.pathNormalization;
    const istioctlArgs = ['--context', context, ...(this.options.kubeconfig ? ['--kubeconfig', this.options.kubeconfig] : [])];
    this.run = new ClusterRun({
      kube,
      runner,
      istioctlArgs,
      runId: this.options.runId ?? newRunId(),
      image: this.options.image,
      stockImage: this.options.stockImage,
      revision: mesh.revision,
      readyTimeoutMs: this.options.readyTimeoutMs,
      xdsSettleMs: this.options.xdsSettleMs,
      keep: this.options.keep,
      log: this.options.log,
    });
    if (signal?.aborted) throw new TargetError('interrupted');
    this.info = {
      name: 'existing',
      istioVersion: mesh.version,
      notes: [
        `context ${context}; agent from ${this.options.stockImage ?? STOCK_IMAGE} where the probes allow it, else the probe image ${this.options.image ?? '(none given: such scenarios are refused)'}; istiod revision ${mesh.revision}, outboundTrafficPolicy ${mesh.outboundTrafficPolicy} (read from the cluster); per-run namespaces mp-${this.run.options.runId}-*`,
      ],
    };
    return this.info;
  }

  /** meshConfig.pathNormalization.normalization as read from the cluster (BASE when unset). */
  private meshNormalization = 'BASE';

  check(scenario: Scenario): void {
    this.checkCommon(scenario);
    const agent = agentSource(scenario);
    if (agent.mode === 'image' && !this.options.image)
      throw new UnsupportedError(
        '--image',
        `scenario ${scenario.metadata.name} needs the probe image, because ${agent.reasons.join('; ')}`,
        'build it (docker build . in a meshprobe checkout), push it where the cluster can pull it and pass --image REF',
      );
    if (scenario.spec.externals.length) {
      throw new UnsupportedError(
        'spec.externals',
        'the existing target cannot run hosts outside the mesh',
        'use --target kind, which runs externals as containers on the kind network',
      );
    }
    const wanted = scenario.spec.mesh?.outboundTrafficPolicy;
    if (wanted && wanted !== this.meshOutbound) {
      throw new UnsupportedError(
        'spec.mesh.outboundTrafficPolicy',
        `the scenario needs ${wanted} but the mesh runs ${this.meshOutbound}; meshprobe never changes an existing mesh's configuration`,
        'run it on a cluster configured that way, or with --target kind',
      );
    }
    const normalization = scenario.spec.mesh?.pathNormalization;
    if (normalization && normalization !== this.meshNormalization) {
      throw new UnsupportedError(
        'spec.mesh.pathNormalization',
        `the scenario needs ${normalization} but the mesh runs ${this.meshNormalization}; meshprobe never changes an existing mesh's configuration`,
        'run it on a cluster configured that way, or on the lab',
      );
    }
    const own = new Set(scenario.spec.namespaces.map((n) => n.name));
    scenario.spec.resources.forEach((r, i) => {
      const ns = r.metadata.namespace;
      if (ns && !own.has(ns) && !this.options.allowMeshChanges) {
        throw new UnsupportedError(
          `spec.resources[${i}].metadata.namespace`,
          `${r.kind} ${r.metadata.name} in ${ns} would change the mesh outside the run's namespaces`,
          'pass --allow-mesh-changes if this cluster may be changed mesh-wide for the duration of the run',
        );
      }
    });
  }

  async teardown(): Promise<void> {
    await this.run?.cleanup();
  }
}
