/**
 * The lab's sidecar, standing where Envoy stands. It accepts what the capture rules redirect to 15001 (outbound)
 * and 15006 (inbound); in gateway mode (the egress gateway pod) it listens on the Gateway's ports instead. Policy
 * decisions come from the model (src/model) evaluated on the scenario's resources; every connection or request
 * gets one line in the decision log (the lab shows it in diagnostics and reads the inbound peer identities from
 * it). Its sockets come from `net`: in the lab, its pod's network namespace as uid 1337.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { nativeNet, type Net } from '../../../agent/net.js';
import type { SidecarConfig } from './config.js';
import { loadContext, type Context, type DecisionRecord } from './context.js';
import { handleInbound, inboundHttpServer } from './inbound.js';
import { originalDestination } from './original-dst.js';
import { handleOutbound, outboundHttpServer } from './outbound.js';

export const OUTBOUND_PORT = 15001;
export const INBOUND_PORT = 15006;

export interface RunningSidecar {
  /** The inbound connection this sidecar opened towards the application from `address:port`, if any. */
  inboundVia(address: string, port: number): DecisionRecord | undefined;
  close(): Promise<void>;
}

function sidecarServers(ctx: Context): Array<[Server, number]> {
  const selfPorts = new Set([OUTBOUND_PORT, INBOUND_PORT]);
  const outHttp = outboundHttpServer(ctx);
  const inHttp = inboundHttpServer(ctx);
  const accept = (dir: 'inbound' | 'outbound') => (socket: Socket) => {
    const dst = originalDestination(socket);
    if (!dst || selfPorts.has(dst.port)) {
      // Not redirected (someone dialled the sidecar's own port): forwarding it would loop back here.
      ctx.log({
        dir,
        from: `${socket.remoteAddress}:${socket.remotePort}`,
        to: dst ? `${dst.address}:${dst.port}` : '-',
        result: 'closed',
        reason: 'no original destination',
      });
      return void socket.destroy();
    }
    if (dir === 'inbound') void handleInbound(ctx, socket, dst, inHttp);
    else handleOutbound(ctx, socket, dst, outHttp);
  };
  return [
    [createServer({ noDelay: true }, accept('outbound')), OUTBOUND_PORT],
    // Inbound connections are accepted paused so their first bytes can be peeked (TLS or not) without consuming them.
    [createServer({ pauseOnConnect: true, noDelay: true }, accept('inbound')), INBOUND_PORT],
  ];
}

function gatewayServers(ctx: Context): Array<[Server, number]> {
  const http = outboundHttpServer(ctx);
  return (ctx.config.gatewayPorts ?? []).map((port) => [
    createServer({ noDelay: true }, (socket) => handleOutbound(ctx, socket, { address: ctx.config.self.address, port }, http)),
    port,
  ]);
}

/** Starts listening; resolves once every listener is up (rejects, closing what opened, if one cannot). */
export async function startSidecar(config: SidecarConfig, net: Net = nativeNet): Promise<RunningSidecar> {
  const ctx = loadContext(config, net);
  const servers = config.mode === 'gateway' ? gatewayServers(ctx) : sidecarServers(ctx);
  const accepted = new Set<Socket>();
  for (const [server] of servers) {
    server.on('connection', (s: Socket) => {
      accepted.add(s);
      s.once('close', () => accepted.delete(s));
    });
  }
  // Listeners stop accepting, and the connections they accepted are cut: the pod is going away.
  const close = async () => {
    const closed = servers.map(([server]) => new Promise<void>((r) => server.close(() => r())));
    for (const s of accepted) s.destroy();
    ctx.close();
    await Promise.all(closed);
  };
  const results = await Promise.allSettled(servers.map(([server, port]) => net.listen(server, port)));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    for (const [server] of servers) if (!server.listening) server.close();
    await close();
    throw new Error(`the sidecar cannot listen: ${(failed.reason as Error).message}`);
  }
  return { close, inboundVia: (address, port) => ctx.inbound.get(`${address}:${port}`) };
}
