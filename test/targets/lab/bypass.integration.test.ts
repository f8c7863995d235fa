/**
 * Outbound exclusions and bypasses in the lab, shown by the client sidecar's connection log (did the client's
 * sidecar see the connection?) and by the source address the destination saw. Needs root, ip, iptables.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { LabTarget } from '../../../src/targets/lab/index.js';
import type { LabDeployment } from '../../../src/targets/lab/deploy.js';
import type { AttemptResult } from '../../../src/targets/target.js';
import { run } from '../../../src/targets/lab/exec.js';
import { labLeftovers, makeScenario } from './helpers.js';
import { deployAndProbe } from './mesh-helpers.js';
import { describeAsRoot } from '../../support/as-root.js';

describeAsRoot('bypass (on the lab, as root)', () => {
  const A = 'traffic.sidecar.istio.io/';
  const plainServer = (name: string) => ({
    name,
    namespace: 'legacy',
    ports: [
      { port: 8080, protocol: 'tcp' as const },
      { port: 5432, protocol: 'tcp' as const },
    ],
  });
  const scenario = makeScenario('bypass', {
    workloads: [
      { name: 'excl-port', namespace: 'app', annotations: { [A + 'excludeOutboundPorts']: '5432' } },
      { name: 'excl-range', namespace: 'app', annotations: { [A + 'excludeOutboundIPRanges']: '10.244.1.6/32' } },
      { name: 'incl-range', namespace: 'app', annotations: { [A + 'includeOutboundIPRanges']: '10.244.1.6/32' } },
      { name: 'hostile', namespace: 'app', runAsUser: 0, capabilities: ['NET_ADMIN'] }, // NET_ADMIN is effective for uid 0 only
      plainServer('db'), // 10.244.1.6
      plainServer('other'), // 10.244.1.7
      { name: 'no-inbound', namespace: 'app', ports: [{ port: 8080, protocol: 'tcp' }], annotations: { [A + 'includeInboundPorts']: '' } },
    ],
    probes: [
      { name: 'excluded-port', from: 'app/excl-port', to: 'legacy/db', port: 5432, protocol: 'tcp', expect: { reach: true } },
      { name: 'other-port', from: 'app/excl-port', to: 'legacy/db', port: 8080, protocol: 'tcp', expect: { reach: true } },
      { name: 'excluded-range', from: 'app/excl-range', to: 'legacy/db', port: 8080, protocol: 'tcp', expect: { reach: true } },
      { name: 'outside-excluded-range', from: 'app/excl-range', to: 'legacy/other', port: 8080, protocol: 'tcp', expect: { reach: true } },
      { name: 'included-range', from: 'app/incl-range', to: 'legacy/db', port: 8080, protocol: 'tcp', expect: { reach: true } },
      { name: 'outside-included-range', from: 'app/incl-range', to: 'legacy/other', port: 8080, protocol: 'tcp', expect: { reach: true } },
      { name: 'hostile-plain', from: 'app/hostile', to: 'legacy/db', port: 8080, protocol: 'tcp', expect: { reach: true } },
      { name: 'hostile-flush', from: 'app/hostile', to: 'legacy/db', port: 5432, protocol: 'tcp', bypass: 'flush-capture', expect: { reach: true } },
      // as uid 1337, so the client's own sidecar does not wrap it in mTLS (auto mTLS would: the destination has a sidecar).
      {
        name: 'no-inbound-capture',
        from: 'app/hostile',
        to: 'app/no-inbound',
        port: 8080,
        protocol: 'tcp',
        as: { user: 1337 },
        expect: { reach: true },
      },
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

  /** Outbound connections the source pod's sidecar forwarded to `dst`. */
  const viaClientSidecar = (from: string, dst: string) =>
    (d.pods.get(from)?.sidecarLog?.() ?? '').split('\n').filter((l) => l.includes(`outbound`) && l.includes(`-> ${dst} connected`)).length;
  const addr = (key: string) => d.pods.get(key)?.host.address ?? '?';
  const reached = (name: string) => results.get(name)?.arrived.length ?? 0;

  describe('outbound capture exclusions', () => {
    test('excludeOutboundPorts: the excluded port bypasses the client sidecar, another port does not', () => {
      expect(reached('excluded-port')).toBe(1);
      expect(viaClientSidecar('app/excl-port', `${addr('legacy/db')}:5432`)).toBe(0);
      expect(viaClientSidecar('app/excl-port', `${addr('legacy/db')}:8080`)).toBe(1);
    });

    test('excludeOutboundIPRanges: only the excluded range bypasses the sidecar', () => {
      expect(reached('excluded-range') + reached('outside-excluded-range')).toBe(2);
      expect(viaClientSidecar('app/excl-range', `${addr('legacy/db')}:8080`)).toBe(0);
      expect(viaClientSidecar('app/excl-range', `${addr('legacy/other')}:8080`)).toBe(1);
    });

    test('includeOutboundIPRanges: only the included range goes through the sidecar', () => {
      expect(reached('included-range') + reached('outside-included-range')).toBe(2);
      expect(viaClientSidecar('app/incl-range', `${addr('legacy/db')}:8080`)).toBe(1);
      expect(viaClientSidecar('app/incl-range', `${addr('legacy/other')}:8080`)).toBe(0);
    });
  });

  describe('bypasses', () => {
    test('a NET_ADMIN application that flushes its nat rules is no longer captured; the lab restores them afterwards', async () => {
      expect(viaClientSidecar('app/hostile', `${addr('legacy/db')}:8080`)).toBe(1);
      expect(reached('hostile-flush')).toBe(1);
      expect(viaClientSidecar('app/hostile', `${addr('legacy/db')}:5432`)).toBe(0);
      const nat = await run('ip', ['netns', 'exec', d.pods.get('app/hostile')!.host.netns, 'iptables-save', '-t', 'nat']);
      expect(nat.stdout).toContain('-A ISTIO_OUTPUT -j ISTIO_REDIRECT');
    });

    test('includeInboundPorts "": the application sees the client directly', () => {
      expect(results.get('no-inbound-capture')?.arrived[0]?.source.address).toBe(addr('app/hostile'));
    });

    test('flush-capture without NET_ADMIN fails for real: an ERROR naming it, and the capture stays', async () => {
      const s = scenario.spec.probes.find((p) => p.name === 'other-port')!;
      const batch = [{ probe: { ...s, bypass: 'flush-capture' as const }, nonce: `nf${process.pid}`, attempt: 1 }];
      await expect(target.probe(d, batch)).rejects.toThrow(/flush-capture .* in app\/excl-port failed/);
      const nat = await run('ip', ['netns', 'exec', d.pods.get('app/excl-port')!.host.netns, 'iptables-save', '-t', 'nat']);
      expect(nat.stdout).toContain('-A ISTIO_OUTPUT -j ISTIO_REDIRECT');
    });

    test('teardown leaves nothing of the lab behind', async () => {
      const id = d.labId;
      await target.teardown();
      expect(labLeftovers(id)).toEqual([]);
    });
  });
});
