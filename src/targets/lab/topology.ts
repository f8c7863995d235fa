/**
 * Creates the lab's network from a LabPlan: the node namespace, one namespace per pod and external, veth pairs
 * whose two ends are created directly in the node's and the pod's namespaces (`link add … netns <node> type veth
 * peer … netns <pod>`: no interface ever appears in the host's root namespace), routes,
 * sysctls, the pods' capture rules, NetworkPolicy and the name-resolution files.
 *
 * No shell is involved: every program gets an argument vector and its input on stdin — `ip -batch -` once for
 * all namespaces, `ip -n <ns> -batch -` per namespace, `ip netns exec <ns> iptables-restore` per namespace with
 * rules — and every value in that input is a token checked in tokens.ts. Sysctls are written by the lab itself
 * (sysctl.ts) and the name-resolution files by files.ts. After the first batch, every namespace's steps run
 * concurrently.
 */
import { join } from 'node:path';
import { run } from './exec.js';
import { PUBLIC_DIR, PUBLIC_FILE, rootDir, writeNewFile } from './files.js';
import { hostsFile, resolvConf, workloadNames, type LabHost, type LabPlan } from './plan.js';
import { writeSysctls, type LabSysctl } from './sysctl.js';
import { checkRestoreInput, ipBatch, token } from './tokens.js';

const ETC_NETNS = '/etc/netns';
const NETNS_DIR = '/run/netns';

/**
 * Refuses a plan with any value that is not a strict token (namespace and interface names, addresses, uids,
 * capability and host names): they become lines of ip and iptables input, paths and setpriv arguments.
 */
export function checkPlan(plan: LabPlan): void {
  token('netns', plan.nodeNetns, 'the node namespace');
  for (const h of plan.hosts) {
    const at = `lab host ${JSON.stringify(h.key)}`;
    token('netns', h.netns, `${at}: namespace`);
    token('iface', h.nodeIf, `${at}: interface`);
    token('ipv4', h.address, `${at}: address`);
    token('ipv4', h.gateway, `${at}: gateway`);
    token('uid', String(h.uid), `${at}: uid`);
    for (const c of h.capabilities) token('capability', c, `${at}: capability`);
    for (const n of h.workload ? workloadNames(h.workload, h.workload.namespace) : [h.key]) token('hostname', n, `${at}: name`);
  }
}

/** Every namespace, then every veth pair, its ends placed in the node's and the pod's namespace as it is created. */
function createLines(plan: LabPlan): string[][] {
  return [
    ...[plan.nodeNetns, ...plan.hosts.map((h) => h.netns)].map((n) => ['netns', 'add', n]),
    ...plan.hosts.map((h) => ['link', 'add', h.nodeIf, 'netns', plan.nodeNetns, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.netns]),
  ];
}

function nodeLines(plan: LabPlan): string[][] {
  const lines = [['link', 'set', 'lo', 'up']];
  for (const h of plan.hosts) {
    lines.push(
      ['addr', 'add', `${h.gateway}/32`, 'dev', h.nodeIf],
      ['link', 'set', h.nodeIf, 'up'],
      ['route', 'add', `${h.address}/32`, 'dev', h.nodeIf, 'src', h.gateway],
    );
  }
  return lines;
}

/** Inside a pod: loopback, its address and a default route to the node. */
function podLines(h: LabHost): string[][] {
  return [
    ['link', 'set', 'lo', 'up'],
    ['link', 'set', 'eth0', 'up'],
    ['addr', 'add', `${h.address}/32`, 'dev', 'eth0'],
    ['route', 'add', `${h.gateway}/32`, 'dev', 'eth0', 'scope', 'link'],
    ['route', 'add', 'default', 'via', h.gateway, 'dev', 'eth0'],
  ];
}

/** What Docker and containerd set in every container: unprivileged ICMP echo sockets and low ports. */
const POD_SYSCTLS: readonly (readonly [LabSysctl, string])[] = [
  ['net/ipv4/ping_group_range', '0 2147483647'],
  ['net/ipv4/ip_unprivileged_port_start', '0'],
];

export interface Program {
  argv: string[];
  input: string;
}

/**
 * The programs (argv and stdin) that create the topology (pure, for tests): `create` makes every namespace and veth
 * pair; then `node`, `pods` and `restores` (the rules) all at once.
 */
export function topologyPrograms(
  plan: LabPlan,
  nodeFilterRules: string,
  natRules: ReadonlyMap<string, string>,
): { create: Program; node: Program; pods: Program[]; restores: Program[] } {
  checkPlan(plan);
  checkRestoreInput(nodeFilterRules);
  for (const input of natRules.values()) checkRestoreInput(input);
  const restore = (netns: string, input: string) => ({ argv: ['ip', 'netns', 'exec', netns, 'iptables-restore'], input });
  return {
    create: { argv: ['ip', '-batch', '-'], input: ipBatch(createLines(plan)) },
    node: { argv: ['ip', '-n', plan.nodeNetns, '-batch', '-'], input: ipBatch(nodeLines(plan)) },
    pods: plan.hosts.map((h) => ({ argv: ['ip', '-n', h.netns, '-batch', '-'], input: ipBatch(podLines(h)) })),
    restores: [
      restore(plan.nodeNetns, nodeFilterRules),
      ...plan.hosts.flatMap((h) => (natRules.has(h.netns) ? [restore(h.netns, natRules.get(h.netns)!)] : [])),
    ],
  };
}

function writeResolution(plan: LabPlan): void {
  rootDir(ETC_NETNS, PUBLIC_DIR);
  for (const h of plan.hosts) {
    const dir = join(ETC_NETNS, h.netns);
    rootDir(dir, PUBLIC_DIR);
    writeNewFile(join(dir, 'hosts'), hostsFile(plan, h), PUBLIC_FILE);
    writeNewFile(join(dir, 'resolv.conf'), resolvConf(h), PUBLIC_FILE);
  }
}

/** Runs programs concurrently; all have ended before the first failure is passed on. */
async function runAll(programs: Program[]): Promise<void> {
  const results = await Promise.allSettled(programs.map((p) => run(p.argv[0], p.argv.slice(1), p.input)));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** `natRules`: iptables-restore input of each pod's nat table (its capture rules), by netns name. */
export async function createTopology(plan: LabPlan, nodeFilterRules: string, natRules: ReadonlyMap<string, string> = new Map()): Promise<void> {
  const p = topologyPrograms(plan, nodeFilterRules, natRules);
  writeResolution(plan);
  await runAll([p.create]);
  writeSysctls(join(NETNS_DIR, plan.nodeNetns), [['net/ipv4/ip_forward', '1']]);
  for (const h of plan.hosts) writeSysctls(join(NETNS_DIR, h.netns), POD_SYSCTLS);
  await runAll([p.node, ...p.pods, ...p.restores]);
}
/** Replaces a pod's nat table (capture rules), e.g. at deploy or after a flush-capture probe. */
export async function applyNat(netns: string, restoreInput: string): Promise<void> {
  checkRestoreInput(restoreInput);
  await run('ip', ['netns', 'exec', token('netns', netns, 'pod namespace'), 'iptables-restore'], restoreInput);
}

/** Replaces the node's filter table (NetworkPolicy). */
export async function applyNodeFilter(plan: LabPlan, restoreInput: string): Promise<void> {
  checkRestoreInput(restoreInput);
  await run('ip', ['netns', 'exec', token('netns', plan.nodeNetns, 'node namespace'), 'iptables-restore'], restoreInput);
}
