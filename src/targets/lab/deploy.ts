/**
 * Bringing one scenario's lab up: ownership marker first, then namespaces and routes, NetworkPolicy, certificates,
 * capture rules, then every pod's agent and sidecar in the lab runtime, each with its config in the start message.
 * Any failure removes what was created before the error is passed on.
 */
import { namespaceLabels } from '../../model/network-policy.js';
import { join } from 'node:path';
import type { Scenario } from '../../scenario/schema.js';
import { TargetError, type Deployment } from '../target.js';
import type { LabPrograms } from './bundles.js';
import { captureConfigFromAnnotations } from '../../model/capture.js';
import { podLabels, SIDECAR_UID, spiffeId } from '../../model/mesh.js';
import { runIssuer } from '../../model/jwt-issuer.js';
import { captureRules, toRestoreInput } from './capture.js';
import { caFile, certPaths, issueCertificates, type MeshCert, type ServerCert } from './certs.js';
import type { NetworkPolicy } from '../../model/network-policy.js';
import { rulesApplied, watchedFlows } from './drops.js';
import { timed } from './timing.js';
import { compileNetworkPolicies, policyEndpoints, policyRestoreInput } from './netpol.js';
import { egressGatewayPorts, hostsFile, planLab, serviceName, workloadNames, type LabHost, type LabPlan } from './plan.js';
import type { LabRuntime } from './runtime/index.js';
import type { PodSpec } from './runtime/protocol.js';
import type { RegistryHost, SidecarConfig } from './sidecar/config.js';
import { claimLab, labDir, removeLab } from './state.js';
import { PRIVATE_DIR, readOwnFile, rootDir, secureSocket, writeNewFile } from './files.js';
import { checkPlan, createTopology } from './topology.js';

export interface PodRuntime {
  host: LabHost;
  dir: string;
  control: string;
  /** iptables-restore input of the pod's capture rules (absent without a sidecar). */
  captureRestore?: string;
  sidecarLog?: () => string;
  /** The pod's key in the lab runtime. */
  runtimeKey: string;
  /** Batches from one pod run one after another (a flush-capture batch must not overlap others from that pod). */
  queue: Promise<unknown>;
}

export interface LabDeployment extends Deployment {
  labId: string;
  plan: LabPlan;
  dir: string;
  caFile: string;
  pods: Map<string, PodRuntime>;
  /** The agent staged for the processes the lab starts in pods (set once the lab is created). */
  programs?: LabPrograms;
  /** The runtime running the pods' agents and sidecars. */
  runtime: LabRuntime;
}

/** Stops the pods' programs in the runtime, closing every socket they hold (before the namespaces go). */
export async function stopPods(d: LabDeployment): Promise<void> {
  await d.runtime.stop(
    d.labId,
    [...d.pods.values()].map((p) => p.runtimeKey),
  );
}

export function nsLabelsOf(scenario: Scenario) {
  return (ns: string): Record<string, string> => {
    return namespaceLabels(
      ns,
      scenario.spec.namespaces.find((n) => n.name === ns),
    );
  };
}

function certificateRequests(plan: LabPlan): ServerCert[] {
  return plan.hosts
    .filter((h) => h.ports.some((p) => p.protocol === 'https'))
    .map((h) => ({
      key: h.netns,
      names: h.workload ? [serviceName(h.workload), ...workloadNames(h.workload, h.workload.namespace).slice(1), h.address] : [h.key, h.address],
      ca: h.external?.ports.some((p) => p.protocol === 'https' && p.certificate === 'untrusted') ? 'untrusted' : 'trusted',
    }));
}

function meshCertificates(plan: LabPlan): MeshCert[] {
  return plan.hosts.flatMap((h) => {
    const spiffe = identityOf(h);
    return spiffe ? [{ key: meshCertKey(h), spiffe }] : [];
  });
}

/**
 * A pod's directory: its agent's control socket and its sidecar's log. Root's only (0700): the runtime creates the
 * socket and writes the log as root, and no pod uid or other user may reach, replace or plant anything there.
 */
function podRuntime(d: LabDeployment, h: LabHost, istioVersion: string): PodRuntime {
  const dir = join(d.dir, h.netns.slice(`mp-${d.labId}-`.length));
  rootDir(dir, PRIVATE_DIR);
  const rt: PodRuntime = { host: h, dir, control: join(dir, 'control.sock'), queue: Promise.resolve(), runtimeKey: `${d.labId}/${h.key}` };
  if (h.sidecar && h.workload) rt.captureRestore = toRestoreInput(captureRules(captureConfigFromAnnotations(h.workload.annotations), istioVersion));
  return rt;
}

/** Starts a pod's programs in the runtime: the sidecar (or the egress gateway) as uid 1337, the agent as the workload. */
async function startPod(d: LabDeployment, rt: PodRuntime, istioVersion: string): Promise<void> {
  const h = rt.host;
  const spec: PodSpec = { key: rt.runtimeKey, netnsPath: `/run/netns/${h.netns}`, hosts: hostsFile(d.plan, h) };
  if (rt.captureRestore || h.egressGateway) {
    const log = join(rt.dir, 'sidecar.log');
    writeNewFile(log, '');
    // Read back only as the file the lab created (root's, no symlink): see files.ts.
    rt.sidecarLog = () => {
      try {
        return readOwnFile(log, 1024 * 1024)
          .split('\n')
          .slice(-200)
          .join('\n');
      } catch (err) {
        return `(not shown: ${(err as Error).message})`;
      }
    };
    spec.sidecar = { config: { ...sidecarConfig(d.scenario, d.plan, h, d.dir, istioVersion), logFile: log }, uid: SIDECAR_UID };
  }
  if (!h.egressGateway) {
    const config = {
      name: h.key,
      control: rt.control,
      behindSidecar: h.sidecar,
      ports: h.ports.map((p) => ({ port: p.port, protocol: p.protocol, ...(p.protocol === 'https' ? certPaths(d.dir, h.netns) : {}) })),
    };
    spec.agent = { config, uid: h.uid };
  }
  try {
    await d.runtime.start(d.labId, spec);
    if (spec.agent) secureSocket(rt.control);
  } catch (err) {
    const what = h.egressGateway ? `the egress gateway ${h.key}` : `the agent or sidecar of ${h.key}`;
    throw new TargetError(`${what} did not start: ${(err as Error).message}`, (err as TargetError).hint ?? `see ${rt.dir}`);
  }
}

/** What a lab is deployed with: the runtime for its pods, and the agent staged for the processes it starts. */
export interface LabEnvironment {
  runtime: LabRuntime;
  programs: () => Promise<LabPrograms>;
  /** Watch the probes' flows in the NetworkPolicy rules for early verdicts (drops.ts; default off here). */
  earlyVerdicts?: boolean;
}

export async function deployLab(
  scenario: Scenario,
  policies: NetworkPolicy[],
  istioVersion: string,
  register: (d: LabDeployment) => void,
  env: LabEnvironment,
): Promise<LabDeployment> {
  const labId = claimLab();
  let plan: LabPlan;
  try {
    plan = planLab(scenario, labId);
    checkPlan(plan); // before any name of it becomes a directory, a namespace or a line of ip input
  } catch (err) {
    await removeLab(labId).catch(() => undefined);
    throw err;
  }
  const d: LabDeployment = {
    id: labId,
    labId,
    scenario,
    plan,
    dir: labDir(labId),
    caFile: caFile(labDir(labId)),
    pods: new Map(),
    runtime: env.runtime,
  };
  register(d);
  try {
    const endpoints = policyEndpoints(plan.hosts);
    const watched = env.earlyVerdicts ? watchedFlows(scenario, plan) : [];
    const compiled = compileNetworkPolicies(policies, endpoints, nsLabelsOf(scenario), watched);
    const filter = policyRestoreInput(compiled);
    for (const h of plan.hosts) d.pods.set(h.key, podRuntime(d, h, istioVersion));
    const certs = certificateRequests(plan);
    const mesh = meshCertificates(plan);
    const nat = new Map([...d.pods.values()].flatMap((rt) => (rt.captureRestore ? [[rt.host.netns, rt.captureRestore] as const] : [])));
    // One process for the whole network (starting processes is what deploying costs most); the certificates are
    // issued in this process while it runs.
    const t0 = Date.now();
    const topology = createTopology(plan, filter, nat, d.dir).finally(() =>
      timed(`deploy: topology (${plan.hosts.length} hosts, ${compiled.accounting.size} accounting rules)`, t0),
    );
    const issued = Promise.resolve().then(() => issueCertificates(d.dir, certs, mesh));
    const programs = env.programs();
    // Every step has ended before a failure tears down (the script must not still be creating namespaces).
    await Promise.allSettled([topology, issued, programs]);
    await Promise.all([topology, issued]);
    if (env.earlyVerdicts) rulesApplied(d, watched, compiled.accounting);
    d.programs = await programs;
    const t1 = Date.now();
    const starts = [...d.pods.values()].map((rt) => startPod(d, rt, istioVersion));
    await Promise.allSettled(starts); // every start has ended (ready or failed) before a failure tears down
    await Promise.all(starts);
    timed('deploy: pods started', t1);
    timed('deploy: total', t0);
    return d;
  } catch (err) {
    await stopPods(d).catch(() => undefined);
    await removeLab(labId).catch(() => undefined);
    throw err;
  }
}

export function meshCertKey(h: LabHost): string {
  return `${h.netns}-mesh`;
}

/** The SPIFFE identity of a pod's sidecar or gateway; none for a pod without one. */
export function identityOf(h: LabHost): string | undefined {
  const w = h.workload;
  return w && (h.sidecar || h.egressGateway) ? spiffeId(w.namespace, w.serviceAccount ?? w.name) : undefined;
}

/** The lab's service registry as every sidecar gets it: each pod and external by address and names. */
export function registryOf(plan: LabPlan): RegistryHost[] {
  return plan.hosts.map((h) => {
    const w = h.workload;
    const spiffe = identityOf(h);
    return {
      kind: h.kind,
      key: h.key,
      host: w ? serviceName(w) : h.key,
      // Bare short names are left out: they mean different services in different namespaces.
      names: w ? workloadNames(w, undefined) : [h.key],
      address: h.address,
      ...(w ? { namespace: w.namespace } : {}),
      labels: w ? podLabels(w) : {},
      sidecar: h.sidecar || h.egressGateway === true,
      ...(h.egressGateway ? { gateway: true } : {}),
      ...(spiffe ? { spiffe } : {}),
      ports: h.ports.map((p) => ({ port: p.port, protocol: p.protocol })),
    };
  });
}

/** The config of one pod's sidecar (or of the egress gateway), sent to the lab runtime in the pod's start message. */
export function sidecarConfig(scenario: Scenario, plan: LabPlan, h: LabHost, dir: string, istioVersion: string): SidecarConfig {
  const registry = registryOf(plan);
  const self = registry.find((r) => r.key === h.key);
  if (!self?.namespace || !self.spiffe) throw new Error(`${h.key} has no sidecar identity`);
  const { certFile, keyFile } = certPaths(dir, meshCertKey(h));
  const mesh = scenario.spec.mesh?.outboundTrafficPolicy;
  return {
    mode: h.egressGateway ? 'gateway' : 'sidecar',
    istioVersion,
    self: { ...self, namespace: self.namespace, spiffe: self.spiffe },
    certFile,
    keyFile,
    meshCaFile: caFile(dir, 'mesh'),
    systemCaFile: caFile(dir, 'trusted'),
    ...(mesh ? { meshOutboundPolicy: mesh } : {}),
    ...(scenario.spec.mesh?.pathNormalization ? { pathNormalization: scenario.spec.mesh.pathNormalization } : {}),
    // The run's key pair is made only for scenarios that verify tokens (steps come here again with their resources).
    ...(scenario.spec.resources.some((r) => r.kind === 'RequestAuthentication') ? { jwks: runIssuer().jwks } : {}),
    resources: scenario.spec.resources,
    registry,
    ...(h.egressGateway ? { gatewayPorts: egressGatewayPorts(scenario) ?? [] } : {}),
  };
}
