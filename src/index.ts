/**
 * meshprobe as a library: `run(options) → Promise<RunResult>` and the types of its result, plus the report
 * writers. The CLI (`meshprobe run`) is a thin shell over exactly this.
 */
export { run, DEFAULTS, BUILTIN_SCENARIOS, type RunOptions } from './engine/run.js';
export type { RunEvent, OnEvent, ScenarioPhase } from './engine/events.js';
export type { LoadedScenario, LoadResult, Load } from './engine/loader.js';
export type {
  AttemptRecord,
  Check,
  Counts,
  Evaluation,
  Evidence,
  ExitStatus,
  Facts,
  OutcomeClass,
  ProbeJudgement,
  RunResult,
  RunSummary,
  ScenarioResult,
  Verdict,
} from './engine/types.js';
export { evaluate } from './engine/evaluate.js';
export { toHtml, toJson, toJunit, writeReports, ConsoleReporter, type ReportFiles } from './report/index.js';
export { createTarget, type TargetOptions } from './targets/index.js';
export { TargetError, UnsupportedError, type Target, type TargetInfo, type TargetName } from './targets/target.js';
export type { Scenario, Probe, Expectation } from './scenario/schema.js';
