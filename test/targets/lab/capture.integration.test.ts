/**
 * Capture in the lab, shown by real traffic: what the destination application saw as the source address tells
 * whether a connection went through the destination's sidecar (127.0.0.6) or reached the application directly.
 * Needs root, ip, iptables.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { LabTarget } from '../../../src/targets/lab/index.js';
import type { LabDeployment } from '../../../src/targets/lab/deploy.js';
import type { AttemptResult } from '../../../src/targets/target.js';
import { labLeftovers, makeScenario } from './helpers.js';
import { deployAndProbe } from './mesh-helpers.js';
import { describeAsRoot } from '../../support/as-root.js';

describeAsRoot('capture (on the lab, as root)', () => {
  const A = 'traffic.sidecar.istio.io/';
  const scenario = makeScenario('capture', {
    workloads: [
      {
        name: 'server',
        namespace: 'app',
        ports: [
          { port: 8080, protocol: 'http' },
          { port: 9090, protocol: 'tcp' },
          { port: 5353, protocol: 'udp' },
        ],
        annotations: { [A + 'excludeInboundPorts']: '9090' },
      },
      { name: 'client', namespace: 'app', runAsUser: 0 },
      { name: 'legacy', namespace: 'legacy', ports: [{ port: 8080, protocol: 'http' }] },
    ],
    probes: [
      { name: 'captured', from: 'app/client', to: 'app/server', port: 8080, protocol: 'http', expect: { reach: true } },
      // uid 1337 bypasses the client's own sidecar, so the bytes arrive as the application sent them.
      { name: 'excluded-inbound', from: 'app/client', to: 'app/server', port: 9090, protocol: 'tcp', as: { user: 1337 }, expect: { reach: true } },
      { name: 'excluded-inbound-from-sidecar', from: 'app/client', to: 'app/server', port: 9090, protocol: 'tcp', expect: { reach: false } },
      { name: 'udp', from: 'app/client', to: 'app/server', port: 5353, protocol: 'udp', expect: { reach: true } },
      { name: 'as-1337', from: 'app/client', to: 'app/server', port: 8080, protocol: 'http', as: { user: 1337 }, expect: { reach: true } },
      { name: 'icmp', from: 'app/client', to: 'app/server', protocol: 'icmp', expect: { reach: true } },
      { name: 'to-legacy', from: 'app/client', to: 'legacy/legacy', port: 8080, protocol: 'http', expect: { reach: true } },
    ],
  });

  let target: LabTarget;
  let d: LabDeployment;
  let results: Map<string, AttemptResult>;

  beforeAll(async () => {
    ({ target, d, results } = await deployAndProbe(scenario));
  }, 60_000);

  afterAll(async () => {
    await target?.teardown();
  });

  const sourceSeen = (name: string) => results.get(name)?.arrived[0]?.source.address;

  describe('capture in the lab', () => {
    test('a root application is captured: the server sees the sidecar (127.0.0.6)', () => {
      expect(results.get('captured')?.client.outcome.kind).toBe('ok');
      expect(sourceSeen('captured')).toBe('127.0.0.6');
    });

    test('an excluded inbound port reaches the application directly from the client pod address', () => {
      expect(sourceSeen('excluded-inbound')).toBe(d.pods.get('app/client')?.host.address);
    });

    test('auto mTLS does not know about the exclusion: a sidecar client sends mTLS, which the application cannot read', () => {
      expect(results.get('excluded-inbound-from-sidecar')?.arrived).toEqual([]);
    });

    test('UDP is never captured', () => {
      expect(sourceSeen('udp')).toBe(d.pods.get('app/client')?.host.address);
    });

    test('uid 1337 is not captured outbound, but the destination sidecar still captures inbound', async () => {
      expect(sourceSeen('as-1337')).toBe('127.0.0.6');
      const log = d.pods.get('app/client')?.sidecarLog?.() ?? '';
      // The client sidecar forwarded the root probe but never saw the uid-1337 one.
      expect(log.match(/outbound .* -> 10\.244\.1\.2:8080 connected/g)?.length).toBe(1);
    });

    test('ICMP gets through and is not redirected', () => {
      expect(results.get('icmp')?.client.outcome).toMatchObject({ kind: 'icmp', reply: true });
    });

    test('a pod without a sidecar has no nat rules and its application sees the client pod address', async () => {
      const diag = await target.diagnose(d, ['to-legacy']);
      const legacyRules = diag.find((x) => x.title.startsWith('capture rules of legacy/legacy'))?.body ?? '';
      expect(legacyRules).not.toMatch(/ISTIO|^-A/m);
      expect(sourceSeen('to-legacy')).toBe(d.pods.get('app/client')?.host.address);
    });

    test('teardown leaves nothing of the lab behind', async () => {
      const id = d.labId;
      await target.teardown();
      expect(labLeftovers(id)).toEqual([]);
    });
  });
});
