/** The NetworkPolicy accounting rules of watched flows and the reading of their counters (pure). */
import { describe, expect, test } from '@jest/globals';
import { parseDropCounts } from '../../../src/targets/lab/drops.js';
import { compileNetworkPolicies, parseNetworkPolicy, type PolicyEndpoint, type WatchedFlow } from '../../../src/targets/lab/netpol.js';
import type { Resource } from '../../../src/scenario/schema.js';

const endpoints: PolicyEndpoint[] = [
  { address: '10.244.1.2', nodeIf: 'if0', namespace: 'app', labels: { app: 'server' } },
  { address: '10.244.1.3', nodeIf: 'if1', namespace: 'app', labels: { app: 'client' } },
  { address: '10.244.1.4', nodeIf: 'if2', namespace: 'legacy', labels: { app: 'client' } },
];
const policy = (spec: object, namespace = 'app') =>
  parseNetworkPolicy({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'p', namespace }, spec } as Resource, namespace);
const flows: WatchedFlow[] = [
  { src: '10.244.1.3', dst: '10.244.1.2', protocol: 'tcp', port: 7070 },
  { src: '10.244.1.4', dst: '10.244.1.2', protocol: 'udp', port: 5354 },
  { src: '10.244.1.2', dst: '10.244.1.3', protocol: 'tcp', port: 80 }, // to a pod no policy isolates
];

describe('drop accounting', () => {
  const compiled = compileNetworkPolicies(
    [policy({ podSelector: { matchLabels: { app: 'server' } }, ingress: [{ ports: [{ port: 8080 }] }] })],
    endpoints,
    (ns) => ({ 'kubernetes.io/metadata.name': ns }),
    flows,
  );
  const chain = (name: string) => compiled.rules.filter((r) => r.startsWith(`-A ${name} `));

  test('a watched flow into an isolated pod gets its own DROP after the allow rules and before the catch-all DROP', () => {
    expect(chain('MP-IN-0')).toEqual([
      '-A MP-IN-0 -p tcp --dport 8080 -j ACCEPT',
      '-A MP-IN-0 -s 10.244.1.3/32 -p tcp --dport 7070 -j DROP',
      '-A MP-IN-0 -s 10.244.1.4/32 -p udp --dport 5354 -j DROP',
      '-A MP-IN-0 -j DROP',
    ]);
    // Every accounting rule drops: the table's verdicts are those without accounting.
    expect([...compiled.accounting.values()].every((r) => r.rule.endsWith('-j DROP'))).toBe(true);
  });

  test('a flow into a pod no policy isolates gets no rule (nothing drops it)', () => {
    expect([...compiled.accounting.values()].map((r) => r.flow).sort()).toEqual(['tcp 10.244.1.3>10.244.1.2:7070', 'udp 10.244.1.4>10.244.1.2:5354']);
  });

  test('counters are read from iptables-save -c by rule, only rules the lab compiled and only with packets', () => {
    const saved = [
      '*filter',
      '[0:0] -A MP-IN-0 -p tcp -m tcp --dport 8080 -j ACCEPT',
      '[3:180] -A MP-IN-0 -s 10.244.1.3/32 -p tcp -m tcp --dport 7070 -j DROP',
      '[0:0] -A MP-IN-0 -s 10.244.1.4/32 -p udp -m udp --dport 5354 -j DROP',
      '[9:540] -A MP-IN-0 -s 10.244.1.9/32 -p tcp -m tcp --dport 7070 -j DROP', // not an accounting rule of this lab
      '[7:420] -A MP-IN-0 -j DROP',
      'COMMIT',
    ].join('\n');
    expect(parseDropCounts(saved, compiled.accounting)).toEqual([
      { flow: 'tcp 10.244.1.3>10.244.1.2:7070', packets: 3, rule: '-A MP-IN-0 -s 10.244.1.3/32 -p tcp --dport 7070 -j DROP', side: 'ingress' },
    ]);
  });
});
