/**
 * The lab target: a scenario's workloads as network namespaces on this machine, with Istio's real capture rules,
 * the lab's sidecar (mTLS and Istio policy through the model), NetworkPolicy in the node namespace and the probe
 * agent in every pod. Kernel behaviour (what iptables captures, uids, capabilities, routing, NetworkPolicy drops)
 * is real; the sidecar and the egress gateway are the lab's emulation.
 */
import { timed } from './timing.js';
import { accessSync, constants } from 'node:fs';
import { MODEL_ISTIO_VERSION } from '../../model/mesh.js';
import type { Scenario, Step } from '../../scenario/schema.js';
import { TargetError, type AttemptResult, type Deployment, type Diagnostic, type ProbeAttempt, type Target, type TargetInfo } from '../target.js';
import { join } from 'node:path';
import { agentBundle, RUNTIME_BUNDLE, runtimeBundle, stagePrograms, type LabPrograms } from './bundles.js';
import { checkScenario } from './check.js';
import { PRIVATE_FILE, readOwnFile, writeNewFile } from './files.js';
import { deployLab, stopPods, type LabDeployment } from './deploy.js';
import { LabRuntime } from './runtime/index.js';
import { probeBatch } from './probe.js';
import { applyLabStep } from './steps.js';
import { claimLab, cleanStaleLabs, labDir, removeLab } from './state.js';
import { run } from './exec.js';

/** The largest lab measured on a 2-core machine (docs/benchmarks.md, bench:matrix --per-namespace 30). */
export const LARGEST_MEASURED = {
  pods: 90,
  probes: 48_600,
  figures: '111–115 s in three runs on 2 cores, 0 divergences, 0 errors, peak RSS 1.6 GB',
} as const;

export const LAB_NOTES = [
  'lab: capture (iptables REDIRECT, uid/gid 1337, ports, NET_ADMIN), routing and NetworkPolicy drops are the real kernel',
  "lab: the sidecar is the lab's own proxy: mTLS with SPIFFE certificates from a lab CA, PeerAuthentication, AuthorizationPolicy, RequestAuthentication (JWTs of the run's own issuer), Sidecar, ServiceEntry, DestinationRule and the egress gateway are emulated (Istio's semantics as modelled in src/model), not Envoy",
  'lab: service names resolve straight to pod addresses (no ClusterIP, no DNS server)',
];

const TOOLS = ['ip', 'iptables', 'iptables-restore', 'iptables-save', 'setpriv'];

function findTool(name: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    try {
      accessSync(`${dir}/${name}`, constants.X_OK);
      return true;
    } catch {
      /* next */
    }
  }
  return false;
}

function tryRead(path: string): string {
  try {
    return readOwnFile(path, 256 * 1024);
  } catch (err) {
    return `(not shown: ${(err as Error).message})`;
  }
}

export interface LabTargetOptions {
  /**
   * Tear the labs down and exit on SIGINT/SIGTERM. Off by default: `run()` and the CLI own Ctrl-C (they stop
   * probing, undeploy, write the reports marked incomplete, then exit 130). A program that drives a LabTarget
   * by itself and has no handler of its own turns this on.
   */
  handleSignals?: boolean;
  /**
   * End a blocked attempt as soon as the node's NetworkPolicy counters show its flow dropped, with the outcome its
   * timeout would give (runtime/fate.ts). On by default; off, every blocked attempt waits out its timeout.
   */
  earlyVerdicts?: boolean;
}

export class LabTarget implements Target {
  readonly name = 'lab' as const;
  constructor(private readonly options: LabTargetOptions = {}) {}
  private readonly deployments = new Map<string, LabDeployment>();
  /** Deploys still creating namespaces: teardown waits for them, or it would remove a lab that is still growing. */
  private readonly pending = new Set<Promise<unknown>>();
  /** The target's own directory, the staged agent and the runtime (see stage()). */
  private staged?: { id: string; programs: LabPrograms; runtime?: LabRuntime };
  private readonly onSignal = (signal: NodeJS.Signals) => {
    void this.teardown().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };

  async prepare(): Promise<TargetInfo> {
    if (process.getuid?.() !== 0) {
      throw new TargetError(
        'the lab needs root: it creates network namespaces and iptables rules',
        'run meshprobe as root (sudo), or use --target kind',
      );
    }
    const missing = TOOLS.filter((t) => !findTool(t));
    if (missing.length)
      throw new TargetError(
        `the lab needs ${missing.join(', ')}, not found on PATH`,
        'run scripts/bootstrap (installs iproute2, iptables, util-linux)',
      );
    await cleanStaleLabs();
    agentBundle();
    await runtimeBundle();
    return { name: 'lab', istioVersion: MODEL_ISTIO_VERSION, notes: LAB_NOTES, appliesSynchronously: true };
  }

  check(scenario: Scenario): void {
    checkScenario(scenario);
  }

  sizeNote(scenario: Scenario): string | undefined {
    const pods = scenario.spec.workloads.length;
    if (pods <= LARGEST_MEASURED.pods) return undefined;
    return (
      `lab: ${pods} pods is more than the largest lab measured (${LARGEST_MEASURED.pods} pods, ${LARGEST_MEASURED.probes.toLocaleString('en')} probes: ` +
      `${LARGEST_MEASURED.figures}); it is not refused: its probes queue for the runtime's admission and take longer, and a probe ` +
      'that waited on the harness instead of the mesh is ERROR, never FAIL (docs/lab.md, "Limits of the lab")'
    );
  }

  async deploy(scenario: Scenario): Promise<Deployment> {
    const policies = checkScenario(scenario);
    if (this.options.handleSignals && this.deployments.size === 0) {
      process.on('SIGINT', this.onSignal);
      process.on('SIGTERM', this.onSignal);
    }
    let id: string | undefined;
    const deploying = deployLab(
      scenario,
      policies,
      MODEL_ISTIO_VERSION,
      (dep) => {
        id = dep.id;
        this.deployments.set(dep.id, dep);
      },
      { runtime: this.runtime(), programs: async () => this.stage().programs, earlyVerdicts: this.options.earlyVerdicts !== false },
    );
    this.pending.add(deploying);
    try {
      return await deploying;
    } catch (err) {
      if (id !== undefined) this.deployments.delete(id); // deployLab removed what it had created
      throw err;
    } finally {
      this.pending.delete(deploying);
    }
  }

  probe(deployment: Deployment, batch: ProbeAttempt[]): Promise<AttemptResult[]> {
    return probeBatch(this.lab(deployment), batch);
  }

  /** A step: new manifests for new connections (see steps.ts for what happens to open ones, here and in Istio). */
  applyStep(deployment: Deployment, step: Step): Promise<void> {
    return applyLabStep(this.lab(deployment), step, MODEL_ISTIO_VERSION);
  }

  async diagnose(deployment: Deployment, probeNames: string[]): Promise<Diagnostic[]> {
    const d = this.lab(deployment);
    const keys = new Set<string>();
    for (const p of d.scenario.spec.probes.filter((p) => probeNames.includes(p.name))) keys.add(p.from).add(p.to);
    const out: Diagnostic[] = [];
    for (const pod of d.pods.values()) {
      if (pod.host.egressGateway && pod.sidecarLog) {
        out.push({ title: `egress gateway decision log (${pod.host.key})`, body: pod.sidecarLog() });
        continue;
      }
      if (!keys.has(pod.host.key)) continue;
      const nat = await run('ip', ['netns', 'exec', pod.host.netns, 'iptables-save', '-t', 'nat']).catch((e: Error) => ({ stdout: e.message }));
      out.push({ title: `capture rules of ${pod.host.key} (iptables-save -t nat in ${pod.host.netns})`, body: nat.stdout.replace(/^#.*\n/gm, '') });
      if (pod.sidecarLog) out.push({ title: `sidecar decision log of ${pod.host.key} (which policy matched, and why)`, body: pod.sidecarLog() });
    }
    const filter = await run('ip', ['netns', 'exec', d.plan.nodeNetns, 'iptables-save', '-t', 'filter']).catch((e: Error) => ({ stdout: e.message }));
    out.push({ title: 'NetworkPolicy rules (node namespace filter table)', body: filter.stdout.replace(/^#.*\n/gm, '') });
    // Errors the runtime caught in an agent or a sidecar (one broken connection must not stop the others).
    // Read only as the file the lab created (root's, no symlink; files.ts).
    const runtimeLog = this.staged ? join(labDir(this.staged.id), 'runtime.log') : undefined;
    const errors = runtimeLog ? tryRead(runtimeLog) : '';
    if (errors.trim()) out.push({ title: 'lab runtime errors', body: errors.split('\n').slice(-50).join('\n') });
    return out;
  }

  access(deployment: Deployment): string[] {
    const d = this.lab(deployment);
    return [...d.pods.values()].map((p) => `${p.host.key}: ip netns exec ${p.host.netns} bash   (${p.host.address})`);
  }

  async undeploy(deployment: Deployment): Promise<void> {
    const t0 = Date.now();
    const d = this.deployments.get(deployment.id);
    this.deployments.delete(deployment.id);
    if (d) await stopPods(d).catch(() => undefined);
    await removeLab(d?.labId ?? deployment.id);
    timed(`undeploy (${d?.pods.size ?? 0} pods)`, t0);
    if (this.deployments.size === 0) {
      process.off('SIGINT', this.onSignal);
      process.off('SIGTERM', this.onSignal);
    }
  }

  async teardown(): Promise<void> {
    await Promise.allSettled([...this.pending]);
    const t0 = Date.now();
    for (const d of [...this.deployments.values()]) await this.undeploy(d);
    timed('teardown', t0);
    const staged = this.staged;
    this.staged = undefined;
    if (staged) {
      await staged.runtime?.close();
      await removeLab(staged.id);
    }
  }

  /**
   * The target's own directory under /run/meshprobe/labs (owned like a lab, so a crash leaves nothing a later
   * run does not remove): the agent staged once for all labs, and the runtime's log.
   */
  private stage(): { id: string; programs: LabPrograms; runtime?: LabRuntime } {
    if (!this.staged) {
      const id = claimLab();
      this.staged = { id, programs: stagePrograms(labDir(id)) };
    }
    return this.staged;
  }

  /** The runtime threads running every lab's agents and sidecars, started with the first deploy. */
  private runtime(): LabRuntime {
    const staged = this.stage();
    if (!staged.runtime) {
      const log = join(labDir(staged.id), 'runtime.log');
      writeNewFile(log, '', PRIVATE_FILE);
      staged.runtime = new LabRuntime(RUNTIME_BUNDLE, log);
    }
    return staged.runtime;
  }

  private lab(deployment: Deployment): LabDeployment {
    const d = this.deployments.get(deployment.id);
    if (!d) throw new TargetError(`deployment ${deployment.id} is not a running lab (already undeployed?)`);
    return d;
  }
}
