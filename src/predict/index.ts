/**
 * The predictor: expected outcomes of probes computed from a model of Istio and Kubernetes policy, and the
 * reachability matrix, policy diff and bypass audit built on it.
 */
export * from './types.js';
export { buildWorld, type WorldInput, type WorldResult } from './world.js';
export { outboundCapture, inboundCapture, type CaptureVerdict } from './capture.js';
export { networkPolicyDecision, type NetpolFlow, type NetpolVerdict } from './netpol.js';
export { predict, UnknownEndpointError } from './predict.js';
export { expectationOf, flowOf, describePrediction, formatExplanation, type ExpectationOptions } from './expectation.js';
