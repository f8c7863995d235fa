/**
 * The one interface every target implements. The engine drives targets only through it and never knows which
 * one it has.
 */
import type { Observation, ProbeResult } from '../agent/types.js';
import type { Probe, Scenario, Step, TargetName } from '../scenario/schema.js';

export type { TargetName };

export interface TargetInfo {
  name: TargetName;
  /** The Istio version the target runs (or, for the lab, the version whose behaviour it follows). */
  istioVersion: string;
  /** Free text shown in reports, e.g. "lab emulation: L7 policy is emulated; capture is the real kernel". */
  notes?: string[];
  /**
   * Every resource is in force when deploy() returns (the lab: its node and sidecars are configured before a pod
   * serves). The engine then does not settle: a mismatching first observation is the answer, confirmed by the
   * consecutive observations a verdict always needs. Clusters propagate policy asynchronously and never set this.
   */
  appliesSynchronously?: boolean;
}

/** One probe attempt, planned by the engine: the scenario's probe plus a fresh nonce. */
export interface ProbeAttempt {
  probe: Probe;
  nonce: string;
  attempt: number;
  /** The client's timeouts for this attempt (engine/timeouts.ts); absent: the target's or the agent's defaults. */
  timeoutMs?: { connect?: number; total?: number };
}

/** What a target returns for one attempt: the client's outcome and what the destination recorded for the nonce. */
export interface AttemptResult {
  nonce: string;
  probeName: string;
  client: ProbeResult;
  /** Observations recorded at the destination application for this nonce ([] = nothing arrived). */
  arrived: Observation[];
  /** True when the destination's records could be read (an unreadable destination is an infrastructure failure). */
  destinationQueried: boolean;
  /**
   * The destination pod's own addresses. The engine decides `viaSidecar` from the source address the application
   * saw: a loopback address (127.0.0.6, 127.0.0.1, ::1) or one of these means a sidecar handed the request over;
   * any other address means the application saw the client directly. Optional: without it only loopback counts.
   */
  destinationAddresses?: string[];
}

export interface Diagnostic {
  title: string;
  body: string;
}

/** A deployed scenario; targets extend it with their own handles. */
export interface Deployment {
  scenario: Scenario;
  id: string;
}

/** An infrastructure failure (pod not ready, exec failed): the engine turns it into ERROR, never FAIL. */
export class TargetError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'TargetError';
  }
}

/** A scenario uses something this target does not emulate or support: it is refused by name. */
export class UnsupportedError extends TargetError {
  constructor(
    readonly field: string,
    message: string,
    hint?: string,
  ) {
    super(message, hint);
    this.name = 'UnsupportedError';
  }
}

export interface Target {
  readonly name: TargetName;
  prepare(signal?: AbortSignal): Promise<TargetInfo>;
  /** Checks, before anything is deployed, that this target can run the scenario; throws UnsupportedError. */
  check(scenario: Scenario): void;
  /** A note when the scenario is larger than anything measured on this target (it still runs). */
  sizeNote?(scenario: Scenario): string | undefined;
  deploy(scenario: Scenario, signal?: AbortSignal): Promise<Deployment>;
  /** Runs a batch of attempts that share one source workload. */
  probe(deployment: Deployment, batch: ProbeAttempt[], signal?: AbortSignal): Promise<AttemptResult[]>;
  diagnose(deployment: Deployment, probeNames: string[]): Promise<Diagnostic[]>;
  /**
   * Optional: one step of `spec.steps` — deletes its `delete` manifests and creates or updates its `apply` ones on
   * the running deployment, returning once the change is in force for new connections. A target without it
   * cannot run scenarios with steps (the engine reports them ERROR by name).
   */
  applyStep?(deployment: Deployment, step: Step, signal?: AbortSignal): Promise<void>;
  /** Optional: how a person reaches a deployment left up by `--keep` (one line each, printed as given). */
  access?(deployment: Deployment): string[];
  undeploy(deployment: Deployment): Promise<void>;
  teardown(): Promise<void>;
}
