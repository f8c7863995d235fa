/**
 * The `serve` role: a listener per declared port that records an Observation for everything that arrives and
 * returns it to the client in the reply, plus the control socket to ask afterwards.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { TCP_GREETING } from './call-tcp.js';
import { NONCE_HEADER } from './call-http.js';
import type { ListenPort, ServeConfig } from './config.js';
import { startControl } from './control.js';
import { nativeNet, type Net } from './net.js';
import { flattenHeaders, parseXfcc, peerIdentity, plainAddress, uriSanOf, XFCC_HEADER } from './observe.js';
import { ObservationStore } from './store.js';
import type { ListenProtocol, Observation } from './types.js';

/** A client that connects and says nothing is dropped after this long. */
const IDLE_MS = 10_000;
const MAX_GREETING = 1024;
const greeting = new RegExp(`^${TCP_GREETING} (\\S+)\\s*$`);

export interface RunningAgent {
  store: ObservationStore;
  close(): Promise<void>;
}

type Recorder = (protocol: ListenProtocol, nonce: string, source: Observation['source'], local: Observation['local']) => Observation;

/** Completes an observation before it is kept and answered (the lab joins its sidecar's records here). */
export type Enrich = (obs: Observation) => void;

function recorder(config: ServeConfig, enrich?: Enrich): Recorder {
  return (protocol, nonce, source, local) => {
    const obs: Observation = { nonce, protocol, source, local, at: new Date().toISOString() };
    if (config.name) obs.workload = config.name;
    enrich?.(obs);
    return obs;
  };
}

const endpointOf = (address: string | undefined, port: number | undefined) => ({ address: plainAddress(address), port: port ?? 0 });

function tcpHandler(record: Recorder, store: ObservationStore) {
  return (sock: Socket) => {
    let buf = '';
    sock.setTimeout(IDLE_MS, () => sock.destroy());
    sock.on('error', () => sock.destroy());
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const nl = buf.indexOf('\n');
      if (nl < 0) {
        if (buf.length > MAX_GREETING) sock.destroy();
        return;
      }
      const nonce = greeting.exec(buf.slice(0, nl))?.[1] ?? '';
      const obs = record('tcp', nonce, endpointOf(sock.remoteAddress, sock.remotePort), endpointOf(sock.localAddress, sock.localPort));
      if (nonce) store.add(obs);
      sock.end(`${JSON.stringify(obs)}\n`);
    });
  };
}

function httpHandler(record: Recorder, store: ObservationStore, config: ServeConfig, protocol: 'http' | 'https') {
  return (req: IncomingMessage, res: ServerResponse) => {
    const sock = req.socket;
    const url = new URL(req.url ?? '/', 'http://agent.invalid');
    const nonceHeader = req.headers[NONCE_HEADER];
    const nonce = (typeof nonceHeader === 'string' ? nonceHeader : url.searchParams.get('nonce')) ?? '';
    const obs = record(protocol, nonce, endpointOf(sock.remoteAddress, sock.remotePort), endpointOf(sock.localAddress, sock.localPort));
    const headers = flattenHeaders(req.headers);
    const xfccRaw = headers[XFCC_HEADER];
    const xfcc = xfccRaw !== undefined ? parseXfcc(xfccRaw) : undefined;
    obs.http = {
      method: req.method ?? '',
      path: req.url ?? '/',
      requestLine: `${req.method ?? ''} ${req.url ?? ''} HTTP/${req.httpVersion}`,
      headers,
      ...(xfcc ? { xfcc } : {}),
    };
    let uriSan: string | undefined;
    if (protocol === 'https') {
      const tls = sock as TLSSocket;
      uriSan = uriSanOf(tls.getPeerCertificate()?.subjectaltname);
      obs.tls = { authorized: tls.authorized };
      if (typeof tls.servername === 'string') obs.tls.sni = tls.servername;
      if (typeof tls.alpnProtocol === 'string') obs.tls.alpn = tls.alpnProtocol;
      if (uriSan) obs.tls.peerUriSan = uriSan;
    }
    const peer = peerIdentity(uriSan, xfcc, config.behindSidecar === true);
    if (peer) obs.peer = peer;
    if (nonce) store.add(obs);
    req.resume();
    const body = JSON.stringify(obs);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-meshprobe-agent': '1' });
    res.end(body);
  };
}

function udpHandler(socket: UdpSocket, record: Recorder, store: ObservationStore, port: number) {
  return (msg: Buffer, rinfo: { address: string; port: number }) => {
    const nonce = greeting.exec(msg.toString('latin1').trim())?.[1] ?? '';
    // A socket bound to 0.0.0.0 cannot learn a datagram's destination address in node; the port is exact.
    const obs = record('udp', nonce, endpointOf(rinfo.address, rinfo.port), { address: '0.0.0.0', port });
    if (nonce) store.add(obs);
    socket.send(JSON.stringify(obs), rinfo.port, rinfo.address);
  };
}

type Closable = { close(cb?: () => void): unknown };

function listenStream(server: Server, p: ListenPort, net: Net): Promise<Closable> {
  return net.listen(server, p.port).then(
    () => server,
    (err: Error) => Promise.reject(new Error(`cannot listen on ${p.protocol} port ${p.port}: ${err.message}`)),
  );
}

function listen(p: ListenPort, config: ServeConfig, store: ObservationStore, net: Net, enrich?: Enrich): Promise<Closable> {
  const record = recorder(config, enrich);
  switch (p.protocol) {
    case 'tcp':
      return listenStream(createTcpServer({ noDelay: true }, tcpHandler(record, store)), p, net);
    case 'http':
      return listenStream(createHttpServer(httpHandler(record, store, config, 'http')), p, net);
    case 'https': {
      let cert: Buffer, key: Buffer;
      try {
        cert = readFileSync(p.certFile ?? '');
        key = readFileSync(p.keyFile ?? '');
      } catch (err) {
        return Promise.reject(new Error(`https port ${p.port}: cannot read certificate: ${(err as Error).message}`));
      }
      const opts = { cert, key, requestCert: true, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] };
      return listenStream(createHttpsServer(opts, httpHandler(record, store, config, 'https')), p, net);
    }
    case 'udp': {
      const socket = createSocket('udp4');
      socket.on('message', udpHandler(socket, record, store, p.port));
      return net.bindUdp(socket, p.port).then(
        () => socket,
        (err: Error) => Promise.reject(new Error(`cannot listen on udp port ${p.port}: ${err.message}`)),
      );
    }
  }
}

/**
 * Resolves once every listener and the control socket are up; rejects (closing what opened) if one fails.
 * `net`: where the listeners and the probes sent through the control socket are made (default: this process).
 */
export async function startAgent(config: ServeConfig, store = new ObservationStore(), net: Net = nativeNet, enrich?: Enrich): Promise<RunningAgent> {
  const opened: Closable[] = [];
  const close = async () => {
    await Promise.all(
      opened.map(
        (c) =>
          new Promise<void>((r) => {
            try {
              c.close(() => r());
            } catch {
              r();
            }
          }),
      ),
    );
  };
  // Ports first: an agent that cannot serve its ports must not take over a control path.
  const results = await Promise.allSettled(config.ports.map((p) => listen(p, config, store, net, enrich)));
  for (const r of results) if (r.status === 'fulfilled') opened.push(r.value);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await close();
    throw failed.reason;
  }
  try {
    opened.push(await startControl(config.control, store, net));
  } catch (err) {
    await close();
    throw err;
  }
  return { store, close };
}
