/**
 * The lab's sidecar, part 1: a pass-through proxy standing where Envoy stands. It runs as uid 1337 in the pod,
 * accepts what the capture rules redirect to 15001 (outbound) and 15006 (inbound), reads the original
 * destination and forwards the bytes unchanged. Inbound connections reach the application from 127.0.0.6, as
 * Envoy's inbound passthrough does, so the application sees a local source address exactly when traffic went
 * through the sidecar. One log line per connection on stdout (the lab shows them in diagnostics).
 * Usage: meshprobe-sidecar [--outbound-port 15001] [--inbound-port 15006]; prints `ready` when listening.
 */
import { connect, createServer, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { originalDestination } from './original-dst.js';

/** Envoy's inbound passthrough source address; ISTIO_OUTPUT returns it unredirected (`-o lo -s 127.0.0.6/32`). */
export const INBOUND_SOURCE = '127.0.0.6';
const CONNECT_TIMEOUT_MS = 10_000;

type Direction = 'outbound' | 'inbound';

function log(direction: Direction, from: Socket, to: string, result: string): void {
  process.stdout.write(`${new Date().toISOString()} ${direction} ${from.remoteAddress}:${from.remotePort} -> ${to} ${result}\n`);
}

function forward(direction: Direction, downstream: Socket, selfPorts: Set<number>): void {
  downstream.on('error', () => downstream.destroy());
  const dst = originalDestination(downstream);
  if (!dst || selfPorts.has(dst.port)) {
    // Not redirected (someone dialled the sidecar's own port): forwarding it would loop back here.
    log(direction, downstream, dst ? `${dst.address}:${dst.port}` : '-', 'no original destination: closed');
    return void downstream.destroy();
  }
  const target = `${dst.address}:${dst.port}`;
  const upstream = connect({
    host: dst.address,
    port: dst.port,
    ...(direction === 'inbound' ? { localAddress: INBOUND_SOURCE } : {}),
  });
  upstream.setTimeout(CONNECT_TIMEOUT_MS, () => upstream.destroy(new Error('connect timeout')));
  upstream.once('connect', () => {
    upstream.setTimeout(0);
    log(direction, downstream, target, 'connected');
    downstream.pipe(upstream);
    upstream.pipe(downstream);
  });
  upstream.on('error', (err: NodeJS.ErrnoException) => {
    log(direction, downstream, target, `upstream error ${err.code ?? err.message}`);
    // A refused or failed upstream shows to the client as a reset, as Envoy's does.
    downstream.resetAndDestroy();
  });
  upstream.on('close', () => downstream.end());
  downstream.on('close', () => upstream.destroy());
}

function listen(direction: Direction, port: number, selfPorts: Set<number>): Promise<void> {
  const server = createServer((s) => forward(direction, s, selfPorts));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '0.0.0.0', () => resolve());
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'outbound-port': { type: 'string', default: '15001' }, 'inbound-port': { type: 'string', default: '15006' } } });
  const outbound = Number(values['outbound-port']);
  const inbound = Number(values['inbound-port']);
  const selfPorts = new Set([outbound, inbound]);
  await Promise.all([listen('outbound', outbound, selfPorts), listen('inbound', inbound, selfPorts)]);
  process.on('SIGTERM', () => process.exit(0));
  process.stdout.write('ready\n');
}

main().catch((err: Error) => {
  process.stderr.write(`meshprobe-sidecar: ${err.message}\n`);
  process.exit(1);
});
