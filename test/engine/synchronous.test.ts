/**
 * Time to verdict without weaker verdicts: a target that applies configuration synchronously is not waited on
 * (no settling), yet a FAIL still needs N identical observations and a PASS N matching ones; an attempt whose
 * harness stalled is ERROR with the target's reason, whatever the expectation.
 */
import { describe, expect, it } from '@jest/globals';
import { run } from '../../src/engine/run.js';
import { FakeTarget, loaded, probe, step } from './fake-target.js';

// Every scenario needs a positive control (`allowed`, answered ok by the fake) for its denials to count.
const scenario = () =>
  loaded('sync', [probe('allowed'), probe('denied', { expect: { reach: false, failure: 'reset' }, protocol: 'tcp', port: 9090 })]);

async function runWith(appliesSynchronously: boolean, steps: ReturnType<typeof step.ok>[], settleTimeoutMs: number) {
  const target = new FakeTarget({ appliesSynchronously, script: { denied: steps } });
  const result = await run({ target, load: async () => ({ scenarios: [scenario()], errors: [] }), consecutive: 3, settleTimeoutMs });
  return result.scenarios[0].probes.find((p) => p.name === 'denied')!;
}

describe('a target that applies configuration synchronously', () => {
  it('FAILs a stable mismatch after N identical observations, without settling', async () => {
    // A settle timeout of 10 minutes: settling at all would time the test out.
    const p = await runWith(true, [step.ok()], 600_000);
    expect(p.verdict).toBe('FAIL');
    expect(p.attempts.map((a) => a.phase)).toEqual(['settle', 'confirm', 'confirm']);
  });

  it('PASSes only on N matching observations, and a disagreement is still FLAKY', async () => {
    expect((await runWith(true, [step.reset()], 600_000)).verdict).toBe('PASS');
    const flaky = await runWith(true, [step.ok(), step.reset()], 600_000);
    expect(flaky.verdict).toBe('FLAKY');
  });

  it('a target that does not declare it is still settled (retried until the deadline)', async () => {
    const p = await runWith(false, [step.ok()], 300);
    expect(p.verdict).toBe('FAIL');
    expect(p.attempts.filter((a) => a.phase === 'settle').length).toBeGreaterThan(1);
  });
});

describe('a stalled harness', () => {
  it('turns the attempt into ERROR with the reason, even when the timeout is what the probe expects', async () => {
    const stall = 'the lab runtime stalled while this probe waited';
    const timeoutExpected = loaded('stall', [
      probe('allowed'),
      probe('dropped', { expect: { reach: false, failure: 'timeout' }, protocol: 'tcp', port: 9090 }),
    ]);
    const target = new FakeTarget({ appliesSynchronously: true, script: { dropped: [{ ...step.timeout(), stall }] } });
    const result = await run({ target, load: async () => ({ scenarios: [timeoutExpected], errors: [] }), consecutive: 3 });
    const p = result.scenarios[0].probes.find((x) => x.name === 'dropped')!;
    expect(p.verdict).toBe('ERROR');
    expect(p.reason).toContain(stall);
    expect(result.exitStatus).toBe(2);
  });
});
