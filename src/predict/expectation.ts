/**
 * A prediction as a scenario expectation, so a generated probe is judged by the engine exactly like a written one
 * (then a FAIL is precisely a divergence between prediction and observation). Only what the destination
 * application can observe is stated: mTLS and the peer identity show in the X-Forwarded-Client-Cert header of
 * HTTP requests (docs/istio-facts.md "What a probe observes"); for TCP, UDP and https the application has no such
 * signal, so those fields are left out rather than predicted into something unobservable; ICMP has no
 * application at all, so viaSidecar is left out for it.
 */
import type { Expectation, Probe } from '../scenario/schema.js';
import type { Flow, Prediction } from './types.js';

export interface ExpectationOptions {
  /** Leave out mtls and peer (a target that cannot show mutual TLS yet). */
  readonly withoutMtls?: boolean;
}

export function expectationOf(prediction: Prediction, flow: Pick<Flow, 'protocol'>, options: ExpectationOptions = {}): Expectation {
  if (!prediction.reach) return { reach: false, failure: prediction.failure };
  const e: Expectation = { reach: true };
  if (flow.protocol === 'http' && !options.withoutMtls) {
    e.mtls = prediction.mtls;
    if (prediction.peer !== undefined) e.peer = prediction.peer;
  }
  // ICMP has no application to see a source address.
  if (prediction.viaSidecar !== undefined && flow.protocol !== 'icmp') e.viaSidecar = prediction.viaSidecar;
  if (prediction.status !== undefined) e.status = prediction.status;
  return e;
}

/** The same expectation without mtls and peer. */
export function withoutMtls(e: Expectation): Expectation {
  const { mtls: _mtls, peer: _peer, ...rest } = e;
  return rest;
}

export function flowOf(probe: Probe): Flow {
  return {
    from: probe.from,
    to: probe.to,
    protocol: probe.protocol,
    ...(probe.port !== undefined ? { port: probe.port } : {}),
    ...(probe.as ? { asUser: probe.as.user } : {}),
    ...(probe.bypass ? { bypass: probe.bypass } : {}),
    ...(probe.http ? { http: probe.http } : {}),
  };
}

/** One line a person reads: "reach, mTLS as spiffe://…, via sidecar" / "blocked: timeout". */
export function describePrediction(p: Prediction): string {
  if (!p.reach) return `blocked (${p.failure})`;
  const parts = ['reach'];
  if (p.mtls) parts.push('mTLS');
  if (p.viaSidecar === true) parts.push('via sidecar');
  if (p.viaSidecar === false) parts.push('direct');
  return parts.join(', ');
}

export function formatExplanation(p: Prediction): string {
  return p.explanation.map((r) => `${r.layer}: ${r.text}`).join('\n');
}
