/**
 * The Target methods the kind and existing targets share once prepare() has produced a ClusterRun, plus the
 * checks every cluster target makes on a scenario.
 */
import type { Scenario, Step } from '../../scenario/schema.js';
import {
  TargetError,
  UnsupportedError,
  type AttemptResult,
  type Deployment,
  type Diagnostic,
  type ProbeAttempt,
  type TargetInfo,
} from '../target.js';
import type { ClusterRun, ClusterDeployment } from './cluster.js';
import { capabilityConflict } from './agent-process.js';
import { RESERVED_NAMESPACES } from './names.js';

export abstract class ClusterTargetBase {
  protected run?: ClusterRun;
  protected info?: TargetInfo;

  protected cluster(): ClusterRun {
    if (!this.run) throw new TargetError('the target is not prepared: prepare() must run before deploy()');
    return this.run;
  }

  /** Checks every cluster target makes; subclasses add their own. */
  protected checkCommon(scenario: Scenario): void {
    scenario.spec.namespaces.forEach((ns, i) => {
      if ((RESERVED_NAMESPACES as readonly string[]).includes(ns.name)) {
        throw new UnsupportedError(
          `spec.namespaces[${i}].name`,
          `namespace "${ns.name}" belongs to the cluster; a scenario declares only its own namespaces (they become per-run namespaces)`,
          'put mesh-wide resources in istio-system via spec.resources instead',
        );
      }
    });
    scenario.spec.workloads.forEach((w, i) => {
      const j = w.ports.findIndex((p) => p.protocol === 'https');
      if (j >= 0)
        throw new UnsupportedError(
          `spec.workloads[${i}].ports[${j}].protocol`,
          'https listeners need certificates, which the cluster targets do not issue yet',
          'use --target lab for this scenario',
        );
    });
    scenario.spec.workloads.forEach((w, i) => {
      const conflict = capabilityConflict(scenario, w);
      if (conflict)
        throw new UnsupportedError(
          `spec.workloads[${i}].runAsUser`,
          conflict,
          'drop runAsUser from the workload (its container then runs as uid 0 with just the capabilities its probes need), or use --target lab',
        );
    });
    scenario.spec.resources.forEach((r, i) => {
      if (!r.metadata.namespace)
        throw new UnsupportedError(
          `spec.resources[${i}].metadata.namespace`,
          `${r.kind} ${r.metadata.name} has no namespace; on a cluster every resource needs one`,
        );
    });
  }

  async deploy(scenario: Scenario, signal?: AbortSignal): Promise<Deployment> {
    return this.cluster().deploy(scenario, signal);
  }

  async applyStep(deployment: Deployment, step: Step, signal?: AbortSignal): Promise<void> {
    await this.cluster().applyStep(deployment as ClusterDeployment, step, signal);
  }

  async probe(deployment: Deployment, batch: ProbeAttempt[], signal?: AbortSignal): Promise<AttemptResult[]> {
    return this.cluster().probe(deployment as ClusterDeployment, batch, signal);
  }

  async diagnose(deployment: Deployment, probeNames: string[]): Promise<Diagnostic[]> {
    return this.cluster().diagnose(deployment as ClusterDeployment, probeNames);
  }

  access(deployment: Deployment): string[] {
    return this.cluster().access(deployment as ClusterDeployment);
  }

  async undeploy(deployment: Deployment): Promise<void> {
    await this.cluster().undeploy(deployment as ClusterDeployment);
  }
}

export { istioVersionFromImage } from './mesh.js';
