/**
 * Reads one attempt against a probe's expectation. Pure: the same attempt always gets the same reading.
 *
 * Rules a reader of the reports relies on:
 * - `reach` is what the destination APPLICATION recorded for the nonce, never the client's outcome alone: a client
 *   that got "200" from something else did not reach the destination.
 * - `failure: reset` is satisfied by a reset AND by `eof` (accepted, then closed without a reply). Istio's TCP
 *   deny and a STRICT server refusing plaintext both accept the connection and then close it; whether the close is
 *   a FIN or an RST depends on timing and is not something a policy promises.
 * - `failure: any` needs the client to have failed (a completed exchange that did not reach the destination is
 *   not a denial). When `failure` is not stated, only `reach: false` is checked.
 * - A client error the agent could not classify (DNS failure, exec trouble) is an infrastructure failure (ERROR),
 *   never evidence of a denial. EHOSTUNREACH / ENETUNREACH / EPERM are the network saying no: class
 *   `unreachable`, which only `failure: any` accepts.
 * - `mtls`: a peer identity the server may rely on was seen (a TLS client certificate, or XFCC handed over by its
 *   own sidecar). An XFCC header with basis `header-unverified` is a client's claim and counts as no identity.
 * - ICMP has no application to record it: an echo reply from the destination is what "reached" means for `icmp`
 *   (the destination's kernel answered), and no reply is `timeout`.
 * - `viaSidecar`: the application saw a loopback source (127.0.0.6, 127.0.0.1, ::1) or the pod's own address
 *   (AttemptResult.destinationAddresses) — a sidecar handed it over; any other address is the client, directly.
 */
import type { Observation, Outcome } from '../agent/types.js';
import type { Expectation, Failure, Probe } from '../scenario/schema.js';
import type { AttemptResult } from '../targets/target.js';
import { describeClient, describeDestination, describeFailure } from './sentences.js';
import type { Check, Distinguished, Evaluation, Facts, OutcomeClass } from './types.js';

const NETWORK_REFUSALS = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EPERM', 'EACCES']);

/** The outcome class of a client outcome, or the reason it is an infrastructure failure. */
export function classify(outcome: Outcome): { class: OutcomeClass } | { infrastructure: string } {
  switch (outcome.kind) {
    case 'ok':
      return { class: outcome.status === undefined || outcome.status < 300 ? 'ok' : `http-${outcome.status}` };
    case 'http':
      return { class: outcome.status < 300 ? 'ok' : `http-${outcome.status}` };
    case 'icmp':
      return { class: outcome.reply ? 'ok' : 'timeout' };
    case 'error':
      if (outcome.errno && NETWORK_REFUSALS.has(outcome.errno)) return { class: 'unreachable' };
      return { infrastructure: `the probe client could not run the probe: ${outcome.errno ? `${outcome.errno} ` : ''}${outcome.message}` };
    default:
      return { class: outcome.kind };
  }
}

export function failureSatisfied(failure: Failure, outcome: OutcomeClass): boolean {
  switch (failure) {
    case 'any':
      return outcome !== 'ok';
    case 'reset':
      return outcome === 'reset' || outcome === 'eof';
    default:
      return outcome === failure;
  }
}

export function isLoopback(address: string): boolean {
  const a = address.replace(/^::ffff:/i, '');
  return a.startsWith('127.') || a === '::1';
}

function statusOf(outcome: Outcome): number | undefined {
  if (outcome.kind === 'http') return outcome.status;
  if (outcome.kind === 'ok') return outcome.status;
  return undefined;
}

function trustedPeer(o: Observation | undefined): string | undefined {
  if (!o?.peer || o.peer.basis === 'header-unverified') return undefined;
  return o.peer.identity;
}

export function factsOf(result: AttemptResult, outcomeClass: OutcomeClass): Facts {
  const seen = result.arrived[0];
  const peer = trustedPeer(seen);
  const outcome = result.client.outcome;
  const reach = outcome.kind === 'icmp' ? outcome.reply : seen !== undefined;
  const facts: Facts = { outcome: outcomeClass, reach, mtls: peer !== undefined };
  if (peer !== undefined) facts.peer = peer;
  if (seen) {
    const own = new Set(result.destinationAddresses ?? []);
    facts.viaSidecar = isLoopback(seen.source.address) || own.has(seen.source.address);
  }
  const status = statusOf(result.client.outcome);
  if (status !== undefined) facts.status = status;
  return facts;
}

/** Reads one attempt of `probe` against its expectation. */
export function evaluate(probe: Pick<Probe, 'to' | 'port' | 'protocol' | 'expect'>, result: AttemptResult): Evaluation {
  if (!result.destinationQueried) {
    return { kind: 'infrastructure', reason: `could not read what ${probe.to} recorded for this probe` };
  }
  const c = classify(result.client.outcome);
  if ('infrastructure' in c) return { kind: 'infrastructure', reason: c.infrastructure };
  const facts = factsOf(result, c.class);
  const checks = checksOf(probe.expect, facts);
  const matched = checks.every((k) => k.ok);
  const distinguished = distinguish(probe.expect, facts);
  if (matched) return { kind: 'judged', facts, distinguished, checks, matched };
  return { kind: 'judged', facts, distinguished, checks, matched, reason: explain(probe, result, facts, checks) };
}

/** The outcome class as `failure` sees it: classes it accepts alike become one, the others stay apart. */
function failureView(failure: Failure, outcome: OutcomeClass): string {
  if (failure === 'reset' && outcome === 'eof') return 'reset';
  if (failure === 'any' && outcome !== 'ok') return 'failed';
  return outcome;
}

/**
 * What `expect` can tell apart in `facts` (see Distinguished). Every check of checksOf reads only these values,
 * so two attempts with equal views always match alike: comparing views can merge only observations the
 * expectation judges identically, never a right one with a wrong one.
 */
export function distinguish(expect: Expectation, facts: Facts): Distinguished {
  const d: Distinguished = { reach: facts.reach };
  if (expect.failure !== undefined) d.outcome = failureView(expect.failure, facts.outcome);
  if (expect.mtls !== undefined) d.mtls = facts.mtls;
  if (expect.peer !== undefined) d.peer = facts.peer ?? null;
  if (expect.viaSidecar !== undefined) d.viaSidecar = facts.viaSidecar ?? null;
  if (expect.status !== undefined) d.status = facts.status ?? null;
  return d;
}

export function sameDistinguished(a: Distinguished, b: Distinguished): boolean {
  return (
    a.reach === b.reach && a.outcome === b.outcome && a.mtls === b.mtls && a.peer === b.peer && a.viaSidecar === b.viaSidecar && a.status === b.status
  );
}

function yesNo(b: boolean | undefined): string {
  return b === undefined ? 'unknown' : String(b);
}

export function checksOf(expect: Expectation, facts: Facts): Check[] {
  const checks: Check[] = [{ field: 'reach', expected: String(expect.reach), observed: String(facts.reach), ok: expect.reach === facts.reach }];
  if (expect.failure !== undefined) {
    const ok = !facts.reach && failureSatisfied(expect.failure, facts.outcome);
    checks.push({ field: 'failure', expected: expect.failure, observed: facts.outcome, ok });
  }
  if (expect.mtls !== undefined) {
    const observed = facts.reach ? String(facts.mtls) : 'nothing arrived';
    checks.push({ field: 'mtls', expected: String(expect.mtls), observed, ok: facts.reach && facts.mtls === expect.mtls });
  }
  if (expect.peer !== undefined) {
    const observed = facts.reach ? (facts.peer ?? 'none') : 'nothing arrived';
    checks.push({ field: 'peer', expected: expect.peer, observed, ok: facts.peer === expect.peer });
  }
  if (expect.viaSidecar !== undefined) {
    const observed = facts.reach ? yesNo(facts.viaSidecar) : 'nothing arrived';
    checks.push({ field: 'viaSidecar', expected: String(expect.viaSidecar), observed, ok: facts.viaSidecar === expect.viaSidecar });
  }
  if (expect.status !== undefined) {
    const observed = facts.status === undefined ? 'no HTTP status' : String(facts.status);
    checks.push({ field: 'status', expected: String(expect.status), observed, ok: facts.status === expect.status });
  }
  return checks;
}

/** The FAIL sentence: what was expected and what happened instead. A failed reach explains everything else. */
function explain(probe: Pick<Probe, 'to' | 'port' | 'protocol' | 'expect'>, result: AttemptResult, facts: Facts, checks: Check[]): string {
  const client = describeClient(result.client);
  const dest = describeDestination(probe);
  const seen = result.arrived[0];
  const reach = checks[0];
  if (!reach.ok) {
    return probe.expect.reach
      ? `expected the request to reach ${dest}, but it never arrived: ${client}`
      : `expected the request to be blocked, but it reached ${dest} (the application saw it from ${seen?.source.address ?? 'an unknown address'}; ${client})`;
  }
  return checks
    .filter((k) => !k.ok)
    .map((k) => sentence(k, probe.expect, facts, client, seen))
    .join('; ');
}

function sentence(check: Check, expect: Expectation, facts: Facts, client: string, seen: Observation | undefined): string {
  switch (check.field) {
    case 'failure':
      return `expected ${describeFailure(expect.failure ?? 'any')}, ${client}`;
    case 'mtls':
      return expect.mtls
        ? `expected mutual TLS, but the application saw no peer identity${seen?.peer?.basis === 'header-unverified' ? ` (only an unverified XFCC header claiming ${seen.peer.identity})` : ''}`
        : `expected plaintext, but the application saw the peer identity ${facts.peer}`;
    case 'peer':
      return facts.peer === undefined
        ? `expected the peer identity ${expect.peer}, but the application saw none`
        : `expected the peer identity ${expect.peer}, the application saw ${facts.peer}`;
    case 'viaSidecar':
      return expect.viaSidecar
        ? `expected the request to pass through the destination's sidecar, but the application saw the client's address ${seen?.source.address} directly`
        : `expected the application to see the client directly, but it saw ${seen?.source.address} (its sidecar)`;
    case 'status':
      return facts.status === undefined
        ? `expected HTTP status ${expect.status}, but ${client}`
        : `expected HTTP status ${expect.status}, got ${facts.status}`;
    case 'reach':
      return client;
  }
}
