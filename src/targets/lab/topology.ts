/**
 * Creates the lab's network from a LabPlan: the node namespace, one namespace per pod and external, veth pairs
 * created from inside the node namespace (so no interface ever appears in the host's root namespace), routes,
 * sysctls, the pods' capture rules, NetworkPolicy and the name-resolution files. All of it is one shell script
 * (`ip -batch` per namespace, `ip netns exec` only where a step must run inside one): starting a process from
 * a large Node process is the expensive part, so the lab starts one, not one per step.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './exec.js';
import { hostsFile, resolvConf, type LabHost, type LabPlan } from './plan.js';

const ETC_NETNS = '/etc/netns';

function nodeBatch(plan: LabPlan): string {
  const lines = ['link set lo up'];
  for (const h of plan.hosts) {
    lines.push(
      `link add ${h.nodeIf} type veth peer name eth0 netns ${h.netns}`,
      `addr add ${h.gateway}/32 dev ${h.nodeIf}`,
      `link set ${h.nodeIf} up`,
      `route add ${h.address}/32 dev ${h.nodeIf} src ${h.gateway}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Inside a pod: loopback, its address and a default route to the node (`ip -n <pod> -batch`). */
function podBatch(h: LabHost): string {
  return [
    'link set lo up',
    'link set eth0 up',
    `addr add ${h.address}/32 dev eth0`,
    `route add ${h.gateway}/32 dev eth0 scope link`,
    `route add default via ${h.gateway} dev eth0`,
    '',
  ].join('\n');
}

/** What Docker and containerd set in every container: unprivileged ICMP echo sockets and low ports. */
const POD_SYSCTLS = "echo '0 2147483647' > /proc/sys/net/ipv4/ping_group_range; echo 0 > /proc/sys/net/ipv4/ip_unprivileged_port_start";

const EOF = 'MESHPROBE_EOF';
const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
/** A command fed `input` through a quoted here-document (no expansion inside). */
const withInput = (command: string, input: string) => `${command} <<'${EOF}'\n${input.endsWith('\n') ? input : `${input}\n`}${EOF}`;

/**
 * The whole topology as one `sh -e` script (pure, for tests and for `createTopology`).
 */
export function topologyScript(plan: LabPlan, nodeFilterRules: string, natRules: ReadonlyMap<string, string>): string {
  const all = [plan.nodeNetns, ...plan.hosts.map((h) => h.netns)];
  const lines = [
    withInput('ip -batch -', all.map((n) => `netns add ${n}\n`).join('')),
    withInput(`ip -n ${q(plan.nodeNetns)} -batch -`, nodeBatch(plan)),
    ...plan.hosts.map((h) => withInput(`ip -n ${q(h.netns)} -batch -`, podBatch(h))),
    withInput(`ip netns exec ${q(plan.nodeNetns)} sh -ec 'echo 1 > /proc/sys/net/ipv4/ip_forward; exec iptables-restore'`, nodeFilterRules),
    ...plan.hosts.map((h) => {
      const nat = natRules.get(h.netns);
      return nat ? withInput(`ip netns exec ${q(h.netns)} sh -ec ${q(`${POD_SYSCTLS}; exec iptables-restore`)}`, nat) : `ip netns exec ${q(h.netns)} sh -ec ${q(POD_SYSCTLS)}`;
    }),
  ];
  return `${lines.join('\n')}\n`;
}

function writeResolution(plan: LabPlan): void {
  for (const h of plan.hosts) {
    const dir = join(ETC_NETNS, h.netns);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'hosts'), hostsFile(plan, h));
    writeFileSync(join(dir, 'resolv.conf'), resolvConf(h));
  }
}

/** `natRules`: iptables-restore input of each pod's nat table (its capture rules), by netns name. */
export async function createTopology(plan: LabPlan, nodeFilterRules: string, natRules: ReadonlyMap<string, string> = new Map()): Promise<void> {
  writeResolution(plan);
  await run('sh', ['-e', '-c', topologyScript(plan, nodeFilterRules, natRules)]);
}

/** Replaces a pod's nat table (capture rules), e.g. at deploy or after a flush-capture probe. */
export async function applyNat(netns: string, restoreInput: string): Promise<void> {
  await run('ip', ['netns', 'exec', netns, 'iptables-restore'], restoreInput);
}

/** Replaces the node's filter table (NetworkPolicy). */
export async function applyNodeFilter(plan: LabPlan, restoreInput: string): Promise<void> {
  await run('ip', ['netns', 'exec', plan.nodeNetns, 'iptables-restore'], restoreInput);
}
