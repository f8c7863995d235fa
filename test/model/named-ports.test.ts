/**
 * NetworkPolicy named ports (Kubernetes API NetworkPolicyPort.port: "a numerical or named port on a pod"), read
 * by the model and resolved per destination pod. Cases from kubernetes/kubernetes test/e2e/network/netpol
 * (network_policy.go): "should allow ingress access on one named port" (serve-81-tcp allowed, 80 blocked),
 * "should allow egress access on one named port" (serve-80-tcp allowed, 81 blocked), and one name carried by
 * pods on different numbers (each destination pod resolves it to its own number).
 */
import { describe, expect, test } from '@jest/globals';
import { NetworkPolicyRefusal, parseNetworkPolicy, resolvePolicyPort } from '../../src/model/network-policy.js';
import { containerPortName, istioProtocolOfName, namedContainerPorts, portNameConflict } from '../../src/model/ports.js';
import { networkPolicyDecision, type NetpolEndpoint } from '../../src/predict/netpol.js';
import type { Resource } from '../../src/scenario/schema.js';

const np = (spec: unknown, name = 'p'): Resource =>
  ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace: 'x' }, spec }) as Resource;
const parse = (spec: unknown) => parseNetworkPolicy(np(spec), 'x');

// The e2e suite's server pods: serve-80-tcp and serve-81-tcp (plus udp twins on the same numbers).
const servePorts = namedContainerPorts([
  { port: 80, protocol: 'http', name: 'serve-80-tcp' },
  { port: 81, protocol: 'http', name: 'serve-81-tcp' },
  { port: 80, protocol: 'udp', name: 'serve-80-udp' },
]);

describe('reading a named port', () => {
  test('a string port is kept as a name; endPort with it, and a name that is not IANA_SVC_NAME, are refused', () => {
    expect(parse({ podSelector: {}, ingress: [{ ports: [{ port: 'serve-81-tcp' }] }] }).ingress[0].ports).toEqual([
      { protocol: 'TCP', port: 'serve-81-tcp' },
    ]);
    const refusal = (spec: unknown) => {
      try {
        parse(spec);
      } catch (e) {
        expect(e).toBeInstanceOf(NetworkPolicyRefusal);
        return (e as NetworkPolicyRefusal).field;
      }
      throw new Error('not refused');
    };
    // ValidateNetworkPolicyPort: "may not be specified when port is non-numeric".
    expect(refusal({ podSelector: {}, ingress: [{ ports: [{ port: 'serve-80-tcp', endPort: 90 }] }] })).toBe(
      'NetworkPolicy p: spec.ingress[0].ports[0].endPort',
    );
    expect(refusal({ podSelector: {}, ingress: [{ ports: [{ port: 'Serve_80' }] }] })).toBe('NetworkPolicy p: spec.ingress[0].ports[0].port');
    expect(refusal({ podSelector: {}, ingress: [{ ports: [{ port: 'a-name-longer-than-15' }] }] })).toBe(
      'NetworkPolicy p: spec.ingress[0].ports[0].port',
    );
  });
});

describe('resolvePolicyPort: the name AND the rule protocol, on the destination pod', () => {
  test('resolves to that pod container port number', () => {
    expect(resolvePolicyPort({ port: 'serve-81-tcp' }, servePorts)).toEqual({ protocol: 'TCP', port: 81 });
    expect(resolvePolicyPort({ protocol: 'UDP', port: 'serve-80-udp' }, servePorts)).toEqual({ protocol: 'UDP', port: 80 });
  });
  test('a name the pod lacks, or carried on another protocol, matches nothing', () => {
    expect(resolvePolicyPort({ port: 'serve-82-tcp' }, servePorts)).toBeUndefined();
    expect(resolvePolicyPort({ protocol: 'UDP', port: 'serve-80-tcp' }, servePorts)).toBeUndefined();
    expect(resolvePolicyPort({ port: 'serve-80-udp' }, servePorts)).toBeUndefined(); // protocol defaults to TCP
    expect(resolvePolicyPort({ port: 'serve-80-tcp' }, [])).toBeUndefined(); // not a pod (external, ipBlock)
  });
  test('numeric ports do not depend on the destination', () => {
    expect(resolvePolicyPort({ protocol: 'TCP', port: 80, endPort: 90 }, [])).toEqual({ protocol: 'TCP', port: 80, endPort: 90 });
  });
});

describe('port names of a workload', () => {
  test('default container names stay p<port>; a udp twin of a tcp number gets -udp', () => {
    const ports = [
      { port: 53, protocol: 'tcp' as const },
      { port: 53, protocol: 'udp' as const },
      { port: 54, protocol: 'udp' as const },
    ];
    expect(ports.map((p) => containerPortName(p, ports))).toEqual(['p53', 'p53-udp', 'p54']);
  });
  test('Istio protocol prefixes (protocol-selection): conflicting ones are refused, unknown ones allowed', () => {
    expect(istioProtocolOfName('http-web')).toBe('http');
    expect(istioProtocolOfName('grpc-web')).toBe('grpc-web');
    expect(istioProtocolOfName('grpc-web-x')).toBe('grpc-web');
    expect(istioProtocolOfName('http2')).toBe('http2');
    expect(istioProtocolOfName('dns')).toBeUndefined();
    expect(istioProtocolOfName('httpx')).toBeUndefined();
    expect(portNameConflict({ port: 80, protocol: 'http', name: 'http2-x' })).toContain('select protocol http2');
    expect(portNameConflict({ port: 80, protocol: 'tcp', name: 'https' })).toContain('declared tcp');
    expect(portNameConflict({ port: 80, protocol: 'http', name: 'web' })).toBeUndefined();
    expect(portNameConflict({ port: 53, protocol: 'udp', name: 'udp-dns' })).toBeUndefined();
  });
});

describe('the predictor decides named ports per destination pod', () => {
  const nsLabels = (ns: string) => ({ 'kubernetes.io/metadata.name': ns });
  const a: NetpolEndpoint = { address: '10.0.0.1', namespace: 'x', labels: { pod: 'a' }, ports: servePorts };
  const b: NetpolEndpoint = { address: '10.0.0.2', namespace: 'x', labels: { pod: 'b' }, ports: servePorts };
  const other: NetpolEndpoint = {
    address: '10.0.0.3',
    namespace: 'y',
    labels: { pod: 'c' },
    ports: namedContainerPorts([{ port: 8080, protocol: 'http', name: 'serve-80-tcp' }]),
  };
  const ext: NetpolEndpoint = { address: '192.0.2.1', labels: {} };
  const allowed = (policies: Resource[], source: NetpolEndpoint, destination: NetpolEndpoint, port: number, protocol: 'tcp' | 'udp' = 'tcp') =>
    networkPolicyDecision(
      policies.map((r) => parseNetworkPolicy(r, 'x')),
      { source, destination, port, protocol },
      nsLabels,
    ).allowed;

  test('should allow ingress access on one named port', () => {
    const p = np({ podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ ports: [{ port: 'serve-81-tcp' }] }] });
    expect(allowed([p], b, a, 81)).toBe(true);
    expect(allowed([p], b, a, 80)).toBe(false);
    expect(allowed([p], b, a, 80, 'udp')).toBe(false);
  });

  test('should allow egress access on one named port (resolved on the destination, not the client)', () => {
    const p = np({ podSelector: {}, policyTypes: ['Egress'], egress: [{ ports: [{ port: 'serve-80-tcp' }] }] });
    expect(allowed([p], a, b, 80)).toBe(true);
    expect(allowed([p], a, b, 81)).toBe(false);
    // The same name on another pod resolves to that pod's number: 8080 there, and 80 is not allowed there.
    expect(allowed([p], a, other, 8080)).toBe(true);
    expect(allowed([p], a, other, 80)).toBe(false);
    // An external has no named ports: nothing matches it.
    expect(allowed([p], a, ext, 80)).toBe(false);
  });
});
