/**
 * Everything a running sidecar knows, loaded once from its config: the model's parsed resources, the registry,
 * its certificates, and the decision log (one line per connection or request, with the model's reason and trace).
 */
import { closeSync, constants, openSync, readFileSync, writeSync } from 'node:fs';
import { Agent as HttpAgent, type ServerResponse } from 'node:http';
import { createSecureContext, type SecureContext } from 'node:tls';
import {
  parseResources,
  type AuthorizationPolicy,
  type DestinationRule,
  type IstioResource,
  type PeerAuthentication,
  type RequestAuthentication,
  type ServiceEntry,
  type Sidecar,
} from '../../../model/index.js';
import { nativeNet, type Net } from '../../../agent/net.js';
import { INBOUND_SOURCE, type SidecarConfig } from './config.js';
import { Registry } from './registry.js';
import { parseGateway, parseVirtualService, type Gateway, type VirtualService } from './routes.js';

export interface Context {
  config: SidecarConfig;
  registry: Registry;
  peerAuthentications: PeerAuthentication[];
  authorizationPolicies: AuthorizationPolicy[];
  requestAuthentications: RequestAuthentication[];
  sidecars: Sidecar[];
  serviceEntries: ServiceEntry[];
  destinationRules: DestinationRule[];
  gateways: Gateway[];
  virtualServices: VirtualService[];
  /**
   * Mesh mTLS, both sides: our certificate; the peer's must chain to the mesh CA. Built once: a context per
   * connection cost more CPU than the handshake itself. Sessions resume (TLS 1.3 tickets), as Envoy's do by
   * default; a resumed session still carries the peer's verified certificate.
   */
  meshTls: SecureContext;
  /** TLS origination, verified against the lab's system CAs (built on first use). */
  originationTls(): SecureContext;
  /** The latest TLS session per upstream, offered on the next connection to it. */
  sessions: Map<string, Buffer>;
  /** Where this sidecar's sockets are made: its pod's network namespace, as uid 1337. */
  net: Net;
  /** Writes one line to this sidecar's decision log (and indexes inbound connections, see `inbound`). */
  log: (r: DecisionRecord) => void;
  /**
   * The newest inbound records by the sidecar's own address towards the application (`127.0.0.6:<port>`): the
   * source the application sees, so an observation joins the peer identity this sidecar verified, exactly.
   */
  inbound: Map<string, DecisionRecord>;
  /** Upstream connection pools, by destination and TLS settings. */
  pools: Map<string, HttpAgent>;
  /** Pooled connections to the application, from 127.0.0.6 (Envoy's inbound passthrough source). */
  appAgent: HttpAgent;
  /** Closes the decision log and every pooled connection. */
  close(): void;
}

const ofKind = <K extends IstioResource['kind']>(all: readonly IstioResource[], kind: K) =>
  all.filter((r): r is Extract<IstioResource, { kind: K }> => r.kind === kind);

export function loadContext(config: SidecarConfig, net: Net = nativeNet): Context {
  const { resources } = parseResources(config.resources);
  const raws = config.resources.map((r) => r as { kind?: string });
  const [cert, key, meshCa, systemCa] = [config.certFile, config.keyFile, config.meshCaFile, config.systemCaFile].map((f) => readFileSync(f));
  // Lines logged in one turn of the event loop go to the file in one write, right after that turn: before any
  // reply that turn's work leads to can reach the lab, so the log is complete when the lab reads it.
  // Never through a symlink, and private to root whatever the umask (the lab also creates it so beforehand).
  const fd = config.logFile ? openSync(config.logFile, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600) : 1;
  let pending: string[] = [];
  let closed = false; // after close the descriptor's number may belong to something else: never write to it again
  const flush = () => {
    const text = pending.join('');
    pending = [];
    try {
      if (text && !closed) writeSync(fd, text);
    } catch {
      /* the lab's directory is gone (teardown): nothing to keep the lines in */
    }
  };
  let origination: SecureContext | undefined;
  const pools = new Map<string, HttpAgent>();
  const inbound = new Map<string, DecisionRecord>();
  const appAgent = new HttpAgent({ keepAlive: true, timeout: IDLE.toApplicationMs });
  appAgent.createConnection = ((options: { host?: string; port?: number }) => {
    const socket = net.connect({ host: options.host ?? '127.0.0.1', port: Number(options.port), localAddress: INBOUND_SOURCE });
    socket.setNoDelay(true);
    // A pooled HTTP connection to the application may reuse the local port of an earlier, closed TCP connection
    // whose record names that connection's peer: that record is no longer about this port (an HTTP request's peer
    // travels in XFCC). Seen at 90 workloads: plaintext requests joined to another client's mTLS identity.
    socket.once('connect', () => inbound.delete(`${socket.localAddress}:${socket.localPort}`));
    return socket;
  }) as HttpAgent['createConnection'];
  return {
    config,
    registry: new Registry(config.registry),
    peerAuthentications: ofKind(resources, 'PeerAuthentication'),
    authorizationPolicies: ofKind(resources, 'AuthorizationPolicy'),
    requestAuthentications: ofKind(resources, 'RequestAuthentication'),
    sidecars: ofKind(resources, 'Sidecar'),
    serviceEntries: ofKind(resources, 'ServiceEntry'),
    destinationRules: ofKind(resources, 'DestinationRule'),
    gateways: raws.filter((r) => r.kind === 'Gateway').map(parseGateway),
    virtualServices: raws.filter((r) => r.kind === 'VirtualService').map(parseVirtualService),
    meshTls: createSecureContext({ cert, key, ca: meshCa, sessionIdContext: 'meshprobe-sidecar' }),
    originationTls: () => (origination ??= createSecureContext({ ca: systemCa })),
    sessions: new Map(),
    net,
    log: (r) => {
      if (r.dir === 'inbound' && r.upstream) {
        inbound.delete(r.upstream);
        inbound.set(r.upstream, r);
        if (inbound.size > MAX_INBOUND_RECORDS) inbound.delete(inbound.keys().next().value as string);
      }
      if (closed) return;
      if (pending.length === 0) setImmediate(flush);
      pending.push(formatDecision(r));
    },
    inbound,
    pools,
    appAgent,
    close: () => {
      for (const a of [...pools.values(), appAgent]) a.destroy();
      flush();
      closed = true;
      if (fd !== 1) closeSync(fd);
    },
  };
}

/** Inbound records kept for joining (the oldest go first); a source port is reused long after this many. */
const MAX_INBOUND_RECORDS = 10_000;

export type Direction = 'inbound' | 'outbound' | 'gateway';

/** One decision: what the sidecar did with a connection (or HTTP request) and why. */
export interface DecisionRecord {
  dir: Direction;
  from: string;
  to: string;
  /** allowed / denied / rejected / blackholed / forwarded / failed. */
  result: string;
  reason: string;
  trace?: readonly string[];
  /** Peer identity from the client certificate (inbound mTLS). */
  peer?: string;
  transport?: 'mtls' | 'plaintext' | 'tls-passthrough';
  /** Inbound mTLS: the client resumed an earlier TLS session (no certificate exchange; the session carries it). */
  resumed?: boolean;
  /** Inbound TCP: the sidecar's own address:port towards the application; the application sees it as the source. */
  upstream?: string;
  host?: string;
  /** HTTP: the probe's nonce, from the request's x-meshprobe-nonce header. */
  nonce?: string;
  /** `path`: what was matched and forwarded (normalised, with the query); `received`: the request-target as it arrived. */
  http?: { method: string; path: string; received?: string; status?: number };
  /** The AuthorizationPolicy rule that decided (`AuthorizationPolicy ns/name rule N`), and AUDIT rules that matched. */
  policy?: string;
  audited?: string[];
  /** PeerAuthentication mode applied to the port, and why. */
  mtlsMode?: string;
}

/** Human part first (`<time> <dir> <from> -> <to> <result>`), then ` | ` and the record as JSON for the lab to parse. */
export function formatDecision(r: DecisionRecord): string {
  return `${new Date().toISOString()} ${r.dir} ${r.from} -> ${r.to} ${r.result} | ${JSON.stringify(r)}\n`;
}

/** Hop-by-hop headers (RFC 9110 §7.6.1) are for one connection: a proxy never forwards them (Envoy neither). */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade'];

export function endToEndHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !HOP_BY_HOP.includes(k)) out[k] = v;
  return out;
}

/**
 * Pooled connections must be closed by the side that would otherwise reuse them, or a request sent just as the
 * other side closes an idle connection fails (a spurious 503). So clients give up idle connections well before
 * servers do: the agent's HTTP server closes after 5 s (node's default), so the sidecar drops idle
 * connections to it after 2 s; sidecar-to-sidecar connections idle out at the client after 30 s and at the
 * server after 120 s.
 */
export const IDLE = { toApplicationMs: 2_000, upstreamMs: 30_000, downstreamMs: 120_000 } as const;

/** What Envoy's RBAC filter answers to a denied HTTP request. */
export function replyRbacDenied(res: ServerResponse): void {
  const body = 'RBAC: access denied';
  res.writeHead(403, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), server: 'istio-envoy' });
  res.end(body);
}
