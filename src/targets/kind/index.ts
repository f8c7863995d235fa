/**
 * The kind target: brings up a kind cluster from a profile in clusters/ (kind, istioctl and docker driven with
 * zx), loads the probe image, runs externals as containers, and deletes the cluster on teardown unless `keep`.
 * A cluster that already exists under the name (from `meshprobe up`) is reused and left in place.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import axios from 'axios';
import YAML from 'yaml';
import type { Scenario } from '../../scenario/schema.js';
import { TargetError, UnsupportedError, type Target, type TargetInfo } from '../target.js';
import { ClusterRun, type ExternalsHost } from '../k8s/cluster.js';
import { requireTool, runChecked, ZxRunner, type CommandRunner } from '../k8s/commands.js';
import { Kube } from '../k8s/kube.js';
import { DEFAULT_IMAGE, type Manifest } from '../k8s/manifests.js';
import { newRunId } from '../k8s/names.js';
import { ClusterTargetBase } from '../k8s/target-base.js';
import { KindExternals } from './externals.js';
import { AGENT_BUNDLE, BUNDLE_SCRIPT, DEFAULT_CLUSTER, downPlan, kubeContext, upPlan } from './plan.js';
import { profileMark, verifyCluster } from './verify.js';
import { loadProfile, PROFILE_NAMES, profileSatisfies, type Profile, type ProfileName } from './profiles.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export interface KindTargetOptions {
  /** One of PROFILE_NAMES (clusters/<name>); default `default`. */
  profile?: ProfileName | string;
  clusterName?: string;
  /** Keep the cluster (and the run's namespaces) after the run. */
  keep?: boolean;
  /** The probe image tag `up` builds and loads, for scenarios that need it; the others use the stock image. */
  image?: string;
  stockImage?: string;
  runId?: string;
  readyTimeoutMs?: number;
  xdsSettleMs?: number;
  /** Dependency injection for tests: commands, PATH lookup, the API access, externals. */
  runner?: CommandRunner;
  lookup?: (name: string) => Promise<string | null>;
  kubeConfig?: KubeConfig;
  externals?: ExternalsHost;
  log?: (line: string) => void;
}

export class KindTarget extends ClusterTargetBase implements Target {
  readonly name = 'kind' as const;
  private profile?: Profile;
  private createdCluster = false;
  private istioVersion?: string;
  private readonly runner: CommandRunner;
  private readonly clusterName: string;

  constructor(private readonly options: KindTargetOptions = {}) {
    super();
    this.runner = options.runner ?? new ZxRunner(options.log);
    this.clusterName = options.clusterName ?? DEFAULT_CLUSTER;
  }

  /** `meshprobe up`: the cluster with Istio and the probe image, reused when it already exists and checks out. */
  async up(signal?: AbortSignal): Promise<{ profile: Profile; created: boolean; istioVersion: string }> {
    for (const tool of ['kind', 'istioctl', 'docker'] as const) await requireTool(tool, this.options.lookup);
    const profile = await loadProfile(this.options.profile ?? 'default').catch((err: Error) => {
      throw new TargetError(err.message, `profiles live in clusters/; known: ${PROFILE_NAMES.join(', ')}`);
    });
    this.profile = profile;
    const clusters = (await runChecked(this.runner, 'kind', ['get', 'clusters'], { signal })).split('\n').map((s) => s.trim());
    const exists = clusters.includes(this.clusterName);
    let istioVersion = exists ? await verifyCluster(await this.kube(signal), profile, this.clusterName) : profile.versions.istio;
    for (const step of upPlan(profile, this.clusterName, this.options.image ?? DEFAULT_IMAGE, REPO_ROOT)) {
      if (exists && step.cmd === 'kind' && step.args[0] === 'create') continue;
      if (exists && step.cmd === 'istioctl') continue;
      if (step.cmd === 'node' && !this.bundleScriptPresent(step.args[0])) continue;
      this.options.log?.(`${step.why}`);
      await runChecked(this.runner, step.cmd, step.args, { signal });
      if (step.cmd === 'kind' && step.args[0] === 'create') {
        this.createdCluster = true;
        if (profile.calicoManifest) await this.applyCalico(profile.calicoManifest, signal);
      }
    }
    if (!exists) {
      const kube = await this.kube(signal);
      // Last: a cluster whose `up` died earlier carries no mark and is refused when reused.
      await kube.apply(profileMark(profile), signal);
      istioVersion = await verifyCluster(kube, profile, this.clusterName);
    }
    return { profile, created: !exists, istioVersion };
  }

  /** The bundle script exists in a checkout; an installed package ships the bundle itself, or `up` stops here. */
  private bundleScriptPresent(script: string): boolean {
    if (existsSync(script)) return true;
    if (existsSync(path.join(REPO_ROOT, AGENT_BUNDLE))) return false;
    throw new TargetError(
      `the agent bundle ${AGENT_BUNDLE} is missing and ${BUNDLE_SCRIPT} is not here to build it`,
      'run `npm run bootstrap` (or `node scripts/bundle-agent.mjs`) in a meshprobe checkout',
    );
  }

  private kubePromise?: Promise<Kube>;
  private kube(signal?: AbortSignal): Promise<Kube> {
    this.kubePromise ??= (async () => {
      const kc = this.options.kubeConfig ?? new KubeConfig();
      if (!this.options.kubeConfig)
        kc.loadFromString(await runChecked(this.runner, 'kind', ['get', 'kubeconfig', '--name', this.clusterName], { signal }));
      return new Kube(kc);
    })();
    return this.kubePromise;
  }

  /** The cni profile has no CNI until Calico is applied; istioctl install waits for nodes to be Ready. */
  private async applyCalico(url: string, signal?: AbortSignal): Promise<void> {
    const kube = await this.kube(signal);
    const text = (await axios.get<string>(url, { responseType: 'text', signal })).data;
    const docs = YAML.parseAllDocuments(text)
      .map((d) => d.toJS() as Manifest | null)
      .filter((d): d is Manifest => !!d?.kind);
    for (const doc of docs) {
      // kinds defined by CRDs earlier in the same file need a moment to be served
      for (let attempt = 0; ; attempt++) {
        try {
          await kube.apply(doc, signal);
          break;
        } catch (err) {
          if (attempt >= 10 || signal?.aborted) throw err;
          await new Promise((r) => setTimeout(r, 2000));
        }
      }
    }
  }

  /** `meshprobe down`. */
  async down(): Promise<void> {
    for (const step of downPlan(this.clusterName)) await runChecked(this.runner, step.cmd, step.args);
  }

  async prepare(signal?: AbortSignal): Promise<TargetInfo> {
    try {
      this.istioVersion = (await this.up(signal)).istioVersion;
      const kube = await this.kube(signal);
      const image = this.options.image ?? DEFAULT_IMAGE;
      this.run = new ClusterRun({
        kube,
        runner: this.runner,
        istioctlArgs: ['--context', kubeContext(this.clusterName)],
        runId: this.options.runId ?? newRunId(),
        image,
        // the probe image exists only inside the nodes (kind load), so it must never be pulled
        imagePullPolicy: 'Never',
        stockImage: this.options.stockImage,
        readyTimeoutMs: this.options.readyTimeoutMs,
        xdsSettleMs: this.options.xdsSettleMs,
        keep: this.options.keep,
        externals: this.options.externals ?? new KindExternals(kube, image),
        log: this.options.log,
      });
    } catch (err) {
      await this.teardown().catch(() => {});
      throw err;
    }
    const profile = this.profile!;
    this.info = {
      name: 'kind',
      istioVersion: this.istioVersion ?? profile.versions.istio,
      notes: [`kind cluster ${this.clusterName}, profile ${profile.name}: ${profile.description}`],
    };
    return this.info;
  }

  check(scenario: Scenario): void {
    this.checkCommon(scenario);
    if (!this.profile) throw new TargetError('the kind target is not prepared');
    const why = profileSatisfies(this.profile.features, scenario);
    if (why) throw new UnsupportedError('spec.mesh', `scenario ${scenario.metadata.name}: ${why}`);
  }

  async teardown(): Promise<void> {
    await this.run?.cleanup().catch((err: Error) => this.options.log?.(`cleanup: ${err.message}`));
    if (this.createdCluster && !this.options.keep) {
      await this.down();
      this.createdCluster = false;
    }
  }
}
