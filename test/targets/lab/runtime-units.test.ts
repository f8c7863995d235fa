/** Pure parts of the lab runtime and of the topology: the pods' hosts tables and the programs that build the network. */
import { describe, expect, test } from '@jest/globals';
import { parseHosts, tableLookup } from '../../../src/targets/lab/runtime/hosts.js';
import { hostsFile, planLab } from '../../../src/targets/lab/plan.js';
import { topologyPrograms } from '../../../src/targets/lab/topology.js';
import { makeScenario } from './helpers.js';

const scenario = makeScenario('units', {
  workloads: [
    { name: 'a', namespace: 'app' },
    { name: 'b', namespace: 'legacy', ports: [{ port: 80, protocol: 'http' }] },
  ],
  externals: [{ name: 'api.example.com', ports: [{ port: 443, protocol: 'https' }] }],
  probes: [{ name: 'p', from: 'app/a', to: 'legacy/b', port: 80, protocol: 'http', expect: { reach: true } }],
});
const plan = planLab(scenario, 'unit01');

type Answer = { err: NodeJS.ErrnoException | null; address?: unknown; family?: number };
function lookup(table: ReturnType<typeof parseHosts>, name: string, options: object = {}): Promise<Answer> {
  return new Promise((resolve) =>
    tableLookup(table).lookup(name, options, (err: NodeJS.ErrnoException | null, address?: unknown, family?: number) =>
      resolve({ err, address, family }),
    ),
  );
}

describe("a pod's hosts table", () => {
  const table = parseHosts(hostsFile(plan, plan.hosts[0]));

  test('service names of every workload and the externals resolve to their lab addresses', async () => {
    expect((await lookup(table, 'b.legacy.svc.cluster.local')).address).toBe('10.244.1.3');
    expect((await lookup(table, 'B.legacy.svc.cluster.local.')).address).toBe('10.244.1.3');
    expect((await lookup(table, 'api.example.com')).address).toBe('172.18.0.2');
    expect((await lookup(table, 'a')).address).toBe('10.244.1.2'); // same namespace: the short name too
  });

  test('a name not in the file fails at once with ENOTFOUND, as with no DNS server', async () => {
    const r = await lookup(table, 'b'); // other namespace: no short name (the hosts file cannot expand search domains)
    expect(r.err?.code).toBe('ENOTFOUND');
    expect((await lookup(table, 'example.org')).err?.code).toBe('ENOTFOUND');
  });

  test('all: true, family filters, IP literals and the single-address form', async () => {
    expect((await lookup(table, 'localhost', { all: true })).address).toEqual([
      { address: '127.0.0.1', family: 4 },
      { address: '::1', family: 6 },
    ]);
    expect((await lookup(table, 'localhost', { family: 6 })).address).toBe('::1');
    expect((await lookup(table, 'b.legacy', { family: 6 })).err?.code).toBe('ENOTFOUND');
    expect(await lookup(table, '10.9.8.7')).toMatchObject({ err: null, address: '10.9.8.7', family: 4 });
    const one = await new Promise((resolve) =>
      tableLookup(table).lookupOne('b.legacy', { all: true }, (err, address, family) => resolve({ err, address, family })),
    );
    expect(one).toEqual({ err: null, address: '10.244.1.3', family: 4 });
  });
});

describe('topology programs', () => {
  const dir = '/run/meshprobe/labs/unit01';
  const nat = new Map([[plan.hosts[0].netns, '*nat\n-A OUTPUT -j RETURN\nCOMMIT\n']]);
  const p = topologyPrograms(plan, '*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n', nat, dir);
  const all = [p.create, ...p.configure];
  const file = (path: string) => p.files.find((f) => f.path === path)?.content;

  test('are argument vectors of ip only, never a shell, with input on stdin', () => {
    for (const prog of all) {
      expect(prog.argv).toEqual(['ip', '-batch', '-']);
      expect(prog.input).not.toMatch(/[;&|<>$`'"\\]/);
    }
  });

  test("create every namespace first; then each namespace's own batch and rules from the lab's files, in few programs", () => {
    const lines = p.configure.flatMap((c) => c.input.trim().split('\n'));
    for (const h of plan.hosts) {
      expect(p.create.input).toContain(`netns add ${h.netns}\n`);
      expect(p.create.input).toContain(`link add ${h.nodeIf} netns ${plan.nodeNetns} type veth peer name eth0 netns ${h.netns}\n`);
      expect(lines).toContain(`netns exec ${h.netns} ip -batch ${dir}/net/${h.netns}.ip`);
      expect(file(`${dir}/net/${h.netns}.ip`)).toContain(`addr add ${h.address}/32 dev eth0`);
    }
    // Rules where given: the node's filter table and one pod's nat table.
    expect(lines.filter((l) => l.includes('iptables-restore'))).toEqual([
      `netns exec ${plan.nodeNetns} iptables-restore ${dir}/net/${plan.nodeNetns}.rules`,
      `netns exec ${plan.hosts[0].netns} iptables-restore ${dir}/net/${plan.hosts[0].netns}.rules`,
    ]);
    expect(file(`${dir}/net/${plan.hosts[0].netns}.rules`)).toContain('-A OUTPUT -j RETURN');
    // A small lab: one program creates, one configures.
    expect(p.configure.length).toBe(1);
    // Each line says what it does, for an error naming the failed one.
    expect(p.configure[0].lines).toContain(`the iptables rules of ${plan.hosts[0].key}`);
  });

  test('refuse restore input with anything but checked rules (a line cannot be smuggled in)', () => {
    const bad = new Map([[plan.hosts[0].netns, '*nat\n-A OUTPUT -j RETURN\nCOMMIT\n*filter\n-I FORWARD 1 -j ACCEPT\nCOMMIT\n']]);
    expect(() => topologyPrograms(plan, '*filter\nCOMMIT\n', bad, dir)).toThrow(/COMMIT|refusing/);
    expect(() => topologyPrograms(plan, '*filter\n-A FORWARD -j ACCEPT ; touch /tmp/x\nCOMMIT\n', new Map(), dir)).toThrow(/refusing/);
  });

  test('refuse a plan whose names are not strict tokens, and a lab directory that is not a plain absolute path', () => {
    const hostile = { ...plan, hosts: [{ ...plan.hosts[0], netns: `mp-unit01-a\nnetns add evil` }] };
    expect(() => topologyPrograms(hostile, '*filter\nCOMMIT\n', new Map(), dir)).toThrow(/not a valid netns/);
    const traversal = { ...plan, hosts: [{ ...plan.hosts[0], netns: 'mp-unit01-../../etc' }] };
    expect(() => topologyPrograms(traversal, '*filter\nCOMMIT\n', new Map(), dir)).toThrow(/not a valid netns/);
    for (const bad of ['/run/meshprobe/labs/../../etc', 'relative/dir', '/run/lab dir', '/run/x\nnetns add evil', '/run/-batch'])
      expect(() => topologyPrograms(plan, '*filter\nCOMMIT\n', new Map(), bad)).toThrow(/not a valid path/);
  });
});

test("a lab of 250 workloads needs no long argument: every program's input goes on stdin (no spawn E2BIG)", () => {
  const big = makeScenario('big', {
    workloads: Array.from({ length: 250 }, (_, i) => ({ name: `w${i}`, namespace: 'app', ports: [{ port: 80, protocol: 'tcp' as const }] })),
    probes: [{ name: 'p', from: 'app/w0', to: 'app/w1', port: 80, protocol: 'tcp', expect: { reach: true } }],
  });
  const bigPlan = planLab(big, 'big001');
  const p = topologyPrograms(bigPlan, '*filter\nCOMMIT\n', new Map(), '/run/meshprobe/labs/big001', 2);
  const all = [p.create, ...p.configure];
  expect(Math.max(...all.map((x) => x.argv.join(' ').length))).toBeLessThan(100);
  expect(p.create.input.split('\n').length).toBeGreaterThan(500);
  // Its namespaces are configured by one program per core, not one process per namespace.
  expect(p.configure.length).toBe(2);
  expect(p.configure.flatMap((c) => c.input.trim().split('\n')).length).toBe(252);
});
