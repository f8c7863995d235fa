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
  /**
   * New resources (a step of the scenario): connections accepted from now on are handled with them; connections
   * already open keep the configuration they were accepted with, as Envoy keeps a draining listener's filter
   * chain for its existing connections after an LDS update.
   */
  reconfigure(config: SidecarConfig): void;
  close(): Promise<void>;
}

interface Handlers {
  ctx: Context;
  outHttp: ReturnType<typeof outboundHttpServer>;
  inHttp: ReturnType<typeof inboundHttpServer>;
}

const handlersOf = (ctx: Context): Handlers => ({ ctx, outHttp: outboundHttpServer(ctx), inHttp: inboundHttpServer(ctx) });

/** `current()` is read once per accepted connection: the connection stays with that configuration. */
function sidecarServers(current: () => Handlers): Array<[Server, number]> {
  const selfPorts = new Set([OUTBOUND_PORT, INBOUND_PORT]);
  const accept = (dir: 'inbound' | 'outbound') => (socket: Socket) => {
    const { ctx, outHttp, inHttp } = current();
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

function gatewayServers(current: () => Handlers): Array<[Server, number]> {
  return (current().ctx.config.gatewayPorts ?? []).map((port) => [
    createServer({ noDelay: true }, (socket) => {
      const { ctx, outHttp } = current();
      handleOutbound(ctx, socket, { address: ctx.config.self.address, port }, outHttp);
    }),
    port,
  ]);
}

/** Starts listening; resolves once every listener is up (rejects, closing what opened, if one cannot). */
export async function startSidecar(config: SidecarConfig, net: Net = nativeNet): Promise<RunningSidecar> {
  let handlers = handlersOf(loadContext(config, net));
  // Every configuration this sidecar has had: older ones still serve the connections they accepted.
  const contexts: Context[] = [handlers.ctx];
  const current = () => handlers;
  const servers = config.mode === 'gateway' ? gatewayServers(current) : sidecarServers(current);
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
    for (const c of contexts) c.close();
    await Promise.all(closed);
  };
  const results = await Promise.allSettled(servers.map(([server, port]) => net.listen(server, port)));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    for (const [server] of servers) if (!server.listening) server.close();
    await close();
    throw new Error(`the sidecar cannot listen: ${(failed.reason as Error).message}`);
  }
  return {
    close,
    inboundVia: (address, port) => {
      for (const c of [...contexts].reverse()) {
        const r = c.inbound.get(`${address}:${port}`);
        if (r) return r;
      }
      return undefined;
    },
    reconfigure: (next) => {
      handlers = handlersOf(loadContext(next, net));
      contexts.push(handlers.ctx);
    },
  };
}
