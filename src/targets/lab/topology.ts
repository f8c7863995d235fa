/**
 * Creates the lab's network from a LabPlan: the node namespace, one namespace per pod and external, veth pairs
 * whose two ends are created directly in the node's and the pod's namespaces (`link add … netns <node> type veth
 * peer … netns <pod>`: no interface ever appears in the host's root namespace), routes,
 * sysctls, the pods' capture rules, NetworkPolicy and the name-resolution files.
 *
 * No shell is involved: every program gets an argument vector and its input on stdin, and every value in that
 * input is a token checked in tokens.ts. Starting a program from the lab's large process is what deploying costs
 * most, so a lab of any size takes a handful: `ip -batch -` creates every namespace and veth pair; then each
 * namespace's own steps — its `ip` batch and its iptables-restore input, checked and written to root-only files in
 * the lab's directory — run as `netns exec <ns> ip -batch <file>` and `netns exec <ns> iptables-restore <file>`
 * lines of a few `ip -batch -` programs that run concurrently (ip forks them itself: a small process). Sysctls are
 * written by the lab itself (sysctl.ts) and the name-resolution files by files.ts.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { TargetError } from '../target.js';
import { run } from './exec.js';
import { PRIVATE_DIR, PUBLIC_DIR, PUBLIC_FILE, rootDir, writeNewFile } from './files.js';
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
  /** What each input line does, for an error naming the failed one (`ip -batch` stops there). */
  lines?: string[];
}

/** A namespace's steps per configuring program: more per program is fewer processes, fewer is more at once. */
const HOSTS_PER_PROGRAM = 16;
/** A node rule set this large (a matrix's accounting rules) is loaded by a program of its own, beside the pods'. */
const NODE_ALONE_BYTES = 64 * 1024;

interface NetnsSteps {
  netns: string;
  what: string;
  ip: string;
  rules?: string;
}

/**
 * The programs (argv and stdin) and files that create the topology (pure, for tests): `create` makes every
 * namespace and veth pair; then the `configure` programs, all at once, run each namespace's steps from `files`
 * (written under `dir`, the lab's directory, before they run).
 */
export function topologyPrograms(
  plan: LabPlan,
  nodeFilterRules: string,
  natRules: ReadonlyMap<string, string>,
  dir: string,
  cores = availableParallelism(),
): { create: Program; files: Array<{ path: string; content: string }>; configure: Program[] } {
  checkPlan(plan);
  checkRestoreInput(nodeFilterRules);
  for (const input of natRules.values()) checkRestoreInput(input);
  const netDir = join(token('path', dir, 'the lab directory'), 'net');
  const node: NetnsSteps = { netns: plan.nodeNetns, what: 'the node', ip: ipBatch(nodeLines(plan)), rules: nodeFilterRules };
  const hosts: NetnsSteps[] = plan.hosts.map((h) => ({
    netns: h.netns,
    what: h.key,
    ip: ipBatch(podLines(h)),
    ...(natRules.has(h.netns) ? { rules: natRules.get(h.netns)! } : {}),
  }));
  const files: Array<{ path: string; content: string }> = [];
  const linesOf = (n: NetnsSteps): Array<[string[], string]> => {
    const ipFile = join(netDir, `${n.netns}.ip`);
    files.push({ path: ipFile, content: n.ip });
    const out: Array<[string[], string]> = [[['netns', 'exec', n.netns, 'ip', '-batch', ipFile], `the addresses and routes of ${n.what}`]];
    if (n.rules !== undefined) {
      const rulesFile = join(netDir, `${n.netns}.rules`);
      files.push({ path: rulesFile, content: n.rules });
      out.push([['netns', 'exec', n.netns, 'iptables-restore', rulesFile], `the iptables rules of ${n.what}`]);
    }
    return out;
  };
  const program = (steps: NetnsSteps[]): Program => {
    const lines = steps.flatMap(linesOf);
    return { argv: ['ip', '-batch', '-'], input: ipBatch(lines.map(([l]) => l)), lines: lines.map(([, what]) => what) };
  };
  const chunks = Math.max(1, Math.min(cores, Math.ceil(hosts.length / HOSTS_PER_PROGRAM)));
  const groups: NetnsSteps[][] = Array.from({ length: chunks }, () => []);
  hosts.forEach((h, i) => groups[i % chunks].push(h));
  if (nodeFilterRules.length >= NODE_ALONE_BYTES) groups.unshift([node]);
  else groups[0].unshift(node);
  const create = createLines(plan);
  return {
    create: { argv: ['ip', '-batch', '-'], input: ipBatch(create), lines: create.map((l) => l.join(' ')) },
    files,
    configure: groups.map(program),
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

/** A failed `ip -batch` names its line (`Command failed -:N`): the error says what that line did. */
function failedLine(p: Program, err: unknown): unknown {
  const n = Number(/Command failed -:(\d+)/.exec((err as Error).message)?.[1]);
  const what = p.lines?.[n - 1];
  if (!(err instanceof TargetError) || what === undefined) return err;
  return new TargetError(`creating the lab's network failed at ${what}: ${err.message}`, err.hint);
}

/** Runs programs concurrently; all have ended before the first failure is passed on. */
async function runAll(programs: Program[]): Promise<void> {
  const results = await Promise.allSettled(
    programs.map((p) => run(p.argv[0], p.argv.slice(1), p.input).catch((err) => Promise.reject(failedLine(p, err)))),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * `natRules`: iptables-restore input of each pod's nat table (its capture rules), by netns name; `dir`: the lab's
 * directory, where each namespace's steps are written (root-only) for the programs that run them.
 */
export async function createTopology(plan: LabPlan, nodeFilterRules: string, natRules: ReadonlyMap<string, string>, dir: string): Promise<void> {
  const p = topologyPrograms(plan, nodeFilterRules, natRules, dir);
  writeResolution(plan);
  rootDir(join(dir, 'net'), PRIVATE_DIR);
  for (const f of p.files) writeNewFile(f.path, f.content);
  await runAll([p.create]);
  writeSysctls(join(NETNS_DIR, plan.nodeNetns), [['net/ipv4/ip_forward', '1']]);
  for (const h of plan.hosts) writeSysctls(join(NETNS_DIR, h.netns), POD_SYSCTLS);
  await runAll(p.configure);
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
