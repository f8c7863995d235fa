/**
 * Early verdicts: a blocked attempt ends when the node's NetworkPolicy counters show its flow dropped, with the
 * outcome its timeout gives (timeout, same phase) and the deciding rule and counter in its evidence. The same
 * scenario with early verdicts off (every attempt waits its timeout) judges every probe the same, with the same
 * outcome classes; and a probe that claims a dropped flow reaches still FAILs. Through the whole pipeline
 * (engine → LabTarget → runtime). Needs root.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { run } from '../../../src/engine/run.js';
import type { ProbeJudgement, RunResult } from '../../../src/engine/types.js';
import { LabTarget } from '../../../src/targets/lab/index.js';
import { ensureAgentBundle, makeScenario } from './helpers.js';
import { describeAsRoot } from '../../support/as-root.js';

describeAsRoot('early verdicts (on the lab, as root)', () => {
  // app/server takes 8080 (tcp) and 5353 (udp) only; app/client has a sidecar, legacy/plain has none.
  const scenario = makeScenario('early', {
    workloads: [
      {
        name: 'server',
        namespace: 'app',
        ports: [
          { port: 8080, protocol: 'tcp' },
          { port: 7070, protocol: 'tcp' },
          { port: 9080, protocol: 'http' },
          { port: 5353, protocol: 'udp' },
          { port: 5354, protocol: 'udp' },
        ],
      },
      { name: 'client', namespace: 'app' },
      { name: 'plain', namespace: 'legacy' },
      { name: 'root', namespace: 'legacy', runAsUser: 0 }, // starts a probe client as uid 1337 (a program in the pod)
    ],
    resources: [
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'server', namespace: 'app' },
        spec: {
          podSelector: { matchLabels: { app: 'server' } },
          ingress: [
            {
              ports: [
                { protocol: 'TCP', port: 8080 },
                { protocol: 'UDP', port: 5353 },
              ],
            },
          ],
        },
      },
    ],
    probes: [
      { name: 'open-tcp', from: 'legacy/plain', to: 'app/server', port: 8080, protocol: 'tcp', expect: { reach: true } },
      { name: 'open-udp', from: 'legacy/plain', to: 'app/server', port: 5353, protocol: 'udp', expect: { reach: true } },
      // No sidecar on the client: its own SYN is dropped, a connect timeout.
      { name: 'direct-drop', from: 'legacy/plain', to: 'app/server', port: 7070, protocol: 'tcp', expect: { reach: false, failure: 'timeout' } },
      // The client's sidecar accepts the connection and its upstream is dropped: a response timeout.
      { name: 'sidecar-drop', from: 'app/client', to: 'app/server', port: 7070, protocol: 'tcp', expect: { reach: false, failure: 'timeout' } },
      { name: 'sidecar-http-drop', from: 'app/client', to: 'app/server', port: 9080, protocol: 'http', expect: { reach: false, failure: 'timeout' } },
      { name: 'udp-drop', from: 'legacy/plain', to: 'app/server', port: 5354, protocol: 'udp', expect: { reach: false, failure: 'timeout' } },
      // Sent by a program of its own in the pod (as another uid): it reports what it sent, the lab answers the fate.
      {
        name: 'as-uid-drop',
        from: 'legacy/root',
        to: 'app/server',
        port: 7070,
        protocol: 'tcp',
        as: { user: 1337 },
        expect: { reach: false, failure: 'timeout' },
      },
      { name: 'as-uid-open', from: 'legacy/root', to: 'app/server', port: 8080, protocol: 'tcp', as: { user: 1337 }, expect: { reach: true } },
      // A stable wrong answer: the flow is dropped, the probe claims it reaches.
      { name: 'claims-reach', from: 'legacy/plain', to: 'app/server', port: 7070, protocol: 'tcp', expect: { reach: true } },
    ],
  });

  // The slow run also takes shorter client timeouts per probe class (as on a cluster): the same outcome classes.
  const timeouts = { tcp: { connectMs: 1500 }, http: { connectMs: 1500, responseMs: 4000 }, udp: { responseMs: 1500 } };

  async function runWith(earlyVerdicts: boolean): Promise<RunResult> {
    return run({
      paths: ['<early>'],
      target: new LabTarget({ earlyVerdicts }),
      ...(earlyVerdicts ? {} : { timeouts }),
      load: async () => ({ scenarios: [{ scenario, file: '<early>', doc: 0, line: 1 }], errors: [] }),
    });
  }

  let early: Map<string, ProbeJudgement>;
  let slow: Map<string, ProbeJudgement>;
  beforeAll(async () => {
    ensureAgentBundle();
    early = new Map((await runWith(true)).scenarios[0].probes.map((p) => [p.name, p]));
    slow = new Map((await runWith(false)).scenarios[0].probes.map((p) => [p.name, p]));
  }, 120_000);
  afterAll(() => undefined);

  const classes = (p: ProbeJudgement | undefined) =>
    (p?.attempts ?? []).map((a) => {
      const o = a.client?.outcome;
      return o?.kind === 'timeout' ? `timeout/${o.phase}` : o?.kind;
    });

  describe('a dropped flow', () => {
    test('ends early with the rule and its counter as evidence, as a connect timeout when the client itself is dropped', () => {
      const p = early.get('direct-drop');
      expect(p?.verdict).toBe('PASS');
      expect(new Set(classes(p))).toEqual(new Set(['timeout/connect']));
      for (const a of p?.attempts ?? []) {
        expect(a.client?.early?.by).toMatch(
          /dropped by NetworkPolicy \(the destination's ingress isolation\): rule `-A MP-IN-\d+ -s [\d.]+\/32 -p tcp --dport 7070 -j DROP` counted \d+ more packet/,
        );
      }
      expect(p?.evidence?.decidedEarly).toMatch(/--dport 7070/);
    });

    test("as a response timeout when the client's own sidecar accepted the connection (tcp and http)", () => {
      for (const name of ['sidecar-drop', 'sidecar-http-drop']) {
        const p = early.get(name);
        expect(p?.verdict).toBe('PASS');
        expect(new Set(classes(p))).toEqual(new Set(['timeout/response']));
        expect(p?.evidence?.decidedEarly).toMatch(/the client's own sidecar accepted the connection .* dropped by NetworkPolicy/);
      }
    });

    test('a udp datagram that is dropped ends as the reply wait would', () => {
      const p = early.get('udp-drop');
      expect(p?.verdict).toBe('PASS');
      expect(new Set(classes(p))).toEqual(new Set(['timeout/response']));
      expect(p?.evidence?.decidedEarly).toMatch(/-p udp --dport 5354 -j DROP/);
    });

    test('a probe that claims a dropped flow reaches still FAILs, on the same timeout', () => {
      const p = early.get('claims-reach');
      expect(p?.verdict).toBe('FAIL');
      expect(new Set(classes(p))).toEqual(new Set(['timeout/connect']));
      expect(p?.evidence?.decidedEarly).toMatch(/dropped by NetworkPolicy/);
    });

    test('a probe client started as a program in the pod (as another uid) ends early too', () => {
      const p = early.get('as-uid-drop');
      expect(p?.verdict).toBe('PASS');
      expect(new Set(classes(p))).toEqual(new Set(['timeout/connect']));
      for (const a of p?.attempts ?? []) expect(a.client?.early?.by).toMatch(/dropped by NetworkPolicy .*--dport 7070 -j DROP` counted/);
    });

    test('open flows are not touched', () => {
      for (const name of ['open-tcp', 'open-udp', 'as-uid-open']) {
        expect(early.get(name)?.verdict).toBe('PASS');
        expect(early.get(name)?.attempts.every((a) => a.client?.early === undefined)).toBe(true);
      }
    });
  });

  test('with early verdicts off every probe is judged the same, with the same outcome classes and no early evidence', () => {
    for (const [name, p] of early) {
      const s = slow.get(name);
      expect([name, s?.verdict]).toEqual([name, p.verdict]);
      expect([name, new Set(classes(s))]).toEqual([name, new Set(classes(p))]);
      expect(s?.attempts.every((a) => a.client?.early === undefined)).toBe(true);
    }
  });

  test('the timeouts per probe class reach the client', () => {
    const sent = (name: string) => slow.get(name)?.attempts[0]?.client?.request.timeoutMs;
    expect(sent('direct-drop')).toEqual({ connect: 1500, total: 5000 });
    expect(sent('sidecar-http-drop')).toEqual({ connect: 1500, total: 4000 });
    expect(sent('udp-drop')).toEqual({ connect: 1500, total: 1500 });
    expect(early.get('direct-drop')?.attempts[0]?.client?.request.timeoutMs).toEqual({ connect: 2000, total: 5000 });
  });
});
