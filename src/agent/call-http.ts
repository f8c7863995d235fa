/**
 * The http and https probes, through node's own http/https clients, one fresh connection per probe (a pooled
 * connection would hide what a new client meets). The nonce travels in `x-meshprobe-nonce`.
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { Attempt } from './attempt.js';
import { classifyError, classifyHttp, type SocketError } from './classify.js';
import { nativeNet, SEALED_EVENT, type Net, type SealedFate } from './net.js';
import type { Outcome, ProbeRequest, ProbeResult } from './types.js';

export const NONCE_HEADER = 'x-meshprobe-nonce';
/** Enough of any body to recognise it; the rest is read and counted but not kept. */
const MAX_BODY = 64 * 1024;

const fileCache = new Map<string, Buffer>();
function readCached(path: string): Buffer {
  let b = fileCache.get(path);
  if (!b) {
    b = readFileSync(path);
    fileCache.set(path, b);
  }
  return b;
}

/** TLS options; with no caFile nothing is trusted (`ca: []`), so only `insecure` accepts an unknown server. */
function tlsOptions(request: ProbeRequest): RequestOptions & Pick<ConnectionOptions, 'ALPNProtocols'> {
  const t = request.tls ?? {};
  const opts: RequestOptions & Pick<ConnectionOptions, 'ALPNProtocols'> = {
    rejectUnauthorized: !t.insecure,
    ca: t.caFile ? [readCached(t.caFile)] : [],
    ALPNProtocols: ['http/1.1'],
  };
  const servername = t.servername ?? (isIP(request.host) ? undefined : request.host);
  if (servername) opts.servername = servername;
  if (t.certFile) opts.cert = readCached(t.certFile);
  if (t.keyFile) opts.key = readCached(t.keyFile);
  return opts;
}

/**
 * No agent: the connection is made here, from `raw` (the TCP connection, from the Net), wrapped in TLS for https.
 * Without an agent the request asks the server to close the connection, as a fresh client's would.
 */
function requestOptions(request: ProbeRequest, raw: Socket): RequestOptions {
  const h = request.http ?? {};
  const tls = request.protocol === 'https' ? tlsOptions(request) : undefined;
  return {
    host: request.host,
    port: request.port,
    method: h.method ?? 'GET',
    path: h.path ?? '/',
    headers: { ...h.headers, [NONCE_HEADER]: request.nonce },
    ...tls,
    createConnection: () => (tls ? tlsConnect({ ...(tls as ConnectionOptions), socket: raw }) : raw),
  };
}

export function probeHttp(request: ProbeRequest, net: Net = nativeNet): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const attempt = new Attempt(request);
    const tlsExpected = request.protocol === 'https';
    let connected = false;
    let tlsDone = false;
    let done = false;
    let socket: Socket | undefined;

    const finish = (outcome: Outcome) => {
      if (done) return;
      done = true;
      clearTimeout(connectTimer);
      clearTimeout(totalTimer);
      if (socket) {
        attempt.sent = socket.bytesWritten;
        attempt.received = Math.max(attempt.received, socket.bytesRead);
      }
      req?.destroy();
      resolve(attempt.result(outcome));
    };
    const onError = (err: SocketError) => finish(classifyError(err, { connected, tlsExpected, tlsDone, received: attempt.received }));
    const connectTimer = setTimeout(() => finish({ kind: 'timeout', phase: 'connect' }), attempt.connectTimeoutMs);
    const totalTimer = setTimeout(() => finish({ kind: 'timeout', phase: connected ? 'response' : 'connect' }), attempt.totalTimeoutMs);

    let req: ReturnType<typeof httpRequest> | undefined;
    try {
      const raw = net.connect({ host: request.host, port: request.port ?? (tlsExpected ? 443 : 80) });
      raw.once(SEALED_EVENT, (fate: SealedFate) => {
        if (done || !attempt.takesSealed(fate)) return;
        attempt.early = fate.by;
        finish({ kind: 'timeout', phase: connected ? 'response' : 'connect' });
      });
      raw.once('connect', () => {
        connected = true;
        clearTimeout(connectTimer);
        attempt.markConnect();
      });
      req = (tlsExpected ? httpsRequest : httpRequest)(requestOptions(request, raw));
    } catch (err) {
      const e = err as SocketError;
      finish({ kind: 'error', ...(e.code ? { errno: e.code } : {}), message: `cannot send the request: ${e.message}` });
      return;
    }
    req.once('socket', (s: Socket) => {
      socket = s;
      s.once('secureConnect', () => {
        tlsDone = true;
      });
    });
    req.once('response', (res: IncomingMessage) => {
      attempt.markFirstByte();
      const chunks: Buffer[] = [];
      let kept = 0;
      res.on('data', (chunk: Buffer) => {
        if (kept < MAX_BODY) {
          chunks.push(chunk);
          kept += chunk.length;
        }
      });
      res.once('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        finish(classifyHttp(res.statusCode ?? 0, res.headers, body, request.nonce));
      });
      res.once('error', onError);
      res.once('aborted', () => onError({ code: 'ECONNRESET', syscall: 'read', message: 'response aborted' }));
    });
    req.once('error', onError);
    req.end();
  });
}
