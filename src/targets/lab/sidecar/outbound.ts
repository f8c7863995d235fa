/**
 * The outbound side (15001) and the egress gateway's listeners: the model's outboundDecision says what happens to
 * a connection (TCP) or request (ports known as HTTP): passthrough, plaintext, mesh mTLS with this workload's
 * certificate, TLS origination verified as the emulated Istio version does, or the BlackHoleCluster (HTTP 502 /
 * close). HTTP requests first follow VirtualService routes bound to `mesh` (sidecar) or to the Gateway (gateway).
 */
import {
  Agent as HttpAgent,
  createServer as createHttpServer,
  request as httpRequest,
  type IncomingMessage,
  type RequestOptions,
  type ServerResponse,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import {
  authorize,
  DEFAULT_PATH_NORMALIZATION,
  normalizeRequest,
  outboundDecision,
  type AuthnDecision,
  type NormalizedRequest,
  type OutboundDecision,
} from '../../../model/index.js';
import { meshSni } from '../../../model/mesh.js';
import type { OnBehalfOf } from '../../../agent/net.js';
import { uriSanOf } from '../../../agent/observe.js';
import type { RegistryHost } from './config.js';
import { endToEndHeaders, IDLE, replyRbacDenied, type Context, type DecisionRecord, type Direction } from './context.js';
import { forwardHeaders, onClientError, replyRejected, wireRequest } from './http-request.js';
import { applyAuthnHeaders, authenticateInbound, authnPath, replyJwtRejected } from './jwt.js';
import type { OriginalDestination } from './original-dst.js';
import { portProtocol } from './registry.js';
import { gatewayAccepts, routeFor, type RouteChoice } from './routes.js';
import { resetConnection } from './reset.js';

const CONNECT_TIMEOUT_MS = 10_000;
const MESH_ALPN = ['istio-peer-exchange', 'istio'];

interface Upstream {
  address: string;
  port: number;
  tls?: ConnectionOptions;
  /** Mesh mTLS: the SPIFFE identity the server must present. */
  expectedIdentity?: string;
}

function decide(ctx: Context, host: string, port: number, protocol: 'tcp' | 'http' | 'tls', dest: RegistryHost | undefined): OutboundDecision {
  const self = ctx.config.self;
  const workload = dest?.kind === 'workload';
  return outboundDecision({
    source: { namespace: self.namespace, labels: self.labels },
    destination: {
      host,
      port,
      protocol,
      isMeshService: workload,
      hasSidecar: workload && dest.sidecar && !dest.gateway,
      ...(dest?.namespace ? { namespace: dest.namespace } : {}),
      ...(workload ? { workload: { labels: dest.labels, targetPort: port } } : {}),
    },
    ...(ctx.config.meshOutboundPolicy ? { meshOutboundPolicy: ctx.config.meshOutboundPolicy } : {}),
    // A Sidecar resource configures sidecars, never gateways.
    sidecars: ctx.config.mode === 'gateway' ? [] : ctx.sidecars,
    serviceEntries: ctx.serviceEntries,
    destinationRules: ctx.destinationRules,
    peerAuthentications: ctx.peerAuthentications,
    istioVersion: ctx.config.istioVersion,
  });
}

/** A ServiceEntry port's targetPort (Istio's TLS-origination task sends port 80 to 443). */
function targetPort(ctx: Context, host: string, port: number): number {
  for (const raw of ctx.config.resources as { kind?: string; spec?: { hosts?: string[]; ports?: { number?: number; targetPort?: number }[] } }[]) {
    if (raw.kind !== 'ServiceEntry' || !raw.spec?.hosts?.includes(host)) continue;
    const p = raw.spec.ports?.find((sp) => Number(sp.number) === port);
    if (p?.targetPort !== undefined) return Number(p.targetPort);
  }
  return port;
}

function meshIdentityCheck(expected: string | undefined) {
  return (_name: string, cert: PeerCertificate): Error | undefined => {
    const got = uriSanOf(cert.subjectaltname);
    return expected && got !== expected ? new Error(`server identity ${got ?? '(none)'} is not ${expected}`) : undefined;
  };
}

/** Where and how to connect for a decision that forwards (undefined for the BlackHoleCluster). */
function upstreamFor(ctx: Context, d: OutboundDecision, host: string, port: number, fallback: string): Upstream | undefined {
  if (d.action === 'blackhole') return undefined;
  const dest = d.action === 'passthrough' ? undefined : ctx.registry.name(host);
  const address = dest?.address ?? fallback;
  switch (d.action) {
    case 'passthrough':
    case 'plaintext':
      return { address, port };
    case 'mtls':
      return {
        address,
        port,
        ...(dest?.spiffe ? { expectedIdentity: dest.spiffe } : {}),
        tls: {
          secureContext: ctx.meshTls,
          ALPNProtocols: MESH_ALPN,
          servername: meshSni(port, host),
          checkServerIdentity: meshIdentityCheck(dest?.spiffe),
        },
      };
    case 'tls-originate': {
      const verify = d.verification.verify;
      return {
        address,
        port: targetPort(ctx, host, port),
        tls: {
          ...(isIP(d.sni) ? {} : { servername: d.sni }),
          rejectUnauthorized: verify,
          secureContext: ctx.originationTls(),
          ALPNProtocols: ['http/1.1'],
        },
      };
    }
  }
}

/**
 * A TLS connection to an upstream over `raw`, offering the last session this sidecar had with the same upstream
 * (same address, port, SNI and expected identity): the key holds everything the first handshake checked.
 */
function resumingTls(ctx: Context, up: Upstream, raw: Socket, options: ConnectionOptions | undefined = up.tls): Socket {
  const key = `${up.address}:${up.port}:${up.tls?.servername ?? ''}:${up.expectedIdentity ?? ''}:${up.tls?.rejectUnauthorized !== false}`;
  const session = ctx.sessions.get(key);
  const tls = tlsConnect({ ...options, socket: raw, ...(session ? { session } : {}) });
  tls.on('session', (s: Buffer) => ctx.sessions.set(key, s));
  return tls;
}

function recordOf(dir: Direction, from: string, up: Upstream | undefined, fallback: string, host: string, d: OutboundDecision): DecisionRecord {
  const to = up ? `${up.address}:${up.port}` : fallback;
  return { dir, from, to, host, result: d.action === 'blackhole' ? 'blackholed' : 'connected', reason: d.reason, trace: d.trace };
}

/** A non-HTTP connection: one decision, then bytes piped (or closed). */
export function handleOutboundTcp(ctx: Context, socket: Socket, dst: OriginalDestination, from: string, protocol: 'tcp' | 'tls'): void {
  const dest = ctx.registry.address(dst.address);
  const host = dest?.host ?? dst.address;
  const d = decide(ctx, host, dst.port, protocol, dest);
  const up = upstreamFor(ctx, d, host, dst.port, dst.address);
  const record = recordOf('outbound', from, up, `${dst.address}:${dst.port}`, host, d);
  if (!up) {
    ctx.log(record);
    return void socket.destroy();
  }
  const raw = ctx.net.connect({ host: up.address, port: up.port, onBehalfOf: { downstream: socket, givesUpAfterMs: CONNECT_TIMEOUT_MS } });
  raw.setNoDelay(true); // small request/response exchanges: Nagle + delayed ACK would add ~40 ms per hop
  const upstream: Socket = up.tls ? resumingTls(ctx, up, raw) : raw;
  upstream.setTimeout(CONNECT_TIMEOUT_MS, () => upstream.destroy(new Error('connect timeout')));
  upstream.once(up.tls ? 'secureConnect' : 'connect', () => {
    upstream.setTimeout(0);
    ctx.log({ ...record, to: `${dst.address}:${dst.port}` });
    socket.pipe(upstream);
    upstream.pipe(socket);
  });
  upstream.on('error', (err: NodeJS.ErrnoException) => {
    ctx.log({ ...record, result: 'failed', reason: `${d.reason}; upstream error ${err.code ?? err.message}` });
    resetConnection(socket);
  });
  upstream.on('close', () => socket.end());
  socket.on('close', () => upstream.destroy());
}

function agentFor(ctx: Context, up: Upstream): HttpAgent {
  const key = `${up.address}:${up.port}:${up.tls ? JSON.stringify({ s: up.tls.servername, r: up.tls.rejectUnauthorized, m: up.tls.ALPNProtocols }) : 'plain'}`;
  let a = ctx.pools.get(key);
  if (!a) {
    // Envoy pools upstream connections; so does the lab's sidecar (it keeps mTLS handshakes off the request path).
    const pool = { keepAlive: true, timeout: IDLE.upstreamMs };
    const agent = up.tls ? new HttpsAgent({ ...pool, ...up.tls }) : new HttpAgent(pool);
    // Connections are made where this sidecar's sockets are (its pod), then wrapped in TLS for an https pool,
    // resuming the last session with that upstream as the TCP path does.
    agent.createConnection = ((options: ConnectionOptions & { host?: string; port?: number; onBehalfOf?: OnBehalfOf }) => {
      const raw = ctx.net.connect({
        host: options.host ?? up.address,
        port: Number(options.port ?? up.port),
        ...(options.onBehalfOf ? { onBehalfOf: options.onBehalfOf } : {}),
      });
      raw.setNoDelay(true);
      return up.tls ? resumingTls(ctx, up, raw, options) : raw;
    }) as HttpAgent['createConnection'];
    ctx.pools.set(key, agent);
    a = agent;
  }
  return a;
}

function reply(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), server: 'envoy' });
  res.end(body);
}

interface OutConn {
  dst: OriginalDestination;
  from: string;
}
const outConns = new WeakMap<Socket, OutConn>();

/** The route an HTTP request takes: a VirtualService destination, else the host it names. */
function routeRequest(ctx: Context, host: string, port: number): { route?: RouteChoice; missing?: string } {
  if (ctx.config.mode === 'sidecar') {
    const route = routeFor(ctx.virtualServices, 'mesh', host, port);
    return route ? { route } : {};
  }
  const self = ctx.config.self;
  const bound = ctx.gateways.filter((g) => Object.entries(g.selector).every(([k, v]) => self.labels[k] === v) && gatewayAccepts(g, port, host));
  for (const g of bound) {
    const route = routeFor(ctx.virtualServices, `${g.namespace}/${g.name}`, host, port);
    if (route) return { route };
  }
  return {
    missing: bound.length
      ? `no VirtualService bound to Gateway ${bound.map((g) => `${g.namespace}/${g.name}`).join(', ')} routes ${host}:${port}`
      : `no Gateway server accepts ${host}:${port}`,
  };
}

/**
 * A gateway is a workload too: RequestAuthentication and AuthorizationPolicy (mesh-wide ones from the root
 * namespace, or ones selecting `istio: egressgateway`) apply to the requests it receives, the JWT check first; the
 * sidecars reach it in plaintext, so no peer principal. Undefined: the request was answered here.
 */
function gatewayAuthorized(ctx: Context, n: NormalizedRequest, c: OutConn, host: string, res: ServerResponse): AuthnDecision | undefined {
  const self = ctx.config.self;
  const to = `${c.dst.address}:${c.dst.port}`;
  const authn = authenticateInbound(ctx, n);
  if (authn.kind === 'rejected') {
    ctx.log({ dir: 'gateway', from: c.from, to, host, result: 'rejected', reason: authn.reason, trace: authn.trace });
    replyJwtRejected(res, authn, n.host, n.policyPath);
    return undefined;
  }
  const d = authorize(
    {
      // A gateway uses the remote address (use_remote_address: true, no trusted hops): remote.ip is the peer.
      destination: { namespace: self.namespace, labels: self.labels, port: c.dst.port, ip: c.dst.address },
      source: { ip: c.from.slice(0, c.from.lastIndexOf(':')) },
      protocol: 'http',
      http: { method: n.method, path: n.policyPath, host, headers: n.headers },
      ...(authn.kind === 'authenticated' ? { auth: authn.auth } : {}),
    },
    ctx.authorizationPolicies,
  );
  if (d.allowed) return authn;
  ctx.log({ dir: 'gateway', from: c.from, to, host, result: 'denied', reason: d.reason, trace: [...authn.trace, ...d.trace] });
  replyRbacDenied(res);
  return undefined;
}

function onRequest(ctx: Context, req: IncomingMessage, res: ServerResponse): void {
  const c = outConns.get(req.socket);
  if (!c) return void res.destroy();
  const dir: Direction = ctx.config.mode === 'gateway' ? 'gateway' : 'outbound';
  // Every Envoy HTTP connection manager normalises (outbound and gateways too): the request leaves normalised.
  const wire = wireRequest(req);
  const n = normalizeRequest(wire, ctx.config.pathNormalization ?? DEFAULT_PATH_NORMALIZATION);
  if (!n.ok) {
    ctx.log({
      dir,
      from: c.from,
      to: `${c.dst.address}:${c.dst.port}`,
      result: 'rejected',
      reason: n.reason,
      http: { method: wire.method, path: wire.target, status: n.status },
    });
    return replyRejected(res, n);
  }
  const hostHeader = n.host.replace(/:\d+$/, '');
  const named = hostHeader ? ctx.registry.name(hostHeader, ctx.config.self.namespace) : undefined;
  const fallback = ctx.config.mode === 'gateway' ? undefined : ctx.registry.address(c.dst.address);
  const asked = named?.host ?? (hostHeader && !isIP(hostHeader) ? hostHeader : (fallback?.host ?? c.dst.address));
  const authn = dir === 'gateway' ? gatewayAuthorized(ctx, n, c, asked, res) : undefined;
  if (dir === 'gateway' && !authn) return;
  const { route, missing } = routeRequest(ctx, asked, c.dst.port);
  if (missing) {
    ctx.log({ dir, from: c.from, to: `${c.dst.address}:${c.dst.port}`, host: asked, result: 'no-route', reason: `${missing}: 404` });
    return reply(res, 404, '');
  }
  const host = route?.host ?? asked;
  const port = route?.port ?? c.dst.port;
  const dest = ctx.registry.name(host) ?? (route ? undefined : fallback);
  const d = decide(ctx, host, port, 'http', dest);
  const trace = route ? [route.reason, ...d.trace] : d.trace;
  const up = upstreamFor(ctx, d, host, port, route ? (dest?.address ?? host) : c.dst.address);
  const record = {
    ...recordOf(dir, c.from, up, `${c.dst.address}:${c.dst.port}`, host, d),
    trace,
    http: { method: n.method, path: n.path, received: wire.target },
  };
  if (!up) {
    ctx.log({ ...record, http: { ...record.http, status: 502 } });
    return reply(res, 502, '');
  }
  const send = up.tls ? httpsRequest : httpRequest;
  const upReq = send({
    host: up.address,
    port: up.port,
    method: n.method,
    path: authnPath(n.path, authn),
    headers: endToEndHeaders(forwarded(req, n.host, authn)),
    agent: agentFor(ctx, up),
    // A new pooled connection is made for this request (node's Agent hands these options to createConnection).
    onBehalfOf: { downstream: req.socket, givesUpAfterMs: IDLE.upstreamMs },
  } as RequestOptions);
  upReq.on('response', (upRes) => {
    ctx.log({ ...record, http: { ...record.http, status: upRes.statusCode } });
    res.writeHead(upRes.statusCode ?? 502, endToEndHeaders(upRes.headers));
    upRes.pipe(res);
  });
  upReq.on('error', (err: NodeJS.ErrnoException) => {
    ctx.log({ ...record, result: 'failed', reason: `${d.reason}; upstream error ${err.code ?? err.message}` });
    if (res.headersSent) return void res.destroy();
    const why = up.tls ? `TLS_error: ${err.code ?? err.message}` : (err.code ?? err.message);
    reply(res, 503, `upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: ${why}`);
  });
  req.pipe(upReq);
}

function forwarded(req: IncomingMessage, host: string, authn: AuthnDecision | undefined): Record<string, string | string[]> {
  const headers = forwardHeaders(req, host);
  if (authn) applyAuthnHeaders(headers, authn);
  return headers;
}

export function outboundHttpServer(ctx: Context) {
  const server = createHttpServer((req, res) => onRequest(ctx, req, res));
  server.keepAliveTimeout = IDLE.downstreamMs;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) =>
    onClientError(ctx, err, socket, outConns.get(socket), ctx.config.mode === 'gateway' ? 'gateway' : 'outbound'),
  );
  return server;
}

/** Handles one connection redirected to 15001 (or accepted by a gateway listener). */
export function handleOutbound(ctx: Context, socket: Socket, dst: OriginalDestination, http: ReturnType<typeof outboundHttpServer>): void {
  socket.on('error', () => socket.destroy());
  const from = `${(socket.remoteAddress ?? '').replace(/^::ffff:/, '')}:${socket.remotePort}`;
  const dest = ctx.registry.address(dst.address);
  const protocol = ctx.config.mode === 'gateway' ? 'http' : portProtocol(dest, dest?.host ?? dst.address, dst.port, ctx.serviceEntries);
  if (protocol === 'http') {
    outConns.set(socket, { dst, from });
    http.emit('connection', socket);
    socket.resume();
    return;
  }
  handleOutboundTcp(ctx, socket, dst, from, protocol === 'https' ? 'tls' : 'tcp');
}
