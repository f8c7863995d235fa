import { describe, expect, it } from '@jest/globals';
import { advance, initialState, nextDelayMs, sameFacts, type ConvergeSettings, type ConvergeState } from '../../src/engine/converge.js';
import type { Evaluation, Facts } from '../../src/engine/types.js';

const settings: ConvergeSettings = { consecutive: 3, settleTimeoutMs: 1000 };
const allowed: Facts = { outcome: 'ok', reach: true, mtls: true, peer: 'spiffe://cluster.local/ns/app/sa/client', viaSidecar: true, status: 200 };
const denied: Facts = { outcome: 'http-403', reach: false, mtls: false, status: 403 };

const match = (facts: Facts): Evaluation => ({ kind: 'judged', facts, checks: [], matched: true });
const mismatch = (facts: Facts, reason = 'expected HTTP 403, the client got HTTP 200'): Evaluation => ({ kind: 'judged', facts, checks: [], matched: false, reason });
const infra = (reason = 'exec failed'): Evaluation => ({ kind: 'infrastructure', reason });

/** Feeds (evaluation, elapsedMs) pairs and returns the final state. */
function feed(steps: Array<[Evaluation, number]>, s: ConvergeSettings = settings): ConvergeState {
  return steps.reduce<ConvergeState>((state, [e, t]) => advance(state, e, t, s), initialState);
}

describe('converge-then-judge', () => {
  it('passes after N identical matching observations, counting the one that ended settling', () => {
    const s = feed([[match(allowed), 10], [match(allowed), 20], [match(allowed), 30]]);
    expect(s).toMatchObject({ phase: 'decided', verdict: 'PASS', attempts: 3 });
  });

  it('is not decided before N identical observations', () => {
    expect(feed([[match(allowed), 10], [match(allowed), 20]])).toMatchObject({ phase: 'confirming', streak: 2 });
  });

  it('keeps settling while observations mismatch before the settle timeout', () => {
    expect(feed([[mismatch(allowed), 10], [mismatch(allowed), 500], [mismatch(allowed), 999]])).toEqual({ phase: 'settling', attempts: 3 });
  });

  it('passes once policy converged: early mismatches do not count', () => {
    const s = feed([[mismatch(allowed), 10], [mismatch(allowed), 200], [match(denied), 400], [match(denied), 410], [match(denied), 420]]);
    expect(s).toMatchObject({ phase: 'decided', verdict: 'PASS', attempts: 5 });
  });

  it('fails a stable wrong answer after the settle timeout, with the mismatch sentence', () => {
    const s = feed([[mismatch(allowed), 10], [mismatch(allowed), 1000], [mismatch(allowed), 1010], [mismatch(allowed), 1020]]);
    expect(s).toMatchObject({ phase: 'decided', verdict: 'FAIL', reason: 'expected HTTP 403, the client got HTTP 200', attempts: 4 });
  });

  it('never passes a stable wrong answer, however many retries', () => {
    let s: ConvergeState = initialState;
    for (let t = 0; s.phase !== 'decided' && t < 100_000; t += 100) s = advance(s, mismatch(allowed), t, settings);
    expect(s).toMatchObject({ phase: 'decided', verdict: 'FAIL' });
  });

  it('is FLAKY when a confirmation disagrees with the converged observation', () => {
    const s = feed([[match(allowed), 10], [match(allowed), 20], [mismatch(denied), 30]]);
    expect(s).toMatchObject({ phase: 'decided', verdict: 'FLAKY', attempts: 3 });
    expect(s.phase === 'decided' && s.reason).toContain('attempt 3 saw http-403, did not arrive');
  });

  it('is FLAKY when two mismatching observations after the deadline differ (not a stable FAIL)', () => {
    const timeout: Facts = { outcome: 'timeout', reach: false, mtls: false };
    const s = feed([[mismatch(denied), 1000], [mismatch(timeout), 1010]]);
    expect(s).toMatchObject({ phase: 'decided', verdict: 'FLAKY' });
  });

  it('is FLAKY even when the disagreeing observation also matches the expectation (different facts)', () => {
    const viaOtherPath: Facts = { ...allowed, viaSidecar: false };
    expect(feed([[match(allowed), 10], [match(viaOtherPath), 20]])).toMatchObject({ verdict: 'FLAKY' });
  });

  it('is ERROR at once on an infrastructure failure, in any phase', () => {
    expect(feed([[infra('pod not ready'), 10]])).toMatchObject({ verdict: 'ERROR', reason: 'pod not ready', attempts: 1 });
    expect(feed([[match(allowed), 10], [infra(), 20]])).toMatchObject({ verdict: 'ERROR', attempts: 2 });
    expect(feed([[mismatch(allowed), 10], [infra(), 20]])).toMatchObject({ verdict: 'ERROR' });
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
    const s = feed([[mismatch(allowed), 0], [mismatch(allowed), 1], [mismatch(allowed), 2]], { consecutive: 3, settleTimeoutMs: 0 });
    expect(s).toMatchObject({ verdict: 'FAIL', attempts: 3 });
  });

  it('compares every fact for identity', () => {
    expect(sameFacts(allowed, { ...allowed })).toBe(true);
    for (const change of [{ outcome: 'eof' as const }, { reach: false }, { mtls: false }, { peer: 'x' }, { viaSidecar: false }, { status: 201 }]) {
      expect(sameFacts(allowed, { ...allowed, ...change })).toBe(false);
    }
  });

  it('backs off while settling, never past the deadline, and confirms without delay', () => {
    expect(nextDelayMs({ phase: 'settling', attempts: 1 }, 0, settings)).toBe(50);
    expect(nextDelayMs({ phase: 'settling', attempts: 3 }, 0, settings)).toBe(200);
    expect(nextDelayMs({ phase: 'settling', attempts: 20 }, 0, settings)).toBe(1000);
    expect(nextDelayMs({ phase: 'settling', attempts: 20 }, 900, settings)).toBe(100);
    expect(nextDelayMs({ phase: 'confirming', attempts: 1, baseline: allowed, matched: true, streak: 1 }, 0, settings)).toBe(0);
  });
});
