/** checkRules is pure: these pin the readings of the spec that the fixture corpus does not spell out. */
import { describe, expect, it } from '@jest/globals';
import { checkRules } from '../../src/scenario/rules.js';
import { scenario as schema, type Scenario, type ScenarioInput } from '../../src/scenario/schema.js';

function build(probes: ScenarioInput['spec']['probes'], extra: Partial<ScenarioInput['spec']> = {}): Scenario {
  return schema.parse({
    apiVersion: 'meshprobe.io/v1',
    kind: 'Scenario',
    metadata: { name: 't' },
    spec: {
      namespaces: [{ name: 'app' }],
      workloads: [
        {
          name: 'server',
          namespace: 'app',
          ports: [
            { port: 80, protocol: 'http' },
            { port: 443, protocol: 'https' },
            { port: 53, protocol: 'udp' },
          ],
        },
        { name: 'client', namespace: 'app' },
      ],
      probes,
      ...extra,
    },
  });
}

const probe = (over: Record<string, unknown>) => ({
  name: 'p',
  from: 'app/client',
  to: 'app/server',
  port: 80,
  protocol: 'http' as const,
  expect: { reach: true },
  ...over,
});

describe('checkRules', () => {
  it('accepts tcp over http and https ports', () => {
    expect(checkRules(build([probe({ protocol: 'tcp' }), probe({ name: 'q', protocol: 'tcp', port: 443 })]))).toEqual([]);
  });

  it('rejects https over an http port and tcp over a udp port', () => {
    const issues = checkRules(build([probe({ protocol: 'https' }), probe({ name: 'q', protocol: 'tcp', port: 53 })]));
    expect(issues.map((i) => i.message)).toEqual([
      'https probe to port 80, which app/server declares as http',
      'tcp probe to port 53, which app/server declares as udp',
    ]);
  });

  it('allows status with reach: true (the application answered) and http-403 with reach: false', () => {
    const s = build([probe({ expect: { reach: true, status: 403 } }), probe({ name: 'q', expect: { reach: false, failure: 'http-403' } })]);
    expect(checkRules(s)).toEqual([]);
  });

  it('checks probes against externals: declared ports, protocol, https certificate', () => {
    const externals = [{ name: 'api.partner.test', ports: [{ port: 443, protocol: 'https' as const, certificate: 'untrusted' as const }] }];
    const ok = build(
      [probe({}), probe({ name: 'e', to: 'api.partner.test', port: 443, protocol: 'https', expect: { reach: false, failure: 'tls' } })],
      { externals },
    );
    expect(checkRules(ok)).toEqual([]);
    const bad = build([probe({}), probe({ name: 'e', to: 'api.partner.test', port: 80, protocol: 'http' })], { externals });
    expect(checkRules(bad).map((i) => i.message)).toEqual(['api.partner.test does not declare port 80 (declares: 443/https)']);
  });

  it('does not accept an external as a probe source', () => {
    const externals = [{ name: 'api.partner.test', ports: [{ port: 80, protocol: 'http' as const }] }];
    const s = build([probe({ from: 'api.partner.test' })], { externals });
    expect(checkRules(s).map((i) => i.path.join('.'))).toEqual(['spec.probes.0.from']);
  });

  it('treats a status-only expectation on a tcp probe as an error', () => {
    const s = build([probe({ protocol: 'tcp', expect: { reach: true, status: 200 } })]);
    expect(checkRules(s).map((i) => i.message)).toEqual(['status needs an http or https probe (this probe is tcp)']);
  });
});
