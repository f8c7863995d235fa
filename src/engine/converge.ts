/**
 * Converge-then-judge, as a pure state machine over one probe's attempts.
 *
 * Policy takes time to reach proxies, so the engine first re-probes until the observation matches the
 * expectation or the settle timeout passes (settling). From then on it demands N consecutive observations that
 * are IDENTICAL ON WHAT THE EXPECTATION CAN DISTINGUISH (evaluate.ts `distinguish`: the stated fields, with outcome
 * classes the stated `failure` accepts alike folded together — under `failure: reset` a reset and an eof are the
 * same answer, FIN vs RST being nothing a policy promises). The one that ended settling counts as the first:
 * identical and matching → PASS, identical and mismatching → FAIL, any disagreement → FLAKY. An attempt the
 * harness could not run → ERROR at once.
 *
 * Why this can never turn a stable wrong answer into a pass: PASS needs N identical observations that each
 * matched on their own (equal views always match alike, every check reads only the view); a stably wrong
 * observation never matches, so settling only ever ends on the deadline and confirmation then yields FAIL.
 * Retrying after a disagreement is not allowed (it would let chance decide).
 */
import { sameDistinguished } from './evaluate.js';
import type { Distinguished, Evaluation, Facts } from './types.js';

export interface ConvergeSettings {
  /** N: identical observations in a row needed for a verdict (>= 1). */
  consecutive: number;
  /** How long mismatching observations are retried before they are taken as the answer. */
  settleTimeoutMs: number;
}

export type DecidedVerdict = 'PASS' | 'FAIL' | 'FLAKY' | 'ERROR';

export type ConvergeState =
  | { phase: 'settling'; attempts: number }
  | {
      phase: 'confirming';
      attempts: number;
      baseline: Facts;
      /** What the expectation distinguishes in the baseline; later attempts are compared on this. */
      view: Distinguished;
      matched: boolean;
      streak: number;
      baselineReason?: string;
    }
  | { phase: 'decided'; attempts: number; verdict: DecidedVerdict; reason: string; decidingFacts?: Facts };

export const initialState: ConvergeState = { phase: 'settling', attempts: 0 };

/** "reset, did not arrive" / "ok, arrived, mTLS as spiffe://…, via sidecar, HTTP 200". */
export function describeFacts(f: Facts): string {
  const parts: string[] = [f.outcome, f.reach ? 'arrived' : 'did not arrive'];
  if (f.reach) parts.push(f.mtls ? `mTLS as ${f.peer}` : 'no peer identity');
  if (f.viaSidecar !== undefined) parts.push(f.viaSidecar ? 'via sidecar' : 'directly (no sidecar)');
  if (f.status !== undefined) parts.push(`HTTP ${f.status}`);
  return parts.join(', ');
}

function confirmOrDecide(attempts: number, evaluation: Judged, settings: ConvergeSettings): ConvergeState {
  const { facts, matched, reason, distinguished } = evaluation;
  if (settings.consecutive <= 1) return decide(attempts, matched, facts, reason, 1);
  return { phase: 'confirming', attempts, baseline: facts, view: distinguished, matched, streak: 1, baselineReason: reason };
}

type Judged = Extract<Evaluation, { kind: 'judged' }>;

function decide(attempts: number, matched: boolean, facts: Facts, reason: string | undefined, streak: number): ConvergeState {
  const times = streak === 1 ? 'once' : `${streak} times in a row`;
  return matched
    ? { phase: 'decided', attempts, verdict: 'PASS', reason: `observed as expected ${times}: ${describeFacts(facts)}`, decidingFacts: facts }
    : { phase: 'decided', attempts, verdict: 'FAIL', reason: reason ?? 'the observation did not match', decidingFacts: facts };
}

/**
 * Feeds one attempt's evaluation. `elapsedMs`: time since the probe's first attempt started, measured when this
 * attempt finished. A decided state never changes.
 */
export function advance(state: ConvergeState, evaluation: Evaluation, elapsedMs: number, settings: ConvergeSettings): ConvergeState {
  if (state.phase === 'decided') return state;
  const attempts = state.attempts + 1;
  if (evaluation.kind === 'infrastructure') {
    return { phase: 'decided', attempts, verdict: 'ERROR', reason: evaluation.reason };
  }
  const { facts, matched, distinguished } = evaluation;
  if (state.phase === 'settling') {
    if (matched || elapsedMs >= settings.settleTimeoutMs) return confirmOrDecide(attempts, evaluation, settings);
    return { phase: 'settling', attempts };
  }
  if (!sameDistinguished(state.view, distinguished)) {
    const flaky =
      `observations disagreed after convergence: attempt ${attempts - 1} saw ${describeFacts(state.baseline)}; ` +
      `attempt ${attempts} saw ${describeFacts(facts)}`;
    return { phase: 'decided', attempts, verdict: 'FLAKY', reason: flaky, decidingFacts: facts };
  }
  const streak = state.streak + 1;
  if (streak >= settings.consecutive) return decide(attempts, state.matched, state.baseline, state.baselineReason, streak);
  return { ...state, attempts, streak };
}

/** Milliseconds to wait before the next attempt: backing off while settling, none while confirming. */
export function nextDelayMs(state: ConvergeState, elapsedMs: number, settings: ConvergeSettings): number {
  if (state.phase !== 'settling') return 0;
  const backoff = Math.min(50 * 2 ** Math.max(0, state.attempts - 1), 1000);
  // Never sleep past the deadline: the attempt right after it is the one that ends settling.
  return Math.max(0, Math.min(backoff, settings.settleTimeoutMs - elapsedMs));
}
