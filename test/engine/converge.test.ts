import { describe, expect, it } from '@jest/globals';
import { advance, initialState, nextDelayMs, type ConvergeSettings, type ConvergeState } from '../../src/engine/converge.js';
import { checksOf, distinguish, sameDistinguished } from '../../src/engine/evaluate.js';
import type { Evaluation, Facts, OutcomeClass } from '../../src/engine/types.js';
import { FAILURES, type Expectation } from '../../src/scenario/schema.js';

const settings: ConvergeSettings = { consecutive: 3, settleTimeoutMs: 1000 };
const allowed: Facts = { outcome: 'ok', reach: true, mtls: true, peer: 'spiffe://cluster.local/ns/app/sa/client', viaSidecar: true, status: 200 };
const denied: Facts = { outcome: 'http-403', reach: false, mtls: false, status: 403 };

// An expectation stating every field: the attempts are compared on all their facts.
const EVERYTHING: Expectation = { reach: true, mtls: true, peer: 'x', viaSidecar: true, status: 200 };
const view = (facts: Facts, expect: Expectation = EVERYTHING) => ({ ...distinguish(expect, facts), outcome: facts.outcome });
const match = (facts: Facts): Evaluation => ({ kind: 'judged', facts, distinguished: view(facts), checks: [], matched: true });
const mismatch = (facts: Facts, reason = 'expected HTTP 403, the client got HTTP 200'): Evaluation => ({
  kind: 'judged',
  facts,
  distinguished: view(facts),
  checks: [],
  matched: false,
  reason,
});
/** The engine's real reading of `facts` under `expect` (checks and view from evaluate.ts). */
function judged(expect: Expectation, facts: Facts): Evaluation {
  const checks = checksOf(expect, facts);
  const matched = checks.every((k) => k.ok);
  return { kind: 'judged', facts, distinguished: distinguish(expect, facts), checks, matched, reason: matched ? undefined : 'mismatch' };
}
const infra = (reason = 'exec failed'): Evaluation => ({ kind: 'infrastructure', reason });

/** Feeds (evaluation, elapsedMs) pairs and returns the final state. */
function feed(steps: Array<[Evaluation, number]>, s: ConvergeSettings = settings): ConvergeState {
  return steps.reduce<ConvergeState>((state, [e, t]) => advance(state, e, t, s), initialState);
}

describe('converge-then-judge', () => {
  it('passes after N identical matching observations, counting the one that ended settling', () => {
    const s = feed([
      [match(allowed), 10],
      [match(allowed), 20],
      [match(allowed), 30],
    ]);
    expect(s).toMatchObject({ phase: 'decided', verdict: 'PASS', attempts: 3 });
  });

  it('is not decided before N identical observations', () => {
    expect(
      feed([
        [match(allowed), 10],
        [match(allowed), 20],
      ]),
    ).toMatchObject({ phase: 'confirming', streak: 2 });
  });

  it('keeps settling while observations mismatch before the settle timeout', () => {
    expect(
      feed([
        [mismatch(allowed), 10],
        [mismatch(allowed), 500],
        [mismatch(allowed), 999],
      ]),
    ).toEqual({ phase: 'settling', attempts: 3 });
  });

  it('passes once policy converged: early mismatches do not count', () => {
    const s = feed([
      [mismatch(allowed), 10],
      [mismatch(allowed), 200],
      [match(denied), 400],
      [match(denied), 410],
      [match(denied), 420],
    ]);
    expect(s).toMatchObject({ phase: 'decided', verdict: 'PASS', attempts: 5 });
  });

  it('fails a stable wrong answer after the settle timeout, with the mismatch sentence', () => {
    const s = feed([
      [mismatch(allowed), 10],
      [mismatch(allowed), 1000],
      [mismatch(allowed), 1010],
      [mismatch(allowed), 1020],
    ]);
    expect(s).toMatchObject({ phase: 'decided', verdict: 'FAIL', reason: 'expected HTTP 403, the client got HTTP 200', attempts: 4 });
  });

  it('never passes a stable wrong answer, however many retries', () => {
    let s: ConvergeState = initialState;
    for (let t = 0; s.phase !== 'decided' && t < 100_000; t += 100) s = advance(s, mismatch(allowed), t, settings);
    expect(s).toMatchObject({ phase: 'decided', verdict: 'FAIL' });
  });

  it('is FLAKY when a confirmation disagrees with the converged observation', () => {
    const s = feed([
      [match(allowed), 10],
      [match(allowed), 20],
      [mismatch(denied), 30],
    ]);
    expect(s).toMatchObject({ phase: 'decided', verdict: 'FLAKY', attempts: 3 });
    expect(s.phase === 'decided' && s.reason).toContain('attempt 3 saw http-403, did not arrive');
  });

  it('is FLAKY when two mismatching observations after the deadline differ (not a stable FAIL)', () => {
    const timeout: Facts = { outcome: 'timeout', reach: false, mtls: false };
    const s = feed([
      [mismatch(denied), 1000],
      [mismatch(timeout), 1010],
    ]);
    expect(s).toMatchObject({ phase: 'decided', verdict: 'FLAKY' });
  });

  it('is FLAKY when a field the expectation states differs, even if both observations match', () => {
    const viaOtherPath: Facts = { ...allowed, viaSidecar: false };
    expect(
      feed([
        [match(allowed), 10],
        [match(viaOtherPath), 20],
      ]),
    ).toMatchObject({ verdict: 'FLAKY' });
  });

  describe('compares consecutive observations on what the expectation distinguishes', () => {
    const reset: Facts = { outcome: 'reset', reach: false, mtls: false };
    const eof: Facts = { outcome: 'eof', reach: false, mtls: false };
    const timeout: Facts = { outcome: 'timeout', reach: false, mtls: false };
    const completed: Facts = { outcome: 'ok', reach: false, mtls: false, status: 200 };
    const run = (expect: Expectation, seq: Facts[]) => feed(seq.map((f, i): [Evaluation, number] => [judged(expect, f), 10 * (i + 1)]));

    it('passes a REGISTRY_ONLY denial whose attempts alternate reset and eof under failure: reset', () => {
      expect(run({ reach: false, failure: 'reset' }, [reset, eof, reset])).toMatchObject({ verdict: 'PASS', attempts: 3 });
      expect(run({ reach: false, failure: 'reset' }, [eof, reset, eof])).toMatchObject({ verdict: 'PASS' });
    });

    it('is still FLAKY when an outcome failure: reset does not accept alternates with one it does', () => {
      expect(run({ reach: false, failure: 'reset' }, [reset, timeout])).toMatchObject({ verdict: 'FLAKY' });
    });

    it('keeps failure classes apart that a specific failure distinguishes', () => {
      expect(run({ reach: false, failure: 'timeout' }, [timeout, reset])).toMatchObject({ verdict: 'FLAKY' });
    });

    it('failure: any accepts every failure alike, but not a completed exchange', () => {
      expect(run({ reach: false, failure: 'any' }, [timeout, reset, eof])).toMatchObject({ verdict: 'PASS' });
      expect(run({ reach: false, failure: 'any' }, [reset, completed])).toMatchObject({ verdict: 'FLAKY' });
    });

    it('without a stated failure only reach is compared', () => {
      expect(run({ reach: false }, [timeout, reset, completed])).toMatchObject({ verdict: 'PASS' });
    });

    it('never passes a stable wrong answer that alternates between two wrong classes', () => {
      const s = feed([
        [judged({ reach: false, failure: 'reset' }, timeout), 1000],
        [judged({ reach: false, failure: 'reset' }, timeout), 1010],
        [judged({ reach: false, failure: 'reset' }, timeout), 1020],
      ]);
      expect(s).toMatchObject({ verdict: 'FAIL' });
      const r = run({ reach: true }, [reset, eof, reset]);
      expect(r.phase === 'decided' && r.verdict).not.toBe('PASS');
    });

    it('equal views always match alike, over every expectation and facts combination', () => {
      const outcomes: OutcomeClass[] = ['ok', 'reset', 'eof', 'timeout', 'refused', 'tls', 'unreachable', 'http-403', 'http-502', 'http-503'];
      const facts: Facts[] = [];
      for (const outcome of outcomes)
        for (const reach of [true, false])
          for (const mtls of [true, false])
            for (const peer of [undefined, 'a', 'b'])
              for (const viaSidecar of [undefined, true, false])
                for (const status of [undefined, 200, 403]) facts.push({ outcome, reach, mtls, peer, viaSidecar, status });
      let groups = 0;
      for (const reach of [true, false])
        for (const failure of [undefined, ...FAILURES])
          for (const mtls of [undefined, true, false])
            for (const peer of [undefined, 'a'])
              for (const viaSidecar of [undefined, true])
                for (const status of [undefined, 200, 403]) {
                  const expectation: Expectation = { reach, failure, mtls, peer, viaSidecar, status };
                  const byView = new Map<string, boolean>();
                  for (const f of facts) {
                    const key = JSON.stringify(distinguish(expectation, f));
                    const matched = checksOf(expectation, f).every((k) => k.ok);
                    const seen = byView.get(key);
                    if (seen === undefined) byView.set(key, matched);
                    else if (seen !== matched) throw new Error(`${JSON.stringify(expectation)}: ${key} matches and mismatches`);
                  }
                  groups += byView.size;
                }
      expect(groups).toBeGreaterThan(1000);
    });
  });

  it('is ERROR at once on an infrastructure failure, in any phase', () => {
    expect(feed([[infra('pod not ready'), 10]])).toMatchObject({ verdict: 'ERROR', reason: 'pod not ready', attempts: 1 });
    expect(
      feed([
        [match(allowed), 10],
        [infra(), 20],
      ]),
    ).toMatchObject({ verdict: 'ERROR', attempts: 2 });
    expect(
      feed([
        [mismatch(allowed), 10],
        [infra(), 20],
      ]),
    ).toMatchObject({ verdict: 'ERROR' });
  });

  it('does not change once decided', () => {
    const decided = feed([[infra(), 10]]);
    expect(advance(decided, match(allowed), 20, settings)).toBe(decided);
  });

  it('decides on the first observation when N is 1', () => {
    const one = { consecutive: 1, settleTimeoutMs: 0 };
    expect(feed([[match(allowed), 0]], one)).toMatchObject({ verdict: 'PASS' });
    expect(feed([[mismatch(allowed), 0]], one)).toMatchObject({ verdict: 'FAIL' });
  });

  it('with a zero settle timeout, confirms the first observation whatever it is', () => {
    const s = feed(
      [
        [mismatch(allowed), 0],
        [mismatch(allowed), 1],
        [mismatch(allowed), 2],
      ],
      { consecutive: 3, settleTimeoutMs: 0 },
    );
    expect(s).toMatchObject({ verdict: 'FAIL', attempts: 3 });
  });

  it('with every field stated, compares every fact for identity', () => {
    expect(sameDistinguished(view(allowed), view({ ...allowed }))).toBe(true);
    for (const change of [{ outcome: 'eof' as const }, { reach: false }, { mtls: false }, { peer: 'x' }, { viaSidecar: false }, { status: 201 }]) {
      expect(sameDistinguished(view(allowed), view({ ...allowed, ...change }))).toBe(false);
    }
  });

  it('backs off while settling, never past the deadline, and confirms without delay', () => {
    expect(nextDelayMs({ phase: 'settling', attempts: 1 }, 0, settings)).toBe(50);
    expect(nextDelayMs({ phase: 'settling', attempts: 3 }, 0, settings)).toBe(200);
    expect(nextDelayMs({ phase: 'settling', attempts: 20 }, 0, settings)).toBe(1000);
    expect(nextDelayMs({ phase: 'settling', attempts: 20 }, 900, settings)).toBe(100);
    expect(nextDelayMs({ phase: 'confirming', attempts: 1, baseline: allowed, view: view(allowed), matched: true, streak: 1 }, 0, settings)).toBe(0);
  });
});
