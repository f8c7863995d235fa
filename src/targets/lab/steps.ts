/**
 * A step of `spec.steps` on a running lab. The manifests in force become the previous ones minus the step's
 * deletions plus its applications (same kind/namespace/name replaces); then, as istiod pushes new config and a
 * CNI rewrites its rules:
 *   - every sidecar (and the egress gateway) gets the new resources for the connections it accepts from now on;
 *     a connection already open keeps the configuration it was accepted with. Envoy does the same on an LDS
 *     update: the old listener drains, its existing connections keep the old filter chain (RBAC included) until
 *     they close or the drain period (Istio: --drainDuration, 45 s by default) ends. The lab never force-closes
 *     them; a keep-alive connection pooled before the step keeps the old decision for its next requests, which is
 *     why probes open new connections.
 *   - the node's filter table (NetworkPolicy) is replaced at once; established flows stay accepted by conntrack,
 *     as with iptables-based CNIs.
 * Refuses (UnsupportedError) what the lab does not emulate before changing anything.
 */
import type { Scenario, Step } from '../../scenario/schema.js';
import { resourcesAfter } from '../../scenario/steps.js';
import { checkScenario } from './check.js';
import { nsLabelsOf, type LabDeployment } from './deploy.js';
import { flowsWatched, rulesApplied } from './drops.js';
import { compileNetworkPolicies, policyEndpoints, policyRestoreInput } from './netpol.js';
import { sidecarConfig } from './deploy.js';
import { applyNodeFilter } from './topology.js';

export async function applyLabStep(d: LabDeployment, step: Step, istioVersion: string): Promise<void> {
  const next: Scenario = { ...d.scenario, spec: { ...d.scenario.spec, resources: resourcesAfter(d.scenario, [step]) } };
  const policies = checkScenario(next);
  const endpoints = policyEndpoints(d.plan.hosts);
  // The same flows are watched (deploy has every step's probes): their accounting rules come back with zero counters.
  const watched = flowsWatched(d);
  const compiled = compileNetworkPolicies(policies, endpoints, nsLabelsOf(next), watched);
  await applyNodeFilter(d.plan, policyRestoreInput(compiled));
  if (watched.length) rulesApplied(d, watched, compiled.accounting);
  for (const rt of d.pods.values()) {
    if (!rt.sidecarLog) continue; // a pod without a sidecar or gateway has nothing to reconfigure
    const logFile = `${rt.dir}/sidecar.log`;
    await d.runtime.reconfigure(d.labId, rt.runtimeKey, { ...sidecarConfig(next, d.plan, rt.host, d.dir, istioVersion), logFile });
  }
  d.scenario = next;
}
