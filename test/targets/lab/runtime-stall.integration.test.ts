/**
 * A stall of the lab runtime (its thread blocked, as a starved CPU or a long pause would) while a probe waits for
 * its timeout: the engine judges that probe ERROR with the runtime's reason, not FAIL — and the same probe without
 * the stall FAILs, so the self-check does not excuse real timeouts. Through the whole pipeline (engine → LabTarget
 * → runtime). Needs root.
 */
import { describe, expect, test } from '@jest/globals';
import { availableParallelism } from 'node:os';
import { run } from '../../../src/engine/run.js';
import type { RunResult } from '../../../src/engine/types.js';
import type { LabDeployment } from '../../../src/targets/lab/deploy.js';
import { LabTarget } from '../../../src/targets/lab/index.js';
import type { AttemptResult, Deployment, ProbeAttempt } from '../../../src/targets/target.js';
import { ensureAgentBundle, makeScenario } from './helpers.js';
import { describeAsRoot } from '../../support/as-root.js';

describeAsRoot('runtime-stall (on the lab, as root)', () => {
  // Port 7070 is dropped by NetworkPolicy; the probe claims it is reachable, so without a stall its timeout FAILs.
  const scenario = makeScenario('stall', {
    workloads: [
      {
        name: 'server',
        namespace: 'app',
        ports: [
          { port: 7070, protocol: 'tcp' },
          { port: 8080, protocol: 'tcp' },
        ],
      },
      { name: 'client', namespace: 'app' },
    ],
    resources: [
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'server', namespace: 'app' },
        spec: { podSelector: { matchLabels: { app: 'server' } }, ingress: [{ ports: [{ port: 8080 }] }] },
      },
    ],
    probes: [{ name: 'claims-reach', from: 'app/client', to: 'app/server', port: 7070, protocol: 'tcp', expect: { reach: true } }],
  });

  /**
   * The lab, with the runtime blocked for 3 s starting 1 s into every probe call, while the probe waits (its sidecar
   * accepted the connection: a 5 s response timeout).
   */
  class StallingLab extends LabTarget {
    holds: Promise<void>[] = [];
    /** Which runtime thread the client and the server ran on. */
    threads?: { client?: number; server?: number };
    constructor(private readonly stall: 'none' | 'all' | 'server') {
      super({ earlyVerdicts: false }); // the self-check is what is tested: the counters would decide this drop before the stall
    }
    override probe(dep: Deployment, batch: ProbeAttempt[]): Promise<AttemptResult[]> {
      const d = dep as LabDeployment;
      const key = (k: string) => d.pods.get(k)?.runtimeKey ?? '';
      const placement = d.runtime.placementOf(d.labId);
      this.threads = { client: placement.get(key('app/client')), server: placement.get(key('app/server')) };
      if (this.stall === 'all') this.holds.push(d.runtime.hold(d.labId, 3_000, 1_000));
      // Only the server's thread: the client's own loop keeps time, the path of its request does not.
      if (this.stall === 'server') this.holds.push(d.runtime.hold(d.labId, 3_000, 1_000, key('app/server')));
      return super.probe(dep, batch);
    }
  }

  async function runWith(stall: 'none' | 'all' | 'server', target = new StallingLab(stall)): Promise<RunResult> {
    const result = await run({
      paths: ['<stall>'],
      target,
      consecutive: 1,
      settleTimeoutMs: 0,
      load: async () => ({ scenarios: [{ scenario, file: '<stall>', doc: 0, line: 1 }], errors: [] }),
    });
    await Promise.all(target.holds);
    return result;
  }

  describe('a stalled runtime', () => {
    test('a timeout that waited through the stall is ERROR with the reason, never FAIL', async () => {
      ensureAgentBundle();
      const [probe] = (await runWith('all')).scenarios[0].probes;
      expect(probe.verdict).toBe('ERROR');
      expect(probe.reason).toMatch(/the lab runtime stalled while this probe waited for its (connect|response) timeout/);
      // The stall is in the attempt's evidence too, with the client's timeout it explains.
      expect(probe.attempts[0].client?.outcome.kind).toBe('timeout');
      expect(probe.attempts[0].client?.harness?.stall).toMatch(/stalled/);
    }, 90_000);

    test("a stall of only the server's thread (the client's on another) is ERROR too: the self-check sees every loop the path crosses", async () => {
      const target = new StallingLab('server');
      const [probe] = (await runWith('server', target)).scenarios[0].probes;
      if (availableParallelism() < 2) return; // one runtime thread: the case above
      expect(target.threads?.client).not.toBe(target.threads?.server);
      expect(probe.verdict).toBe('ERROR');
      expect(probe.attempts[0].client?.harness?.stall).toMatch(/its event loop \(thread \d of \d\) was late/);
    }, 90_000);

    test('without the stall the same timeout is evidence: FAIL', async () => {
      const [probe] = (await runWith('none')).scenarios[0].probes;
      expect(probe.verdict).toBe('FAIL');
      expect(probe.attempts[0].client?.harness).toBeUndefined();
    }, 90_000);
  });
});
