/** A RunResult with every verdict, produced by the real engine against the scripted target. */
import { run } from '../../src/engine/run.js';
import type { RunResult } from '../../src/engine/types.js';
import { FakeTarget, loaded, probe, step } from '../engine/fake-target.js';

const PEER = 'spiffe://cluster.local/ns/app/sa/client';

export async function mixedRun(): Promise<RunResult> {
  const target = new FakeTarget({
    script: {
      'mtls-allowed': [step.ok(200, { peer: { identity: PEER, basis: 'xfcc-from-sidecar' } })],
      'plaintext-denied': [step.timeout(2000)],
      'tcp-denied': [step.eof()],
      wobbly: [step.reset(), step.reset(), step.ok()],
      'as-1337': [step.ok()],
    },
    deployFails: { 'pod-cannot-start': 'pod app/server did not become ready: CrashLoopBackOff <exit 1>' },
  });
  return run({
    target,
    settleTimeoutMs: 20,
    load: async () => ({
      errors: [],
      scenarios: [
        loaded(
          'strict-mtls',
          [
            probe('mtls-allowed', { expect: { reach: true, mtls: true, peer: PEER, status: 200 } }),
            probe('plaintext-denied', { from: 'app/server', to: 'app/client', expect: { reach: false, failure: 'reset' } }),
            probe('tcp-denied', { port: 9090, protocol: 'tcp', expect: { reach: false, failure: 'reset' } }),
            probe('as-1337', { as: { user: 1337 }, port: 9090, protocol: 'tcp', expect: { reach: true, viaSidecar: true } }),
            probe('old-istio-only', { when: { istio: '<1.13' }, expect: { reach: false } }),
          ],
          {},
          ['mtls'],
        ),
        loaded('flaky-one', [probe('ok'), probe('wobbly', { port: 9090, protocol: 'tcp', expect: { reach: false, failure: 'reset' } })]),
        loaded('pod-cannot-start', [probe('a')]),
        loaded('kind-only', [probe('a')], { when: { targets: ['kind'] } }),
      ],
    }),
  });
}
