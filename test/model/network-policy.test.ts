/**
 * NetworkPolicy as the model reads it. policyTypes defaulting follows the API server:
 * kubernetes/kubernetes pkg/apis/networking/v1/defaults.go (SetDefaults_NetworkPolicy) and its table test
 * pkg/apis/networking/v1/defaults_test.go (TestSetDefaultNetworkPolicy), whose five cases are the first test here.
 */
import { describe, expect, test } from '@jest/globals';
import { effectivePolicyTypes, matchesSelector, namespaceLabels, NetworkPolicyRefusal, parseNetworkPolicy } from '../../src/model/network-policy.js';
import type { Resource } from '../../src/scenario/schema.js';

const np = (spec: unknown): Resource =>
  ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'p', namespace: 'x' }, spec }) as Resource;
const types = (spec: Record<string, unknown>) => parseNetworkPolicy(np({ podSelector: { matchLabels: { a: 'b' } }, ...spec }), 'default').policyTypes;
const nsPeer = { to: [{ namespaceSelector: { matchLabels: { c: 'd' } } }] };

describe('policyTypes defaulting (defaults.go SetDefaults_NetworkPolicy)', () => {
  test('TestSetDefaultNetworkPolicy: the upstream table', () => {
    // "Empty NetworkPolicy should be set to PolicyTypes Ingress"
    expect(types({})).toEqual(['Ingress']);
    // "Empty Ingress NetworkPolicy should be set to PolicyTypes Ingress"
    expect(types({ ingress: [] })).toEqual(['Ingress']);
    // "Defined Ingress and Egress should be set to Ingress,Egress"
    expect(
      types({
        ingress: [{ from: [{ podSelector: { matchLabels: { c: 'd' } }, namespaceSelector: { matchLabels: { c: 'd' } } }] }],
        egress: [nsPeer],
      }),
    ).toEqual(['Ingress', 'Egress']);
    // "Egress only with unset PolicyTypes should be set to Ingress, Egress"
    expect(types({ egress: [nsPeer] })).toEqual(['Ingress', 'Egress']);
    // "Egress only with PolicyTypes set to Egress should be set to only Egress"
    expect(types({ egress: [{ to: [{ namespaceSelector: { matchLabels: { Egress: 'only' } } }] }], policyTypes: ['Egress'] })).toEqual(['Egress']);
  });

  test('an empty or null egress list adds nothing: len(Egress) != 0 is what counts, not the key', () => {
    expect(types({ egress: [] })).toEqual(['Ingress']);
    expect(types({ egress: null })).toEqual(['Ingress']);
    expect(types({ ingress: [{}], egress: [] })).toEqual(['Ingress']);
    expect(types({ egress: [{}] })).toEqual(['Ingress', 'Egress']);
  });

  test('policyTypes: [] and null are defaulted like an absent list (len(PolicyTypes) == 0)', () => {
    expect(types({ policyTypes: [] })).toEqual(['Ingress']);
    expect(types({ policyTypes: null })).toEqual(['Ingress']);
    expect(types({ policyTypes: [], egress: [nsPeer] })).toEqual(['Ingress', 'Egress']);
  });

  test('explicit policyTypes are used as given, with or without rules', () => {
    expect(types({ policyTypes: ['Egress'] })).toEqual(['Egress']);
    expect(types({ policyTypes: ['Ingress'], egress: [nsPeer] })).toEqual(['Ingress']);
    expect(types({ policyTypes: ['Ingress', 'Egress'], ingress: [], egress: [] })).toEqual(['Ingress', 'Egress']);
  });

  test('the one deciding function, directly', () => {
    expect(effectivePolicyTypes(undefined, undefined)).toEqual(['Ingress']);
    expect(effectivePolicyTypes([], [{}])).toEqual(['Ingress', 'Egress']);
    expect(effectivePolicyTypes(['Egress'], [])).toEqual(['Egress']);
  });

  test('a policyTypes value other than Ingress/Egress is refused by name', () => {
    expect(() => types({ policyTypes: ['Both'] })).toThrow(NetworkPolicyRefusal);
    expect(() => types({ policyTypes: 'Ingress' })).toThrow(/policyTypes: must list Ingress and\/or Egress/);
  });
});

describe('values that would reach an iptables rule are validated', () => {
  const peer = (ipBlock: unknown) => np({ podSelector: {}, ingress: [{ from: [{ ipBlock }] }] });
  test('ipBlock cidr and except must be IPv4 CIDRs', () => {
    expect(parseNetworkPolicy(peer({ cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] }), 'x').ingress[0].peers?.[0].ipBlock).toEqual({
      cidr: '10.0.0.0/8',
      except: ['10.1.0.0/16'],
    });
    for (const bad of ['10.0.0.0', '10.0.0.0/33', '300.0.0.0/8', '10.0.0.0/8 -j ACCEPT', '10.0.0.0/8\n-A FORWARD -j ACCEPT']) {
      expect(() => parseNetworkPolicy(peer({ cidr: bad }), 'x')).toThrow(/is not an IPv4 CIDR/);
      expect(() => parseNetworkPolicy(peer({ cidr: '10.0.0.0/8', except: [bad] }), 'x')).toThrow(/except\[0\]: .* is not an IPv4 CIDR/);
    }
  });
  test('ports are integers from 1 to 65535 and endPort is not below port', () => {
    const ports = (p: unknown) => np({ podSelector: {}, ingress: [{ ports: [p] }] });
    expect(() => parseNetworkPolicy(ports({ port: 80.5 }), 'x')).toThrow(/port: must be a port number/);
    expect(() => parseNetworkPolicy(ports({ port: 0 }), 'x')).toThrow(/port: must be a port number/);
    expect(() => parseNetworkPolicy(ports({ port: 90, endPort: 80 }), 'x')).toThrow(/endPort/);
    expect(parseNetworkPolicy(ports({ port: 80, endPort: 90 }), 'x').ingress[0].ports).toEqual([{ protocol: 'TCP', port: 80, endPort: 90 }]);
  });
});

describe('label selectors', () => {
  test('matchLabels and matchExpressions all hold; {} selects everything', () => {
    expect(matchesSelector({}, { a: 'b' })).toBe(true);
    expect(matchesSelector({ matchLabels: { a: 'b' } }, { a: 'c' })).toBe(false);
    expect(matchesSelector({ matchExpressions: [{ key: 'pod', operator: 'In', values: ['b', 'c'] }] }, { pod: 'c' })).toBe(true);
    expect(matchesSelector({ matchExpressions: [{ key: 'ns', operator: 'NotIn', values: ['x'] }] }, {})).toBe(true);
    expect(matchesSelector({ matchExpressions: [{ key: 'k', operator: 'DoesNotExist' }] }, { k: '' })).toBe(false);
  });
});

describe('namespace labels (format: namespaces[].labels)', () => {
  test('declared labels, istio-injection from sidecarInjection, and kubernetes.io/metadata.name always the name', () => {
    expect(namespaceLabels('pay', { labels: { team: 'payments' } })).toEqual({
      team: 'payments',
      'istio-injection': 'enabled',
      'kubernetes.io/metadata.name': 'pay',
    });
    expect(namespaceLabels('old', { sidecarInjection: false })).toEqual({ 'kubernetes.io/metadata.name': 'old' });
    expect(namespaceLabels('x', { labels: { 'kubernetes.io/metadata.name': 'y' } })['kubernetes.io/metadata.name']).toBe('x');
  });
});
