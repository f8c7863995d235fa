/**
 * The lab's second wall (tokens.ts): values that reach ip or iptables-restore input are checked token by token,
 * independently of the loader. Unit tests of the checks, the rule builders given hostile values directly (as a
 * loader bug would pass them), and a live deploy with a crafted NetworkPolicy that bypasses every loader check:
 * refused with a TargetError, no canary file, nothing left behind, the host's root-namespace iptables unchanged.
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureConfigFromAnnotations } from '../../src/model/capture.js';
import { captureRules } from '../../src/targets/lab/capture.js';
import { deployLab, type LabDeployment } from '../../src/targets/lab/deploy.js';
import { MODEL_ISTIO_VERSION } from '../../src/model/mesh.js';
import type { NetworkPolicy } from '../../src/model/network-policy.js';
import { compileNetworkPolicies } from '../../src/targets/lab/netpol.js';
import { RUNTIME_BUNDLE, stagePrograms } from '../../src/targets/lab/bundles.js';
import { LabRuntime } from '../../src/targets/lab/runtime/index.js';
import { claimLab, labDir, removeLab } from '../../src/targets/lab/state.js';
import { checkRestoreInput, ipBatch, iptablesRule, token, type TokenKind } from '../../src/targets/lab/tokens.js';
import { TargetError } from '../../src/targets/target.js';
import { ensureAgentBundle, labLeftovers, makeScenario } from '../targets/lab/helpers.js';
import { describeAsRoot } from '../support/as-root.js';

const canaryDir = mkdtempSync(join(tmpdir(), 'mp-inject-'));
const canary = join(canaryDir, 'pwned');
const HOSTILE_CIDRS = [
  `10.244.0.0/16\nCOMMIT\nMESHPROBE_EOF\ntouch ${canary}\ncat <<'MESHPROBE_EOF'\n*filter`,
  '10.9.9.9/32\n-I FORWARD 1 -j ACCEPT',
  '10.9.9.9/32\n-A FORWARD -j ACCEPT',
  '10.0.0.0/8 -i eth0',
  `$(touch ${canary})`,
  `10.0.0.0/8;touch ${canary}`,
  'not-a-cidr',
  '10.0.0.0/33',
  '300.1.1.1/8',
  '',
  '10.0.0.0/8/8',
  '010.0.0.0/8',
];

describe('token checks', () => {
  const valid: [TokenKind, string][] = [
    ['cidr', '10.244.0.0/16'],
    ['cidr', '10.0.0.1'],
    ['cidr', '0.0.0.0/0'],
    ['ipv4', '255.255.255.255'],
    ['port', '65535'],
    ['portRange', '8000:8100'],
    ['iface', 'mpab12cdw10'],
    ['chain', 'MP-EG-1-B0'],
    ['chain', 'ISTIO_IN_REDIRECT'],
    ['netns', 'mp-ab12cd-w0-app-client'],
    ['uid', '1337'],
    ['hostname', 'api.example.com'],
    ['capability', 'NET_ADMIN'],
  ];
  test.each(valid)('%s accepts %j', (kind, value) => {
    expect(token(kind, value, 'test')).toBe(value);
  });

  const invalid: [TokenKind, string][] = [
    ...HOSTILE_CIDRS.map((c): [TokenKind, string] => ['cidr', c]),
    ['port', '0'],
    ['port', '70000'],
    ['port', '-1'],
    ['port', '80 -j ACCEPT'],
    ['portRange', '9000:8000'],
    ['portRange', '1:2:3'],
    ['iface', '-j'],
    ['iface', 'eth0\n-A'],
    ['iface', 'a-very-long-interface'],
    ['chain', 'ACCEPT -s 0/0'],
    ['chain', 'lower'],
    ['netns', 'mp-ab12cd-../../etc'],
    ['netns', 'mp-ab12cd-a b'],
    ['netns', 'other'],
    ['uid', '1337 --gid-owner 0'],
    ['uid', '-1'],
    ['hostname', 'a\n1.2.3.4 evil'],
    ['hostname', '../x'],
    ['capability', 'net_admin,+sys_admin'],
  ];
  test.each(invalid)('%s refuses %j with a TargetError', (kind, value) => {
    expect(() => token(kind, value, 'test')).toThrow(TargetError);
  });

  test('a rule is -A CHAIN then options the lab writes, each with a checked value, once', () => {
    expect(iptablesRule(['-A', 'ISTIO_OUTPUT', '-o', 'lo', '!', '-d', '127.0.0.1/32', '-m', 'owner', '--uid-owner', '1337', '-j', 'RETURN'])).toBe(
      '-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -m owner --uid-owner 1337 -j RETURN',
    );
    for (const bad of [
      ['-I', 'FORWARD', '-j', 'ACCEPT'],
      ['-A', 'FORWARD', '-j', 'ACCEPT', '-j', 'DROP'],
      ['-A', 'FORWARD', '-s', '10.0.0.0/8\n-A FORWARD', '-j', 'ACCEPT'],
      ['-A', 'FORWARD', '-s', '10.0.0.0/8'],
      ['-A', 'FORWARD', '--to-ports', '1', '-j', 'ACCEPT', '-F'],
      ['-A', 'FORWARD', '-m', 'comment', '-j', 'ACCEPT'],
      ['-A', 'FORWARD', '!', '-j', 'ACCEPT'],
    ])
      expect(() => iptablesRule(bad)).toThrow(TargetError);
  });

  test('iptables-restore input: one table, declared chains, checked rules, COMMIT last', () => {
    expect(() => checkRestoreInput('*filter\n:INPUT ACCEPT [0:0]\n:MP-X - [0:0]\n-A FORWARD -j MP-X\nCOMMIT\n')).not.toThrow();
    for (const bad of [
      '*filter\n-A FORWARD -j ACCEPT\nCOMMIT\n*nat\n-A OUTPUT -j ACCEPT\nCOMMIT\n',
      '*filter\n-F\nCOMMIT\n',
      '*raw\nCOMMIT\n',
      '*filter\n-A FORWARD -j ACCEPT\n',
      '*filter\n:FORWARD - [0:0]\nCOMMIT\n',
      '*filter\n-A FORWARD  -j ACCEPT\nCOMMIT\n',
      '*filter\n-A FORWARD -j ACCEPT # x\nCOMMIT\n',
    ])
      expect(() => checkRestoreInput(bad)).toThrow(TargetError);
  });

  test('ip batch input: iproute2 words the lab uses and checked values only', () => {
    expect(ipBatch([['netns', 'add', 'mp-ab12cd-node']])).toBe('netns add mp-ab12cd-node\n');
    expect(() => ipBatch([['netns', 'add', 'mp-ab12cd-x\nnetns delete mp-other-node']])).toThrow(TargetError);
    expect(() => ipBatch([['netns', 'exec', 'mp-ab12cd-node', 'sh']])).toThrow(TargetError);
    expect(() => ipBatch([['link', 'set', 'eth0', 'up', 'netns', 'mp-ab12cd-node']])).toThrow(TargetError);
    expect(() => ipBatch([['route', 'add', '10.0.0.0/8', 'dev', 'eth0 src 1.2.3.4']])).toThrow(TargetError);
  });
});

const endpoints = [{ address: '10.244.1.2', nodeIf: 'mpab12cdw0', namespace: 'app', labels: { app: 'a' } }];
const policyWith = (cidr: string, except: string[] = []): NetworkPolicy => ({
  name: 'hostile',
  namespace: 'app',
  podSelector: {},
  policyTypes: ['Egress'],
  ingress: [],
  egress: [{ peers: [{ ipBlock: { cidr, except } }] }],
});

describe('rule builders given values the loader should have refused', () => {
  test.each(HOSTILE_CIDRS)('NetworkPolicy ipBlock.cidr %j is refused', (cidr) => {
    expect(() => compileNetworkPolicies([policyWith(cidr)], endpoints, () => ({}))).toThrow(TargetError);
    expect(() => compileNetworkPolicies([policyWith('10.0.0.0/8', [cidr])], endpoints, () => ({}))).toThrow(TargetError);
  });

  test('a NetworkPolicy port that is not one is refused', () => {
    for (const port of [0, 70000, -1]) {
      const p: NetworkPolicy = { ...policyWith('10.0.0.0/8'), egress: [{ ports: [{ protocol: 'TCP', port }] }] };
      expect(() => compileNetworkPolicies([p], endpoints, () => ({}))).toThrow(TargetError);
    }
  });

  test('capture rules from a configuration that skipped validation are refused', () => {
    const valid = captureConfigFromAnnotations({});
    for (const over of [
      { excludeOutboundIPRanges: '10.0.0.0/8\n-A OUTPUT -j ACCEPT' },
      { excludeInterfaces: 'eth0 -j ACCEPT' },
      { includeOutboundPorts: '80\nCOMMIT' },
      { proxyUid: '1337 -j ACCEPT' },
    ]) {
      expect(() => captureRules({ ...valid, ...over }, MODEL_ISTIO_VERSION)).toThrow(TargetError);
    }
  });
});

describeAsRoot('a live deploy with a crafted NetworkPolicy (it creates namespaces)', () => {
  // A container engine's own chains and bridges may change meanwhile (the docker tests can run beside this one).
  const iptablesHost = () =>
    execFileSync('iptables-save', { encoding: 'utf8' })
      .replace(/^#.*\n/gm, '')
      .replace(/\[\d+:\d+\]/g, '')
      .split('\n')
      .filter((l) => !/docker|DOCKER|br-[0-9a-f]{12}/.test(l))
      .join('\n');

  test.each(HOSTILE_CIDRS.slice(0, 3))('cidr %j: refused by the lab, no canary, nothing left, host iptables unchanged', async (cidr) => {
    ensureAgentBundle();
    const scenario = makeScenario('inject', {
      workloads: [{ name: 'a', namespace: 'app' }],
      probes: [{ name: 'p', from: 'app/a', to: 'app/a', port: 80, protocol: 'tcp', expect: { reach: false } }],
    });
    const hostBefore = iptablesHost();
    const staged = claimLab();
    const runtime = new LabRuntime(RUNTIME_BUNDLE, join(labDir(staged), 'runtime.log'));
    let labId: string | undefined;
    try {
      const deploying = deployLab(scenario, [policyWith(cidr)], MODEL_ISTIO_VERSION, (d: LabDeployment) => (labId = d.labId), {
        runtime,
        programs: async () => stagePrograms(labDir(staged)),
      });
      await expect(deploying).rejects.toThrow(TargetError);
      await expect(deploying).rejects.toThrow(/NetworkPolicy app\/hostile: .* is not a valid value of -d/);
    } finally {
      await runtime.close();
      await removeLab(staged);
    }
    expect(labId).toBeDefined();
    expect(existsSync(canary)).toBe(false);
    expect(labLeftovers(labId!)).toEqual([]);
    expect(iptablesHost()).toBe(hostBefore);
  });
});

afterAll(() => {
  // No payload of this file ran, through any path.
  expect(existsSync(canary)).toBe(false);
  rmSync(canaryDir, { recursive: true, force: true });
});
