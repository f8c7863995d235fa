/** Pure parts of the lab runtime and of the topology script: the pods' hosts tables and the shell script. */
import { describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { parseHosts, tableLookup } from '../../src/targets/lab/runtime/hosts.js';
import { hostsFile, planLab } from '../../src/targets/lab/plan.js';
import { topologyScript } from '../../src/targets/lab/topology.js';
import { makeScenario } from './helpers.js';

const scenario = makeScenario('units', {
  workloads: [{ name: 'a', namespace: 'app' }, { name: 'b', namespace: 'legacy', ports: [{ port: 80, protocol: 'http' }] }],
  externals: [{ name: 'api.example.com', ports: [{ port: 443, protocol: 'https' }] }],
  probes: [{ name: 'p', from: 'app/a', to: 'legacy/b', port: 80, protocol: 'http', expect: { reach: true } }],
});
const plan = planLab(scenario, 'unit01');

type Answer = { err: NodeJS.ErrnoException | null; address?: unknown; family?: number };
function lookup(table: ReturnType<typeof parseHosts>, name: string, options: object = {}): Promise<Answer> {
  return new Promise((resolve) => tableLookup(table).lookup(name, options, (err: NodeJS.ErrnoException | null, address?: unknown, family?: number) => resolve({ err, address, family })));
}

describe('a pod\'s hosts table', () => {
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
    expect((await lookup(table, 'localhost', { all: true })).address).toEqual([{ address: '127.0.0.1', family: 4 }, { address: '::1', family: 6 }]);
    expect((await lookup(table, 'localhost', { family: 6 })).address).toBe('::1');
    expect((await lookup(table, 'b.legacy', { family: 6 })).err?.code).toBe('ENOTFOUND');
    expect(await lookup(table, '10.9.8.7')).toMatchObject({ err: null, address: '10.9.8.7', family: 4 });
    const one = await new Promise((resolve) => tableLookup(table).lookupOne('b.legacy', { all: true }, (err, address, family) => resolve({ err, address, family })));
    expect(one).toEqual({ err: null, address: '10.244.1.3', family: 4 });
  });
});

describe('topology script', () => {
  const nat = new Map([[plan.hosts[0].netns, '*nat\n-A OUTPUT -j RETURN\nCOMMIT\n']]);
  const script = topologyScript(plan, '*filter\nCOMMIT\n', nat);

  test('is valid sh', () => {
    expect(() => execFileSync('sh', ['-n', '-c', script])).not.toThrow();
  });

  test('creates every namespace, configures each pod with ip -n, and loads capture rules only where given', () => {
    for (const h of plan.hosts) {
      expect(script).toContain(`netns add ${h.netns}\n`);
      expect(script).toContain(`ip -n '${h.netns}' -batch -`);
      expect(script).toContain(`addr add ${h.address}/32 dev eth0`);
    }
    expect(script.match(/exec iptables-restore/g)).toHaveLength(2); // the node's filter table and one pod's nat table
    expect(script).toContain('-A OUTPUT -j RETURN');
    expect(script.match(/ping_group_range/g)).toHaveLength(plan.hosts.length);
  });
});
