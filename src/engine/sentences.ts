/**
 * The words a person reads: how a client's attempt ended and what an expectation asked for. Kept apart from the
 * evaluator so every report phrases the same thing the same way.
 */
import type { Outcome, ProbeResult } from '../agent/types.js';
import type { Failure, Probe } from '../scenario/schema.js';

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** "app/server:8080 (http)", "api.partner.test:443 (https)", "app/server (icmp)". */
export function describeDestination(probe: Pick<Probe, 'to' | 'port' | 'protocol'>): string {
  return `${probe.to}${probe.port === undefined ? '' : `:${probe.port}`} (${probe.protocol})`;
}

function snippet(body: string): string {
  const line = body.trim().replace(/\s+/g, ' ');
  return line.length > 60 ? `${line.slice(0, 57)}...` : line;
}

/** How the client's attempt ended, as a clause: "the connection timed out after 2.0 s". */
export function describeClient(client: ProbeResult | undefined): string {
  if (client === undefined) return 'the client reported nothing';
  const total = client.timings.totalMs;
  return describeOutcome(client.outcome, total);
}

export function describeOutcome(outcome: Outcome, totalMs: number): string {
  switch (outcome.kind) {
    case 'ok':
      return outcome.status === undefined ? 'the exchange completed' : `the client got HTTP ${outcome.status}`;
    case 'refused':
      return 'the connection was refused';
    case 'reset':
      return outcome.afterBytes > 0 ? `the connection was reset after ${outcome.afterBytes} bytes` : 'the connection was reset';
    case 'eof':
      return 'the connection was accepted and then closed without a reply';
    case 'timeout':
      return outcome.phase === 'connect' ? `the connection timed out after ${seconds(totalMs)}` : `no response came within ${seconds(totalMs)}`;
    case 'tls':
      return `the TLS handshake failed (${outcome.reason})`;
    case 'http': {
      const from = outcome.server ? ` from ${outcome.server}` : '';
      const body = outcome.body.trim() ? ` ("${snippet(outcome.body)}")` : '';
      return `the client got HTTP ${outcome.status}${from}${body}`;
    }
    case 'icmp':
      return outcome.reply ? 'the ping was answered' : `the ping got no reply within ${seconds(totalMs)}`;
    case 'error':
      return `the client failed: ${outcome.errno ? `${outcome.errno} ` : ''}${outcome.message}`;
  }
}

/** What a `failure:` expectation asks for, as an object of "expected …". */
export function describeFailure(failure: Failure): string {
  switch (failure) {
    case 'reset':
      return 'a TCP reset'; // satisfied by eof too (see evaluate.ts)
    case 'timeout':
      return 'a timeout';
    case 'refused':
      return 'the connection to be refused';
    case 'tls':
      return 'a TLS handshake failure';
    case 'http-401':
      return 'HTTP 401';
    case 'http-403':
      return 'HTTP 403';
    case 'http-502':
      return 'HTTP 502';
    case 'any':
      return 'the request to fail';
  }
}
