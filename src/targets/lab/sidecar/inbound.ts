/**
 * The inbound side (15006): PeerAuthentication decides whether the connection's transport is accepted (mesh mTLS is
 * recognised by the TLS ClientHello offering Istio's ALPN), mTLS is terminated with a client certificate required
 * from the mesh CA, then AuthorizationPolicy is evaluated per connection (TCP: deny closes) or per request (ports
 * the workload declares http: deny answers 403 `RBAC: access denied`). Allowed traffic reaches the application
 * from 127.0.0.6, as from Envoy's inbound passthrough; on mTLS HTTP the sidecar sets X-Forwarded-Client-Cert.
 */
import { createHash } from 'node:crypto';
import { createServer as createHttpServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import {
  authorize,
  DEFAULT_PATH_NORMALIZATION,
  effectiveMtls,
  formatRef,
  inboundTransport,
  normalizeRequest,
  remoteIpOf,
  type AuthzDecision,
  type PolicyMatch,
  type RequestAuth,
} from '../../../model/index.js';
import { NONCE_HEADER } from '../../../agent/call-http.js';
import { uriSanOf } from '../../../agent/observe.js';
import { INBOUND_SOURCE } from './config.js';
import { endToEndHeaders, IDLE, replyRbacDenied, type Context, type DecisionRecord } from './context.js';
import { forwardHeaders, onClientError, replyRejected, wireRequest } from './http-request.js';
import { applyAuthnHeaders, authenticateInbound, authnPath, replyJwtRejected } from './jwt.js';
import type { OriginalDestination } from './original-dst.js';
import { clientHelloAlpn, clientHelloSni, peekFirstBytes } from './peek.js';
import { resetConnection } from './reset.js';

const CONNECT_TIMEOUT_MS = 10_000;
const XFCC = 'x-forwarded-client-cert';

interface Conn {
  dst: OriginalDestination;
  clientIp: string;
  from: string;
  peer?: string;
  /** The SNI of the mTLS handshake (`connection.sni`). */
  sni?: string;
  certHash?: string;
  mtlsMode: string;
  transport: 'mtls' | 'plaintext' | 'tls-passthrough';
  resumed?: boolean;
}

const conns = new WeakMap<Socket, Conn>();

const ruleName = (m: PolicyMatch) => `${formatRef(m.policy)} rule ${m.ruleIndex}`;

function decisionFields(d: AuthzDecision): Pick<DecisionRecord, 'result' | 'reason' | 'trace' | 'policy' | 'audited'> {
  return {
    result: d.allowed ? 'allowed' : 'denied',
    reason: d.reason,
    trace: d.trace,
    ...('matched' in d ? { policy: ruleName(d.matched) } : {}),
    ...(d.audited.length ? { audited: d.audited.map(ruleName) } : {}),
  };
}

function authorizeConn(
  ctx: Context,
  c: Conn,
  http?: { method: string; path: string; host: string; headers: Readonly<Record<string, string>> },
  auth?: RequestAuth,
): AuthzDecision {
  const self = ctx.config.self;
  return authorize(
    {
      destination: { namespace: self.namespace, labels: self.labels, port: c.dst.port, ip: c.dst.address },
      source: { ...(c.peer ? { principal: c.peer } : {}), ip: c.clientIp, remoteIp: remoteIpOf(c.clientIp, http?.headers) },
      ...(c.sni ? { connection: { sni: c.sni } } : {}),
      protocol: http ? 'http' : 'tcp',
      ...(http ? { http } : {}),
      ...(auth ? { auth } : {}),
    },
    ctx.authorizationPolicies,
  );
}

/** What every inbound decision-log line says of its connection. */
function logBase(c: Conn) {
  return {
    dir: 'inbound' as const,
    from: c.from,
    to: `${c.dst.address}:${c.dst.port}`,
    transport: c.transport,
    mtlsMode: c.mtlsMode,
    ...(c.peer ? { peer: c.peer } : {}),
    ...(c.resumed ? { resumed: true } : {}),
  };
}

function pipeTcp(ctx: Context, c: Conn, stream: Socket): void {
  const decision = authorizeConn(ctx, c);
  const base = logBase(c);
  if (!decision.allowed) {
    ctx.log({ ...base, ...decisionFields(decision) });
    // Istio's TCP RBAC filter closes an accepted connection it denies.
    return void stream.destroy();
  }
  const upstream = ctx.net.connect({ host: c.dst.address, port: c.dst.port, localAddress: INBOUND_SOURCE });
  upstream.setNoDelay(true);
  upstream.setTimeout(CONNECT_TIMEOUT_MS, () => upstream.destroy(new Error('connect timeout')));
  upstream.once('connect', () => {
    upstream.setTimeout(0);
    ctx.log({ ...base, ...decisionFields(decision), result: 'connected', upstream: `${upstream.localAddress}:${upstream.localPort}` });
    stream.pipe(upstream);
    upstream.pipe(stream);
  });
  upstream.on('error', (err: NodeJS.ErrnoException) => {
    ctx.log({ ...base, result: 'failed', reason: `upstream error ${err.code ?? err.message}` });
    if (stream instanceof TLSSocket) stream.destroy();
    else resetConnection(stream);
  });
  upstream.on('close', () => stream.end());
  stream.on('close', () => upstream.destroy());
}

function onRequest(ctx: Context, req: IncomingMessage, res: ServerResponse): void {
  const c = conns.get(req.socket);
  if (!c) return void res.destroy();
  const wire = wireRequest(req);
  // The probe's nonce (the agent's header) makes the decision findable with `grep -F <nonce> sidecar.log`.
  const nonce = wire.headers.find(([k]) => k.toLowerCase() === NONCE_HEADER)?.[1];
  const base = { ...logBase(c), ...(nonce !== undefined ? { nonce } : {}) };
  // Istio normalises before authorization and forwards the normalised request (model/http-normalization.ts).
  const n = normalizeRequest(wire, ctx.config.pathNormalization ?? DEFAULT_PATH_NORMALIZATION);
  if (!n.ok) {
    ctx.log({
      ...base,
      result: 'rejected',
      reason: n.reason,
      http: { method: wire.method, path: wire.target, received: wire.target, status: n.status },
    });
    return replyRejected(res, n);
  }
  // `hosts` match :authority as sent, port included (model/authz-rule.ts): no port stripping here.
  const http = { method: n.method, path: n.policyPath, host: n.host, headers: { ...n.headers } };
  const seen = { method: n.method, path: n.path, received: wire.target };
  const normalised = n.steps.map((t) => `path normalisation: ${t}`);
  // RequestAuthentication (jwt_authn) runs before RBAC: a refused token never meets an AuthorizationPolicy.
  const authn = authenticateInbound(ctx, n);
  const authnTrace = authn.trace.length > 0 ? [...authn.trace, authn.reason] : [];
  if (authn.kind === 'rejected') {
    ctx.log({ ...base, result: 'rejected', reason: authn.reason, trace: [...normalised, ...authnTrace], http: { ...seen, status: authn.status } });
    return replyJwtRejected(res, authn, n.host, n.policyPath);
  }
  const decision = authorizeConn(ctx, c, http, authn.kind === 'authenticated' ? authn.auth : undefined);
  const trace = [...normalised, ...authnTrace, ...decision.trace];
  const record: DecisionRecord = { ...base, ...decisionFields(decision), trace, http: seen };
  if (!decision.allowed) {
    ctx.log({ ...record, http: { ...seen, status: 403 } });
    return replyRbacDenied(res);
  }
  const headers = forwardHeaders(req, n.host);
  applyAuthnHeaders(headers, authn);
  // The sidecar owns this header: whatever the client sent is dropped, and on mTLS it describes the real peer.
  delete headers[XFCC];
  if (c.peer) headers[XFCC] = `By=${ctx.config.self.spiffe};Hash=${c.certHash ?? ''};Subject="";URI=${c.peer}`;
  const up = request({
    host: c.dst.address,
    port: c.dst.port,
    method: n.method,
    path: authnPath(n.path, authn),
    headers: endToEndHeaders(headers),
    agent: ctx.appAgent,
  });
  up.on('response', (upRes) => {
    ctx.log({ ...record, http: { ...seen, status: upRes.statusCode } });
    res.writeHead(upRes.statusCode ?? 502, endToEndHeaders(upRes.headers));
    upRes.pipe(res);
  });
  up.on('error', (err: NodeJS.ErrnoException) => {
    ctx.log({ ...record, result: 'failed', reason: `upstream error ${err.code ?? err.message}` });
    if (res.headersSent) return void res.destroy();
    const body = 'upstream connect error or disconnect/reset before headers. reset reason: connection failure';
    res.writeHead(503, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), server: 'istio-envoy' });
    res.end(body);
  });
  req.pipe(up);
}

export function inboundHttpServer(ctx: Context) {
  const server = createHttpServer((req, res) => onRequest(ctx, req, res));
  server.keepAliveTimeout = IDLE.downstreamMs;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => onClientError(ctx, err, socket, conns.get(socket)));
  return server;
}

function isHttpPort(ctx: Context, port: number): boolean {
  return ctx.config.self.ports.some((p) => p.port === port && p.protocol === 'http');
}

/** Handles one redirected inbound connection; `socket` was accepted paused (nothing read yet). */
export async function handleInbound(
  ctx: Context,
  socket: Socket,
  dst: OriginalDestination,
  http: ReturnType<typeof inboundHttpServer>,
): Promise<void> {
  socket.on('error', () => socket.destroy());
  const clientIp = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  const from = `${clientIp}:${socket.remotePort}`;
  const to = `${dst.address}:${dst.port}`;
  const first = await peekFirstBytes(socket);
  const alpn = first[0] === 0x16 ? clientHelloAlpn(first) : [];
  const meshTls = alpn.some((p) => p.startsWith('istio'));
  const self = ctx.config.self;
  const mtls = effectiveMtls({ namespace: self.namespace, labels: self.labels, port: dst.port }, ctx.peerAuthentications);
  const transport = inboundTransport(mtls.mode, meshTls ? 'mtls' : 'plaintext');
  if (transport.kind === 'reject') {
    ctx.log({
      dir: 'inbound',
      from,
      to,
      result: 'rejected',
      reason: `${mtls.reason}; ${transport.reason}`,
      trace: mtls.trace,
      transport: 'plaintext',
      mtlsMode: mtls.mode,
    });
    return void socket.destroy();
  }
  const conn: Conn = { dst, clientIp, from, mtlsMode: mtls.mode, transport: first[0] === 0x16 ? 'tls-passthrough' : 'plaintext' };
  // An application's own TLS passes through; Envoy's TLS inspector still records its SNI (connection.sni).
  const appSni = meshTls ? undefined : clientHelloSni(first);
  if (appSni) conn.sni = appSni;
  if (transport.kind === 'accept' && transport.transport === 'mtls') {
    const tls = new TLSSocket(socket, {
      isServer: true,
      secureContext: ctx.meshTls,
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: ['istio-peer-exchange', 'istio'],
    });
    tls.on('error', (err) => {
      ctx.log({ dir: 'inbound', from, to, result: 'rejected', reason: `mTLS handshake failed: ${err.message}`, transport: 'mtls' });
      tls.destroy();
    });
    tls.once('secure', () => {
      const cert = tls.getPeerX509Certificate();
      Object.assign(conn, {
        transport: 'mtls',
        peer: uriSanOf(cert?.subjectAltName),
        sni: typeof tls.servername === 'string' ? tls.servername : undefined,
        certHash: cert ? createHash('sha256').update(cert.raw).digest('hex') : undefined,
        resumed: tls.isSessionReused(),
      });
      conns.set(tls, conn);
      if (isHttpPort(ctx, dst.port)) http.emit('connection', tls);
      else pipeTcp(ctx, conn, tls);
    });
    return;
  }
  conns.set(socket, conn);
  if (isHttpPort(ctx, dst.port) && conn.transport === 'plaintext') {
    http.emit('connection', socket);
    socket.resume();
  } else {
    pipeTcp(ctx, conn, socket);
  }
}
