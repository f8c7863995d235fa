/**
 * The agent's wire types: what a client is asked to send, what a server records, and how an outcome is
 * classified. Shared by the agent itself, every target and the engine.
 */

/** The protocols a probe can use and a listener can speak, declared once: the scenario format's enums are these. */
export const PROBE_PROTOCOLS = ['tcp', 'udp', 'http', 'https', 'icmp'] as const;
export type ProbeProtocol = (typeof PROBE_PROTOCOLS)[number];
export const LISTEN_PROTOCOLS = ['http', 'https', 'tcp', 'udp'] as const;
export type ListenProtocol = (typeof LISTEN_PROTOCOLS)[number];

/** One probe the client role sends. `nonce` joins the client's outcome to what the destination recorded. */
export interface ProbeRequest {
  nonce: string;
  protocol: ProbeProtocol;
  /** DNS name or IP address of the destination. */
  host: string;
  /** Absent for icmp. */
  port?: number;
  /** `raw`: written on the socket exactly as given (call-raw.ts); then method/path/headers are absent. */
  http?: { method?: string; path?: string; headers?: Record<string, string>; raw?: RawHttpRequest };
  /** https only: which CA to trust (default: none, i.e. any certificate fails unless `insecure`). */
  tls?: { caFile?: string; servername?: string; insecure?: boolean; certFile?: string; keyFile?: string };
  /** Milliseconds. connect: TCP handshake (or UDP/ICMP reply wait); total: the whole exchange. */
  timeoutMs?: { connect?: number; total?: number };
}

/** A request written byte for byte: `<method> <requestTarget> HTTP/<version>`, Host, headers in order. */
export interface RawHttpRequest {
  method: string;
  requestTarget: string;
  /** The Host header as written; absent: `<host>:<port>` of the probe, or no Host at all on HTTP/1.0. */
  host?: string;
  headers?: Array<[string, string]>;
  version?: '1.1' | '1.0';
}

export interface Endpoint {
  address: string;
  port: number;
}

/** The X-Forwarded-Client-Cert header, parsed. `By` is the server's identity, `URI` the client's. */
export interface Xfcc {
  raw: string;
  by?: string;
  uri?: string;
  hash?: string;
  subject?: string;
}

/** What a listener recorded about one request that reached the application. */
export interface Observation {
  nonce: string;
  protocol: ListenProtocol;
  /** The peer address as the application saw it (a sidecar in the path shows a local address). */
  source: Endpoint;
  local: Endpoint;
  /** ISO timestamp of arrival. */
  at: string;
  /** The `name` the recording agent was started with (which workload answered). */
  workload?: string;
  tls?: { sni?: string; alpn?: string; peerUriSan?: string; authorized?: boolean };
  http?: {
    method: string;
    /** The request-target exactly as it arrived (after any sidecar's normalisation). */
    path: string;
    /** The request line as it arrived: `<method> <target> HTTP/<version>`. */
    requestLine?: string;
    headers: Record<string, string>;
    /** Parsed X-Forwarded-Client-Cert as the application received it. */
    xfcc?: Xfcc;
  };
  /**
   * The peer identity the server may rely on, and why. `header-unverified`: an XFCC header arrived but the agent
   * was not told that a sidecar sits in front of it, so it is a claim by the client, not evidence of mTLS.
   * `sidecar-record`: non-HTTP traffic carries no header; the target joined the application's source address to
   * its sidecar's record of the mTLS connection it handed over (the lab does this).
   */
  peer?: { identity: string; basis: 'tls-client-certificate' | 'xfcc-from-sidecar' | 'header-unverified' | 'sidecar-record' };
}

/** How one probe ended, as the client saw it. */
export type Outcome =
  | { kind: 'ok'; observation?: Observation; status?: number }
  | { kind: 'refused' }
  | { kind: 'reset'; afterBytes: number }
  | { kind: 'eof' }
  | { kind: 'timeout'; phase: 'connect' | 'response' }
  | { kind: 'tls'; reason: string }
  | { kind: 'http'; status: number; server?: string; body: string }
  | { kind: 'icmp'; reply: boolean; rttMs?: number }
  /** `reply`: the first bytes of an answer that was not the agent's observation for this nonce. */
  | { kind: 'error'; errno?: string; message: string; reply?: string };

export type OutcomeKind = Outcome['kind'];

export interface Timings {
  connectMs?: number;
  firstByteMs?: number;
  totalMs: number;
}

export interface ProbeResult {
  nonce: string;
  request: ProbeRequest;
  outcome: Outcome;
  timings: Timings;
  bytes: { sent: number; received: number };
  /**
   * Set when the harness itself was the reason for the outcome: `stall` says how the thread that ran the probe
   * stalled while it waited (see ProbeHost in call.ts). The engine judges such an attempt ERROR.
   */
  harness?: { stall: string };
  /**
   * Set when the outcome was known before the timeout that gives it (SEALED_EVENT in net.ts): `by` is the evidence
   * that decided it. The outcome itself is the one the timeout would have given.
   */
  early?: { by: string };
}
