/**
 * What a run produces: verdicts with the evidence that decided them. Every report (console, JSON, JUnit, HTML) is
 * a view of RunResult; the JSON report is RunResult itself, so these types are also the JSON report format.
 */
import type { ProbeTimeouts } from './timeouts.js';
import type { Endpoint, Observation, ProbeResult } from '../agent/types.js';
import type { FeatureFlag, ReleaseStatus } from '../model/index.js';
import type { Expectation } from '../scenario/schema.js';
import type { Diagnostic, TargetInfo, TargetName } from '../targets/target.js';

export type Verdict = 'PASS' | 'FAIL' | 'FLAKY' | 'ERROR' | 'SKIPPED';
export const VERDICTS: readonly Verdict[] = ['PASS', 'FAIL', 'FLAKY', 'ERROR', 'SKIPPED'];

/**
 * How the client's attempt ended, as one word: `ok`, a failure class of the scenario format (`reset`, `timeout`,
 * `refused`, `tls`), `eof` (accepted, then closed without a reply), `http-<status>` for a non-2xx answer,
 * `unreachable` (the network said no route / not permitted).
 */
export type OutcomeClass = 'ok' | 'reset' | 'eof' | 'timeout' | 'refused' | 'tls' | 'unreachable' | `http-${number}`;

/** The facts an attempt established (convergence compares attempts on their Distinguished view of these). */
export interface Facts {
  outcome: OutcomeClass;
  /** The destination application recorded the nonce. */
  reach: boolean;
  /** A peer identity the server may rely on was seen (TLS client certificate, or XFCC from its sidecar). */
  mtls: boolean;
  peer?: string;
  /** Only when the request arrived: the application saw a sidecar-local source address, not the client's. */
  viaSidecar?: boolean;
  /** The HTTP status the client got, if any. */
  status?: number;
}

export type ExpectationField = keyof Expectation;

/** One stated expectation compared with what was observed. */
export interface Check {
  field: ExpectationField;
  expected: string;
  observed: string;
  ok: boolean;
}

/**
 * The part of an attempt's facts its expectation can tell apart: only the stated fields, with outcome classes the
 * stated `failure` accepts alike folded into one (`reset`: reset = eof; `any`: every failure alike). Convergence
 * compares consecutive attempts on this, so a FIN/RST alternation under `failure: reset` is not a disagreement.
 */
export interface Distinguished {
  reach: boolean;
  outcome?: string;
  mtls?: boolean;
  peer?: string | null;
  viaSidecar?: boolean | null;
  status?: number | null;
}

/** The engine's reading of one attempt. */
export type Evaluation =
  | { kind: 'judged'; facts: Facts; distinguished: Distinguished; checks: Check[]; matched: boolean; reason?: string }
  | { kind: 'infrastructure'; reason: string };

/** One attempt as kept in the result: the raw evidence and how it was read. */
export interface AttemptRecord {
  attempt: number;
  nonce: string;
  /** Milliseconds since the probe's first attempt started. */
  atMs: number;
  client?: ProbeResult;
  arrived: Observation[];
  evaluation: Evaluation;
  /**
   * The converge phase that read the attempt (the attempt that ends settling also counts towards N);
   * `after-verdict`: sent in the same round as the deciding attempt, kept as evidence, decides nothing.
   */
  phase: 'settle' | 'confirm' | 'after-verdict';
}

/** Evidence in one place, taken from the attempt that decided the verdict. */
export interface Evidence {
  outcome: string;
  timings?: ProbeResult['timings'];
  bytes?: ProbeResult['bytes'];
  arrived: boolean;
  sourceSeen?: Endpoint;
  peer?: { identity: string; basis: string };
  xfcc?: string;
  /** HTTP: the request line the client wrote, and the one the application received (after any sidecar's normalisation). */
  request?: { sent: string; received?: string };
  /** What ended the attempt before its timeout came, with the outcome the timeout gives (ProbeResult.early). */
  decidedEarly?: string;
}

export interface ProbeJudgement {
  name: string;
  /** The step of `spec.steps` the probe belongs to (absent in a scenario without steps). */
  step?: string;
  from: string;
  to: string;
  port?: number;
  protocol: string;
  as?: { user: number };
  bypass?: string;
  expected: Expectation;
  verdict: Verdict;
  /** Why: the FAIL sentence, the ERROR cause, the SKIPPED reason, or for PASS a short confirmation. */
  reason: string;
  /** The facts of the deciding attempt (null when nothing was observed: skipped, or infrastructure failure). */
  observed: Facts | null;
  checks: Check[];
  evidence?: Evidence;
  attempts: AttemptRecord[];
  durationMs: number;
}

export interface ScenarioResult {
  name: string;
  title?: string;
  claim?: string;
  source?: string;
  tags: string[];
  /** Where the scenario was loaded from, `file:line`. */
  location?: string;
  verdict: Verdict;
  reason?: string;
  probes: ProbeJudgement[];
  /** The target's diagnostics, attached when a probe FAILed, was FLAKY or ERRORed. */
  diagnostics: Diagnostic[];
  /** Lines printed by `--keep` telling how to reach the deployment left up. */
  kept?: string[];
  /** Manifests of the scenario that use a feature Istio marks Alpha or Experimental (model/istio-status.ts). */
  features?: FeatureFlag[];
  durationMs: number;
}

export type Counts = Record<Verdict, number> & { total: number };

export interface RunSummary {
  scenarios: Counts;
  probes: Counts;
}

/** Exit statuses of the spec: 0 all PASS/SKIPPED, 1 any FAIL/FLAKY, 2 any ERROR or invalid input, 130 interrupted. */
export type ExitStatus = 0 | 1 | 2 | 130;

export interface RunResult {
  formatVersion: 1;
  startedAt: string;
  durationMs: number;
  target: TargetInfo | { name: TargetName; istioVersion?: undefined; notes?: string[] };
  /** The target's Istio version against the supported releases this meshprobe version knows. */
  istioRelease?: ReleaseStatus;
  /** `timeouts`: the client timeouts per probe class, when set (--connect-timeout, --response-timeout). */
  settings: { consecutive: number; settleTimeoutMs: number; parallel: number; timeouts?: ProbeTimeouts };
  /** True when the run was interrupted (Ctrl-C) or stopped early; not-run probes are SKIPPED with the reason. */
  incomplete: boolean;
  /** Input errors (file:line:col …); non-empty means nothing was deployed and the exit status is 2. */
  inputErrors: string[];
  scenarios: ScenarioResult[];
  summary: RunSummary;
  /** Time spent probing (first attempt to last verdict, summed over wall-clock overlap) and probes judged there. */
  probePhase: { wallMs: number; probes: number; attempts: number };
  exitStatus: ExitStatus;
}
