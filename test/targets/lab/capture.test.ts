/**
 * The capture rules compared with Istio's own listings: docs/istio-facts.md (the default injected pod) and istio-iptables'
 * testdata/*.golden (nat table, IPv4), copied here as expected outputs.
 */
import { describe, expect, test } from '@jest/globals';
import { captureConfigFromAnnotations, type CaptureConfig } from '../../../src/model/capture.js';
import { captureRules, toRestoreInput } from '../../../src/targets/lab/capture.js';

const A = 'traffic.sidecar.istio.io/';
/** istio-iptables' own flag defaults (what the golden tests start from), not the injector's. */
const flags = (over: Partial<CaptureConfig>): CaptureConfig => ({
  proxyPort: 15001,
  inboundCapturePort: 15006,
  proxyUid: '1337',
  proxyGid: '1337',
  inboundTunnelPort: 15008,
  includeInboundPorts: '',
  excludeInboundPorts: '',
  includeOutboundPorts: '',
  excludeOutboundPorts: '',
  includeOutboundIPRanges: '',
  excludeOutboundIPRanges: '',
  excludeInterfaces: '',
  ...over,
});

const listing = (text: string) =>
  text
    .trim()
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('-A '));

const HEAD = `
-A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006`;
const OWNER = `
-A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN`;

describe('capture rules match istio-iptables golden listings', () => {
  const cases: [string, Partial<CaptureConfig>, string][] = [
    ['empty', {}, `${HEAD}\n-A OUTPUT -j ISTIO_OUTPUT${OWNER}`],
    [
      'inbound-ports-include',
      { includeInboundPorts: '32000,31000' },
      `${HEAD}
-A PREROUTING -p tcp -j ISTIO_INBOUND
-A ISTIO_INBOUND -p tcp --dport 32000 -j ISTIO_IN_REDIRECT
-A ISTIO_INBOUND -p tcp --dport 31000 -j ISTIO_IN_REDIRECT
-A OUTPUT -j ISTIO_OUTPUT${OWNER}`,
    ],
    [
      'inbound-ports-wildcard',
      { includeInboundPorts: '*' },
      `${HEAD}
-A PREROUTING -p tcp -j ISTIO_INBOUND
-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT
-A OUTPUT -j ISTIO_OUTPUT${OWNER}`,
    ],
    [
      'basic-exclude-nic',
      { excludeInterfaces: 'not-istio-nic' },
      `-A PREROUTING -i not-istio-nic -j RETURN
-A OUTPUT -o not-istio-nic -j RETURN${HEAD}
-A OUTPUT -j ISTIO_OUTPUT${OWNER}`,
    ],
    [
      'outbound-ports-include',
      { includeOutboundPorts: '32000,31000' },
      `${HEAD}\n-A OUTPUT -j ISTIO_OUTPUT${OWNER}
-A ISTIO_OUTPUT -p tcp --dport 32000 -j ISTIO_REDIRECT
-A ISTIO_OUTPUT -p tcp --dport 31000 -j ISTIO_REDIRECT`,
    ],
    [
      'ipnets',
      { includeOutboundIPRanges: '10.0.0.0/8' },
      `${HEAD}\n-A OUTPUT -j ISTIO_OUTPUT${OWNER}\n-A ISTIO_OUTPUT -d 10.0.0.0/8 -j ISTIO_REDIRECT`,
    ],
    [
      'ip-range (without its DNS rules)',
      { includeOutboundIPRanges: '9.9.0.0/16', excludeOutboundIPRanges: '1.1.0.0/16' },
      `${HEAD}\n-A OUTPUT -j ISTIO_OUTPUT${OWNER}
-A ISTIO_OUTPUT -d 1.1.0.0/16 -j RETURN
-A ISTIO_OUTPUT -d 9.9.0.0/16 -j ISTIO_REDIRECT`,
    ],
    [
      'loopback-outbound-iprange (without its DNS rules): no "-o lo ! --uid-owner" RETURN',
      { includeOutboundIPRanges: '127.1.2.3/32' },
      `${HEAD}
-A OUTPUT -j ISTIO_OUTPUT
-A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
-A ISTIO_OUTPUT -d 127.1.2.3/32 -j ISTIO_REDIRECT`,
    ],
    [
      'ipv6-uid-gid (IPv4 table, several uids and gids)',
      {
        includeInboundPorts: '4000,5000',
        excludeInboundPorts: '6000,7000',
        proxyUid: '3,4',
        proxyGid: '1,2',
        includeOutboundIPRanges: '2001:db8::/32',
      },
      `${HEAD}
-A PREROUTING -p tcp -j ISTIO_INBOUND
-A ISTIO_INBOUND -p tcp --dport 4000 -j ISTIO_IN_REDIRECT
-A ISTIO_INBOUND -p tcp --dport 5000 -j ISTIO_IN_REDIRECT
-A OUTPUT -j ISTIO_OUTPUT
-A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 3 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 3 -j RETURN
-A ISTIO_OUTPUT -m owner --uid-owner 3 -j RETURN
-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 4 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 4 -j RETURN
-A ISTIO_OUTPUT -m owner --uid-owner 4 -j RETURN
-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1 -j RETURN
-A ISTIO_OUTPUT -m owner --gid-owner 1 -j RETURN
-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 2 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 2 -j RETURN
-A ISTIO_OUTPUT -m owner --gid-owner 2 -j RETURN
-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN`,
    ],
  ];
  test.each(cases)('%s', (_name, over, expected) => {
    expect(captureRules(flags(over), '1.30.0').rules).toEqual(listing(expected));
  });
});

/** docs/istio-facts.md writes the 127.0.0.6 rule as "-s 127.0.0.6/32 -o lo"; iptables treats both orders alike. */
const sortedMatches = (rule: string) => {
  const [head, target] = rule.split(' -j ');
  const [, chain, ...tokens] = head.split(' ');
  const groups: string[][] = [];
  for (const t of tokens) {
    const last = groups.at(-1);
    if (last && (last.at(-1) === '!' || (!t.startsWith('-') && t !== '!'))) last.push(t);
    else groups.push([t]);
  }
  return `${chain}|${groups
    .map((g) => g.join(' '))
    .sort()
    .join(' ')}|${target}`;
};

describe('a pod injected with default settings', () => {
  test('gets the rules docs/istio-facts.md lists for the default injected command, in that order', () => {
    const facts = `
-A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
-A PREROUTING -p tcp -j ISTIO_INBOUND
-A ISTIO_INBOUND -p tcp --dport 15090 -j RETURN
-A ISTIO_INBOUND -p tcp --dport 15021 -j RETURN
-A ISTIO_INBOUND -p tcp --dport 15020 -j RETURN
-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT
-A OUTPUT -j ISTIO_OUTPUT
-A ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN
-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
-A ISTIO_OUTPUT -j ISTIO_REDIRECT`;
    const got = captureRules(captureConfigFromAnnotations({}), '1.30.0').rules;
    expect(got.map(sortedMatches)).toEqual(listing(facts).map(sortedMatches));
  });

  test('restore input declares the four chains and replaces the nat table', () => {
    const text = toRestoreInput(captureRules(captureConfigFromAnnotations({}), '1.30.0'));
    expect(text.split('\n').slice(0, 5)).toEqual([
      '*nat',
      ':ISTIO_INBOUND - [0:0]',
      ':ISTIO_REDIRECT - [0:0]',
      ':ISTIO_IN_REDIRECT - [0:0]',
      ':ISTIO_OUTPUT - [0:0]',
    ]);
    expect(text.trim().endsWith('COMMIT')).toBe(true);
  });
});

describe('annotations', () => {
  const rulesFor = (annotations: Record<string, string>, version = '1.30.0') =>
    captureRules(captureConfigFromAnnotations(annotations), version).rules;

  test('excludeInboundPorts go between the always-excluded ports and the status port, as the injector orders -d', () => {
    const inbound = rulesFor({ [A + 'excludeInboundPorts']: '9090,9091' }).filter((r) => r.startsWith('-A ISTIO_INBOUND') && r.includes('RETURN'));
    expect(inbound.map((r) => r.match(/--dport (\d+)/)?.[1])).toEqual(['15008', '15090', '15021', '9090', '9091', '15020']);
  });

  test('includeInboundPorts "" installs no PREROUTING jump at all', () => {
    const rules = rulesFor({ [A + 'includeInboundPorts']: '' });
    expect(rules.some((r) => r.startsWith('-A PREROUTING'))).toBe(false);
  });

  test('includeInboundPorts list ignores excludeInboundPorts', () => {
    const rules = rulesFor({ [A + 'includeInboundPorts']: '9080', [A + 'excludeInboundPorts']: '9080' });
    expect(rules.filter((r) => r.startsWith('-A ISTIO_INBOUND'))).toEqual([
      '-A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN',
      '-A ISTIO_INBOUND -p tcp --dport 9080 -j ISTIO_IN_REDIRECT',
    ]);
  });

  test('excludeOutboundPorts return tcp and udp before the 127.0.0.6 rule', () => {
    const rules = rulesFor({ [A + 'excludeOutboundPorts']: '5432' });
    const at = rules.indexOf('-A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN');
    expect(rules.slice(at - 2, at)).toEqual(['-A ISTIO_OUTPUT -p tcp --dport 5432 -j RETURN', '-A ISTIO_OUTPUT -p udp --dport 5432 -j RETURN']);
  });

  test('includeOutboundIPRanges "" captures no outbound traffic; "*" ends with the catch-all redirect', () => {
    expect(rulesFor({ [A + 'includeOutboundIPRanges']: '' }).some((r) => r.endsWith('-j ISTIO_REDIRECT'))).toBe(false);
    expect(rulesFor({}).at(-1)).toBe('-A ISTIO_OUTPUT -j ISTIO_REDIRECT');
  });

  test('excludeOutboundIPRanges come after the 127.0.0.1 rule and before the include ranges', () => {
    const rules = rulesFor({ [A + 'excludeOutboundIPRanges']: '10.96.0.0/12', [A + 'includeOutboundIPRanges']: '10.0.0.0/8' });
    expect(rules.slice(-3)).toEqual([
      '-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN',
      '-A ISTIO_OUTPUT -d 10.96.0.0/12 -j RETURN',
      '-A ISTIO_OUTPUT -d 10.0.0.0/8 -j ISTIO_REDIRECT',
    ]);
  });

  test('port 22 is excluded inbound up to Istio 1.12 and captured since 1.13', () => {
    const ssh = '-A ISTIO_INBOUND -p tcp --dport 22 -j RETURN';
    const old = rulesFor({}, '1.12.9');
    expect(old[old.indexOf('-A PREROUTING -p tcp -j ISTIO_INBOUND') + 1]).toBe(ssh);
    expect(rulesFor({}, '1.13.0')).not.toContain(ssh);
  });

  test('invalid values are refused naming the annotation', () => {
    expect(() => captureConfigFromAnnotations({ [A + 'excludeOutboundIPRanges']: '*' })).toThrow(/excludeOutboundIPRanges/);
    expect(() => captureConfigFromAnnotations({ [A + 'excludeInboundPorts']: 'http' })).toThrow(/excludeInboundPorts: "http" is not a port/);
    expect(() => captureConfigFromAnnotations({ [A + 'includeOutboundIPRanges']: '10.0.0.0' })).toThrow(/includeOutboundIPRanges/);
  });
});
