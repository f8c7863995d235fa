/**
 * How a client-side event becomes an Outcome. Pure: the probe code records what happened on its socket and asks
 * here what that means, so the rules ("a RST after connect is `reset`, not `refused`") live in one tested place.
 */
import type { Observation, Outcome } from './types.js';

/** What the probe had seen on its connection when the error arrived. */
export interface ConnectionState {
  connected: boolean;
  /** Only meaningful for https: the TLS handshake completed. */
  tlsExpected: boolean;
  tlsDone: boolean;
  received: number;
}

export interface SocketError {
  code?: string;
  syscall?: string;
  message: string;
}

/** Node reports a peer's FIN during a TLS handshake or before an HTTP response as ECONNRESET without a syscall. */
function isEofInDisguise(err: SocketError): boolean {
  return err.syscall === undefined && (/socket hang up/i.test(err.message) || /disconnected before secure TLS/i.test(err.message));
}

export function classifyError(err: SocketError, state: ConnectionState): Outcome {
  const code = err.code;
  if (code === 'ECONNREFUSED') return { kind: 'refused' };
  if (code === 'ETIMEDOUT') return { kind: 'timeout', phase: state.connected ? 'response' : 'connect' };
  if (code === 'ECONNRESET' || code === 'EPIPE') {
    if (isEofInDisguise(err)) return { kind: 'eof' };
    return { kind: 'reset', afterBytes: state.received };
  }
  if (state.connected && state.tlsExpected && !state.tlsDone) {
    return { kind: 'tls', reason: code ? `${code}: ${err.message}` : err.message };
  }
  return code ? { kind: 'error', errno: code, message: err.message } : { kind: 'error', message: err.message };
}

const REPLY_PREVIEW = 512;

function isObservationFor(v: unknown, nonce: string): v is Observation {
  return typeof v === 'object' && v !== null && (v as { nonce?: unknown }).nonce === nonce;
}

/**
 * A raw reply (TCP line, UDP datagram) is `ok` only when it is the agent's observation for this very nonce; any
 * other answer comes from something else on that port and is reported with its first bytes.
 */
export function classifyReply(reply: string, nonce: string): Outcome {
  let parsed: unknown;
  try {
    parsed = JSON.parse(reply);
  } catch {
    return { kind: 'error', message: 'the reply is not a meshprobe observation', reply: reply.slice(0, REPLY_PREVIEW) };
  }
  if (isObservationFor(parsed, nonce)) return { kind: 'ok', observation: parsed };
  return { kind: 'error', message: "the reply does not carry the probe's nonce", reply: reply.slice(0, REPLY_PREVIEW) };
}

/**
 * An HTTP answer is `ok` only when the agent itself produced it for this nonce (marked by `x-meshprobe-agent`);
 * anything else (a sidecar's 403, a gateway's 502, another server) is `http` with the evidence to tell them apart.
 */
export function classifyHttp(status: number, headers: Record<string, string | string[] | undefined>, body: string, nonce: string): Outcome {
  if (headers['x-meshprobe-agent'] === '1') {
    try {
      const parsed: unknown = JSON.parse(body);
      if (isObservationFor(parsed, nonce)) return { kind: 'ok', observation: parsed, status };
    } catch {
      // falls through: a marked but unreadable answer is reported as the HTTP response it is
    }
  }
  const server = headers.server;
  const outcome: Outcome = { kind: 'http', status, body: body.slice(0, REPLY_PREVIEW) };
  if (server !== undefined) outcome.server = Array.isArray(server) ? server.join(', ') : server;
  return outcome;
}
