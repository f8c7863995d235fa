/**
 * Bringing one scenario's lab up: ownership marker first, then namespaces and routes, NetworkPolicy, certificates,
 * capture rules and processes. Any failure removes what was created before the error is passed on.
 */
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Scenario } from '../../scenario/schema.js';
import type { Deployment } from '../target.js';
import { stagePrograms, type LabPrograms } from './bundles.js';
import { captureConfigFromAnnotations, captureRules, toRestoreInput } from './capture.js';
import { caFile, certPaths, issueCertificates, type MeshCert, type ServerCert } from './certs.js';
import { compileNetworkPolicies, policyRestoreInput, type NetworkPolicy } from './netpol.js';
import { hostsFile, planLab, podLabels, serviceName, SIDECAR_UID, workloadNames, type LabHost, type LabPlan } from './plan.js';
import { startThread, type PodThread } from './processes.js';
import { SidecarRecords } from './records.js';
import { identityOf, meshCertKey, sidecarConfig } from './sidecar-config.js';
import { claimLab, labDir, removeLab } from './state.js';
import { createTopology } from './topology.js';

export interface PodRuntime {
  host: LabHost;
  dir: string;
  control: string;
  /** iptables-restore input of the pod's capture rules (absent without a sidecar). */
  captureRestore?: string;
  sidecarLog?: () => string;
  /** The sidecar's decision log, indexed for joining observations to the peer identity the sidecar verified. */
  sidecarRecords?: SidecarRecords;
  /** The sidecar's thread (its kernel thread id: /proc/<pid>/task/<tid>). */
  sidecar?: PodThread;
  /** The probe agent's thread (absent in the egress gateway pod). */
  agent?: PodThread;
  /** Batches from one pod run one after another (a flush-capture batch must not overlap others from that pod). */
  queue: Promise<unknown>;
}

export interface LabDeployment extends Deployment {
  labId: string;
  plan: LabPlan;
  dir: string;
  caFile: string;
  pods: Map<string, PodRuntime>;
  /** The agent and sidecar this lab runs, staged in its directory (set once the lab is created). */
  programs?: LabPrograms;
  /** Every pod thread started (agents, sidecars, the egress gateway): stopped before the namespaces go. */
  threads: PodThread[];
}

/** Stops every pod thread of a lab (before its namespaces are removed). */
export async function stopThreads(d: LabDeployment): Promise<void> {
  const threads = d.threads.splice(0);
  await Promise.all(threads.map((t) => t.stop()));
}

function nsLabelsOf(scenario: Scenario) {
  return (ns: string): Record<string, string> => {
    const decl = scenario.spec.namespaces.find((n) => n.name === ns);
    return { 'kubernetes.io/metadata.name': ns, ...(decl?.sidecarInjection !== false ? { 'istio-injection': 'enabled' } : {}) };
  };
}

function certificateRequests(plan: LabPlan): ServerCert[] {
  return plan.hosts
    .filter((h) => h.ports.some((p) => p.protocol === 'https'))
    .map((h) => ({
      key: h.netns,
      names: h.workload ? [serviceName(h.workload), ...workloadNames(h.workload, h.workload.namespace).slice(1), h.address] : [h.key, h.address],
      ca: h.external?.ports.some((p) => p.protocol === 'https' && p.certificate === 'untrusted') ? 'untrusted' : 'trusted',
      uid: h.uid,
    }));
}

/** A sidecar thread's heap: small and long-lived, as the sidecar process's was (--max-old-space-size=64). */
const SIDECAR_HEAP = { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 4 };

function meshCertificates(plan: LabPlan): MeshCert[] {
  return plan.hosts.flatMap((h) => {
    const spiffe = identityOf(h);
    return spiffe ? [{ key: meshCertKey(h), spiffe, uid: SIDECAR_UID }] : [];
  });
}

function podRuntime(d: LabDeployment, h: LabHost, istioVersion: string): PodRuntime {
  const dir = join(d.dir, h.netns.slice(`mp-${d.labId}-`.length));
  mkdirSync(dir, { recursive: true });
  chownSync(dir, h.uid, h.uid); // the agent creates its control socket here as the workload's uid
  const rt: PodRuntime = { host: h, dir, control: join(dir, 'control.sock'), queue: Promise.resolve() };
  if (h.sidecar && h.workload) rt.captureRestore = toRestoreInput(captureRules(captureConfigFromAnnotations(h.workload.annotations), istioVersion));
  return rt;
}

async function startPod(d: LabDeployment, rt: PodRuntime, programs: LabPrograms, istioVersion: string): Promise<void> {
  const h = rt.host;
  const starts: Promise<unknown>[] = [];
  const hosts = hostsFile(d.plan, h);
  const started = (t: PodThread) => d.threads.push(t);
  if (rt.captureRestore || h.egressGateway) {
    const log = join(rt.dir, 'sidecar.log');
    const configFile = join(rt.dir, 'sidecar.json');
    writeFileSync(log, '');
    chownSync(log, SIDECAR_UID, SIDECAR_UID);
    writeFileSync(configFile, JSON.stringify({ ...sidecarConfig(d.scenario, d.plan, h, d.dir, istioVersion), logFile: log }));
    rt.sidecarLog = () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-200).join('\n') : '');
    rt.sidecarRecords = new SidecarRecords(log);
    const name = h.egressGateway ? `egress gateway ${h.key}` : `sidecar of ${h.key}`;
    const sidecar = startThread(name, h.netns, { uid: SIDECAR_UID, capabilities: [], dropAll: true }, {
      entry: programs.podThread, program: programs.sidecar, args: ['--config', configFile], hosts, logFile: log, resourceLimits: SIDECAR_HEAP, started,
    });
    sidecar.then((t) => (rt.sidecar = t), () => undefined);
    starts.push(sidecar);
  }
  if (h.egressGateway) return void (await Promise.all(starts));
  const config = {
    name: h.key,
    control: rt.control,
    behindSidecar: h.sidecar,
    ports: h.ports.map((p) => ({ port: p.port, protocol: p.protocol, ...(p.protocol === 'https' ? certPaths(d.dir, h.netns) : {}) })),
  };
  const configFile = join(rt.dir, 'agent.json');
  writeFileSync(configFile, JSON.stringify(config));
  const agent = startThread(`probe agent of ${h.key}`, h.netns, { uid: h.uid, capabilities: h.capabilities }, {
    entry: programs.podThread, program: programs.agent, args: ['serve', '--config', configFile], hosts, logFile: join(rt.dir, 'agent.log'), started,
  });
  agent.then((t) => (rt.agent = t), () => undefined);
  starts.push(agent);
  await Promise.all(starts);
}

/**
 * `stage`: where the agent, the sidecar and the pod-thread entry are staged (a LabTarget stages them once for
 * all its labs); by default they are staged in this lab's own directory.
 */
export async function deployLab(
  scenario: Scenario,
  policies: NetworkPolicy[],
  istioVersion: string,
  register: (d: LabDeployment) => void,
  stage?: () => Promise<LabPrograms>,
): Promise<LabDeployment> {
  const labId = claimLab();
  const plan = planLab(scenario, labId);
  const d: LabDeployment = { id: labId, labId, scenario, plan, dir: labDir(labId), caFile: caFile(labDir(labId)), pods: new Map(), threads: [] };
  register(d);
  try {
    const endpoints = plan.hosts.map((h) => ({ address: h.address, nodeIf: h.nodeIf, namespace: h.workload?.namespace, labels: h.workload ? podLabels(h.workload) : {} }));
    const filter = policyRestoreInput(compileNetworkPolicies(policies, endpoints, nsLabelsOf(scenario)));
    for (const h of plan.hosts) d.pods.set(h.key, podRuntime(d, h, istioVersion));
    const nat = new Map([...d.pods.values()].flatMap((rt) => (rt.captureRestore ? [[rt.host.netns, rt.captureRestore] as const] : [])));
    const [, , programs] = await Promise.all([
      createTopology(plan, filter, nat),
      issueCertificates(d.dir, certificateRequests(plan), meshCertificates(plan)),
      stage ? stage() : stagePrograms(d.dir),
    ]);
    d.programs = programs;
    const starts = [...d.pods.values()].map((rt) => startPod(d, rt, programs, istioVersion));
    await Promise.allSettled(starts); // every start has ended (ready or failed) before a failure tears down
    await Promise.all(starts);
    return d;
  } catch (err) {
    await stopThreads(d);
    await removeLab(labId).catch(() => undefined);
    throw err;
  }
}
