/**
 * Creates the lab's network from a LabPlan: the node namespace, one namespace per pod and external, veth pairs
 * created from inside the node namespace (so no interface ever appears in the host's root namespace), routes,
 * sysctls and the name-resolution files. Batched: one `ip -batch` for all namespaces, one for the node, one
 * shell per pod, run in parallel.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inNetns, run } from './exec.js';
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

/** Inside a pod: loopback, its address, a default route to the node, and the sysctls a container runtime sets. */
function podScript(h: LabHost): string {
  return [
    'ip link set lo up',
    'ip link set eth0 up',
    `ip addr add ${h.address}/32 dev eth0`,
    `ip route add ${h.gateway}/32 dev eth0 scope link`,
    `ip route add default via ${h.gateway} dev eth0`,
    // What Docker and containerd set in every container: unprivileged ICMP echo sockets and low ports.
    "echo '0 2147483647' > /proc/sys/net/ipv4/ping_group_range",
    'echo 0 > /proc/sys/net/ipv4/ip_unprivileged_port_start',
  ].join('\n');
}

function writeResolution(plan: LabPlan): void {
  for (const h of plan.hosts) {
    const dir = join(ETC_NETNS, h.netns);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'hosts'), hostsFile(plan, h));
    writeFileSync(join(dir, 'resolv.conf'), resolvConf(h));
  }
}

export async function createTopology(plan: LabPlan, nodeFilterRules: string): Promise<void> {
  const all = [plan.nodeNetns, ...plan.hosts.map((h) => h.netns)];
  await run('ip', ['-batch', '-'], all.map((n) => `netns add ${n}\n`).join(''));
  writeResolution(plan);
  await run('ip', ['-n', plan.nodeNetns, '-batch', '-'], nodeBatch(plan));
  await Promise.all([
    inNetns(plan.nodeNetns, 'echo 1 > /proc/sys/net/ipv4/ip_forward; iptables-restore', nodeFilterRules),
    ...plan.hosts.map((h) => inNetns(h.netns, podScript(h))),
  ]);
}

/** Replaces a pod's nat table (capture rules), e.g. at deploy or after a flush-capture probe. */
export async function applyNat(netns: string, restoreInput: string): Promise<void> {
  await run('ip', ['netns', 'exec', netns, 'iptables-restore'], restoreInput);
}

/** Replaces the node's filter table (NetworkPolicy). */
export async function applyNodeFilter(plan: LabPlan, restoreInput: string): Promise<void> {
  await run('ip', ['netns', 'exec', plan.nodeNetns, 'iptables-restore'], restoreInput);
}
