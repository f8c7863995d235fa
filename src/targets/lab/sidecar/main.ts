/**
 * The lab's sidecar, standing where Envoy stands. It runs as uid 1337 in the pod and accepts what the capture
 * rules redirect to 15001 (outbound) and 15006 (inbound); in gateway mode (the egress gateway pod) it listens on
 * the Gateway's ports instead. Policy decisions come from the model (src/model) evaluated on the scenario's
 * resources; every connection or request gets one line in the decision log on stdout (the lab shows it in
 * diagnostics and reads the inbound peer identities from it).
 * Usage: meshprobe-sidecar --config <file.json>; prints `ready` when listening.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { parseArgs } from 'node:util';
import type { SidecarConfig } from './config.js';
import { loadContext, logDecision, openDecisionLog, type Context } from './context.js';
import { handleInbound, inboundHttpServer } from './inbound.js';
import { originalDestination } from './original-dst.js';
import { handleOutbound, outboundHttpServer } from './outbound.js';

const OUTBOUND_PORT = 15001;
const INBOUND_PORT = 15006;

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: '0.0.0.0', backlog: 4096 }, () => resolve());
  });
}

function sidecarServers(ctx: Context): Promise<void>[] {
  const selfPorts = new Set([OUTBOUND_PORT, INBOUND_PORT]);
  const outHttp = outboundHttpServer(ctx);
  const inHttp = inboundHttpServer(ctx);
  const accept = (dir: 'inbound' | 'outbound') => (socket: import('node:net').Socket) => {
    const dst = originalDestination(socket);
    if (!dst || selfPorts.has(dst.port)) {
      // Not redirected (someone dialled the sidecar's own port): forwarding it would loop back here.
      logDecision({ dir, from: `${socket.remoteAddress}:${socket.remotePort}`, to: dst ? `${dst.address}:${dst.port}` : '-', result: 'closed', reason: 'no original destination' });
      return void socket.destroy();
    }
    if (dir === 'inbound') void handleInbound(ctx, socket, dst, inHttp);
    else handleOutbound(ctx, socket, dst, outHttp);
  };
  return [
    listen(createServer({ noDelay: true }, accept('outbound')), OUTBOUND_PORT),
    // Inbound connections are accepted paused so their first bytes can be peeked (TLS or not) without consuming them.
    listen(createServer({ pauseOnConnect: true, noDelay: true }, accept('inbound')), INBOUND_PORT),
  ];
}

function gatewayServers(ctx: Context): Promise<void>[] {
  const http = outboundHttpServer(ctx);
  return (ctx.config.gatewayPorts ?? []).map((port) =>
    listen(createServer({ noDelay: true }, (socket) => handleOutbound(ctx, socket, { address: ctx.config.self.address, port }, http)), port));
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: 'string' } } });
  if (!values.config) throw new Error('--config <file> is required');
  const config = JSON.parse(readFileSync(values.config, 'utf8')) as SidecarConfig;
  const ctx = loadContext(config);
  openDecisionLog(config.logFile);
  await Promise.all(config.mode === 'gateway' ? gatewayServers(ctx) : sidecarServers(ctx));
  process.on('SIGTERM', () => process.exit(0));
  // One broken connection must not take the pod's traffic down with it (Envoy does not crash per connection).
  process.on('uncaughtException', (err) => process.stderr.write(`meshprobe-sidecar: ${err.stack ?? err.message}\n`));
  process.stdout.write('ready\n');
}

main().catch((err: Error) => {
  process.stderr.write(`meshprobe-sidecar: ${err.message}\n`);
  process.exit(1);
});
