/**
 * The HTTP/1 request as Envoy's codec sees it, for both sides of the lab's sidecar: what arrived on the wire (for
 * model/http-normalization.ts, which decides what Istio matches and forwards), the forwarded headers, and the
 * replies Envoy gives to requests it refuses before any filter runs.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { RejectedRequest, WireRequest } from '../../../model/index.js';
import type { Context, Direction } from './context.js';

/** The request as it arrived: method, target and version as written, header fields in order with duplicates. */
export function wireRequest(req: IncomingMessage): WireRequest {
  const headers: Array<[string, string]> = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i] ?? '', req.rawHeaders[i + 1] ?? '']);
  return { method: req.method ?? '', target: req.url ?? '', version: req.httpVersion === '1.0' ? '1.0' : '1.1', headers };
}

/** Headers to forward: every field as received (duplicates kept), Host as the request's authority. */
export function forwardHeaders(req: IncomingMessage, host: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = (req.rawHeaders[i] ?? '').toLowerCase();
    const value = req.rawHeaders[i + 1] ?? '';
    const prev = out[name];
    out[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  out.host = host;
  return out;
}

/** Envoy's local reply to a request its codec or path normalisation refuses; the connection is closed. */
export function replyRejected(res: ServerResponse, r: RejectedRequest): void {
  res.writeHead(r.status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(r.body), server: 'istio-envoy', connection: 'close' });
  res.end(r.body);
}

/**
 * A request node's parser refuses (a method outside its list such as `get`, a raw byte it does not allow in a
 * target, a space in a header name): Envoy's HTTP/1 codec refuses these too and answers 400 before any filter
 * runs (HPE_INVALID_METHOD and friends); so does the lab, instead of just dropping the connection.
 */
export function onClientError(
  ctx: Context,
  err: NodeJS.ErrnoException,
  socket: Socket,
  c: { from: string; dst: { address: string; port: number } } | undefined,
  dir: Direction = 'inbound',
): void {
  if (c && socket.writable && !(err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
    ctx.log({
      dir,
      from: c.from,
      to: `${c.dst.address}:${c.dst.port}`,
      result: 'rejected',
      reason: `HTTP/1 codec error ${err.code ?? err.message}: 400`,
    });
    const body = 'Bad Request';
    socket.end(
      `HTTP/1.1 400 Bad Request\r\ncontent-length: ${body.length}\r\ncontent-type: text/plain\r\nserver: istio-envoy\r\nconnection: close\r\n\r\n${body}`,
    );
    return;
  }
  socket.destroy();
}
