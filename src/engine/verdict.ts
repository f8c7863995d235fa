/** Roll-ups of the spec: probe verdicts → scenario verdict, verdicts → counts, a run → its exit status. */
import type { Counts, ExitStatus, ProbeJudgement, RunSummary, ScenarioResult, Verdict } from './types.js';

/**
 * ERROR if any probe ERROR; else FAIL if any FAIL or FLAKY; else PASS if at least one positive control passed;
 * SKIPPED if all skipped. Passing denials without a passing positive control prove nothing: ERROR.
 */
export function scenarioVerdict(probes: ProbeJudgement[]): { verdict: Verdict; reason?: string } {
  const named = (v: Verdict) => probes.filter((p) => p.verdict === v).map((p) => p.name);
  const errors = named('ERROR');
  if (errors.length) return { verdict: 'ERROR', reason: `could not run: ${errors.join(', ')}` };
  const failed = [...named('FAIL'), ...named('FLAKY')];
  if (failed.length) return { verdict: 'FAIL', reason: `not as claimed: ${failed.join(', ')}` };
  if (probes.every((p) => p.verdict === 'SKIPPED')) return { verdict: 'SKIPPED', reason: probes[0]?.reason };
  if (probes.some((p) => p.verdict === 'PASS' && p.expected.reach)) return { verdict: 'PASS' };
  return { verdict: 'ERROR', reason: 'no positive control (reach: true probe) passed, so the denials prove nothing' };
}

export function countVerdicts(verdicts: Verdict[]): Counts {
  const c: Counts = { PASS: 0, FAIL: 0, FLAKY: 0, ERROR: 0, SKIPPED: 0, total: verdicts.length };
  for (const v of verdicts) c[v] += 1;
  return c;
}

export function summarize(scenarios: ScenarioResult[]): RunSummary {
  return {
    scenarios: countVerdicts(scenarios.map((s) => s.verdict)),
    probes: countVerdicts(scenarios.flatMap((s) => s.probes.map((p) => p.verdict))),
  };
}

/** 130 when interrupted; 2 for invalid input or any ERROR; 1 for any FAIL/FLAKY; else 0. */
export function exitStatusOf(r: { interrupted: boolean; inputErrors: string[]; summary: RunSummary }): ExitStatus {
  if (r.interrupted) return 130;
  if (r.inputErrors.length > 0 || r.summary.scenarios.ERROR > 0 || r.summary.probes.ERROR > 0) return 2;
  if (r.summary.probes.FAIL + r.summary.probes.FLAKY + r.summary.scenarios.FAIL > 0) return 1;
  return 0;
}
