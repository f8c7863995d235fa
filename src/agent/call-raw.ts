/**
 * `http.raw` probes: the request line and header fields are written on the socket exactly as the scenario gives
 * them (no client-side normalisation, encoding or header rewriting: node's http client would refuse or rewrite
 * most of what a bypass test needs), over TLS for https. The only addition is the nonce header, written last, so
 * the answer can be joined to what the application recorded. The answer is read with a small HTTP/1 reader.
 */
import { readFileSync } from 'node:fs';
import { isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { Attempt } from './attempt.js';
import { classifyError, classifyHttp, type SocketError } from './classify.js';
import { nativeNet, SEALED_EVENT, type Net, type SealedFate } from './net.js';
import type { Outcome, ProbeRequest, ProbeResult, RawHttpRequest } from './types.js';

export const RAW_NONCE_HEADER = 'x-meshprobe-nonce';
const MAX_RESPONSE = 256 * 1024;

/** The exact bytes of the request (latin1: one byte per character, as validated upstream). */
export function rawRequestBytes(raw: RawHttpRequest, host: string, port: number, nonce: string): Buffer {
  const version = raw.version ?? '1.1';
  const lines = [`${raw.method} ${raw.requestTarget} HTTP/${version}`];
  if (raw.host !== undefined) lines.push(`Host: ${raw.host}`);
  else if (version === '1.1') lines.push(`Host: ${host}:${port}`);
  for (const [name, value] of raw.headers ?? []) lines.push(`${name}: ${value}`);
  lines.push(`${RAW_NONCE_HEADER}: ${nonce}`);
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

export interface ParsedResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function decodeChunked(body: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = body.indexOf('\r\n', at);
    if (eol < 0) return undefined;
    const size = parseInt(body.subarray(at, eol).toString('latin1').split(';')[0] ?? '', 16);
    if (!Number.isFinite(size)) return undefined;
    if (size === 0) return Buffer.concat(parts);
    if (body.length < eol + 2 + size + 2) return undefined;
    parts.push(body.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

/**
 * A complete response in `buf`, or undefined while more bytes are needed. `closed`: the peer finished sending, so a
 * body without length ends here.
 */
export function parseResponse(buf: Buffer, closed: boolean): ParsedResponse | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine = '', ...fields] = buf.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? NaN);
  if (!Number.isInteger(status)) return undefined;
  const headers: Record<string, string> = {};
  for (const f of fields) {
    const colon = f.indexOf(':');
    if (colon > 0) headers[f.slice(0, colon).trim().toLowerCase()] = f.slice(colon + 1).trim();
  }
  const rest = buf.subarray(end + 4);
  let body: Buffer | undefined;
  if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) body = decodeChunked(rest);
  else if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    body = rest.length >= length ? rest.subarray(0, length) : undefined;
  } else body = closed ? rest : undefined;
  return body === undefined ? undefined : { status, headers, body: body.toString('utf8') };
}

function tlsFor(request: ProbeRequest, raw: Socket): Socket {
  const t = request.tls ?? {};
  const servername = t.servername ?? (isIP(request.host) ? undefined : request.host);
  const opts: ConnectionOptions = {
    socket: raw,
    rejectUnauthorized: !t.insecure,
    ca: t.caFile ? [readFileSync(t.caFile)] : [],
    ALPNProtocols: ['http/1.1'],
    ...(servername ? { servername } : {}),
    ...(t.certFile ? { cert: readFileSync(t.certFile) } : {}),
    ...(t.keyFile ? { key: readFileSync(t.keyFile) } : {}),
  };
  return tlsConnect(opts);
}

export function probeRaw(request: ProbeRequest, net: Net = nativeNet): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const attempt = new Attempt(request);
    const raw = request.http?.raw as RawHttpRequest;
    const tlsExpected = request.protocol === 'https';
    const port = request.port ?? (tlsExpected ? 443 : 80);
    const state = { connected: false, tlsExpected, tlsDone: false, received: 0 };
    let buf = Buffer.alloc(0);
    let done = false;
    let stream: Socket | undefined;
    const finish = (outcome: Outcome) => {
      if (done) return;
      done = true;
      clearTimeout(connectTimer);
      clearTimeout(totalTimer);
      attempt.received = state.received;
      stream?.destroy();
      resolve(attempt.result(outcome));
    };
    const connectTimer = setTimeout(() => finish({ kind: 'timeout', phase: 'connect' }), attempt.connectTimeoutMs);
    const totalTimer = setTimeout(() => finish({ kind: 'timeout', phase: state.connected ? 'response' : 'connect' }), attempt.totalTimeoutMs);
    const onError = (err: SocketError) => finish(classifyError(err, state));
    const onData = (d: Buffer) => {
      attempt.markFirstByte();
      state.received += d.length;
      buf = Buffer.concat([buf, d]);
      if (buf.length > MAX_RESPONSE) return finish({ kind: 'error', message: `response larger than ${MAX_RESPONSE} bytes` });
      const r = parseResponse(buf, false);
      if (r) finish(classifyHttp(r.status, r.headers, r.body, request.nonce));
    };
    const onEnd = () => {
      const r = parseResponse(buf, true);
      finish(
        r
          ? classifyHttp(r.status, r.headers, r.body, request.nonce)
          : buf.length === 0
            ? { kind: 'eof' }
            : { kind: 'error', message: 'the connection closed inside the response', reply: buf.toString('latin1').slice(0, 512) },
      );
    };
    const send = (s: Socket) => {
      const bytes = rawRequestBytes(raw, request.host, port, request.nonce);
      attempt.sent = bytes.length;
      s.write(bytes);
    };
    try {
      const socket = net.connect({ host: request.host, port });
      socket.once(SEALED_EVENT, (fate: SealedFate) => {
        if (done || !attempt.takesSealed(fate)) return;
        attempt.early = fate.by;
        finish({ kind: 'timeout', phase: state.connected ? 'response' : 'connect' });
      });
      socket.once('connect', () => {
        state.connected = true;
        clearTimeout(connectTimer);
        attempt.markConnect();
        if (!tlsExpected) send(socket);
      });
      stream = tlsExpected ? tlsFor(request, socket) : socket;
      if (tlsExpected) {
        stream.once('secureConnect', () => {
          state.tlsDone = true;
          send(stream as Socket);
        });
      }
      stream.on('data', onData);
      stream.once('end', onEnd);
      stream.once('error', onError);
      if (stream !== socket) socket.once('error', onError);
    } catch (err) {
      const e = err as SocketError;
      finish({ kind: 'error', ...(e.code ? { errno: e.code } : {}), message: `cannot send the request: ${e.message}` });
    }
  });
}
