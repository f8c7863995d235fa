import { describe, expect, test } from '@jest/globals';
import { matchesSelector } from '../../../src/model/network-policy.js';
import { compileNetworkPolicies, parseNetworkPolicy, type PolicyEndpoint } from '../../../src/targets/lab/netpol.js';
import { UnsupportedError } from '../../../src/targets/target.js';
import type { Resource } from '../../../src/scenario/schema.js';

const endpoints: PolicyEndpoint[] = [
  { address: '10.244.1.2', nodeIf: 'if0', namespace: 'app', labels: { app: 'server' } },
  { address: '10.244.1.3', nodeIf: 'if1', namespace: 'app', labels: { app: 'client' } },
  { address: '10.244.1.4', nodeIf: 'if2', namespace: 'legacy', labels: { app: 'client' } },
  { address: '172.18.0.2', nodeIf: 'if3', labels: {} },
];
const nsLabels = (ns: string) => ({ 'kubernetes.io/metadata.name': ns });
const np = (spec: object, namespace = 'app'): Resource =>
  ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'p', namespace }, spec }) as Resource;
const compile = (...specs: object[]) =>
  compileNetworkPolicies(
    specs.map((s) => parseNetworkPolicy(np(s), 'app')),
    endpoints,
    nsLabels,
  ).rules;
const chain = (rules: string[], name: string) => rules.filter((r) => r.startsWith(`-A ${name} `));

describe('NetworkPolicy compilation', () => {
  test('without policies nothing is isolated: every packet reaches the final ACCEPT', () => {
    const rules = compile();
    expect(chain(rules, 'MP-EGRESS')).toEqual(['-A MP-EGRESS -j MP-INGRESS']);
    expect(chain(rules, 'MP-INGRESS')).toEqual(['-A MP-INGRESS -j ACCEPT']);
    expect(rules[0]).toBe('-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT');
  });

  test('allow-only-9080 ingress: the selected pod accepts tcp/9080 from anywhere and drops the rest', () => {
    const rules = compile({ podSelector: { matchLabels: { app: 'server' } }, ingress: [{ ports: [{ port: 9080 }] }] });
    expect(chain(rules, 'MP-INGRESS')).toEqual(['-A MP-INGRESS -o if0 -j MP-IN-0', '-A MP-INGRESS -j ACCEPT']);
    expect(chain(rules, 'MP-IN-0')).toEqual(['-A MP-IN-0 -p tcp --dport 9080 -j ACCEPT', '-A MP-IN-0 -j DROP']);
    expect(rules.some((r) => r.includes('MP-EG-'))).toBe(false);
  });

  test('an empty podSelector selects every pod of the namespace, and no ingress rules deny all', () => {
    const rules = compile({ podSelector: {}, policyTypes: ['Ingress'] });
    expect(chain(rules, 'MP-INGRESS')).toEqual(['-A MP-INGRESS -o if0 -j MP-IN-0', '-A MP-INGRESS -o if1 -j MP-IN-1', '-A MP-INGRESS -j ACCEPT']);
    expect(chain(rules, 'MP-IN-1')).toEqual(['-A MP-IN-1 -j DROP']);
  });

  test('podSelector peers are pods of the policy namespace; namespaceSelector by kubernetes.io/metadata.name picks another', () => {
    const same = compile({
      podSelector: { matchLabels: { app: 'server' } },
      ingress: [{ from: [{ podSelector: { matchLabels: { app: 'client' } } }] }],
    });
    expect(chain(same, 'MP-IN-0')).toEqual(['-A MP-IN-0 -s 10.244.1.3/32 -j ACCEPT', '-A MP-IN-0 -j DROP']);
    const other = compile({
      podSelector: { matchLabels: { app: 'server' } },
      ingress: [
        {
          from: [
            { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'legacy' } }, podSelector: { matchLabels: { app: 'client' } } },
          ],
          ports: [{ protocol: 'UDP', port: 5353 }],
        },
      ],
    });
    expect(chain(other, 'MP-IN-0')).toEqual(['-A MP-IN-0 -s 10.244.1.4/32 -p udp --dport 5353 -j ACCEPT', '-A MP-IN-0 -j DROP']);
  });

  test('ipBlock with except gets a sub-chain in which excepted addresses return unmatched', () => {
    const rules = compile({
      podSelector: { matchLabels: { app: 'client' } },
      policyTypes: ['Egress'],
      egress: [{ to: [{ ipBlock: { cidr: '172.18.0.0/16', except: ['172.18.0.2/32'] } }], ports: [{ port: 8000, endPort: 8100 }] }],
    });
    expect(chain(rules, 'MP-EG-1')).toEqual(['-A MP-EG-1 -j MP-EG-1-B0', '-A MP-EG-1 -j DROP']);
    expect(chain(rules, 'MP-EG-1-B0')).toEqual([
      '-A MP-EG-1-B0 -d 172.18.0.2/32 -j RETURN',
      '-A MP-EG-1-B0 -d 172.18.0.0/16 -p tcp --dport 8000:8100 -j MP-INGRESS',
    ]);
    expect(compileNetworkPolicies([], endpoints, nsLabels).chains).not.toContain('MP-EG-1-B0');
  });

  test('egress allowing DNS and one destination: allowed traffic continues to the ingress check, the rest is dropped', () => {
    const rules = compile({
      podSelector: { matchLabels: { app: 'client' } },
      policyTypes: ['Egress'],
      egress: [
        {
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
        { to: [{ podSelector: { matchLabels: { app: 'server' } } }], ports: [{ port: 8080 }] },
      ],
    });
    expect(chain(rules, 'MP-EGRESS')).toEqual(['-A MP-EGRESS -i if1 -j MP-EG-1', '-A MP-EGRESS -j MP-INGRESS']);
    expect(chain(rules, 'MP-EG-1')).toEqual([
      '-A MP-EG-1 -p udp --dport 53 -j MP-INGRESS',
      '-A MP-EG-1 -p tcp --dport 53 -j MP-INGRESS',
      '-A MP-EG-1 -d 10.244.1.2/32 -p tcp --dport 8080 -j MP-INGRESS',
      '-A MP-EG-1 -j DROP',
    ]);
  });

  test('policyTypes are defaulted as the API server does (egress rules, not an egress key, add Egress)', () => {
    expect(parseNetworkPolicy(np({ podSelector: {}, egress: [{}] }), 'app').policyTypes).toEqual(['Ingress', 'Egress']);
    expect(parseNetworkPolicy(np({ podSelector: {}, egress: [] }), 'app').policyTypes).toEqual(['Ingress']);
    expect(parseNetworkPolicy(np({ podSelector: {} }), 'app').policyTypes).toEqual(['Ingress']);
    // egress: [] without policyTypes isolates nothing for egress: no MP-EG chain at all.
    expect(compile({ podSelector: {}, egress: [] }).some((r) => r.includes('MP-EG-'))).toBe(false);
    // policyTypes: [] is defaulted too: the pods are isolated for ingress, not left open.
    expect(chain(compile({ podSelector: {}, policyTypes: [] }), 'MP-IN-0')).toEqual(['-A MP-IN-0 -j DROP']);
  });

  test('two policies selecting one pod add up; one DROP ends the chain', () => {
    const a = parseNetworkPolicy(np({ podSelector: { matchLabels: { app: 'server' } }, ingress: [{ ports: [{ port: 1 }] }] }), 'app');
    const b = parseNetworkPolicy(np({ podSelector: {}, ingress: [{ ports: [{ port: 2 }] }] }), 'app');
    expect(chain(compileNetworkPolicies([a, b], endpoints, nsLabels).rules, 'MP-IN-0')).toEqual([
      '-A MP-IN-0 -p tcp --dport 1 -j ACCEPT',
      '-A MP-IN-0 -p tcp --dport 2 -j ACCEPT',
      '-A MP-IN-0 -j DROP',
    ]);
  });
});

describe('selectors', () => {
  test('matchExpressions operators', () => {
    const labels = { app: 'a', tier: 'web' };
    expect(matchesSelector({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['web', 'db'] }] }, labels)).toBe(true);
    expect(matchesSelector({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['web'] }] }, labels)).toBe(false);
    expect(matchesSelector({ matchExpressions: [{ key: 'x', operator: 'Exists' }] }, labels)).toBe(false);
    expect(matchesSelector({ matchExpressions: [{ key: 'x', operator: 'DoesNotExist' }], matchLabels: { app: 'a' } }, labels)).toBe(true);
  });
});

describe('fields the lab does not emulate are refused by name', () => {
  const field = (spec: object) => {
    try {
      parseNetworkPolicy(np(spec), 'app');
    } catch (e) {
      expect(e).toBeInstanceOf(UnsupportedError);
      return (e as UnsupportedError).field;
    }
    throw new Error('not refused');
  };
  test('named ports with endPort, unknown fields, IPv6 blocks', () => {
    expect(field({ podSelector: {}, ingress: [{ ports: [{ port: 'http', endPort: 90 }] }] })).toBe(
      'NetworkPolicy p: spec.ingress[0].ports[0].endPort',
    );
    expect(field({ podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: 'fd00::/8' } }] }] })).toBe(
      'NetworkPolicy p: spec.ingress[0].from[0].ipBlock.cidr',
    );
    expect(field({ podSelector: {}, ingres: [] })).toBe('NetworkPolicy p: spec.ingres');
  });
});

describe('named ports compile per destination pod', () => {
  // kubernetes test/e2e/network/netpol: pods serve serve-80-tcp and serve-81-tcp; here the client carries the name
  // on other numbers, so a resolution against the wrong pod would show.
  const named: PolicyEndpoint[] = [
    {
      ...endpoints[0],
      ports: [
        { port: 80, transport: 'TCP', name: 'serve-80-tcp' },
        { port: 81, transport: 'TCP', name: 'serve-81-tcp' },
      ],
    },
    { ...endpoints[1], ports: [{ port: 8080, transport: 'TCP', name: 'serve-80-tcp' }] },
    { ...endpoints[2], ports: [{ port: 80, transport: 'UDP', name: 'serve-80-tcp' }] },
    endpoints[3],
  ];
  const compileNamed = (spec: object) => compileNetworkPolicies([parseNetworkPolicy(np(spec), 'app')], named, nsLabels).rules;

  test('ingress: the name resolves on the selected pod itself; a pod without it allows nothing for the rule', () => {
    const rules = compileNamed({ podSelector: {}, ingress: [{ ports: [{ port: 'serve-81-tcp' }] }] });
    expect(chain(rules, 'MP-IN-0')).toEqual(['-A MP-IN-0 -p tcp --dport 81 -j ACCEPT', '-A MP-IN-0 -j DROP']);
    expect(chain(rules, 'MP-IN-1')).toEqual(['-A MP-IN-1 -j DROP']);
  });

  test('egress: one rule per destination pod with the name on the rule protocol; externals and other protocols none', () => {
    const rules = compileNamed({
      podSelector: { matchLabels: { app: 'client' } },
      policyTypes: ['Egress'],
      egress: [{ ports: [{ port: 'serve-80-tcp' }] }],
    });
    expect(chain(rules, 'MP-EG-1')).toEqual([
      '-A MP-EG-1 -d 10.244.1.2/32 -p tcp --dport 80 -j MP-INGRESS',
      '-A MP-EG-1 -d 10.244.1.3/32 -p tcp --dport 8080 -j MP-INGRESS',
      '-A MP-EG-1 -j DROP',
    ]);
    const toServer = compileNamed({
      podSelector: { matchLabels: { app: 'client' } },
      policyTypes: ['Egress'],
      egress: [{ to: [{ podSelector: { matchLabels: { app: 'server' } } }], ports: [{ port: 'serve-80-tcp' }, { protocol: 'UDP', port: 53 }] }],
    });
    expect(chain(toServer, 'MP-EG-1')).toEqual([
      '-A MP-EG-1 -d 10.244.1.2/32 -p udp --dport 53 -j MP-INGRESS',
      '-A MP-EG-1 -d 10.244.1.2/32 -p tcp --dport 80 -j MP-INGRESS',
      '-A MP-EG-1 -j DROP',
    ]);
  });

  test('egress to an ipBlock: the pods in the block, minus except, resolve the name', () => {
    const rules = compileNamed({
      podSelector: { matchLabels: { app: 'client' } },
      policyTypes: ['Egress'],
      egress: [{ to: [{ ipBlock: { cidr: '10.244.1.0/24', except: ['10.244.1.3/32'] } }], ports: [{ port: 'serve-80-tcp' }] }],
    });
    expect(chain(rules, 'MP-EG-1')).toEqual(['-A MP-EG-1 -d 10.244.1.2/32 -p tcp --dport 80 -j MP-INGRESS', '-A MP-EG-1 -j DROP']);
  });
});
