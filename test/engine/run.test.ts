import { describe, expect, it } from '@jest/globals';
import { run, type RunOptions } from '../../src/engine/run.js';
import type { LoadResult } from '../../src/engine/loader.js';
import { UnsupportedError } from '../../src/targets/target.js';
import { FakeTarget, loaded, probe, step, type FakeOptions } from './fake-target.js';
import type { RunEvent } from '../../src/engine/events.js';

const fast = { settleTimeoutMs: 30, consecutive: 3 };
const loader = (result: Partial<LoadResult>) => async () => ({ scenarios: [], errors: [], ...result });

async function runFake(scenarios: ReturnType<typeof loaded>[], fake: FakeOptions, extra: Partial<RunOptions> = {}) {
  const target = new FakeTarget(fake);
  const result = await run({ target, load: loader({ scenarios }), ...fast, ...extra });
  return { target, result };
}

const denyScenario = () =>
  loaded('authz-deny', [probe('allowed'), probe('denied', { expect: { reach: false, failure: 'reset' }, protocol: 'tcp', port: 9090 })]);

describe('run with a scripted target', () => {
  it('passes a scenario whose observations match, with N attempts per probe, and cleans up', async () => {
    const { target, result } = await runFake([denyScenario()], { script: { denied: [step.reset()] } });
    expect(result.exitStatus).toBe(0);
    expect(result.scenarios[0]).toMatchObject({ name: 'authz-deny', verdict: 'PASS' });
    expect(result.scenarios[0].probes.map((p) => [p.name, p.verdict, p.attempts.length])).toEqual([
      ['allowed', 'PASS', 3],
      ['denied', 'PASS', 3],
    ]);
    expect(result.summary.probes).toMatchObject({ PASS: 2, total: 2 });
    expect(target.leftBehind).toEqual([]);
    expect(target.calls.teardown).toBe(1);
    // One target call per source workload per round; a first round carries all N attempts of each probe.
    expect(target.calls.batches).toEqual([['allowed', 'allowed', 'allowed', 'denied', 'denied', 'denied']]);
  });

  it('a wrong expectation is FAIL with exit 1, the right sentence and the diagnostics attached', async () => {
    const { result } = await runFake([denyScenario()], { script: { denied: [step.timeout(2000)] } });
    expect(result.exitStatus).toBe(1);
    const s = result.scenarios[0];
    expect(s.verdict).toBe('FAIL');
    const denied = s.probes.find((p) => p.name === 'denied');
    expect(denied).toMatchObject({ verdict: 'FAIL', reason: 'expected a TCP reset, the connection timed out after 2.0 s' });
    expect(denied?.observed).toMatchObject({ outcome: 'timeout', reach: false });
    expect(denied?.attempts.every((a) => a.evaluation.kind === 'judged' && !a.evaluation.matched)).toBe(true);
    expect(s.diagnostics).toEqual([{ title: expect.stringContaining('capture rules of authz-deny'), body: 'fake diagnostics for denied' }]);
  });

  it('converges: early mismatches while policy propagates, then PASS; every attempt kept', async () => {
    // Each target call takes 5 ms, so the second round starts measurably after the first.
    const { result } = await runFake(
      [denyScenario()],
      { script: { denied: [step.ok(), step.ok(), step.eof()] }, probeDelayMs: 5 },
      { settleTimeoutMs: 5000 },
    );
    const denied = result.scenarios[0].probes[1];
    expect(denied.verdict).toBe('PASS');
    expect(denied.attempts.map((a) => a.phase)).toEqual(['settle', 'settle', 'settle', 'confirm', 'confirm']);
    // Round 1: N speculative attempts (two mismatch, one matches); round 2: the two confirmations still lacking.
    expect(denied.attempts.map((a) => a.atMs === 0)).toEqual([true, true, true, false, false]);
  });

  it('attempts sent after the verdict in the same round are kept but decide nothing', async () => {
    const { result } = await runFake([denyScenario()], { script: { denied: [step.reset(), step.timeout(), step.reset()] } });
    const denied = result.scenarios[0].probes[1];
    expect(denied).toMatchObject({ verdict: 'FLAKY', observed: { outcome: 'timeout' } });
    expect(denied.attempts.map((a) => a.phase)).toEqual(['settle', 'confirm', 'after-verdict']);
  });

  it('disagreement after convergence is FLAKY (exit 1)', async () => {
    const { result } = await runFake([denyScenario()], { script: { denied: [step.reset(), step.reset(), step.timeout()] } });
    expect(result.scenarios[0].probes[1]).toMatchObject({ verdict: 'FLAKY' });
    expect(result.scenarios[0].verdict).toBe('FAIL');
    expect(result.exitStatus).toBe(1);
  });

  it('a pod that cannot start is ERROR, not FAIL (exit 2), and other scenarios still run', async () => {
    const { target, result } = await runFake([denyScenario(), loaded('other', [probe('a')])], {
      script: { denied: [step.reset()] },
      deployFails: { 'authz-deny': 'pod app/server did not become ready within 30 s: CrashLoopBackOff' },
    });
    expect(result.exitStatus).toBe(2);
    expect(result.scenarios[0]).toMatchObject({ verdict: 'ERROR' });
    expect(result.scenarios[0].probes[0].reason).toBe(
      'deploy failed: pod app/server did not become ready within 30 s: CrashLoopBackOff (see the pod log)',
    );
    expect(result.scenarios[1].verdict).toBe('PASS');
    expect(target.leftBehind).toEqual([]);
  });

  it('an exec failure during probing is ERROR for that probe', async () => {
    const { result } = await runFake([denyScenario()], {
      script: { allowed: [step.ok(), { throws: 'exec in app/client failed' }], denied: [step.reset()] },
    });
    // Both probes share the batch, so the failing exec makes both ERROR.
    expect(result.scenarios[0].probes.map((p) => p.verdict)).toEqual(['ERROR', 'ERROR']);
    expect(result.scenarios[0].probes[0].reason).toBe('probing from app/client failed: exec in app/client failed');
  });

  it('invalid input: exit 2 and nothing deployed, not even the target prepared', async () => {
    const target = new FakeTarget();
    const result = await run({
      target,
      load: loader({ scenarios: [denyScenario()], errors: ['scenarios/x.yaml:3:5: spec.probes[0].expect.rech: unknown field'] }),
    });
    expect(result.exitStatus).toBe(2);
    expect(result.inputErrors).toEqual(['scenarios/x.yaml:3:5: spec.probes[0].expect.rech: unknown field']);
    expect(target.calls).toMatchObject({ prepare: 0, deployed: [] });
  });

  it('an invalid version range in one scenario stops the whole run before deploying anything', async () => {
    const target = new FakeTarget();
    const bad = loaded('v', [probe('a')]);
    // The schema rejects this too; run() checks again for library callers that build scenarios themselves.
    bad.scenario.spec.probes[0].when = { istio: 'latest' };
    const result = await run({ target, load: loader({ scenarios: [denyScenario(), bad] }) });
    expect(result.exitStatus).toBe(2);
    expect(target.calls.deployed).toEqual([]);
  });

  it('bad options and empty selections are invalid input', async () => {
    const target = new FakeTarget();
    expect((await run({ target, consecutive: 0, load: loader({ scenarios: [denyScenario()] }) })).inputErrors).toEqual([
      '--consecutive must be a whole number of at least 1 (got 0)',
    ]);
    expect((await run({ target, scenario: ['nomatch'], load: loader({ scenarios: [denyScenario()] }) })).inputErrors).toEqual([
      'no scenario matches the --scenario/--tag filters',
    ]);
    expect(target.calls.deployed).toEqual([]);
  });

  it('a refused scenario is ERROR naming the field; when.targets excluding the target is SKIPPED', async () => {
    const refuse = (s: { metadata: { name: string } }) =>
      s.metadata.name === 'refused'
        ? new UnsupportedError('spec.mesh.outboundTrafficPolicy', 'not emulated by the lab', 'use --target kind')
        : undefined;
    const { target, result } = await runFake(
      [loaded('refused', [probe('a')]), loaded('kind-only', [probe('a')], { when: { targets: ['kind'] } }), loaded('fine', [probe('a')])],
      { refuse },
    );
    expect(result.scenarios.map((s) => [s.name, s.verdict])).toEqual([
      ['refused', 'ERROR'],
      ['kind-only', 'SKIPPED'],
      ['fine', 'PASS'],
    ]);
    expect(result.scenarios[0].reason).toContain('spec.mesh.outboundTrafficPolicy: not emulated by the lab (use --target kind)');
    expect(target.calls.deployed).toEqual(['fine-0']);
  });

  it('--fail-fast starts no further scenario after a FAIL', async () => {
    const { result } = await runFake(
      [denyScenario(), loaded('later', [probe('a')])],
      { script: { denied: [step.timeout()] } },
      { failFast: true, parallel: 1 },
    );
    expect(result.scenarios.map((s) => s.verdict)).toEqual(['FAIL', 'SKIPPED']);
    expect(result.scenarios[1].reason).toBe('not run: --fail-fast stopped the run after authz-deny (FAIL)');
  });

  it('an abort stops probing, undeploys, tears down and marks the result incomplete (exit 130)', async () => {
    const controller = new AbortController();
    const events: RunEvent[] = [];
    const target = new FakeTarget({ probeDelayMs: 20 });
    const promise = run({
      target,
      // `never` keeps settling (it arrives though a denial is expected), so every scenario is still running.
      load: loader({ scenarios: ['a', 'b', 'c'].map((n) => loaded(n, [probe('ok'), probe('never', { expect: { reach: false } })])) }),
      settleTimeoutMs: 60_000,
      parallel: 2,
      signal: controller.signal,
      onEvent: (e) => events.push(e),
    });
    setTimeout(() => controller.abort(), 100);
    const result = await promise;
    expect(result.incomplete).toBe(true);
    expect(result.exitStatus).toBe(130);
    expect(target.calls.deployed.length).toBeGreaterThan(0);
    expect(target.leftBehind).toEqual([]);
    expect(target.calls.teardown).toBe(1);
    expect(result.scenarios.map((s) => [s.verdict, s.reason])).toEqual([
      ['SKIPPED', 'interrupted before a verdict (1 of 2 probes judged)'],
      ['SKIPPED', 'interrupted before a verdict (1 of 2 probes judged)'],
      ['SKIPPED', 'interrupted before a verdict'],
    ]);
    expect(result.scenarios[0].probes.map((p) => p.verdict)).toEqual(['PASS', 'SKIPPED']);
    expect(events.at(-1)?.kind).toBe('run-done');
  });

  it('--keep leaves deployments and the target up', async () => {
    const { target, result } = await runFake([loaded('k', [probe('a')])], {}, { keep: true });
    expect(target.leftBehind).toEqual(['k-0']);
    expect(target.calls.teardown).toBe(0);
    expect(result.scenarios[0].kept).toEqual(['deployment k-0 was left up (--keep)']);
  });

  it('runs scenarios in parallel up to --parallel', async () => {
    const scenarios = Array.from({ length: 4 }, (_, i) => loaded(`s${i}`, [probe('a')]));
    const t0 = Date.now();
    const { result } = await runFake(scenarios, { probeDelayMs: 50 }, { parallel: 4 });
    // 3 rounds of 50 ms each; sequentially that would be 4 × 150 ms.
    expect(Date.now() - t0).toBeLessThan(450);
    expect(result.summary.scenarios.PASS).toBe(4);
    expect(result.probePhase.probes).toBe(4);
  });
});
