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
import { planLab, podLabels, serviceName, SIDECAR_UID, workloadNames, type LabHost, type LabPlan } from './plan.js';
import { startReady } from './processes.js';
import { SidecarRecords } from './records.js';
import { identityOf, meshCertKey, sidecarConfig } from './sidecar-config.js';
import { claimLab, labDir, removeLab } from './state.js';
import { applyNat, createTopology } from './topology.js';

export interface PodRuntime {
  host: LabHost;
  dir: string;
  control: string;
  /** iptables-restore input of the pod's capture rules (absent without a sidecar). */
  captureRestore?: string;
  sidecarLog?: () => string;
  /** The sidecar's decision log, indexed for joining observations to the peer identity the sidecar verified. */
  sidecarRecords?: SidecarRecords;
  /** The sidecar's process id (ip netns exec and setpriv exec into it, so it is the spawned child's). */
  sidecarPid?: () => number | undefined;
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

/**
 * A sidecar is small and long-lived. Its time goes to native code (TLS, sockets, the HTTP parser), so V8's lite mode
 * (no optimizing compiler) costs no measurable CPU per request and, with a small young generation, keeps resident
 * memory near 55 MB under load (about 37 MB of it node's own binary, shared by all sidecars) instead of 65-120 MB.
 */
const SIDECAR_NODE_FLAGS = ['--max-semi-space-size=1', '--max-old-space-size=64', '--lite-mode'];

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

async function startPod(d: LabDeployment, rt: PodRuntime, agent: string, sidecar: string, istioVersion: string): Promise<void> {
  const h = rt.host;
  const starts: Promise<unknown>[] = [];
  if (rt.captureRestore || h.egressGateway) {
    if (rt.captureRestore) await applyNat(h.netns, rt.captureRestore);
    const log = join(rt.dir, 'sidecar.log');
    const configFile = join(rt.dir, 'sidecar.json');
    writeFileSync(log, '');
    chownSync(log, SIDECAR_UID, SIDECAR_UID);
    writeFileSync(configFile, JSON.stringify({ ...sidecarConfig(d.scenario, d.plan, h, d.dir, istioVersion), logFile: log }));
    rt.sidecarLog = () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-200).join('\n') : '');
    rt.sidecarRecords = new SidecarRecords(log);
    const name = h.egressGateway ? `egress gateway ${h.key}` : `sidecar of ${h.key}`;
    const started = startReady(name, h.netns, { uid: SIDECAR_UID, capabilities: [], dropAll: true }, [process.execPath, ...SIDECAR_NODE_FLAGS, sidecar, '--config', configFile], log);
    started.then((child) => (rt.sidecarPid = () => child.pid), () => undefined);
    starts.push(started);
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
  starts.push(startReady(`probe agent of ${h.key}`, h.netns, { uid: h.uid, capabilities: h.capabilities }, [process.execPath, agent, 'serve', '--config', configFile], join(rt.dir, 'agent.log')));
  await Promise.all(starts);
}

export async function deployLab(scenario: Scenario, policies: NetworkPolicy[], istioVersion: string, register: (d: LabDeployment) => void): Promise<LabDeployment> {
  const labId = claimLab();
  const plan = planLab(scenario, labId);
  const d: LabDeployment = { id: labId, labId, scenario, plan, dir: labDir(labId), caFile: caFile(labDir(labId)), pods: new Map() };
  register(d);
  try {
    const endpoints = plan.hosts.map((h) => ({ address: h.address, nodeIf: h.nodeIf, namespace: h.workload?.namespace, labels: h.workload ? podLabels(h.workload) : {} }));
    const filter = policyRestoreInput(compileNetworkPolicies(policies, endpoints, nsLabelsOf(scenario)));
    const [, , programs] = await Promise.all([
      createTopology(plan, filter),
      issueCertificates(d.dir, certificateRequests(plan), meshCertificates(plan)),
      stagePrograms(d.dir),
    ]);
    d.programs = programs;
    const { agent, sidecar } = programs;
    for (const h of plan.hosts) d.pods.set(h.key, podRuntime(d, h, istioVersion));
    await Promise.all([...d.pods.values()].map((rt) => startPod(d, rt, agent, sidecar, istioVersion)));
    return d;
  } catch (err) {
    await removeLab(labId).catch(() => undefined);
    throw err;
  }
}
