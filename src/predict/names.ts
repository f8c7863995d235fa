/** Names shared with the scenario format, re-exported so the predictor's types read on their own. */
import type { Failure as ScenarioFailure, Probe, WorkloadPort } from '../scenario/schema.js';

export type Failure = ScenarioFailure;
export type ProbeProtocolName = Probe['protocol'];
export type ListenProtocolName = WorkloadPort['protocol'];
