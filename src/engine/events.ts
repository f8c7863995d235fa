/** Progress of a run, as events; the console reporter draws them, library callers may listen too. */
import type { TargetInfo } from '../targets/target.js';
import type { ProbeJudgement, RunResult, ScenarioResult } from './types.js';

export type ScenarioPhase = 'deploying' | 'probing' | 'diagnosing' | 'undeploying';

export type RunEvent =
  | { kind: 'run-start'; target: TargetInfo; scenarios: number; probes: number }
  | { kind: 'scenario-start'; scenario: string; probes: number }
  | { kind: 'scenario-phase'; scenario: string; phase: ScenarioPhase }
  | { kind: 'probe-done'; scenario: string; probe: ProbeJudgement }
  | { kind: 'scenario-done'; result: ScenarioResult }
  | { kind: 'log'; message: string }
  | { kind: 'run-done'; result: RunResult };

export type OnEvent = (event: RunEvent) => void;
